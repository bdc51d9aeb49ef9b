"""The network filters configured in examples/*.yaml: where harnesses take realistic seed configs."""

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


def example_network_filters():
    """Every NetworkFilter message of the examples that load, in file order."""
    from fuzz.test_pki import load_config
    from proxy.config import ConfigError

    for path in sorted(EXAMPLES.glob("*.yaml")):
        try:
            boot = load_config(path)
        except ConfigError:
            continue
        for listener in boot.listeners:
            for chain in listener.filter_chains:
                yield from chain.filters


def example_connection_managers():
    """The examples' http_connection_manager configurations."""
    for f in example_network_filters():
        if f.WhichOneof("filter") == "http_connection_manager":
            yield f.http_connection_manager
