"""A request the HTTP/1.1 codec refuses before its head is whole is still a request, through the
running proxy (`python -m proxy`, raw sockets on 127.0.0.1, the admin's /stats): Envoy's HTTP/1 codec
makes the stream at the request's first byte (and one for the error reply when none exists), so
`downstream_rq_total` counts it with its 400. Before, the 400 moved `downstream_rq_4xx` and
`downstream_rq_400` but no request counter: an operator's error ratio (4xx over total) read 1/0."""

from conftest import connect, recv_all
from tests.e2e.test_e2e_request_line import H2_ONLY
from tests.e2e.test_e2e_resources import _start, _stats

HTTP1 = H2_ONLY.replace("codec: HTTP2", "codec: HTTP1")


def test_a_refused_head_counts_as_a_request_answered_by_a_local_reply(proxy_process, tmp_path):
    proxy, address = _start(proxy_process, tmp_path, HTTP1)
    with connect(address) as s:
        s.sendall(b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n")  # a space in the target: 400
        assert recv_all(s).startswith(b"HTTP/1.1 400 ")
    with connect(address) as s:
        s.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert recv_all(s).startswith(b"HTTP/1.1 200 ")
    stats = _stats(proxy)
    counted = {k: stats.get("http." + k) for k in ("downstream_rq_total", "downstream_rq_4xx", "downstream_rq_2xx")}
    assert counted == {"downstream_rq_total": 2, "downstream_rq_4xx": 1, "downstream_rq_2xx": 1}, counted
    assert stats.get("http.downstream_rq_http1") == 2
