"""The private APIs of atheris and the standard library that the engine relies on, in one place.

Each was read from the versions named in TESTED: atheris's counter allocation (the
instrumentation policy counts the counters a rewrite adds) and its test for what it can
instrument (policy `all` counts functions), and the parts of asyncio the runtime harness's
simulated kernel reads. On another version the first
use checks that the API is still there and says which one is missing, instead of failing deep in
a harness with an AttributeError.
"""

import contextlib
import importlib.metadata
import sys

TESTED = {"atheris": ("2.3.0", "3.0.0"), "python": ((3, 11), (3, 12), (3, 13))}


class PrivateApiMissing(RuntimeError):
    """A private API this engine needs is not in the installed version; the message names it."""


def _require(owner, name: str, what: str):
    if not hasattr(owner, name):
        version = _version(getattr(owner, "__name__", "?").split(".")[0])
        raise PrivateApiMissing(
            f"{what}: {owner.__name__}.{name} is missing in version {version}; "
            f"fuzz/private_api.py was written against {TESTED}"
        )
    return getattr(owner, name)


def _version(dist: str) -> str:
    if dist in sys.stdlib_module_names:
        return sys.version.split()[0]
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def is_tested_version() -> bool:
    """Both atheris and Python are versions this module was read against (shown by `doctor`-style
    reports; an untested version still works while the APIs below exist)."""
    return _version("atheris") in TESTED["atheris"] and sys.version_info[:2] in TESTED["python"]


# -- atheris ------------------------------------------------------------------------------------


@contextlib.contextmanager
def counting_counters():
    """Yields a one-item list: how many coverage counters atheris reserved inside the block (its
    bytecode rewrite calls `atheris._reserve_counter` once per counter it adds)."""
    import atheris

    real = _require(atheris, "_reserve_counter", "counting coverage counters")
    seen = [0]

    def reserve():
        seen[0] += 1
        return real()

    atheris._reserve_counter = reserve
    try:
        yield seen
    finally:
        atheris._reserve_counter = real


@contextlib.contextmanager
def standin_counters(first: int):
    """Yields a one-item list: how many counters atheris's rewrite asked for inside the block,
    each answered with a stand-in number (first, first + 1, ...) instead of a counter it reserves:
    fuzz/instrument/code_cache.py swaps reserved counters in later."""
    import atheris

    real = _require(atheris, "_reserve_counter", "caching rewritten code")
    seen = [0]

    def standin():
        seen[0] += 1
        return first + seen[0] - 1

    atheris._reserve_counter = standin
    try:
        yield seen
    finally:
        atheris._reserve_counter = real


def atheris_instrumentor():
    """atheris's bytecode rewriter (`Instrumentor(code)`, then `trace_control_flow()`,
    `trace_data_flow()`, `consts`, `to_code()`): what atheris.patch_code runs on each code object,
    called one code object at a time so the rewrite can choose per function
    (fuzz/instrument/rewrite.py)."""
    from atheris import instrument_bytecode

    instrumentor = _require(instrument_bytecode, "Instrumentor", "rewriting code with counters")
    for method in ("trace_control_flow", "trace_data_flow", "to_code"):
        _require(instrumentor, method, "rewriting code with counters")
    return instrumentor


def is_instrumentable(obj) -> bool:
    """What `atheris.instrument_all()` would rewrite (a function or code object it can patch)."""
    from atheris import instrument_bytecode

    return _require(instrument_bytecode, "_is_instrumentable", "policy 'all'")(obj)


# -- asyncio ------------------------------------------------------------------------------------


def selector_loop_part(loop, name: str):
    """A part of asyncio's selector event loop that the runtime harness's simulated kernel reads or
    calls (fuzz/targets/runtime_kernel.py): `_ready` and `_scheduled` (is the loop at rest),
    `_transports` (the transport of a descriptor), `_selector`, `_create_connection_transport`."""
    return _require(loop, name, "the runtime harness's simulated kernel")


def asyncio_server_class():
    """asyncio.base_events.Server, which the simulated kernel serves its listening sockets with."""
    from asyncio import base_events

    return _require(base_events, "Server", "the runtime harness's simulated kernel")
