"""The admin endpoint: its handler as a table of requests and answers, then once over a socket."""

import json

from conftest import connect, tcp_proxy_config
from proxy.admin import AdminHandler


def _get(proxy, target: str, extra: bytes = b"") -> bytes:
    with connect(proxy.admin_address) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n".encode() + extra)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def _body(response: bytes) -> bytes:
    return response.split(b"\r\n\r\n", 1)[1]


def test_ready_stats_config_dump_and_clusters(echo_upstream, start_proxy):
    proxy = start_proxy(tcp_proxy_config(echo_upstream.port, admin=True))
    with connect(proxy.address()) as s:  # one connection, so the stats have something to say
        s.sendall(b"hi")
        assert s.recv(2) == b"hi"

    ready = _get(proxy, "/ready")
    assert ready.startswith(b"HTTP/1.1 200 OK\r\n") and _body(ready) == b"LIVE\n"

    stats_text = _body(_get(proxy, "/stats")).decode()
    assert "listener.tcp_in.downstream_cx_total: 1\n" in stats_text
    assert "tcp_proxy.upstream_cx_total: 1\n" in stats_text

    assert _body(_get(proxy, "/stats?filter=^tcp_proxy.upstream_cx_total$")) == b"tcp_proxy.upstream_cx_total: 1\n"

    stats = json.loads(_body(_get(proxy, "/stats?format=json")))
    by_name = {s["name"]: s["value"] for s in stats["stats"]}
    assert by_name["tcp_proxy.downstream_bytes_rx"] == 2

    dump = json.loads(_body(_get(proxy, "/config_dump")))
    assert dump["listeners"][0]["name"] == "tcp_in"
    assert dump["clusters"][0]["endpoints"][0]["port"] == echo_upstream.port

    clusters = _body(_get(proxy, "/clusters")).decode()
    assert f"echo::127.0.0.1:{echo_upstream.port}::endpoint\n" in clusters
    assert "echo::upstream_cx_total::1\n" in clusters
    as_json = json.loads(_body(_get(proxy, "/clusters?format=json")))
    assert as_json["clusters"][0]["hosts"] == [f"127.0.0.1:{echo_upstream.port}"]


def test_keep_alive_answers_pipelined_requests_in_order(echo_upstream, start_proxy):
    proxy = start_proxy(tcp_proxy_config(echo_upstream.port, admin=True))
    with connect(proxy.admin_address) as s:
        s.sendall(b"GET /ready HTTP/1.1\r\nhost: a\r\n\r\nGET /nope HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    assert out.index(b"HTTP/1.1 200") < out.index(b"HTTP/1.1 404")


def test_malformed_request_gets_a_400_and_the_admin_keeps_serving(echo_upstream, start_proxy):
    proxy = start_proxy(tcp_proxy_config(echo_upstream.port, admin=True))
    with connect(proxy.admin_address) as s:
        s.sendall(b"this is not http\r\n\r\n")
        out = s.recv(65536)
    assert out.startswith(b"HTTP/1.1 400 ")
    assert _get(proxy, "/ready").startswith(b"HTTP/1.1 200")


class FakeServer:
    """What AdminHandler reads from a Server."""

    def __init__(self, started=True, draining=False):
        from proxy.stats import Stats

        class Ctx:
            stats = Stats()

        self.ctx = Ctx()
        self.started, self.draining = started, draining
        self.built = type("Built", (), {"clusters": {}})()

    def buffered_bytes(self):
        return 0


def test_handler_answers_by_path_method_and_format():
    h = AdminHandler(FakeServer())
    assert h.respond("GET", "/ready")[0] == 200
    assert h.respond("POST", "/ready")[0] == 405
    assert h.respond("GET", "/nothing")[0] == 404
    assert h.respond("GET", "/stats?format=xml")[0] == 400
    assert h.respond("GET", "/config_dump")[0] == 404  # not built from a configuration
    assert b"/stats" in h.respond("GET", "/")[2]


def test_ready_is_503_while_draining_or_before_start():
    assert AdminHandler(FakeServer(draining=True)).respond("GET", "/ready")[:3:2] == (503, b"DRAINING\n")
    assert AdminHandler(FakeServer(started=False)).respond("GET", "/ready")[0] == 503


def test_stats_text_is_sorted_and_includes_gauges():
    server = FakeServer()
    server.ctx.stats.inc("b.counter", 2)
    server.ctx.stats.gauge_set("a.gauge", 5)
    body = AdminHandler(server).respond("GET", "/stats")[2].decode()
    assert body == "a.gauge: 5\nb.counter: 2\nserver.buffered_bytes: 0\n"


def test_stats_filter_and_usedonly_as_envoys_admin_documents():
    """Envoy's /stats: `filter=` keeps the names its regex matches anywhere in them (^...$ for the
    whole name), `usedonly` the stats updated at least once; both combine, in text and JSON alike.
    Before, both were ignored: every stat came back."""
    server = FakeServer()
    server.ctx.stats.inc("http.in.downstream_rq_total", 3)
    server.ctx.stats.inc("http.in.downstream_rq_reset", 0)  # touched, never incremented
    server.ctx.stats.gauge_set("http.in.downstream_cx_active", 0)  # set: used
    h = AdminHandler(server)
    assert (
        h.respond("GET", "/stats?filter=rq_")[2] == b"http.in.downstream_rq_reset: 0\nhttp.in.downstream_rq_total: 3\n"
    )
    assert h.respond("GET", "/stats?filter=^server\\.buffered_bytes$")[2] == b"server.buffered_bytes: 0\n"
    assert h.respond("GET", "/stats?filter=^buffered")[2] == b""
    assert h.respond("GET", "/stats?usedonly&filter=http")[2] == (
        b"http.in.downstream_cx_active: 0\nhttp.in.downstream_rq_total: 3\n"
    )
    as_json = json.loads(h.respond("GET", "/stats?usedonly=&format=json&filter=rq")[2])
    assert as_json == {"stats": [{"name": "http.in.downstream_rq_total", "value": 3}]}
    status, _, body = h.respond("GET", "/stats?filter=(unclosed")
    assert status == 400 and body.startswith(b"filter= is not a valid regular expression")


def test_pipelined_requests_then_half_close_are_all_answered(echo_upstream, start_proxy):
    """Found by the runtime harness (admin_request_unanswered): `printf 'GET /a ...GET /b ...' | nc -N`
    pipelines requests and half-closes; the admin closed at the end of stream and answered only
    the first. HTTP/1.1 lets a client half-close after its requests (RFC 9112 9.6): each complete
    request is answered, then the admin closes."""
    import socket

    proxy = start_proxy(tcp_proxy_config(echo_upstream.port, admin=True))
    with connect(proxy.admin_address) as s:
        s.sendall(b"GET /ready HTTP/1.1\r\nhost: a\r\n\r\n" * 3 + b"GET /nope HTTP/1.1\r\nhost: a\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    assert out.count(b"HTTP/1.1 200") == 3 and out.count(b"HTTP/1.1 404") == 1, out


def test_request_targets_are_read_as_paths_and_a_bad_one_is_a_400():
    """Found by the runtime harness (admin_internal_error): `GET http://[::1/` made urlsplit raise,
    so every such request was a 500 with a traceback in the log (a client could flood it). The
    target is origin-form (RFC 9112 3.2.1): `//x/stats` is the path //x/stats, not /stats on host x."""
    h = AdminHandler(FakeServer())
    assert h.respond("GET", "http://[::1/")[0] == 400
    assert h.respond("GET", "//x/stats")[0] == 404
    assert h.respond("GET", "http://admin/ready")[0] == 200  # absolute-form still names the path
    assert h.respond("GET", "/ready?format=text")[0] == 200


def test_a_malformed_request_is_not_echoed_back_whole(echo_upstream, start_proxy):
    """Found by the runtime harness (admin_answers_held): h11's error names the bad bytes in their
    Python repr, and the 400 carried all of it (16 KiB of garbage made a 64 KiB answer)."""
    proxy = start_proxy(tcp_proxy_config(echo_upstream.port, admin=True))
    with connect(proxy.admin_address) as s:
        s.sendall(b"\xd0" * 8000 + b"\r\n\r\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    assert out.startswith(b"HTTP/1.1 400") and len(_body(out)) <= 300, len(out)
