"""The cache of atheris rewrites (fuzz/instrument/code_cache.py): a module from the cache is the
rewrite the hook makes (fuzz/instrument/rewrite.py: same bytecode, same number of counters, each reserved in this process), keyed
by the source (an edited module is rewritten again), and named after the file that loads it."""

import dis
import types
from pathlib import Path

import atheris
import pytest

from fuzz.instrument import code_cache, rewrite
from fuzz.instrument.hook import count_functions
from fuzz.private_api import counting_counters

REPO = Path(__file__).resolve().parents[2]
SOURCE = b"""
def classify(n):
    if n > 3:
        return "big"
    return [x for x in range(n) if x % 2] or "small"

LAMBDA = lambda s: s.startswith("a") and len(s) > 2
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(code_cache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def _shape(code: types.CodeType, counters: range, used: list):
    """A rewritten code tree as instructions, each counter shown as "counter" (and appended to
    `used`) and the atheris module by name: two rewrites of the same code compare equal whatever
    counters they were given. (atheris numbers a function's counters in no fixed order, so the
    constants' slots differ between two rewrites of the same code: compared by value.)"""

    def value(c):
        if isinstance(c, types.CodeType):
            return _shape(c, counters, used)
        if c is atheris:
            return "<atheris>"
        if type(c) is int and c in counters:
            used.append(c)
            return "counter"
        return c

    return (code.co_name, code.co_filename) + tuple(
        (i.opname, value(i.argval) if i.opname == "LOAD_CONST" else i.argval) for i in dis.get_instructions(code)
    )


def _int_literals(code: types.CodeType):
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from _int_literals(c)
        elif type(c) is int:
            yield c


def _reserved(fn, past: types.CodeType | None = None):
    """(fn's result, the range of counters it reserved). With `past`, the counters start above
    every number in that code: atheris shares a constant between a counter and a literal of the
    same value (counter 32 and the 32 of `data[:32]`), which only numbering can tell apart."""
    top = max((n for n in _int_literals(past) if n < 1 << 20), default=0) if past is not None else 0
    first = atheris._reserve_counter() + 1
    while first <= top:
        first = atheris._reserve_counter() + 1
    with counting_counters() as seen:
        out = fn()
    return out, range(first, first + seen[0])


def _direct_rewrite(code):
    return _reserved(lambda: rewrite.patch_code(code), past=code)


def test_a_cached_module_is_the_rewrite_the_hook_makes(cache):
    source = (REPO / "proxy" / "buffer.py").read_bytes()
    code = compile(source, "proxy/buffer.py", "exec")
    direct, direct_counters = _direct_rewrite(code)
    assert len(direct_counters) > 20
    for trip in ("fresh", "from the cache"):
        done, counters = _reserved(lambda: code_cache.rewritten(code, source, count_functions), past=code)
        assert done.counters == len(counters) == len(direct_counters), trip
        assert done.functions == count_functions(code)
        used: list = []
        assert _shape(done.code, counters, used) == _shape(direct, direct_counters, []), trip
        assert sorted(used) == list(counters), trip  # each reserved counter at one place
    assert len(list(cache.iterdir())) == 1


def test_a_module_from_the_cache_runs_with_counters_of_its_own(cache):
    code = compile(SOURCE, "demo.py", "exec")
    first = code_cache.rewritten(code, SOURCE, count_functions)
    again, counters = _reserved(lambda: code_cache.rewritten(code, SOURCE, count_functions))
    assert len(counters) == first.counters > 0  # reserved anew, not shared with the first process's

    namespace: dict = {}
    exec(again.code, namespace)
    assert namespace["classify"](5) == "big" and namespace["classify"](3) == [1] and namespace["LAMBDA"]("abc")


def test_an_edited_module_is_rewritten_again(cache):
    edited = SOURCE.replace(b'"big"', b'"large"')
    for source, expected in ((SOURCE, "big"), (edited, "large")):
        namespace: dict = {}
        exec(code_cache.rewritten(compile(source, "demo.py", "exec"), source, count_functions).code, namespace)
        assert namespace["classify"](9) == expected
    assert len(list(cache.iterdir())) == 2


def test_a_cache_keyed_without_the_source_would_serve_the_old_module(cache, monkeypatch):
    # The planted fault the test above exists to catch: the key ignores the source bytes.
    monkeypatch.setattr(code_cache, "_entry_path", lambda source: cache / "one.marshal")
    edited = SOURCE.replace(b'"big"', b'"large"')
    results = []
    for source in (SOURCE, edited):
        namespace: dict = {}
        exec(code_cache.rewritten(compile(source, "demo.py", "exec"), source, count_functions).code, namespace)
        results.append(namespace["classify"](9))
    assert results == ["big", "big"]


def test_the_file_name_is_the_one_that_loads_the_module(cache):
    code_cache.rewritten(compile(SOURCE, "/first/tree/demo.py", "exec"), SOURCE, count_functions)
    done = code_cache.rewritten(compile(SOURCE, "/second/tree/demo.py", "exec"), SOURCE, count_functions)

    def names(code):
        yield code.co_filename
        for c in code.co_consts:
            if isinstance(c, types.CodeType):
                yield from names(c)

    assert set(names(done.code)) == {"/second/tree/demo.py"}


def test_off_or_no_source_rewrites_every_time(cache, monkeypatch):
    code = compile(SOURCE, "demo.py", "exec")
    code_cache.rewritten(code, None, count_functions)
    assert not cache.exists()
    monkeypatch.setenv(code_cache.CACHE_ENV, "off")
    code_cache.rewritten(code, SOURCE, count_functions)
    assert code_cache.cache_dir() is None and not cache.exists()


def test_an_unreadable_entry_is_rewritten(cache):
    code = compile(SOURCE, "demo.py", "exec")
    code_cache.rewritten(code, SOURCE, count_functions)
    (entry,) = cache.iterdir()
    entry.write_bytes(b"not marshal")
    namespace: dict = {}
    exec(code_cache.rewritten(code, SOURCE, count_functions).code, namespace)
    assert namespace["classify"](9) == "big"
