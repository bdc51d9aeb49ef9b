"""Configuration errors: every problem found, each with the field path it is about."""

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Violation:
    """One problem: `path` is like `clusters[0].endpoints[0].port` ("" for the document itself)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(Exception):
    """The only exception loading a configuration raises; `.violations` lists every problem."""

    def __init__(self, violations):
        if isinstance(violations, (str, Violation)):
            violations = [violations]
        self.violations = [v if isinstance(v, Violation) else Violation("", str(v)) for v in violations]
        super().__init__("\n".join(str(v) for v in self.violations) or "invalid configuration")


def join_path(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


class SchemaNotCompiled(ImportError):
    """proxy/config/gen/ is missing: the schema has not been compiled (`make setup`)."""
