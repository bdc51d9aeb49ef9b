"""A disk cache of module code rewritten by atheris, so a fuzzing process does not redo the rewrite
every time it starts (2-3 CPU seconds for session's 60 modules, before its first input).

The rewrite (fuzz/instrument/rewrite.py) is a function of the compiled module and atheris's version, but two of its constants
cannot be stored: the atheris module (every counter call loads it) and the counter numbers, which
atheris hands out in the order a process rewrites its modules. So the rewrite is made with
stand-ins for both (MARKER, and numbers from STANDIN_BASE up: fuzz/private_api.py
standin_counters), stored marshalled, and every use, fresh or cached, swaps real ones in: this
process's atheris module and counters reserved now, as many as the rewrite asked for. A module
from the cache carries the same counters at the same places as a fresh rewrite; only their
numbers differ, as they would with another import order.

Entries are keyed by the module's source bytes, Python's version and optimization level, and
atheris's version, never by path: a copied tree (`bench bugs` fuzzes each planted bug in a fresh
copy) reuses the entries of every file it did not change. The file name is set on load, as Python
does for a .pyc, so tracebacks and triage name the file that runs.

PROXYFUZZ_INSTRUMENT_CACHE: a directory, or "off" (rewrite every time); by default
instrumented/ in the engine's cache (fuzz/cache_dir.py).
"""

import functools
import hashlib
import marshal
import os
import sys
import tempfile
import types
from dataclasses import dataclass
from pathlib import Path

from fuzz.cache_dir import cache_root
from fuzz.instrument import rewrite
from fuzz.private_api import standin_counters

CACHE_ENV = "PROXYFUZZ_INSTRUMENT_CACHE"
FORMAT = 2  # bump when what is stored changes (2: branch-free functions without counters)
MARKER = "\x00proxyfuzz: the atheris module\x00"
STANDIN_BASE = 1 << 60


@dataclass(frozen=True)
class Rewritten:
    code: types.CodeType
    counters: int
    functions: int  # function and lambda bodies rewritten besides the module's own (hook.count_functions)


def cache_dir() -> Path | None:
    chosen = os.environ.get(CACHE_ENV, "")
    if chosen == "off":
        return None
    if chosen:
        return Path(chosen)
    return cache_root() / "instrumented"


def rewritten(code: types.CodeType, source: bytes | None, count_functions) -> Rewritten:
    """`code` with atheris's counters on it, its counters reserved in this process. `source` (the
    bytes `code` was compiled from; None: no caching) keys the cache."""
    path = _entry_path(source) if source is not None and not _clashes(code) else None
    stored = _load(path) if path is not None else None
    if stored is None:
        stored = _rewrite(code, count_functions)
        if path is not None:
            _store(path, stored)
    return _bind(stored, code.co_filename)


@functools.lru_cache(maxsize=1)
def _versions() -> bytes:
    import importlib.metadata

    return f"{FORMAT} {sys.version} {sys.flags.optimize} {importlib.metadata.version('atheris')}".encode()


def _entry_path(source: bytes) -> Path | None:
    where = cache_dir()
    if where is None:
        return None
    return where / (hashlib.blake2b(_versions() + b"\x00" + source, digest_size=20).hexdigest() + ".marshal")


def _rewrite(code: types.CodeType, count_functions) -> Rewritten:
    import atheris

    with standin_counters(STANDIN_BASE) as asked:
        patched = rewrite.patch_code(code)
    stored = _map_consts(patched, lambda c: MARKER if c is atheris else c)
    return Rewritten(stored, asked[0], count_functions(code))


def _bind(stored: Rewritten, filename: str) -> Rewritten:
    """The stored rewrite with this process's atheris module and newly reserved counters in place."""
    import atheris

    counters = [atheris._reserve_counter() for _ in range(stored.counters)]

    def real(c):
        if type(c) is str and c == MARKER:
            return atheris
        if type(c) is int and STANDIN_BASE <= c < STANDIN_BASE + len(counters):
            return counters[c - STANDIN_BASE]
        return c

    return Rewritten(_map_consts(stored.code, real, filename), stored.counters, stored.functions)


def _map_consts(code: types.CodeType, fn, filename: str | None = None) -> types.CodeType:
    consts = tuple(_map_consts(c, fn, filename) if isinstance(c, types.CodeType) else fn(c) for c in code.co_consts)
    return code.replace(co_consts=consts, co_filename=filename or code.co_filename)


def _clashes(code: types.CodeType) -> bool:
    """A constant of the module itself that a stand-in could be taken for (then no caching)."""
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            if _clashes(c):
                return True
        elif (type(c) is int and c >= STANDIN_BASE) or (type(c) is str and c == MARKER):
            return True
    return False


def _load(path: Path) -> Rewritten | None:
    try:
        fmt, counters, functions, code = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None  # absent, or a file this version cannot read: rewrite it
    if fmt != FORMAT or not isinstance(code, types.CodeType):
        return None
    return Rewritten(code, counters, functions)


def _store(path: Path, stored: Rewritten) -> None:
    """Best effort: a cache that cannot be written only costs the next start the rewrite."""
    try:
        data = marshal.dumps((FORMAT, stored.counters, stored.functions, stored.code))
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as f:
            f.write(data)
        os.replace(f.name, path)  # atomic: processes starting together never read half a file
    except (OSError, ValueError):
        pass
