"""fuzz/instrument/rewrite.py: a function with no branch loses only its entry counter (its
comparisons keep their hooks), every other function keeps atheris's rewrite, and the branch test
never takes for branch-free a function where atheris puts more than that one counter."""

import dis
import types
from pathlib import Path

import atheris
import pytest

from fuzz.instrument import rewrite
from fuzz.private_api import atheris_instrumentor, counting_counters

REPO = Path(__file__).resolve().parents[2]
SOURCE = """
def size(buf):
    return len(buf)

def same(a, b):
    return a == b

def pick(n):
    if n > 3:
        return "big"
    return "small"

def total(xs):
    t = 0
    for x in xs:
        t += x
    return t

def guarded(f):
    try:
        return f()
    except ValueError:
        return None
"""


def _calls(code: types.CodeType, hook: str) -> int:
    """How many times `code` itself (not its nested functions) calls atheris's `hook`."""
    return sum(1 for i in dis.get_instructions(code) if i.argval == hook and i.opname in ("LOAD_ATTR", "LOAD_METHOD"))


def _functions(code: types.CodeType) -> dict[str, types.CodeType]:
    return {c.co_name: c for c in code.co_consts if isinstance(c, types.CodeType)}


def _entry_counters_dropped(module: types.CodeType) -> list[tuple[str, int]]:
    """Code objects the rewrite takes for branch-free where atheris's control-flow pass puts other
    than the one entry counter: (name, atheris's counters). Empty when only entries are dropped."""
    wrong = []
    pending = [(module, False)]
    while pending:
        code, nested = pending.pop()
        if not rewrite.has_branch(code):
            with counting_counters() as seen:
                atheris_instrumentor()(code).trace_control_flow()
            if seen[0] != 1:
                wrong.append((code.co_name, seen[0]))
        pending += [
            (c, True)
            for c in code.co_consts
            if isinstance(c, types.CodeType) and rewrite._atheris_recurses_into(c, nested)
        ]
    return wrong


def test_a_branch_free_function_keeps_its_comparison_hooks_and_loses_its_counter():
    code = compile(SOURCE, "demo.py", "exec")
    ours = _functions(rewrite.patch_code(code))
    assert _calls(ours["size"], "_trace_branch") == 0 and _calls(ours["size"], "_trace_cmp") == 0
    assert _calls(ours["same"], "_trace_branch") == 0 and _calls(ours["same"], "_trace_cmp") == 1


def test_a_function_with_a_branch_keeps_atheris_s_rewrite():
    code = compile(SOURCE, "demo.py", "exec")
    ours, theirs = _functions(rewrite.patch_code(code)), _functions(atheris.patch_code(code, True))
    for name in ("pick", "total", "guarded"):
        assert rewrite.has_branch(_functions(code)[name]), name
        assert _calls(ours[name], "_trace_branch") == _calls(theirs[name], "_trace_branch") > 0, name
        assert _calls(ours[name], "_trace_cmp") == _calls(theirs[name], "_trace_cmp"), name
        assert [i.opname for i in dis.get_instructions(ours[name])] == [
            i.opname for i in dis.get_instructions(theirs[name])
        ], name


def test_the_rewritten_functions_compute_what_the_originals_do():
    namespace: dict = {}
    exec(rewrite.patch_code(compile(SOURCE, "demo.py", "exec")), namespace)
    assert namespace["size"](b"abc") == 3 and namespace["same"](2, 2) is True
    assert namespace["pick"](5) == "big" and namespace["total"]([1, 2, 3]) == 6
    assert namespace["guarded"](lambda: int("x")) is None


def test_a_code_object_atheris_already_rewrote_is_left_as_it_is():
    done = atheris.patch_code(compile(SOURCE, "demo.py", "exec"), True)
    assert rewrite.patch_code(done) is done


def test_only_entry_counters_are_dropped_in_every_proxy_module():
    """atheris's own block analysis agrees: every proxy function called branch-free has one block."""
    modules = [p for p in sorted((REPO / "proxy").rglob("*.py")) if "gen" not in p.relative_to(REPO).parts]
    for path in modules:
        assert _entry_counters_dropped(compile(path.read_bytes(), str(path), "exec")) == [], path


def test_a_proxy_helper_loses_its_counter():
    code = compile((REPO / "proxy" / "buffer.py").read_bytes(), "proxy/buffer.py", "exec")
    with counting_counters() as theirs:
        atheris.patch_code(code, True)
    with counting_counters() as ours:
        rewrite.patch_code(code)
    assert 0 < ours[0] < theirs[0]


def test_a_branch_test_that_ignored_jumps_is_caught(monkeypatch):
    monkeypatch.setattr(rewrite, "has_branch", lambda code: bool(code.co_exceptiontable))
    wrong = dict(_entry_counters_dropped(compile(SOURCE, "demo.py", "exec")))
    assert {"pick", "total"} <= set(wrong) and "guarded" not in wrong


@pytest.mark.parametrize("name", ["size", "same"])
def test_branch_free_is_what_atheris_counts_as_one_block(name):
    with counting_counters() as seen:
        atheris_instrumentor()(_functions(compile(SOURCE, "demo.py", "exec"))[name]).trace_control_flow()
    assert seen == [1]
