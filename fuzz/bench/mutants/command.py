"""`python -m fuzz bench mutants MODULE`: which small edits of a proxy module would the suite notice?

The planted-bug bench measures the suite on bugs people chose; this measures it on every mutant of
a module (fuzz/bench/mutants/ops.py), which nobody chose: a mutant whose function the corpus runs
and that no oracle notices is a behaviour that nothing judges, the class of bug the independent
judges keep planting ("reached but not judged"). For each harness (by default those whose
instrumentation.toml section lists the module):

  1. the harness is imported once, in this process; every step below runs in a fork of it, so no
     step sees another's caches or the mutant of the step before;
  2. reach: replay the committed corpus with a call tracer on the module's file: which inputs
     run which function;
  3. each mutant: its function's code object replaced, the inputs that run it replayed in order,
     stopping at the first crash (killed: the invariant or exception that caught it), or a hang
     past --timeout (killed: a stall the fuzzer would report as a timeout).

A mutant of code that runs only while the harness is imported (building its configuration pool)
cannot be reached this way and is reported as not reached. Equivalent mutants (ones that change no
behaviour) survive by nature, so the score is a floor, and the survivors a list to read, not a
list of bugs. Prints one line per mutant, then `RESULT mutation_score_<module> <killed / reached>`.
"""

import argparse
import json
import os
import random
import signal
import sys
import time
from pathlib import Path

from fuzz import replay
from fuzz.harness import HarnessError, add_layout_arguments, find, layout_from_args
from fuzz.instrument import policy as policies
from fuzz.oracles import InvariantViolation

from . import ops


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz bench mutants", description=__doc__.split("\n\n")[0])
    add_layout_arguments(parser)
    parser.add_argument(
        "module", help="a proxy module: proxy/network/listener_filter.py or proxy.network.listener_filter"
    )
    parser.add_argument("--harness", action="append", help="harness to judge with (repeatable; default: by policy)")
    parser.add_argument("--function", help="only this function (Class.method or function)")
    parser.add_argument("--max", type=int, default=0, help="a random sample of this many mutants (default: all)")
    parser.add_argument("--seed", type=int, default=1, help="the sample's random seed")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one mutant may run (a hang kills)")
    args = parser.parse_args(argv)
    layout = layout_from_args(args)
    try:
        name, path = _module(args.module, layout.root)
        harnesses = args.harness or _harnesses_for(name, layout)
        if not harnesses:
            raise HarnessError(f"no harness's instrumentation.toml section lists {name}: name one with --harness")
        specs = [find(layout, h) for h in harnesses]
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    source = path.read_text(encoding="utf-8")
    mutants = [m for m in ops.mutants_of(source) if args.function in (None, m.qualname)]
    if args.max and len(mutants) > args.max:
        mutants = sorted(random.Random(args.seed).sample(mutants, args.max), key=lambda m: (m.line, m.index))
    print(f"{name}: {len(mutants)} mutants, judged by {', '.join(harnesses)}", flush=True)
    judges = []  # (harness name, its module, its inputs, qualname -> indices of the inputs that run it)
    for spec in specs:
        module = replay.load_harness(spec.path, "none", layout.policy_file)
        inputs = spec.seed_files()
        judges.append((spec.name, module, inputs, _in_fork(lambda: _reach(module, inputs, str(path)), None) or {}))
    results = {}
    for m in mutants:
        verdict = results[m] = Verdict()
        for harness, module, inputs, reached in judges:
            runs = [inputs[i] for i in reached.get(m.qualname, [])]
            if not runs:
                continue
            verdict.reached[harness] = len(runs)
            outcome = _in_fork(lambda: _kill(module, name, source, str(path), m, runs), timeout=args.timeout)
            if outcome is None:
                verdict.killed, verdict.by = True, f"{harness}: a hang past {args.timeout:.0f} s"
            elif outcome:
                verdict.killed, verdict.by = True, f"{harness}: {outcome['error']} ({Path(outcome['input']).name})"
            if verdict.killed:
                break
        print(verdict.line(m), flush=True)
    killed = sum(v.killed for v in results.values())
    reached = sum(bool(v.reached) for v in results.values())
    print(f"{killed} killed, {reached - killed} survived, {len(mutants) - reached} not reached, of {len(mutants)}")
    print(f"RESULT mutation_score_{name.rsplit('.', 1)[-1]} {killed / reached if reached else 0:.2f}")
    return 0


class Verdict:
    def __init__(self) -> None:
        self.killed = False
        self.by = ""
        self.reached: dict[str, int] = {}  # harness -> inputs that run the function

    def line(self, m: ops.Mutant) -> str:
        if self.killed:
            return f"KILLED    {m.describe()}\n          by {self.by}"
        if self.reached:
            runs = ", ".join(f"{n} of {h}" for h, n in self.reached.items())
            return f"SURVIVED  {m.describe()}\n          run by {runs} inputs"
        return f"UNREACHED {m.describe()}"


def _module(given: str, root: Path) -> tuple[str, Path]:
    if given.endswith(".py"):
        path = (root / given).resolve() if not os.path.isabs(given) else Path(given)
        name = ".".join(path.relative_to(root.resolve()).with_suffix("").parts)
    else:
        name, path = given, root / (given.replace(".", "/") + ".py")
    if not path.is_file():
        raise HarnessError(f"{given}: no such module file ({path})")
    return name, path


def _harnesses_for(module: str, layout) -> list[str]:
    pf = policies.load(layout.policy_file) if layout.policy_file and layout.policy_file.is_file() else None
    if pf is None:
        return []
    return [
        h
        for h, hp in sorted(pf.sections.items())
        if hp.selects(module) and (layout.harnesses / f"fuzz_{h}.py").is_file()
    ]


def _reach(module, inputs: list[Path], filename: str) -> dict:
    """qualname -> indices of the inputs that ran it (nested functions count for their outer one)."""
    by: dict[str, set] = {}
    current = [0]

    def tracer(frame, event, arg):
        code = frame.f_code
        if code.co_filename == filename:
            by.setdefault(code.co_qualname.split(".<locals>")[0], set()).add(current[0])
        return None

    for i, path in enumerate(inputs):
        current[0] = i
        sys.settrace(tracer)
        try:
            replay.replay_one(module.TestOneInput, path)
        finally:
            sys.settrace(None)
    return {k: sorted(v) for k, v in by.items()}


def _kill(module, name: str, source: str, filename: str, m: ops.Mutant, inputs: list[Path]) -> dict:
    """{} when every input passes the mutant; else the first crash."""
    target = sys.modules[name]
    ops.target_function(target, m.qualname).__code__ = ops.mutated_code(source, filename, m.qualname, m.index)
    for path in inputs:
        outcome = replay.replay_one(module.TestOneInput, path)
        if not outcome.ok:
            err = outcome.error
            what = f"invariant '{err.name}'" if isinstance(err, InvariantViolation) else type(err).__name__
            return {"error": what, "input": str(path)}
    return {}


def _in_fork(work, timeout: float | None):
    """work() in a forked child; its JSON-able result, or None when it ran past `timeout` seconds or died."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's stack
        os.close(read)
        try:
            data = json.dumps(work()).encode()
        except BaseException as exc:  # the mutant broke the harness itself: a crash like any other
            data = json.dumps({"error": type(exc).__name__, "input": ""}).encode()
        with os.fdopen(write, "wb") as f:
            f.write(data)
        os._exit(0)
    os.close(write)
    deadline = None if timeout is None else time.monotonic() + timeout
    chunks = []
    with os.fdopen(read, "rb") as f:
        os.set_blocking(f.fileno(), False)
        while True:
            chunk = f.read()
            if chunk:
                chunks.append(chunk)
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                rest = f.read()
                chunks.append(rest or b"")
                break
            if deadline is not None and time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return None
            time.sleep(0.02)
    data = b"".join(chunks)
    return json.loads(data) if data else None
