"""Every filter chain an accepted configuration serves ends with its one terminal filter, judged for
the config harness (fuzz/targets/config.py) on what was built, the default chain included.

bootstrap.proto: "Read filters in order; the last one must be terminal (tcp_proxy or
http_connection_manager)". Envoy refuses both halves of that at load: a terminal filter before the
end ("... must be the last filter in a network filter chain") and a chain whose last filter is not
terminal ("non-terminal filter ... is the last filter in a network filter chain"). Served anyway,
a chain without its terminal filter accepts connections and reads their bytes with nothing to send
them to, and the filters after a terminal one never see a byte.
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


def check(built) -> None:
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
