"""HTTP/1.1 chunked upload whose writes end between the CR and the LF after a chunk's data: the
proxy must read it as the same request as when it comes in one write (RFC 9112 7.1: the framing does
not depend on how the bytes are cut), answer it and forward the whole body."""

import time

from _live import Proxy, Upstream, check, connect, http1_app, http_config, ok, read_response

HEAD = b"POST /upload HTTP/1.1\r\nHost: repro\r\nTransfer-Encoding: chunked\r\n\r\n"
BODY = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
PAUSE_S = 0.3  # long enough for the proxy to read the first write on its own


def send_in_pieces(port: int, pieces: list[bytes]):
    with connect(port) as sock:
        for piece in pieces:
            sock.sendall(piece)
            time.sleep(PAUSE_S)
        return read_response(sock, "POST")


with Upstream(http1_app(lambda request: (200, [], b"stored"))) as up, Proxy(http_config(up.port)) as proxy:
    port = proxy.port("web")
    whole = send_in_pieces(port, [HEAD + BODY])
    cut = BODY.index(b"hello\r") + len(b"hello\r")  # the read ends between the CR and the LF
    split = send_in_pieces(port, [HEAD + BODY[:cut], BODY[cut:]])
    bodies = [r[3] for r in up.requests if not isinstance(r, str)]
check(whole is not None and whole[0] == 200, f"the upload in one write got {whole and whole[0]}")
check(
    split is not None and split[0] == 200,
    f"the same upload cut between the CR and LF after a chunk got {split and split[0]} (one write: 200)",
)
check(bodies == [b"hello world"] * 2, f"the upstream saw bodies {bodies}, expected b'hello world' twice")
ok("a chunked upload cut between a chunk's CR and LF is answered and forwarded as in one write")
