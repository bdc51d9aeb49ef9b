"""RFC 9112 6.1: a server MUST NOT send a chunked response to an HTTP/1.0 request (HTTP/1.0 has no
chunked coding). A response of unknown length to an HTTP/1.0 client is delimited by closing the
connection, so the client reads exactly the body the upstream sent."""

from _live import Proxy, Upstream, check, exchange, http_config, ok


def chunked_origin(sock, log) -> None:
    sock.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    log.append(("request", data))
    sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    while sock.recv(65536):
        pass


with Upstream(chunked_origin) as up, Proxy(http_config(up.port)) as proxy:
    answer = exchange(proxy.port("web"), b"GET /stream HTTP/1.0\r\nHost: repro\r\n\r\n")
head, _, body = answer.partition(b"\r\n\r\n")
check(head.startswith(b"HTTP/1.1 200"), f"the HTTP/1.0 request got {head[:40]!r}")
check(
    b"transfer-encoding" not in head.lower() and body == b"hello world",
    f"an HTTP/1.0 client got head {head!r} and body {body!r} (expected the body 'hello world', close-delimited)",
)
ok("the HTTP/1.0 client got the body close-delimited, without chunked framing")
