"""Network local rate limit: a full bucket of max_tokens admits exactly max_tokens connections; the
next ones, before any refill, are closed and counted as rate_limited, with no internal error."""

from _live import Proxy, Upstream, check, connect, echo, ok, recv_until, tcp_config

CONFIG = dict(
    admin=True, filters=[{"local_ratelimit": {"max_tokens": 2, "tokens_per_fill": 1, "fill_interval_ms": 60000}}]
)

with Upstream(echo) as up, Proxy(tcp_config(up.port, **CONFIG)) as proxy:
    echoed = []
    for i in range(4):
        with connect(proxy.port("tcp")) as sock:
            sock.sendall(b"hi %d" % i)
            echoed.append(recv_until(sock, 4, timeout=1) == b"hi %d" % i)
    stats = proxy.stats()
    errors = [line for line in proxy.lines if "Error" in line]
counted = (stats.get("local_ratelimit.allowed"), stats.get("local_ratelimit.rate_limited"))
check(
    echoed == [True, True, False, False], f"with max_tokens 2 and no refill the 4 connections were served as {echoed}"
)
check(
    counted == (2, 2) and not errors,
    f"local_ratelimit allowed/rate_limited read {counted} for 2 served and 2 "
    f"refused connections; the proxy logged {errors[-1:]}",
)
ok("2 connections admitted, 2 refused and counted as rate_limited")
