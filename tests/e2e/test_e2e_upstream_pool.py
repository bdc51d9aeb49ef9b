"""The HTTP/1.1 upstream pool through the running proxy (`python -m proxy`) against upstreams that end
connections on their own terms. The upstream here answers one request per connection and closes it
without `Connection: close` (RFC 9112 9.6 lets a server close at any time), its FIN in the segment
that carries the response (TCP_CORK), as a server that closes at once looks on the wire."""

import socket
import socketserver
import threading

import h2.events
import pytest

from conftest import LOOPBACK, connect
from tests.e2e.stack import web_config
from tests.e2e.test_e2e_resources import _h2_client, _h2_until, _request, _start, _stats


class _Upstream(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _AnswerThenClose(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock, held = self.request, b""
        while b"\r\n\r\n" not in held:
            data = sock.recv(65536)
            if not data:
                return
            held += data
        self.server.requests += 1
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)  # the FIN rides with the response
        sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        sock.shutdown(socket.SHUT_WR)


@pytest.fixture
def closing_upstream():
    server = _Upstream((LOOPBACK, 0), _AnswerThenClose)
    server.requests = 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("max_connections", [1, 8])
def test_a_connection_the_upstream_closed_behind_its_response_takes_no_other_request(
    proxy_process, tmp_path, closing_upstream, max_connections
):
    """40 requests on one HTTP/2 client connection. The pool handed the next request to the
    connection whose response had just completed, before reading the end of stream behind it: that
    request went out on a closing connection and its client got a 503 (`upstream reset`); about half
    of them, whatever max_connections. Envoy attaches waiting requests only after the read event
    (with its end of stream) is handled. Each request must be answered by the upstream."""
    proxy, address = _start(
        proxy_process, tmp_path, web_config(closing_upstream.server_address[1], max_connections=max_connections)
    )
    client = _h2_client()
    ids = [1 + 2 * i for i in range(40)]
    for sid in ids:
        client.send_headers(sid, _request(b"/one"), end_stream=True)
    with connect(address) as s:
        s.sendall(client.data_to_send())

        def done(events):
            return {
                e.stream_id for e in events if isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset))
            } >= set(ids)

        events = _h2_until(s, client, done)
    statuses = [dict(e.headers)[b":status"] for e in events if isinstance(e, h2.events.ResponseReceived)]
    assert statuses == [b"200"] * len(ids), sorted(statuses)
    assert closing_upstream.requests == len(ids)
    assert _stats(proxy).get("cluster.web.upstream_rq_200") == len(ids)


class _KeepAliveNamed(socketserver.BaseRequestHandler):
    """Answers every request of a keep-alive connection with the server's name."""

    def handle(self) -> None:
        sock, held = self.request, b""
        while True:
            while b"\r\n\r\n" not in held:
                data = sock.recv(65536)
                if not data:
                    return
                held += data
            held = held.split(b"\r\n\r\n", 1)[1]
            name = self.server.name
            sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(name), name))


@pytest.mark.parametrize("max_connections, expected", [(None, b"ABAB"), (1, b"AAAA")])
def test_round_robin_alternates_hosts_for_requests_over_kept_alive_connections(
    proxy_process, tmp_path, max_connections, expected
):
    """Envoy balances requests, not connections (one pool per host): round robin over two endpoints
    sends a keep-alive client's requests to each in turn. Before, the pool gave every request the idle
    connection it already had, so all of them went to the first host (live: curl x6 -> A A A A A A).
    With max_connections 1 (below the host count) the one connection serves every request: never a
    503 for a host the breaker leaves no connection to."""
    servers = []
    for name in (b"A", b"B"):
        server = _Upstream((LOOPBACK, 0), _KeepAliveNamed)
        server.name = name
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    try:
        endpoints = ", ".join(f"{{host: {LOOPBACK}, port: {s.server_address[1]}}}" for s in servers)
        text = f"""
listeners:
  - name: http_in
    address: {{host: 127.0.0.1, port: 0}}
    filter_chains:
      - filters:
          - http_connection_manager:
              route_config:
                virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes: [{{match: {{prefix: /}}, route: {{cluster: two}}}}]
clusters:
  - name: two
    lb_policy: ROUND_ROBIN
    endpoints: [{endpoints}]
"""
        if max_connections is not None:
            text += f"    max_connections: {max_connections}\n"
        _, address = _start(proxy_process, tmp_path, text)
        seen = b""
        with connect(address) as s:  # one client connection, four requests one after another
            for _ in range(4):
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    head += s.recv(1)
                seen += s.recv(1)
        assert seen == expected
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
