"""Public names of a package, imported from their modules on first use (PEP 562).

A package's `__init__` states its surface as `__all__` without importing its modules: importing
one small module (a codec, the configuration compiler) must not import the whole core, and the
layers below a facade must not import the modules above them.

    __all__, __getattr__, __dir__ = lazy_exports(__name__, {"Connection": "connection", ...})
"""

import importlib
import sys


def lazy_exports(package: str, table: dict):
    """`table` maps each public name to the module (relative to `package`) that defines it."""

    def __getattr__(name):
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__():
        return sorted(set(table) | set(vars(sys.modules[package])))

    return sorted(table), __getattr__, __dir__
