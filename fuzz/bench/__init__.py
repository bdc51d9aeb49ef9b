"""Benchmarks (measurements, not tests): `python -m fuzz bench NAME [ARGS]` runs
fuzz/bench/NAME.py's `main(argv) -> int`. Each prints `RESULT <metric> <value>` as its last line.
Bench-only harnesses live in fuzz/bench/harnesses/, never in harnesses/."""

import importlib
import pkgutil
from pathlib import Path


# Command names whose module is named otherwise: `bench harnesses` would collide with the
# fuzz/bench/harnesses/ folder of bench-only harnesses; two modules each named configgen.py and instrumentation.py confused readers.
ALIASES = {
    "harnesses": "harness_speed",
    "configgen": "configgen_rate",
    "instrumentation": "policies",
    "proxy": "proxy_load",
}


def _modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not m.name.startswith("_") and m.name != "harnesses"
    )


def available() -> list[str]:
    """The benchmarks by the names a user types (`two-stage`, `harnesses`, `proxy`, ...)."""
    command = {module: name for name, module in ALIASES.items()}
    return sorted(command.get(m, m).replace("_", "-") for m in _modules())


def main(argv: list[str]) -> int:
    names = available()
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m fuzz bench NAME [ARGS]\n\nbenchmarks: " + ", ".join(names))
        return 0 if argv else 2
    name = argv[0].replace("-", "_")  # `bench two-stage` runs fuzz/bench/two_stage.py
    name = ALIASES.get(name, name)
    if name not in _modules():
        print(f"error: no benchmark '{argv[0]}'; benchmarks: {', '.join(names)}")
        return 2
    module = importlib.import_module(f"fuzz.bench.{name}")
    return module.main(argv[1:]) or 0
