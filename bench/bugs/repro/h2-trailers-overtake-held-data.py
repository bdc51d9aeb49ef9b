"""HTTP/2 response trailers end the stream after the whole body (RFC 9113 8.1: the trailer section
comes last). The client's window holds part of the body in the proxy when the upstream's trailers
arrive: the trailers wait for that body, they do not overtake it. Here an HTTP/1.1 upstream sends
a chunked body larger than the client's stream window, then a trailer; the client opens its window
only once the whole response has reached the proxy."""

import threading
import time

from _live import H2Client, Proxy, Upstream, broken, check, http_config, ok, recv_until

BODY = bytes(range(256)) * 400  # 102,400 bytes: more than the 16 KiB window the client grants
WINDOW = 16384
sent = threading.Event()


def chunked_with_trailer(sock, log) -> None:
    if b"\r\n\r\n" not in recv_until(sock, 1 << 16, 2.0):
        return
    sock.sendall(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        + b"%x\r\n" % len(BODY)
        + BODY
        + b"\r\n0\r\nx-checksum: 1234\r\n\r\n"
    )
    sent.set()
    recv_until(sock, 1 << 16, 5.0)


with Upstream(chunked_with_trailer) as up, Proxy(http_config(up.port)) as proxy:
    client = H2Client(proxy.port("web"), settings={4: WINDOW})  # SETTINGS_INITIAL_WINDOW_SIZE
    sid = client.request("GET", "/report", headers=[("te", "trailers")])
    if not sent.wait(5):
        broken("the request never reached the upstream")
    time.sleep(1.0)  # the proxy reads the whole response while the client's window is shut
    answer = client.response(sid)
    client.close()
check(answer is not None, "the response never ended")
status, body = answer
check(
    status == 200 and body == BODY,
    f"the upstream sent {len(BODY)} body bytes then a trailer; the HTTP/2 client's stream ended after "
    f"{len(body)} (status {status}): the trailers overtook the body its window held",
)
ok(f"all {len(body)} body bytes arrived before the trailers ended the stream")
