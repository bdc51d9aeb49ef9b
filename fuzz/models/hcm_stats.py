"""The connection manager's per-protocol request counters, against what the clients sent.

Envoy's HTTP connection manager statistics (configuration/http/http_conn_man/stats):
downstream_rq_total "Total requests", downstream_rq_http1_total "Total HTTP/1.1 requests",
downstream_rq_http2_total "Total HTTP/2 requests" (ours drop the `_total`: downstream_rq_http1,
downstream_rq_http2). Every request is one of the two, so the two add up to the total, and no more
requests of a protocol can be counted than clients sent in it: a request is counted when the proxy
reads its head, and the clients' own parsers (fuzz/peers) record every head they send as an
Exchange. Judged only when every byte every client sent was understood by its parser.
"""

from fuzz.oracles import InvariantViolation

PROTOCOLS = (("http1", "HTTP/1.1"), ("http2", "HTTP/2"))


def check_requests_per_protocol(counters: dict, exchanges) -> None:
    """`counters`: the instance's counters; `exchanges`: fuzz.peers records (each has `.protocol`)."""
    total = counters.get("http.downstream_rq_total", 0)
    counted = {name: counters.get(f"http.downstream_rq_{name}", 0) for name, _ in PROTOCOLS}
    sent = {name: sum(1 for ex in exchanges if ex.protocol == protocol) for name, protocol in PROTOCOLS}
    over = [name for name, _ in PROTOCOLS if counted[name] > sent[name]]
    if sum(counted.values()) != total or over:
        raise InvariantViolation(
            "model_hcm_requests_per_protocol",
            f"http.downstream_rq_total = {total}, per protocol {counted}, while the clients sent "
            f"{sent} requests" + (f" ({', '.join(over)} counted more than were sent)" if over else ""),
            judged="proxy/http/conn_manager.py:HttpConnectionManager._new_stream",
            expected=f"at most {sent}, adding up to {total}",
            observed=counted,
        )
