"""HTTP/1.1 upstream keep-alive: a response that ended while its client was slow (the proxy had paused
reading the upstream for it) leaves its connection usable, so the next request on that pooled
connection is answered, not left unread until the route timeout."""

from _live import Proxy, Upstream, check, connect, http_config, ok, read_response, request_bytes

BODY = b"x" * 8192
# The body and its trailers in one write: the proxy reads them together, the body already fills the
# client's 1 KiB buffer (the proxy pauses reading the upstream for it), and the trailers end the
# exchange while that pause holds.
CHUNKED = b"%x\r\n%s\r\n0\r\nx-checksum: 1\r\n\r\n" % (len(BODY), BODY)


def keepalive_chunked(sock, log) -> None:
    """Answers every request on the connection with an 8 KiB chunked body and a trailer, in one write."""
    sock.settimeout(30)
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                return
            buf += data
        head, buf = buf.split(b"\r\n\r\n", 1)
        log.append(head.split(b"\r\n", 1)[0])
        sock.sendall(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + CHUNKED)


with (
    Upstream(keepalive_chunked) as up,
    Proxy(
        http_config(
            up.port,
            route={"timeout_ms": 2000},
            listener={"per_connection_buffer_limit_bytes": 1024},
        )
    ) as proxy,
):
    answers = []
    for _ in range(2):
        with connect(proxy.port("web")) as sock:
            sock.sendall(request_bytes("GET", "/"))
            answers.append(read_response(sock))
    connections = len(up.connections)
check(answers[0] is not None and answers[0][0] == 200, f"the first GET got {answers[0] and answers[0][0]}")
second = answers[1]
check(
    second is not None and second[0] == 200 and len(second[2]) == len(BODY),
    f"the second GET, on the pooled upstream connection ({connections} connection(s) opened), got "
    f"{second[0] if second else 'no answer'} {second[2][:30] if second else b''!r} instead of the 8 KiB "
    "body: the connection went back to the pool still read-disabled",
)
ok(f"both GETs were answered with the whole body ({connections} upstream connection(s))")
