"""A response to HEAD has no content (RFC 9110 9.3.2, RFC 9112 6.3 rule 1): whatever framing fields its
head carries, no chunk may follow it. An upstream that answers HEAD without a Content-Length (the
proxy then frames the head as chunked, as the GET's would be) must leave the client's keep-alive
connection ready for its next response: a stray last-chunk `0\\r\\n\\r\\n` there is read as the start of
the next response (response-queue desync)."""

from _live import Proxy, Responses, Upstream, check, connect, http_config, ok, request_bytes


def origin(sock, log) -> None:
    """Answers HEAD with a head and no length (allowed: no body follows a HEAD response), GET with 2 bytes."""
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                return
            buf += data
        head, buf = buf.split(b"\r\n\r\n", 1)
        method = head.split(b" ", 1)[0]
        log.append(method)
        if method == b"HEAD":
            sock.sendall(b"HTTP/1.1 200 OK\r\ncache-control: no-store\r\n\r\n")
        else:
            sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")


with Upstream(origin) as up, Proxy(http_config(up.port)) as proxy, connect(proxy.port("web")) as sock:
    responses = Responses(sock)
    sock.sendall(request_bytes("HEAD", "/file"))
    head = responses.next("HEAD")
    sock.sendall(request_bytes("GET", "/file"))
    get = responses.next("GET")
check(head is not None and head[0] == 200, f"HEAD got {head}")
check(
    get is not None and get[0] == 200 and get[2] == b"ok",
    "the GET after a HEAD on the same connection could not be read as a response (bytes after the "
    f"HEAD response's head; parsed: {get})",
)
ok("HEAD then GET on one keep-alive connection: two clean responses")
