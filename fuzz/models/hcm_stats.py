"""The connection manager's per-protocol request counters, against what the clients sent.

Envoy's HTTP connection manager statistics (configuration/http/http_conn_man/stats):
downstream_rq_total "Total requests", downstream_rq_http1_total "Total HTTP/1.1 requests",
downstream_rq_http2_total "Total HTTP/2 requests" (ours drop the `_total`: downstream_rq_http1,
downstream_rq_http2). Every request is one of the two, so the two add up to the total, and no more
requests of a protocol can be counted than clients sent in it: a request is counted when the proxy
reads its head, and the clients' own parsers (fuzz/peers) record every head they send as an
Exchange. One more per HTTP/1.1 connection at most: a request the codec answered before its head was
whole (refused, or timed out) counts too, as Envoy's stream exists from the request's first byte, and
the connection closes after that answer. Judged only when every byte every client sent was understood
by its parser.
"""

from fuzz.oracles import InvariantViolation

# The codec counters (protocol errors, HTTP/2 floods, refused streams) are the connection manager's to
# export as `http.<name>` (proxy/http/conn_manager.py: "codec counters ... are exported as
# `http.<counter>`"): once every connection has closed, each is the sum of what every downstream codec
# counted. A counter exported late, twice, or not at all is what a user reading /stats cannot tell
# from the traffic: model_hcm_codec_counters.

PROTOCOLS = (("http1", "HTTP/1.1"), ("http2", "HTTP/2"))


def check_requests_per_protocol(counters: dict, exchanges, h1_connections: int = 0) -> None:
    """`counters`: the instance's counters; `exchanges`: fuzz.peers records (each has `.protocol`);
    `h1_connections`: the client connections an HTTP/1.1 codec may have read (Peers.h1_connections)."""
    total = counters.get("http.downstream_rq_total", 0)
    counted = {name: counters.get(f"http.downstream_rq_{name}", 0) for name, _ in PROTOCOLS}
    sent = {name: sum(1 for ex in exchanges if ex.protocol == protocol) for name, protocol in PROTOCOLS}
    sent["http1"] += h1_connections  # each may end with a request answered before its head was whole
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


def check_codec_counters_exported(counters: dict, codecs) -> None:
    """`codecs`: the server codec of every downstream HTTP connection of the session, all closed."""
    counted: dict[str, int] = {}
    for codec in codecs:
        for name, value in codec.stats.items():
            counted[name] = counted.get(name, 0) + value
    exported = {name: counters.get(f"http.{name}", 0) for name in counted}
    wrong = {name: (exported[name], value) for name, value in counted.items() if exported[name] != value}
    if wrong:
        raise InvariantViolation(
            "model_hcm_codec_counters",
            "codec counters exported as http.<name> differ from what the connections' codecs counted: "
            + ", ".join(f"{name} exported {got}, counted {want}" for name, (got, want) in sorted(wrong.items())),
            judged="proxy/http/conn_manager.py:HttpConnectionManager._export_codec_stats",
            expected={name: want for name, (_, want) in wrong.items()},
            observed={name: got for name, (got, _) in wrong.items()},
        )


# The HTTP/1.1 codec counts each stream its owner resets in `h1_reset_by_owner` (ours, no Envoy
# counterpart: HTTP/1.1 has no stream reset, the connection ends where the response would be), and the
# connection manager resets a stream through the codec only as it ends that stream as a reset
# (ActiveStream.reset), which it counts in `downstream_rq_reset` ("Total requests reset", Envoy's
# connection manager statistics, configuration/http/http_conn_man/stats) under the same prefixes.
# Client resets count there too, so the codec's counter is bounded, not equal: a reset counted twice,
# or one counted for a stream that ended otherwise, goes over: model_h1_owner_resets_bounded.
OWNER_RESETS, STREAM_RESETS = "h1_reset_by_owner", "downstream_rq_reset"


def check_owner_resets_bounded(counters: dict) -> None:
    """Per stat prefix (`http.`, `http.<prefix>.`): the HTTP/1.1 streams the codec saw its owner reset
    are at most the streams the connection manager ended as resets."""
    for name in [n for n in counters if n.startswith("http.") and n.endswith(OWNER_RESETS)]:
        prefix = name[: -len(OWNER_RESETS)]
        resets = counters.get(prefix + STREAM_RESETS, 0)
        if counters[name] > resets:
            raise InvariantViolation(
                "model_h1_owner_resets_bounded",
                f"{name} = {counters[name]}, more than the streams ended as resets "
                f"({prefix}{STREAM_RESETS} = {resets})",
                judged="proxy/http/h1.py:H1ServerCodec.reset_stream",
                expected=f"<= {resets}",
                observed=counters[name],
            )
