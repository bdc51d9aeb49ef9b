"""The proxy's configuration: schema (bootstrap.proto), loading, validation with field paths.

    from proxy.config import load_file, load_bytes, ConfigError
    bootstrap = load_file("examples/tcp_proxy.yaml")   # a validated proxyfuzz.config.Bootstrap

The names below are imported lazily, so that `python -m proxy.config.compile` works before the
schema has been compiled.
"""

from proxy._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "load_file": "load",
        "load_bytes": "load",
        "parse_bytes": "load",
        "MAX_CONFIG_BYTES": "load",
        "ConfigError": "errors",
        "Violation": "errors",
        "check_rules": "validate",
        "check_semantics": "semantic",
        "rules_for": "rules",
        "SchemaNotCompiled": "errors",
    },
)


def violations(bootstrap):
    """Every rule and semantic violation of a Bootstrap message built in code ([]: valid).
    (Not named `validate`: that is the submodule proxy.config.validate.)"""
    from proxy.config.semantic import all_violations  # lazy: see the docstring

    return all_violations(bootstrap)
