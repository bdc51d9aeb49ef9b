"""A drain (SIGTERM) through the running proxy (`python -m proxy`) while an HTTP/1.1 client is half way
through its request head: the request is read and answered with `connection: close`, as Envoy's drain
lets a stream in flight finish (its HTTP/1 stream exists from the first byte). Before, the proxy
dropped the half head and closed the connection: the client got nothing back."""

import socket
import time

from tests.e2e.stack import http_config, proxy_on

ROUTES = ['{match: {prefix: "/"}, direct_response: {status: 200, body: "hello"}}']


def test_a_request_head_arriving_when_the_drain_starts_is_answered(tmp_path):
    with proxy_on(tmp_path, http_config(ROUTES, [])) as proxy:
        with socket.create_connection(proxy.listener_address("http_in"), timeout=5) as sock:
            sock.sendall(b"GET /half HTTP/1.1\r\nHost: x\r\n")
            time.sleep(0.3)  # the proxy has read the first half
            proxy.signal()
            time.sleep(0.3)  # and has begun its drain
            sock.sendall(b"User-Agent: e2e\r\n\r\n")
            got = b""
            while chunk := sock.recv(65536):
                got += chunk
        assert got.startswith(b"HTTP/1.1 200 OK\r\n") and got.endswith(b"\r\n\r\nhello"), got  # b"" before
        assert b"connection: close" in got
        assert proxy.wait() == 0
