"""cluster.<name>.upstream_rq_total on the running proxy: Envoy counts a request when its pool attaches
it to a connected upstream connection (ConnPoolImplBase::attachStreamToClient), so an attempt whose
connection was refused is no request of the cluster's, even when the router retries it elsewhere.
Before, the pool counted every attempt it was asked for: 8 POSTs retried over a round-robin cluster
whose first endpoint refuses gave upstream_rq_total 16 where the upstream read 8 (BLACKBOX 12-04f)."""

import socket
import socketserver

from conftest import LOOPBACK, connect
from tests.e2e.stack import http_config, proxy_on, read_request_head, upstreams
from tests.e2e.test_e2e_resources import _stats

REQUESTS = 8


class _Counts(socketserver.BaseRequestHandler):
    """Answers each request of a keep-alive connection once its body is in (content-length only)."""

    def handle(self) -> None:
        sock = self.request
        while head := read_request_head(sock):
            head, body = head.split(b"\r\n\r\n", 1)
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            while len(body) < length:
                data = sock.recv(65536)
                if not data:
                    return
                body += data
            self.server.requests += 1
            sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")


def _refusing_port():
    """A socket bound on loopback that does not listen: a connect to its port is refused."""
    sock = socket.socket()
    sock.bind((LOOPBACK, 0))
    return sock


def _response_status(sock) -> bytes:
    got = b""
    while b"\r\n\r\nok" not in got:
        data = sock.recv(65536)
        assert data, f"the proxy closed after {got!r}"
        got += data
    return got.split(b" ", 2)[1]


def test_attempts_refused_before_a_retry_are_not_counted_as_upstream_requests(tmp_path):
    refusing = _refusing_port()
    with refusing, upstreams(_Counts) as (up,):
        up.requests = 0
        endpoints = f"[{{host: {LOOPBACK}, port: {refusing.getsockname()[1]}}}, {{host: {LOOPBACK}, port: {up.server_address[1]}}}]"
        config = http_config(
            ["{match: {prefix: /}, route: {cluster: two, retry_policy: {num_retries: 2}}}"],
            [f"{{name: two, lb_policy: ROUND_ROBIN, endpoints: {endpoints}}}"],
            admin=True,
        )
        body = b"x" * 1000
        with proxy_on(tmp_path, config) as proc:
            statuses = []
            with connect(proc.listener_address("http_in")) as s:
                for _ in range(REQUESTS):
                    s.sendall(b"POST / HTTP/1.1\r\nHost: h\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                    statuses.append(_response_status(s))
            stats = _stats(proc)
    assert statuses == [b"200"] * REQUESTS
    assert up.requests == REQUESTS
    assert stats.get("cluster.two.upstream_cx_connect_fail", 0) >= 1  # some attempts were refused and retried
    assert stats.get("cluster.two.upstream_rq_retry") == stats.get("cluster.two.upstream_cx_connect_fail")
    assert stats.get("cluster.two.upstream_rq_total") == up.requests
