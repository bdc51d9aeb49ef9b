"""HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE: when a client raises it mid-connection, every open stream's
window grows by the difference (RFC 9113 6.9.2) and response bytes held for lack of window go out."""

from h2.settings import SettingCodes

from _live import H2Client, Proxy, Upstream, check, http1_app, http_config, ok

CONFIG = dict(codec="HTTP2")
BODY = b"z" * 4000

with Upstream(http1_app(lambda request: (200, [], BODY))) as up, Proxy(http_config(up.port, **CONFIG)) as proxy:
    # Open with a zero stream window (a client that is not ready for bodies yet), then open it by SETTINGS.
    client = H2Client(proxy.port("web"), settings={SettingCodes.INITIAL_WINDOW_SIZE: 0})
    sid = client.request("GET", "/file")
    check(client.wait(lambda: client.streams[sid]["status"] is not None), "no response headers came")
    client.wait(lambda: False, timeout=0.3)  # the body is now held in the proxy for lack of window
    held = len(client.streams[sid]["data"])
    client.conn.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 65535})
    client.flush()
    answer = client.response(sid, timeout=3)
    client.close()
check(held == 0, f"{held} body bytes were sent into a zero window")
check(
    answer is not None and answer[1] == BODY,
    "after the client raised SETTINGS_INITIAL_WINDOW_SIZE from 0 to 65535 the proxy never sent the "
    f"{len(BODY)}-byte body it held (got {len(client.streams[sid]['data'])} bytes, stream ended: "
    f"{client.streams[sid]['ended']})",
)
ok(f"the {len(BODY)}-byte body went out once SETTINGS opened the window")
