"""Every filter chain an accepted configuration serves ends with its one terminal filter, and no two
chains of a listener can be matched by one connection equally well; judged for the config harness
(fuzz/targets/config.py) on what was built, the default chain included.

bootstrap.proto: "Read filters in order; the last one must be terminal (tcp_proxy or
http_connection_manager)". Envoy refuses both halves of that at load: a terminal filter before the
end ("... must be the last filter in a network filter chain") and a chain whose last filter is not
terminal ("non-terminal filter ... is the last filter in a network filter chain"). Served anyway,
a chain without its terminal filter accepts connections and reads their bytes with nothing to send
them to, and the filters after a terminal one never see a byte.

Envoy refuses a listener two of whose filter chains share a value on every FilterChainMatch criterion
("multiple filter chains with the same matching rules are defined"): a connection with those values
reaches the last step of the precedence order with both chains left, and which one serves it is then
an accident of their order. An unset criterion is a value of its own here, not "any": a chain that
sets the criterion wins over one that does not (listener_components.proto's precedence), so the two
never tie on it.
"""

from fuzz.oracles import InvariantViolation

TERMINAL = frozenset({"tcp_proxy", "http_connection_manager"})


def served_chains(built):
    """(where, BuiltFilterChain) of every chain a built configuration's listeners can pick."""
    for listener in built.listeners:
        for chain in listener.filter_chains:
            yield f"listener {listener.name} {chain.name}", chain
        if listener.default_filter_chain is not None:
            yield f"listener {listener.name} default_filter_chain", listener.default_filter_chain


# FilterChainMatch criteria, in Envoy's order of precedence (the built match's field names).
CRITERIA = (
    "destination_port",
    "prefix_ranges",
    "server_names",
    "transport_protocol",
    "application_protocols",
    "direct_source_networks",
    "source_type",
    "source_networks",
    "source_ports",
)
UNSET = "<unset>"


def check(built) -> None:
    _each_ends_with_its_terminal_filter(built)
    _no_two_chains_tie(built)


def criterion_values(match, criterion: str) -> set:
    """The values a chain's match lists for one criterion; {UNSET} when it lists none."""
    value = getattr(match, criterion)
    if isinstance(value, (tuple, list, set, frozenset)):
        return set(value) or {UNSET}
    return {UNSET} if value is None or value == "" else {value}


def tie(a, b) -> list | None:
    """One value per criterion that both matches list (a connection carrying them matches both
    equally well), or None when some criterion keeps them apart."""
    shared = []
    for criterion in CRITERIA:
        common = criterion_values(a, criterion) & criterion_values(b, criterion)
        if not common:
            return None
        shared.append((criterion, sorted(map(str, common))[0]))
    return shared


def _no_two_chains_tie(built) -> None:
    for listener in built.listeners:
        chains = listener.filter_chains
        for i, later in enumerate(chains):
            for earlier in chains[:i]:
                shared = tie(earlier.match, later.match)
                if shared is not None:
                    witness = {c: v for c, v in shared if v != UNSET}
                    raise InvariantViolation(
                        "config_chains_match_the_same_connection",
                        f"listener {listener.name}: {earlier.name} and {later.name} were accepted although a "
                        f"connection with {witness or 'no distinguishing facts'} matches both equally well "
                        "(Envoy: multiple filter chains with the same matching rules)",
                        judged="proxy/config/semantic.py:_check_listener",
                        expected="the configuration refused",
                        observed=witness,
                    )


def _each_ends_with_its_terminal_filter(built) -> None:
    for where, chain in served_chains(built):
        names = list(chain.filter_names)
        terminals = [i for i, name in enumerate(names) if name in TERMINAL]
        if terminals != [len(names) - 1]:
            raise InvariantViolation(
                "config_chain_terminal_filter_not_last",
                f"{where} was accepted with the network filters {names}: a chain must end with exactly one "
                "terminal filter (tcp_proxy or http_connection_manager), its last",
                judged="proxy/config/semantic.py:_check_filters",
                expected="[..., tcp_proxy | http_connection_manager]",
                observed=names,
            )
