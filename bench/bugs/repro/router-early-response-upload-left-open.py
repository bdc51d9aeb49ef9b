"""An upstream that answers an upload before reading it (a 413 as soon as it sees the head, as nginx's
client_max_body_size does) ends that exchange: the proxy gives up the rest of the upload upstream (Envoy
resets the upstream stream; on HTTP/1.1 the connection closes), so the connection is not held by a request
that will never finish. With the cluster's max_connections: 1 the next client's GET is served."""

from _live import Proxy, Upstream, check, connect, http_config, ok, read_response, wait_for


def early_answers(sock, log) -> None:
    """A 413 to every POST as soon as its head is read, a 200 to anything else; logs its end."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            log.append("closed by the proxy")
            return
        data += chunk
        while b"\r\n\r\n" in data:
            head, _, data = data.partition(b"\r\n\r\n")
            if head.startswith(b"POST"):
                log.append("POST answered early")
                sock.sendall(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n")
                data = b""  # the rest is upload
            elif head.startswith(b"GET"):
                log.append("GET")
                sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")


CONFIG = dict(cluster={"max_connections": 1}, route={"timeout_ms": 1500})

with Upstream(early_answers) as up, Proxy(http_config(up.port, **CONFIG)) as proxy:
    with connect(proxy.port("web")) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: repro\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        first = read_response(sock, "POST")
    check(first is not None and first[0] == 413, f"the upload got {first and first[0]}, not the upstream's 413")
    released = wait_for(lambda: up.connections and "closed by the proxy" in up.connections[0], timeout=1.0)
    with connect(proxy.port("web")) as sock:
        sock.sendall(b"GET /next HTTP/1.1\r\nHost: repro\r\n\r\n")
        second = read_response(sock)
    logs = [list(log) for log in up.connections]
check(
    second is not None and second[0] == 200,
    f"the next GET got {second and second[0]} (max_connections 1): the upstream connection of the answered "
    f"upload was {'closed' if released else 'kept open, its request unfinished'} (upstream logs {logs})",
)
ok(f"the answered upload's upstream exchange was given up; the next GET got 200 (upstream logs {logs})")
