"""A response the upstream cuts short, relayed to a TLS client: the proxy must not end it with
close_notify where the client's framing is the close itself. RFC 9112 9.8: a response with neither
chunked nor Content-Length (how the proxy frames a body for an HTTP/1.0 client) "is complete only if
a valid close_notify alert has been received"; a close_notify after a body the proxy knows is cut
would make the client take the truncation for the whole response. A response that completes still
ends with close_notify (RFC 8446 6.1, test_e2e_tls.py)."""

import socket
import ssl
import threading

import pytest

from conftest import LOOPBACK, free_port
from tests.e2e.test_e2e_tls import https_listener, start, strict_tls_exchange

# Chunked, one chunk, then the upstream's close: the proxy's codec knows the body is incomplete.
CUT = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n7\r\npartial\r\n"
WHOLE = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n7\r\npartial\r\n0\r\n\r\n"


def _upstream(answer: bytes) -> tuple[int, threading.Event]:
    """Answers every request with `answer` and closes (after the request's head)."""
    server = socket.create_server((LOOPBACK, 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        with server:
            while not stop.is_set():
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    continue
                with conn:
                    held = b""
                    while b"\r\n\r\n" not in held and (data := conn.recv(65536)):
                        held += data
                    conn.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1], stop


def _proxy_to(tmp_path, proxy_process, upstream_port: int) -> int:
    port = free_port()
    listener = https_listener(port)
    route = {"match": {"prefix": "/"}, "route": {"cluster": "origin"}}
    listener["filter_chains"][0]["filters"][0]["http_connection_manager"]["route_config"] = {
        "virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [route]}]
    }
    start(
        tmp_path,
        proxy_process,
        [listener],
        [{"name": "origin", "endpoints": [{"host": LOOPBACK, "port": upstream_port}]}],
    )
    return port


def test_a_cut_response_framed_by_the_close_ends_without_close_notify(tmp_path, proxy_process):
    upstream_port, stop = _upstream(CUT)
    try:
        port = _proxy_to(tmp_path, proxy_process, upstream_port)
        # Before the fix: b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\npartial" and close_notify,
        # a whole response as far as the client can tell.
        with pytest.raises(ssl.SSLEOFError):
            strict_tls_exchange(port, b"GET /cut HTTP/1.0\r\nHost: localhost\r\n\r\n")
    finally:
        stop.set()


def test_a_whole_response_framed_by_the_close_still_ends_with_close_notify(tmp_path, proxy_process):
    upstream_port, stop = _upstream(WHOLE)
    try:
        port = _proxy_to(tmp_path, proxy_process, upstream_port)
        response = strict_tls_exchange(port, b"GET /whole HTTP/1.0\r\nHost: localhost\r\n\r\n")
        assert response.startswith(b"HTTP/1.1 200 ") and response.endswith(b"\r\n\r\npartial"), response
    finally:
        stop.set()
