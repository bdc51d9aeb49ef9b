"""An HTTP/2 upstream's SETTINGS_MAX_CONCURRENT_STREAMS through the running proxy (`python -m proxy`).
The upstream here advertises a limit of 5 in its first frame (RFC 9113 3.4: the server's preface),
refuses each stream beyond it (RST_STREAM(REFUSED_STREAM), RFC 9113 5.1.2) and answers the others
after a short delay, so that streams overlap. Found black-box: with 20 requests at once, the pool
opened all 20 streams on the new connection before reading the upstream's SETTINGS, and 15 clients
got a 503."""

import socketserver
import threading
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings

from conftest import LOOPBACK, connect
from tests.e2e.stack import cluster, http_config
from tests.e2e.test_e2e_resources import _h2_client, _h2_until, _request, _start, _stats

LIMIT = 5
ANSWER_AFTER_S = 0.2


class _Upstream(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _LimitedH2(socketserver.BaseRequestHandler):
    """Advertises MAX_CONCURRENT_STREAMS 5, refuses the streams over it, answers the rest after 0.2 s."""

    def handle(self) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
        conn.local_settings = h2.settings.Settings(
            client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: LIMIT}
        )
        conn.initiate_connection()
        # h2 would end the whole connection for a stream over the limit; this server refuses it alone.
        conn.local_settings = h2.settings.Settings(
            client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 2**31 - 1}
        )
        sock, server = self.request, self.server
        sock.sendall(conn.data_to_send())
        sock.settimeout(0.02)
        due: list[tuple[float, int]] = []
        open_streams: set[int] = set()
        while True:
            try:
                data = sock.recv(65536)
                if not data:
                    return
            except TimeoutError:
                data = b""
            except OSError:
                return
            for ev in conn.receive_data(data) if data else []:
                if isinstance(ev, h2.events.RequestReceived):
                    with server.lock:
                        server.peak = max(server.peak, len(open_streams) + 1)
                    if len(open_streams) >= LIMIT:
                        server.refused += 1
                        conn.reset_stream(ev.stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
                        continue
                    open_streams.add(ev.stream_id)
                    due.append((time.monotonic() + ANSWER_AFTER_S, ev.stream_id))
            now = time.monotonic()
            for when, sid in [d for d in due if d[0] <= now]:
                due.remove((when, sid))
                open_streams.discard(sid)
                conn.send_headers(sid, [(b":status", b"200"), (b"content-length", b"2")])
                conn.send_data(sid, b"ok", end_stream=True)
            out = conn.data_to_send()
            if out:
                sock.sendall(out)


def _config(port: int) -> str:
    return http_config(
        ['{match: {prefix: "/"}, route: {cluster: web}}'], [cluster("web", port, "protocol: HTTP2")], admin=True
    )


def test_requests_over_an_upstreams_stream_limit_wait_instead_of_failing(proxy_process, tmp_path):
    server = _Upstream((LOOPBACK, 0), _LimitedH2)
    server.lock, server.peak, server.refused = threading.Lock(), 0, 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        proxy, address = _start(proxy_process, tmp_path, _config(server.server_address[1]))
        client = _h2_client()
        ids = [1 + 2 * i for i in range(20)]
        for sid in ids:
            client.send_headers(sid, _request(b"/x"), end_stream=True)
        with connect(address) as s:
            s.sendall(client.data_to_send())

            def done(events):
                ended = {e.stream_id for e in events if isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset))}
                return ended >= set(ids)

            events = _h2_until(s, client, done)
        statuses = sorted(dict(e.headers)[b":status"] for e in events if isinstance(e, h2.events.ResponseReceived))
        assert statuses == [b"200"] * len(ids), statuses
        assert server.refused == 0 and server.peak <= LIMIT, (server.refused, server.peak)
        assert _stats(proxy).get("cluster.web.upstream_rq_200") == len(ids)
    finally:
        server.shutdown()
        server.server_close()
