"""stream_idle_timeout_ms counts activity in both directions: a POST whose body arrives one byte every
0.4 s is never idle for stream_idle_timeout_ms (1 s) and gets its response."""

import time

from _live import Proxy, Upstream, check, connect, http1_app, http_config, ok, read_response

HCM = {"stream_idle_timeout_ms": 1000}

with Upstream(http1_app(lambda req: (200, [], b"got " + req[3]))) as up, Proxy(http_config(up.port, hcm=HCM)) as proxy:
    with connect(proxy.port("web")) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: repro\r\nContent-Length: 6\r\n\r\n")
        for byte in b"abcdef":
            time.sleep(0.4)
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
        answer = read_response(sock, "POST")
check(
    answer is not None and answer[0] == 200,
    f"a body trickling one byte per 0.4 s under a 1 s stream idle timeout got {answer and answer[:2]}",
)
ok("the trickled upload was never idle and got its 200")
