"""HTTP/2 SETTINGS_MAX_FRAME_SIZE: a proxy configured with max_frame_size 65536 advertises it and must
then accept frames up to that size (RFC 9113 4.2, 6.5.2)."""

from _live import H2Client, Proxy, Upstream, check, http1_app, http_config, ok

CONFIG = dict(codec="HTTP2", hcm={"http2_protocol_options": {"max_frame_size": 65536}})
BODY = b"f" * 40000  # one DATA frame: within the advertised 65536, over the protocol default 16384

with (
    Upstream(http1_app(lambda request: (200, [], b"got %d bytes" % len(request[3])))) as up,
    Proxy(http_config(up.port, **CONFIG)) as proxy,
):
    client = H2Client(proxy.port("web"))
    check(
        client.wait(lambda: client.conn.max_outbound_frame_size == 65536),
        f"the proxy advertised SETTINGS_MAX_FRAME_SIZE {client.conn.max_outbound_frame_size}, not 65536",
    )
    sid = client.request("POST", "/upload", body=b"")
    client.send(sid, BODY)
    answer = client.response(sid)
    goaway = client.goaway
    client.close()
check(
    answer is not None and answer[0] == 200,
    f"a {len(BODY)}-byte DATA frame, within the SETTINGS_MAX_FRAME_SIZE 65536 the proxy advertised, got "
    f"{'GOAWAY error code %s' % goaway if goaway is not None else answer}",
)
ok(f"the {len(BODY)}-byte frame was accepted: {answer[1]!r}")
