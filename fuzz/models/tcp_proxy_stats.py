"""tcp_proxy's statistics agree with what the peers saw.

Envoy's tcp_proxy statistics (configuration/listeners/network_filters/tcp_proxy_filter, "Statistics"):
downstream_cx_total "Total number of connections handled by the filter", and per cluster
upstream_cx_total, upstream_cx_connect_fail, upstream_cx_overflow; ours keeps the upstream ones under
`tcp_proxy.` too, with byte counters per direction (proxy/network/filters/tcp_proxy.py's docstring:
`<from>_bytes_rx == <to>_bytes_tx + <from>_bytes_dropped`). Judged on the unprefixed `tcp_proxy.`
family, which every tcp_proxy filter counts in, at the end of a session:
  - upstream_cx_total is the number of upstream connections the tcp_proxy filters opened (the session
    network's record of connections no HTTP pool owns);
  - downstream_cx_total is upstream_cx_total + upstream_cx_overflow: every connection the filter
    handles gets an upstream connection, or none because the cluster is full or unknown;
  - upstream_cx_connect_fail is at most the number of those upstream connections that closed without
    ever connecting;
  - upstream_bytes_rx is what the proxy read from those upstreams and handed on (their peers' bytes,
    less what still waits unread in a read buffer), when every one of them is plain TCP (TLS records
    are not the relayed bytes);
  - each direction's bytes read are the bytes written on plus the bytes dropped.
A counter a planted bug forgets or counts twice shows here (model_tcp_proxy_counters).
"""

from fuzz.oracles import InvariantViolation

from .timeouts import reads

_JUDGED = "proxy/network/filters/tcp_proxy.py:TcpProxyFilter"


def check(counters: dict, upstreams: list, failed_to_connect, plain_tcp) -> None:
    """`upstreams`: the upstream connections tcp_proxy filters opened; `failed_to_connect(conn)` and
    `plain_tcp(conn)` answer for one of them."""
    c = lambda name: counters.get("tcp_proxy." + name, 0)  # noqa: E731
    wrong = []
    if c("upstream_cx_total") != len(upstreams):
        wrong.append(f"upstream_cx_total {c('upstream_cx_total')}, {len(upstreams)} upstream connections opened")
    if c("downstream_cx_total") != c("upstream_cx_total") + c("upstream_cx_overflow"):
        wrong.append(
            f"downstream_cx_total {c('downstream_cx_total')} != upstream_cx_total {c('upstream_cx_total')} "
            f"+ upstream_cx_overflow {c('upstream_cx_overflow')}"
        )
    never = sum(1 for conn in upstreams if failed_to_connect(conn))
    if c("upstream_cx_connect_fail") > never:
        wrong.append(f"upstream_cx_connect_fail {c('upstream_cx_connect_fail')}, {never} never connected")
    if all(plain_tcp(conn) for conn in upstreams):
        handed = sum(reads(conn) - len(conn.read_buffer) for conn in upstreams)
        if c("upstream_bytes_rx") != handed:
            wrong.append(f"upstream_bytes_rx {c('upstream_bytes_rx')}, {handed} bytes read from the upstreams")
    for src, dst in (("downstream", "upstream"), ("upstream", "downstream")):
        rx, tx, dropped = c(f"{src}_bytes_rx"), c(f"{dst}_bytes_tx"), c(f"{src}_bytes_dropped")
        if rx != tx + dropped:
            wrong.append(f"{src}_bytes_rx {rx} != {dst}_bytes_tx {tx} + {src}_bytes_dropped {dropped}")
    if wrong:
        raise InvariantViolation(
            "model_tcp_proxy_counters",
            "; ".join(wrong),
            judged=_JUDGED,
            expected="counters the peers explain",
            observed=wrong,
        )
