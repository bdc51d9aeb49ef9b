"""python -m fuzz bench mutants: mutation points, a mutant's code, and the bench end to end on a toy
repository whose harness judges two of its three functions (killed, survived, unreached, a hang)."""

import textwrap

from fuzz.bench.mutants import command, ops

TARGET = """
def is_small(n):
    return n < 10


def clamp(n, limit):
    if n > limit:
        return limit
    return n


def countdown(n):
    while n > 0:
        n -= 1
    return n


def unused(x):
    return x + 1
"""

HARNESS = """
import sys
sys.path.insert(0, {root!r})
import toy_target
from fuzz.oracles import InvariantViolation

def TestOneInput(data):
    n = data[0]
    if toy_target.is_small(n) != (n < 10):
        raise InvariantViolation("toy_is_small")
    if toy_target.clamp(n, 100) != min(n, 100):
        raise InvariantViolation("toy_clamp")
    if toy_target.countdown(n) != 0:
        raise InvariantViolation("toy_countdown")
"""


def test_points_cover_each_kind_and_name_their_edit():
    kinds = {(m.qualname, m.kind, m.before, m.after) for m in ops.mutants_of(TARGET)}
    assert ("is_small", "compare", "n < 10", "n <= 10") in kinds
    assert ("is_small", "int", "10", "11") in kinds
    assert ("countdown", "skip", "n -= 1", "pass") in kinds
    assert ("unused", "arith", "x + 1", "x - 1") in kinds


def test_a_mutant_code_object_changes_only_its_point():
    namespace: dict = {}
    exec(compile(TARGET, "toy.py", "exec"), namespace)
    point = next(m for m in ops.mutants_of(TARGET) if m.qualname == "is_small" and m.kind == "compare")
    namespace["is_small"].__code__ = ops.mutated_code(TARGET, "toy.py", "is_small", point.index)
    assert namespace["is_small"](10) is True and namespace["is_small"](11) is False
    assert namespace["is_small"].__code__.co_filename == "toy.py"


def test_a_method_keeps_its_class_cell_and_private_names():
    source = textwrap.dedent(
        """
        class Base:
            def size(self):
                return 1

        class Box(Base):
            def __init__(self):
                self.__items = [1, 2]

            def size(self):
                return super().size() + len(self.__items)
        """
    )
    namespace: dict = {}
    exec(compile(source, "box.py", "exec"), namespace)
    point = next(m for m in ops.mutants_of(source) if m.qualname == "Box.size" and m.kind == "arith")
    fn = namespace["Box"].size
    fn.__code__ = ops.mutated_code(source, "box.py", "Box.size", point.index)
    assert namespace["Box"]().size() == -1  # 1 - 2: super() and the mangled name both still work


def test_the_bench_kills_survives_and_leaves_unreached(tmp_path, capsys):
    (tmp_path / "toy_target.py").write_text(TARGET)
    (tmp_path / "harnesses").mkdir()
    (tmp_path / "harnesses" / "fuzz_toy.py").write_text(HARNESS.format(root=str(tmp_path)))
    corpus = tmp_path / "corpus" / "toy"
    corpus.mkdir(parents=True)
    for name, n in (("five", 5), ("ten", 10), ("big", 200)):
        (corpus / name).write_bytes(bytes([n]))
    code = command.main(["--root", str(tmp_path), "toy_target.py", "--harness", "toy", "--timeout", "5"])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()

    def verdict(fragment: str) -> str:
        return next(line.split()[0] for line in lines if fragment in line)

    assert verdict("is_small:3 compare: n < 10 -> n <= 10") == "KILLED"
    assert "by toy: invariant 'toy_is_small' (ten)" in out
    assert verdict("clamp:7 compare: n > limit -> n >= limit") == "SURVIVED"  # equivalent: min all the same
    assert verdict("countdown:14 skip: n -= 1 -> pass") == "KILLED"
    assert "a hang past 5 s" in out
    assert verdict("unused:19 arith") == "UNREACHED"
    assert lines[-1].startswith("RESULT mutation_score_toy_target ")
