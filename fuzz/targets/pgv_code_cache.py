"""A disk cache of the validators protoc-gen-validate generates, so the config harness does not
render them again in every process (fuzz/targets/pgv_reference.py).

PGV's Python validator renders a message type's validator from Jinja templates the first time it
meets the type and keeps it for the process (`_validate_inner`, an lru_cache). For the schema's
47 message types that is 2.5 CPU s, paid anew by every fuzzing process, inside the 60 s a planted
bug is given. The rendered text is a function of the type's descriptor, PGV and Jinja, and of the
descriptor view pgv_reference lends PGV: the cache keys on all of them, never on a path, so a
fresh clone or a planted-bug copy reuses it. What runs is PGV's own text, executed in PGV's module
as PGV executes it: the reference's verdicts are unchanged.

PROXYFUZZ_PGV_CACHE: a directory, or "off" (render every time, as PGV does); by default pgv/ in
the engine's cache (fuzz/cache_dir.py).
"""

import functools
import hashlib
import importlib.metadata
import os
import sys
import tempfile
import warnings
from pathlib import Path

from fuzz.cache_dir import cache_root

CACHE_ENV = "PROXYFUZZ_PGV_CACHE"
FORMAT = 1  # bump when what is stored changes


def cache_dir() -> Path | None:
    chosen = os.environ.get(CACHE_ENV, "")
    if chosen == "off":
        return None
    return Path(chosen) if chosen else cache_root() / "pgv"


def install(pgv, view_source: bytes) -> None:
    """Let `pgv` (PGV's validator module) take a type's validator text from the cache.
    `view_source`: the source of the descriptor view PGV reads through (part of the key)."""
    render = pgv.file_template

    @functools.lru_cache(maxsize=None)
    def validator(wrapped):
        text = _cached_text(wrapped.DESCRIPTOR, lambda: render(wrapped), pgv, view_source)
        local_vars: dict = {}
        with warnings.catch_warnings():
            # PGV's templates write a rule's regex into a plain string literal ("^(\*\.)?..."): the
            # invalid escape it warns of is in PGV's text, which runs as PGV runs it.
            warnings.simplefilter("ignore", DeprecationWarning)
            exec(text, vars(pgv), local_vars)  # as PGV's _validate_inner does
        return local_vars["generate_validate"]

    pgv._validate_inner = validator  # validate() looks it up in the module's globals


def _cached_text(descriptor, render, pgv, view_source: bytes) -> str:
    path = _entry_path(descriptor, pgv, view_source)
    if path is not None:
        try:
            return path.read_text()
        except OSError:
            pass
    text = render()
    if path is not None:
        _store(path, text)
    return text


def _entry_path(descriptor, pgv, view_source: bytes) -> Path | None:
    where = cache_dir()
    if where is None:
        return None
    key = hashlib.blake2b(digest_size=20)
    for part in (_versions(pgv.__file__), view_source, _file_digest(descriptor.file), descriptor.full_name.encode()):
        key.update(len(part).to_bytes(8, "big") + part)
    return where / (key.hexdigest() + ".py")


@functools.lru_cache(maxsize=4)
def _versions(pgv_file: str) -> bytes:
    return b"\x00".join(
        [
            f"{FORMAT} {sys.version} jinja2 {importlib.metadata.version('jinja2')}".encode(),
            Path(pgv_file).read_bytes(),  # the templates are in PGV's module
        ]
    )


@functools.lru_cache(maxsize=64)
def _file_digest(file) -> bytes:
    """The schema file of a type and every file it imports (a rule may name their enums)."""
    digest = hashlib.blake2b(file.serialized_pb, digest_size=20)
    for dependency in file.dependencies:
        digest.update(_file_digest(dependency))
    return digest.digest()


def _store(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)  # a concurrent process reads the old entry or the new one, never half
    except OSError:
        pass  # a cache that cannot be written only costs the rendering again
