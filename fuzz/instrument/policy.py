"""instrumentation.toml: which modules get coverage counters, per harness.

The file has one `[default]` table and one `[harness.<name>]` table per harness:

    [default]
    policy = "derived"                    # used when PROXYFUZZ_POLICY is unset
    scope = ["proxy"]                     # packages whose modules may carry counters
    never = ["fuzz", "hypothesis", ...]   # never instrumented, whatever a section says

    [harness.h1_server]
    scope = ["proxy", "h11"]              # replaces the default scope for this harness
    [harness.h1_server.modules]           # module (or "pkg.*") = one-line reason
    "proxy.http.h1" = "the codec under test"
    [harness.h1_server.exclude]           # reached and in scope, deliberately left out
    "h11._util" = "exception classes only"

A pattern is an exact module name, or `pkg.*` for every module below `pkg` (not `pkg` itself).
"""

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

POLICIES = ("all", "project", "derived", "none")
# Never instrumented, even by a careless section: the engine, harnesses, generators, runtimes.
BUILTIN_NEVER = (
    "fuzz",
    "harnesses",
    "atheris",
    "hypothesis",
    "google.protobuf",
    "proxy.config.gen",
    "validate",
    "protoc_gen_validate",
    "coverage",
    "_pytest",
    "pytest",
)


class PolicyError(ValueError):
    """instrumentation.toml is malformed; the message names the file and the offending key."""


@dataclass(frozen=True)
class Entry:
    pattern: str
    reason: str


@dataclass(frozen=True)
class HarnessPolicy:
    name: str
    scope: tuple[str, ...]
    never: tuple[str, ...]
    modules: tuple[Entry, ...]
    exclude: tuple[Entry, ...]
    has_section: bool

    def selects(self, module: str) -> bool:
        """True when the derived policy puts counters on `module`."""
        if self.is_never(module) or any(matches(module, e.pattern) for e in self.exclude):
            return False
        return any(matches(module, e.pattern) for e in self.modules)

    def in_scope(self, module: str) -> bool:
        return not self.is_never(module) and any(in_package(module, p) for p in self.scope)

    def is_never(self, module: str) -> bool:
        return any(in_package(module, p) for p in self.never)

    def excluded(self, module: str) -> bool:
        return any(matches(module, e.pattern) for e in self.exclude)


@dataclass(frozen=True)
class PolicyFile:
    path: Path | None
    default_policy: str
    scope: tuple[str, ...]
    never: tuple[str, ...]
    sections: dict = field(default_factory=dict)  # name -> HarnessPolicy

    def for_harness(self, name: str) -> HarnessPolicy:
        if name in self.sections:
            return self.sections[name]
        return HarnessPolicy(name, self.scope, self.never, (), (), has_section=False)


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def matches(module: str, pattern: str) -> bool:
    if pattern.endswith(".*"):
        return module.startswith(pattern[:-1])
    return module == pattern


def _names(where: str, value, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PolicyError(f"{where}: '{key}' must be a list of module names, got {value!r}")
    return tuple(value)


def _entries(where: str, table, key: str) -> tuple[Entry, ...]:
    if table is None:
        return ()
    if not isinstance(table, dict):
        raise PolicyError(f'{where}: \'{key}\' must be a table of "module" = "reason"')
    out = []
    for pattern, reason in table.items():
        if not isinstance(reason, str) or not reason.strip():
            raise PolicyError(f"{where}.{key}: module '{pattern}' needs a one-line reason string")
        if "\n" in reason.strip():
            raise PolicyError(f"{where}.{key}: the reason for '{pattern}' must be one line")
        bare = pattern[:-2] if pattern.endswith(".*") else pattern
        if not bare or not all(part.isidentifier() for part in bare.split(".")):
            raise PolicyError(f"{where}.{key}: '{pattern}' is not a module name or 'pkg.*' pattern")
        out.append(Entry(pattern, reason.strip()))
    return tuple(out)


def parse(text: str, path: Path | None = None) -> PolicyFile:
    label = str(path) if path else "instrumentation.toml"
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{label}: not valid TOML: {exc}") from None
    unknown = set(doc) - {"default", "harness"}
    if unknown:
        raise PolicyError(
            f"{label}: unknown top-level table(s) {sorted(unknown)}; expected [default] and [harness.NAME]"
        )
    default = doc.get("default", {})
    if not isinstance(default, dict):
        raise PolicyError(f"{label}: [default] must be a table")
    bad = set(default) - {"policy", "scope", "never"}
    if bad:
        raise PolicyError(f"{label}: [default] has unknown key(s) {sorted(bad)}")
    policy = default.get("policy", "derived")
    if policy not in POLICIES[:3]:
        raise PolicyError(f"{label}: [default] policy = {policy!r}; expected one of {', '.join(POLICIES[:3])}")
    scope = _names(f"{label} [default]", default.get("scope", ["proxy"]), "scope")
    never = tuple(dict.fromkeys(BUILTIN_NEVER + _names(f"{label} [default]", default.get("never", []), "never")))

    sections = {}
    harnesses = doc.get("harness", {})
    if not isinstance(harnesses, dict):
        raise PolicyError(f"{label}: 'harness' must be tables [harness.NAME]")
    for name, sec in harnesses.items():
        where = f"{label} [harness.{name}]"
        if not isinstance(sec, dict):
            raise PolicyError(f"{where}: must be a table")
        bad = set(sec) - {"scope", "modules", "exclude"}
        if bad:
            raise PolicyError(f"{where}: unknown key(s) {sorted(bad)}; expected scope, modules, exclude")
        hp = HarnessPolicy(
            name=name,
            scope=_names(where, sec.get("scope", list(scope)), "scope"),
            never=never,
            modules=_entries(where, sec.get("modules"), "modules"),
            exclude=_entries(where, sec.get("exclude"), "exclude"),
            has_section=True,
        )
        for entry in hp.modules:
            bare = entry.pattern[:-2] if entry.pattern.endswith(".*") else entry.pattern
            if hp.is_never(bare):
                raise PolicyError(
                    f"{where}: '{entry.pattern}' is never instrumented (engine, generator or runtime code)"
                )
        sections[name] = hp
    return PolicyFile(path, policy, scope, never, sections)


def load(path: Path) -> PolicyFile:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{path}: policy file not found") from None
    return parse(text, Path(path))
