"""A listener accepts what a chain matches and refuses the rest, counting each refusal.

Envoy, listener_components.proto FilterChainMatch and the listener statistics: a connection that
matches a filter chain (or, failing all, the listener's default_filter_chain) is served by it; one
that matches none is closed, counted in `listener.<name>.no_filter_chain_match` ("Total connections
that didn't match any filter chain"). Judged on listeners without listener filters, at accept, from
the chain fuzz.models.chains selects (session_oracle's model_filter_chain_match judges which chain):
a refused connection that some chain matches, an accepted one that none matches, and the counter
against the refusals the model counted (a listener where some connection could match several chains
is not counted).
"""

from fuzz.oracles import InvariantViolation


class ChainRefusals:
    def __init__(self, counters: dict) -> None:
        self.counters = counters
        self.refused: dict[str, int | None] = {}  # listener name -> refusals expected (None: not judged)

    def accepted(self, name: str, what: str, want: tuple, conn, judged) -> None:
        """`want`: the chains the model selects, () for none; `conn`: what the listener made of it."""
        if len(want) > 1:
            self.refused[name] = None
            return
        if (conn is None) != (want == ()):
            observed = "refused" if conn is None else "accepted"
            raise InvariantViolation(
                "model_filter_chain_refusal",
                f"{what}: {observed}, but the chains select {list(want) or 'none'}",
                judged=judged,
                expected="refused" if want == () else f"served by chain {want[0]}",
                observed=observed,
            )
        expected = self.refused.get(name, 0)
        if expected is None:
            return
        expected += want == ()
        self.refused[name] = expected
        counted = self.counters.get(f"listener.{name}.no_filter_chain_match", 0)
        if counted != expected:
            raise InvariantViolation(
                "model_no_filter_chain_match_counter",
                f"{what}: listener.{name}.no_filter_chain_match is {counted}, {expected} connection(s) matched no chain",
                judged=judged,
                expected=expected,
                observed=counted,
            )
