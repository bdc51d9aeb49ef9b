"""HTTP/2 stalled streams: a client that opens many streams and never opens its windows makes the proxy
hold about one per_connection_buffer_limit_bytes for the whole connection, not one per stream
(Envoy bounds it with the connection's buffer limit and stream watermarks). Measured as the proxy
process's resident memory, what an operator sees."""

import socket
import time

from h2.settings import SettingCodes

from _live import H2Client, Proxy, Upstream, check, http_config, ok

CONFIG = dict(codec="HTTP2")
STREAMS = 40
LIMIT_MIB = 24  # one 1 MiB connection limit plus the streams' bookkeeping stays far below this


def endless(sock, log):
    """An HTTP/1.1 origin that answers any request with a body that never ends."""
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(65536)
        if not data:
            return
        head += data
    sock.sendall(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
    chunk = b"10000\r\n" + b"z" * 0x10000 + b"\r\n"
    sock.settimeout(10)
    try:
        while True:
            sock.sendall(chunk)
    except (socket.timeout, OSError):
        return


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


with Upstream(endless) as up, Proxy(http_config(up.port, **CONFIG)) as proxy:
    client = H2Client(proxy.port("web"), settings={SettingCodes.INITIAL_WINDOW_SIZE: 0})
    client.wait(lambda: False, timeout=0.3)
    before = rss_kib(proxy.proc.pid)
    for i in range(STREAMS):
        client.request("GET", f"/big/{i}")
    time.sleep(3)  # the upstreams push; the client reads nothing
    grown_mib = (rss_kib(proxy.proc.pid) - before) / 1024
    client.close()
check(
    grown_mib < LIMIT_MIB,
    f"{STREAMS} stalled streams on one connection grew the proxy by {grown_mib:.0f} MiB: "
    f"about one buffer limit (1 MiB) per stream instead of one per connection",
)
ok(f"{STREAMS} stalled streams grew the proxy by {grown_mib:.1f} MiB")
