"""Run inputs through a harness once, in this process, and say what each did.

Used by `python -m fuzz replay`, by coverage and reachability measurement, and by the corpus
regression tests. The harness module is imported (its `__main__` block does not run), by
default with instrumentation policy `none`: replay needs no coverage counters.
"""

import contextlib
import importlib.util
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from fuzz.harness import POLICY_ENV, POLICY_FILE_ENV, HarnessError, HarnessSpec, Layout, corpus_files


@contextlib.contextmanager
def _env(**values):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update({k: v for k, v in values.items() if v is not None})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def load_harness(path: Path, policy: str = "none", policy_file: Path | None = None):
    """Import a harness file as module `_proxyfuzz_harness_<stem>` (once per process: its
    instrumentation, like every import, belongs to the process, so sys.modules is the record)."""
    path = Path(path).resolve()
    module_name = f"_proxyfuzz_harness_{path.stem}"
    loaded = sys.modules.get(module_name)
    if loaded is not None and loaded.__file__ is not None and Path(loaded.__file__).resolve() == path:
        return loaded
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise HarnessError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    with _env(**{POLICY_ENV: policy, POLICY_FILE_ENV: str(policy_file) if policy_file else None}):
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(module_name, None)
            raise
    if not callable(getattr(module, "TestOneInput", None)):
        sys.modules.pop(module_name, None)
        raise HarnessError(f"{path}: defines no TestOneInput(data)")
    return module


@dataclass
class Outcome:
    path: Path
    size: int
    seconds: float
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        head = f"{self.path} ({self.size} bytes, {self.seconds * 1000:.1f} ms)"
        if self.error is None:
            return f"ok    {head}"
        frames = traceback.extract_tb(self.error.__traceback__)[-4:]
        where = "\n".join(f"        {Path(f.filename).name}:{f.lineno} in {f.name}: {f.line or ''}" for f in frames)
        return f"CRASH {head}\n      {type(self.error).__name__}: {self.error}\n{where}"


def replay_one(test_one_input, path: Path) -> Outcome:
    data = Path(path).read_bytes()
    start = time.perf_counter()
    try:
        test_one_input(data)
    except Exception as exc:  # a crash under the fuzzer; report it, keep going
        return Outcome(Path(path), len(data), time.perf_counter() - start, exc)
    return Outcome(Path(path), len(data), time.perf_counter() - start)


def expand(paths) -> list[Path]:
    """Files as given; directories as every file inside them."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out += corpus_files(p)
        elif p.is_file():
            out.append(p)
        else:
            raise HarnessError(f"{p}: no such file or directory")
    return out


def main(argv: list[str]) -> int:
    import argparse
    from fuzz.harness import add_layout_arguments, find, layout_from_args

    parser = argparse.ArgumentParser(
        prog="python -m fuzz replay", description="Run inputs through a harness in process; print what each did."
    )
    add_layout_arguments(parser)
    parser.add_argument("name")
    parser.add_argument(
        "files", nargs="*", type=Path, help="inputs or directories (default: corpus/NAME and work/corpus/NAME)"
    )
    parser.add_argument("--policy", default="none", choices=("none", "derived", "project", "all"))
    args = parser.parse_args(argv)
    layout = layout_from_args(args)
    spec = find(layout, args.name)
    files = expand(args.files) if args.files else default_inputs(spec, layout)
    if not files:
        print(f"no inputs: {spec.seeds} and {layout.work_corpus(spec.name)} are empty")
        return 0
    module = load_harness(spec.path, args.policy, layout.policy_file)
    outcomes = [replay_one(module.TestOneInput, f) for f in files]
    for outcome in outcomes:
        print(outcome.describe())
    crashed = sum(not o.ok for o in outcomes)
    print(f"{len(outcomes)} input(s): {len(outcomes) - crashed} ok, {crashed} crashed")
    return 1 if crashed else 0


def default_inputs(spec: HarnessSpec, layout: Layout) -> list[Path]:
    return spec.seed_files() + corpus_files(layout.work_corpus(spec.name))
