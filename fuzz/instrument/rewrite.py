"""atheris's rewrite of a module's code, less the counter of a function that has no branch.

atheris.patch_code puts a counter at the start of every basic block, a function's entry block
included, and a comparison hook (`_trace_cmp`) on every comparison. A function whose body is one
basic block (no jump, no exception handler: `Buffer.__len__`, `Connection.is_open`) gets only its
entry counter, and that counter says no more than the counter of the caller's block that called it:
the call runs whenever that block runs. It still costs every call (~130 ns: speed-2026-12-04f.md
§6), and such helpers take a third of a session input's proxy calls. So here it is left out; the
function's comparisons keep their hooks (the values they feed libFuzzer's mutations are not in the
caller), and every function with a branch gets exactly atheris's rewrite.

What is lost is a branch-free override reached by dynamic dispatch (one caller block, several
implementations): its entry no longer tells which one ran. The bug bench from an empty corpus
judged that (speed-2026-12-04g.md).
"""

import dis
import types

from fuzz.private_api import atheris_instrumentor

ATHERIS_MARK = "__ATHERIS_INSTRUMENTED__"  # the constant atheris adds to every code object it rewrites
_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)


def has_branch(code: types.CodeType) -> bool:
    """More than one basic block: a jump of any kind, or an exception handler to land in."""
    if code.co_exceptiontable:
        return True
    return any(instruction.opcode in _JUMPS for instruction in dis.get_instructions(code))


def patch_code(code: types.CodeType, nested: bool = False) -> types.CodeType:
    """atheris.patch_code(code, True), with no block counters in a body that has no branch.

    Recurses as atheris does: into functions, lambdas and (at the top) a nested module body, not
    into comprehensions; a code object atheris already rewrote is returned as it is."""
    if any(type(const) is str and const == ATHERIS_MARK for const in code.co_consts):
        return code
    rewrite = atheris_instrumentor()(code)
    if has_branch(code):
        rewrite.trace_control_flow()
    rewrite.trace_data_flow()
    for index, const in enumerate(rewrite.consts):
        if isinstance(const, types.CodeType) and _atheris_recurses_into(const, nested):
            rewrite.consts[index] = patch_code(const, nested=True)
    return rewrite.to_code()


def _atheris_recurses_into(code: types.CodeType, nested: bool) -> bool:
    name = code.co_name
    return name == "<lambda>" or (not nested and name == "<module>") or not (name[:1] == "<" and name[-1:] == ">")
