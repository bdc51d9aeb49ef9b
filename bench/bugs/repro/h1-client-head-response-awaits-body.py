"""A response to HEAD ends after its head, whatever Content-Length says (RFC 9112 6.3): through the proxy, a
HEAD answered with `Content-Length: 5` is complete, and the GET sent after it on the same connection is
answered too."""

import h11
from _live import Proxy, Responses, Upstream, check, connect, http_config, ok, request_bytes


def origin(sock, log) -> None:
    """An HTTP/1.1 origin (h11) whose HEAD response carries the Content-Length its GET would have."""
    conn = h11.Connection(h11.SERVER)
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = sock.recv(65536)
            if not data:
                return
            conn.receive_data(data)
        elif isinstance(event, h11.Request):
            log.append((event.method.decode(), event.target.decode()))
        elif isinstance(event, h11.EndOfMessage):
            fields = [("content-length", "5")]
            body = b"" if log[-1][0] == "HEAD" else b"hello"
            sock.sendall(
                conn.send(h11.Response(status_code=200, headers=fields))
                + (conn.send(h11.Data(data=body)) if body else b"")
                + conn.send(h11.EndOfMessage())
            )
            conn.start_next_cycle()
        elif event is None or isinstance(event, h11.ConnectionClosed):
            return


with Upstream(origin) as up, Proxy(http_config(up.port)) as proxy:
    with connect(proxy.port("web"), timeout=3.0) as sock:
        responses = Responses(sock)
        sock.sendall(request_bytes("HEAD", "/file"))
        head = responses.next("HEAD")
        sock.sendall(request_bytes("GET", "/file"))
        get = responses.next("GET")
check(head is not None and head[0] == 200, f"the HEAD request got {head and head[0]}")
check(
    get is not None and get[0] == 200 and get[2] == b"hello",
    "after a HEAD answered with Content-Length: 5, the next request on the connection got no answer in 3 s",
)
ok("HEAD with Content-Length: 5 was complete after its head; the next GET was answered")
