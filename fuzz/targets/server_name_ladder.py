"""Chain matching on a server name a listener filter found, against the reference (fuzz/models/chains.py).

Envoy's FilterChainMatch: for SNI www.example.com "the most specific match would be www.example.com,
then *.example.com, then *.com, then any filter chain without server_names requirements". For the
name's own ladder of candidates (the name, then its wildcards from the longest suffix to the
shortest), a listener with one chain per candidate still offered plus one chain naming none must get
the chain the reference picks, the most specific ones left out one by one: every precedence the
ladder holds is asked once. The listener_filter harness runs it on each server name its fuzzed
ClientHellos carry, so precedence is judged on names the fuzzer chooses, not only on the ones a
generated configuration happens to list together.
"""

import re

from proxy.config import schema
from proxy.network.chain_match import ConnectionFacts, FilterChainMatch, parse_ip, select

from fuzz.models import chains
from fuzz.oracles import InvariantViolation

MAX_RUNGS = 6
_DNS_NAME = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)+")  # what server_names may list (bootstrap.proto)
PORT, SOURCE = 10000, "192.0.2.1"


class _Chain:
    __slots__ = ("match",)

    def __init__(self, match: FilterChainMatch) -> None:
        self.match = match


def ladder(name: str) -> list:
    """The name, then "*." + each of its suffixes, longest first: a.b.c -> a.b.c, *.b.c, *.c."""
    labels = name.split(".")
    return [name] + ["*." + ".".join(labels[i:]) for i in range(1, len(labels))]


def check(server_name: str) -> None:
    name = (server_name or "").lower()
    if not _DNS_NAME.fullmatch(name):
        return
    rungs = ladder(name)[:MAX_RUNGS]
    facts = ConnectionFacts(
        destination_port=PORT, server_name=name, transport_protocol="raw_buffer", source_ip=parse_ip(SOURCE)
    )
    for first in range(len(rungs)):
        offered = rungs[first:]
        listener = schema.Listener()
        for candidate in offered:
            listener.filter_chains.add().filter_chain_match.server_names.append(candidate)
        listener.filter_chains.add()  # a chain naming no server
        want = chains.select(listener, PORT, name, SOURCE)
        built = [_Chain(FilterChainMatch(server_names=frozenset([c]))) for c in offered] + [_Chain(FilterChainMatch())]
        picked = select(built, facts)
        got = () if picked is None else (built.index(picked),)
        if got != tuple(want):
            raise InvariantViolation(
                "chain_match_server_name_precedence",
                f"server name {name!r}, chains listing {offered} and one listing none: chain "
                f"{list(got)} chosen, Envoy's precedence picks {list(want)}",
                judged=select,
                expected=list(want),
                observed=list(got),
            )
