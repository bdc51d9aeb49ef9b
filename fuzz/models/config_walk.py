"""Walks over a bootstrap the models share: every filter chain of a listener is judged, the
default chain too (it serves what no other chain matches)."""


def network_filters(boot):
    """Every network filter of every filter chain of every listener, the default chain's too."""
    for listener in boot.listeners:
        chains = list(listener.filter_chains)
        if listener.HasField("default_filter_chain"):
            chains.append(listener.default_filter_chain)
        for chain in chains:
            yield from chain.filters


def connection_managers(boot):
    """The http_connection_manager configuration of every chain that has one."""
    for f in network_filters(boot):
        if f.WhichOneof("filter") == "http_connection_manager":
            yield f.http_connection_manager
