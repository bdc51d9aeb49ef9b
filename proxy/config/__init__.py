"""The proxy's configuration: schema (bootstrap.proto), loading, validation with field paths.

    from proxy.config import load_file, load_bytes, ConfigError
    bootstrap = load_file("examples/tcp_proxy.yaml")   # a validated proxyfuzz.config.Bootstrap

The names below are imported lazily, so that `python -m proxy.config.compile` works before the
schema has been compiled.
"""

_EXPORTS = {
    "load_file": "proxy.config.load",
    "load_bytes": "proxy.config.load",
    "parse_bytes": "proxy.config.load",
    "MAX_CONFIG_BYTES": "proxy.config.load",
    "ConfigError": "proxy.config.errors",
    "Violation": "proxy.config.errors",
    "check_rules": "proxy.config.validate",
    "check_semantics": "proxy.config.semantic",
    "rules_for": "proxy.config.rules",
    "SchemaNotCompiled": "proxy.config.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'proxy.config' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(module), name)


def violations(bootstrap):
    """Every rule and semantic violation of a Bootstrap message built in code ([]: valid).
    (Not named `validate`: that is the submodule proxy.config.validate.)"""
    from proxy.config.semantic import all_violations  # lazy: see the docstring
    return all_violations(bootstrap)
