"""Hostile clients of the admin listener, on real sockets. Envoy's admin is an HTTP connection
manager with the defaults: its writes are held to a buffer limit (the codec stops reading while
the client does not take them) and a stream that stops moving ends at the stream idle timeout.

Found black-box (round 4): one admin client pipelining `GET /config_dump` and never reading made
the proxy answer every request into an unbounded write buffer, in one event-loop callback per read:
the data plane on the same loop stopped (curl waited 10 s and gave up) and the RSS grew ~2 MB/s;
and a request head left half-sent held its admin connection for good."""

import socket
import time

from conftest import LOOPBACK, connect, proxy_config, recv_all
from e2e.catalog import CATALOG
from tests.e2e.stack import web_config
from tests.e2e.test_e2e_resources import _get, _rss_kib, _start, upstream  # noqa: F401


def test_pipelined_admin_requests_never_read_leave_the_data_plane_running(proxy_process, tmp_path, upstream):  # noqa: F811
    proxy, address = _start(proxy_process, tmp_path, web_config(upstream.server_address[1]))
    admin = next(line.split(" on ")[1].strip() for line in proxy.stderr_lines if line.startswith("proxy: admin on"))
    host, port = admin.rsplit(":", 1)
    rss_before = _rss_kib(proxy.proc.pid)
    flood = socket.create_connection((host, int(port)))
    flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    flood.settimeout(1.0)
    try:
        for _ in range(40):
            flood.sendall(b"GET /config_dump HTTP/1.1\r\nHost: a\r\n\r\n" * 1000)  # 40,000 requests, never read
    except socket.timeout:
        pass  # the admin stopped reading: what a buffer limit does
    try:
        started = time.monotonic()
        with connect(address, timeout=3.0) as s:  # before: no answer within curl's 10 s
            s.sendall(b"GET /during HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = recv_all(s)
        took = time.monotonic() - started
        time.sleep(0.5)
        grown_kib = _rss_kib(proxy.proc.pid) - rss_before
    finally:
        flood.close()
    assert answer.startswith(b"HTTP/1.1 200 ") and took < 1.0, (took, answer[:80])
    assert grown_kib < 16 * 1024, grown_kib  # before: ~2 MB/s for as long as the client held on
    assert _get(address, b"/after").startswith(b"HTTP/1.1 200 ")


def test_an_admin_head_that_never_ends_gets_408_at_the_stream_idle_timeout(start_proxy, monkeypatch):
    import proxy.admin

    monkeypatch.setattr(proxy.admin, "STREAM_IDLE_TIMEOUT_S", 0.3, raising=False)
    listener = {
        "name": "tcp_in",
        "address": {"host": LOOPBACK, "port": 0},
        "filter_chains": [{"filters": [{"tcp_proxy": {"cluster": "c"}}]}],
    }
    server = start_proxy(proxy_config([listener], [{"name": "c", "endpoints": [{"host": LOOPBACK, "port": 9}]}], True))
    with connect(server.admin_address, timeout=5.0) as s:
        s.sendall(b"GET /stats HTTP/1.1\r\nHost: a\r\n\r\nGET /ready HTTP/1.1\r\nHost: a\r\nX-Slow: ")
        started = time.monotonic()
        answer = recv_all(s)  # before: the connection stayed open with its half head (the 5 s timeout)
    assert time.monotonic() - started < 2.0
    first, rest = answer.split(b"\r\n", 1)
    assert first == b"HTTP/1.1 200 OK" and rest.endswith(
        b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    ), answer[-120:]
    with connect(server.admin_address, timeout=5.0) as s:  # an idle connection (no request) is left open
        time.sleep(0.6)
        s.sendall(b"GET /ready HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        assert recv_all(s).endswith(b"LIVE\n")


def test_a_stats_filter_with_nested_repeats_leaves_the_data_plane_running(tmp_path):
    """Found reading 3006ce3 (and black-box, 85df731): /stats?filter= ran the client's regex with
    `re`, which backtracks exponentially on nested repeats; one such request over 40-character stat
    names held the event loop for hours, the data plane and SIGTERM with it. Envoy matches the
    filter with RE2 (linear); so does the admin now, with the google-re2 binding."""
    import http.server

    from tests.e2e.stack import cluster, http_config, proxy_on, upstreams

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    with upstreams(Answer) as (up,):
        config = http_config(
            ["{match: {prefix: /}, route: {cluster: c}}"], [cluster("c", up.server_address[1])], admin=True
        )
        with proxy_on(tmp_path, config) as proxy:
            address = proxy.listener_address("http_in")
            admin = next(
                line.split(" on ")[1].strip() for line in proxy.stderr_lines if line.startswith("proxy: admin on")
            )
            host, port = admin.rsplit(":", 1)
            assert _get(address, b"/before").startswith(b"HTTP/1.1 200 ")  # a stat of each kind exists
            with connect((host, int(port)), timeout=10.0) as s:  # before: no answer in hours
                s.sendall(
                    b"GET /stats?filter=^([a-z_.0-9]%2B)%2B[^a-z_.0-9] HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                )
                answer = recv_all(s)
            assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"\r\n\r\n"), answer[
                -200:
            ]  # no name matches
            assert _get(address, b"/after").startswith(b"HTTP/1.1 200 ")
            with connect((host, int(port)), timeout=10.0) as s:
                s.sendall(b"GET /stats?filter=(a)\\1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                refused = recv_all(s)
            assert refused.startswith(b"HTTP/1.1 400 ") and b"invalid escape sequence" in refused, (
                refused
            )  # RE2's reason


# The live catalog's HTTP/1.1 smuggling shapes, which every listener refuses with a 400 and the close.
SMUGGLING_SHAPES = [e for e in CATALOG if e.name.startswith(("h1_head_", "h1_chunked_", "h1_payload_smuggling_"))]
ADMIN_ONLY_SHAPES = {
    # h11 read these as requests; the listeners' codec refuses them (505 for a version it does not speak).
    "absolute_form_with_userinfo": (b"GET http://u@evil/ready HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "host_list": (b"GET /ready HTTP/1.1\r\nHost: a, b\r\n\r\n", 400),
    "http_2_0_request_line": (b"GET /ready HTTP/2.0\r\nHost: a\r\n\r\n", 505),
}


def _admin_server(start_proxy):
    listener = {
        "name": "tcp_in",
        "address": {"host": LOOPBACK, "port": 0},
        "filter_chains": [{"filters": [{"tcp_proxy": {"cluster": "c"}}]}],
    }
    return start_proxy(proxy_config([listener], [{"name": "c", "endpoints": [{"host": LOOPBACK, "port": 9}]}], True))


def test_the_admin_refuses_every_request_framing_the_listeners_refuse(start_proxy):
    """Found black-box (round 13): the admin parsed requests with h11 alone, which reads what the
    listeners' codec refuses: Content-Length beside Transfer-Encoding (framed by the chunked body,
    and the connection kept, where RFC 9112 6.1 says the server MUST close), obs-fold, bare LF,
    Transfer-Encoding in HTTP/1.0, duplicate Content-Length, a Host list, HTTP/2.0 in a request
    line. A front proxy framing such bytes by Content-Length hands the admin the request behind
    them: here a `GET /config_dump` was answered after a 200 or 405. Envoy's admin is an HCM on
    the listeners' codec. Each shape now gets the listeners' status and the close, and nothing
    behind it is answered."""
    server = _admin_server(start_proxy)
    cases = [(e.name, e.send, e.status) for e in SMUGGLING_SHAPES]
    cases += [(name, raw, status) for name, (raw, status) in ADMIN_ONLY_SHAPES.items()]
    assert len(cases) > 40, len(cases)
    wrong = []
    for name, raw, status in cases:
        with connect(server.admin_address, timeout=1.0) as s:
            s.sendall(raw + b"GET /config_dump HTTP/1.1\r\nHost: a\r\n\r\n")
            try:
                answer = recv_all(s)
            except TimeoutError:  # before, for some shapes: answered, and the connection kept
                answer = b"(kept open)"
        if not answer.startswith(b"HTTP/1.1 %d " % status) or answer.count(b"\r\ncontent-length: ") != 1:
            wrong.append((name, answer[:60]))
    assert not wrong, wrong
    with connect(server.admin_address, timeout=5.0) as s:  # a well-formed request is still answered
        s.sendall(b"GET /ready HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        assert recv_all(s).endswith(b"LIVE\n")
