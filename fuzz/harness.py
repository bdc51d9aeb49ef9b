"""What a harness is, and what every harness calls.

Files (OSS-Fuzz conventions), for a harness NAME:
    harnesses/fuzz_NAME.py        executable, `TestOneInput(data)`, atheris.Setup + atheris.Fuzz
    harnesses/fuzz_NAME.options   `[libfuzzer]` INI: max_len, timeout, rss_limit_mb, ...
    corpus/NAME/                  seed inputs
    corpus/NAME.dict              libFuzzer dictionary
    corpus/NAME.redundant         seeds (SHA-1) a run's start skips: fuzz/startup_seeds.py

Runtime API, used by the harness file itself:

    with harness.instrumented("NAME"):        # counters on the policy's modules only
        from proxy.http import h1

    @harness.allow(h1.ProtocolViolation)          # expected outcomes; anything else is a crash
    def TestOneInput(data): ...

    atheris.Setup(sys.argv, TestOneInput, **harness.mutators("NAME"))   # structure-aware mutator

plus `Budget` (a cap on actions / loop iterations) and `capped(data, n)`.
"""

import ast
import configparser
import contextlib
import functools
import importlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from fuzz import blame, exit_timer
from fuzz.instrument import hook
from fuzz.instrument import policy as policy_file

REPO_ROOT = Path(__file__).resolve().parent.parent
POLICY_ENV = "PROXYFUZZ_POLICY"  # all | project | derived | none
POLICY_FILE_ENV = "PROXYFUZZ_POLICY_FILE"  # path of instrumentation.toml
REPORT_ENV = "PROXYFUZZ_REPORT_JSON"  # if set, the instrumentation report is written there as JSON


class HarnessError(ValueError):
    """A harness, its files or a name given on the command line is wrong; the message says how."""


# ---------------------------------------------------------------------------------------------
# Layout and discovery


@dataclass(frozen=True)
class Layout:
    """Where harnesses, corpora, working files and the policy live (overridable for tests)."""

    root: Path = REPO_ROOT
    harnesses: Path = REPO_ROOT / "harnesses"
    corpus: Path = REPO_ROOT / "corpus"
    work: Path = REPO_ROOT / "work"
    reports: Path = REPO_ROOT / "reports"
    policy_file: Path = REPO_ROOT / "instrumentation.toml"

    def work_corpus(self, name: str) -> Path:
        return self.work / "corpus" / name

    def artifacts(self, name: str) -> Path:
        return self.work / "artifacts" / name

    def logs(self) -> Path:
        return self.work / "logs"


@dataclass(frozen=True)
class HarnessSpec:
    name: str
    path: Path
    target: str  # first line of the module docstring
    seeds: Path  # corpus/NAME/
    dictionary: Path | None  # corpus/NAME.dict, if it exists
    options_path: Path | None  # harnesses/fuzz_NAME.options, if it exists

    def seed_files(self) -> list[Path]:
        return corpus_files(self.seeds)

    def options(self) -> dict[str, str]:
        return read_options(self.options_path) if self.options_path else {}


def corpus_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*") if p.is_file() and not p.name.startswith("."))


def _docstring_first_line(path: Path) -> str:
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    except SyntaxError as exc:
        raise HarnessError(f"{path}: not valid Python: {exc}") from None
    return doc.strip().splitlines()[0] if doc else "(no docstring)"


def spec_for(layout: Layout, path: Path) -> HarnessSpec:
    name = path.stem[len("fuzz_") :]
    dictionary = layout.corpus / f"{name}.dict"
    options = path.with_suffix(".options")
    return HarnessSpec(
        name,
        path,
        _docstring_first_line(path),
        layout.corpus / name,
        dictionary if dictionary.is_file() else None,
        options if options.is_file() else None,
    )


def discover(layout: Layout) -> list[HarnessSpec]:
    if not layout.harnesses.is_dir():
        return []
    return [spec_for(layout, p) for p in sorted(layout.harnesses.glob("fuzz_*.py"))]


def find(layout: Layout, name: str) -> HarnessSpec:
    path = layout.harnesses / f"fuzz_{name}.py"
    if not path.is_file():
        known = ", ".join(s.name for s in discover(layout)) or "none"
        raise HarnessError(f"no harness '{name}': {path} does not exist (harnesses: {known})")
    return spec_for(layout, path)


def read_options(path: Path) -> dict[str, str]:
    """The `[libfuzzer]` section of an .options file, as flag name -> value."""
    parser = configparser.ConfigParser()
    try:
        parser.read_string(Path(path).read_text(encoding="utf-8"), str(path))
    except configparser.Error as exc:
        raise HarnessError(f"{path}: not a valid options file: {exc}") from None
    if not parser.has_section("libfuzzer"):
        raise HarnessError(f"{path}: missing the [libfuzzer] section")
    out = dict(parser.items("libfuzzer"))
    for key in ("max_len", "timeout", "rss_limit_mb", "runs", "max_total_time"):
        if key in out and not out[key].strip().lstrip("-").isdigit():
            raise HarnessError(f"{path}: {key} = {out[key]!r} is not an integer")
    return out


# ---------------------------------------------------------------------------------------------
# Instrumentation


def _find_policy_file() -> Path | None:
    if os.environ.get(POLICY_FILE_ENV):
        return Path(os.environ[POLICY_FILE_ENV])
    if getattr(sys, "frozen", False):  # a PyInstaller bundle (OSS-Fuzz): the policy it carries
        return REPO_ROOT / "instrumentation.toml"
    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    candidates = ([script.parent.parent / "instrumentation.toml"] if script else []) + [
        REPO_ROOT / "instrumentation.toml"
    ]
    return next((c for c in candidates if c.is_file()), None)


def _project_selector():
    """Policy `project`: repository code and installed dependencies (not the stdlib, not atheris)."""
    roots = tuple(p + os.sep for p in sys.path if p.endswith("site-packages")) + (str(REPO_ROOT) + os.sep,)

    def select(name, spec):
        return name.split(".")[0] != "atheris" and (spec.origin or "").startswith(roots)

    return select


@contextlib.contextmanager
def instrumented(name: str, policy: str | None = None):
    """Import the harness's targets inside this block: they get counters per the harness's policy.

    The policy comes from `policy`, else PROXYFUZZ_POLICY, else instrumentation.toml's default.
    At the end one line on stderr says the policy and how many functions and counters it added.
    The block yields its `hook.Report`, complete once the block ends: the harness keeps it
    (`with harness.instrumented("NAME") as report:`); nothing of it is left in this module, so
    two harnesses instrumented in one process each see only their own.
    """
    path = _find_policy_file()
    if path is None:
        pf = policy_file.PolicyFile(None, "project", ("proxy",), policy_file.BUILTIN_NEVER)
        print("WARNING: proxyfuzz: no instrumentation.toml found; using policy 'project'", file=sys.stderr)
    else:
        pf = policy_file.load(path)
    chosen = policy or os.environ.get(POLICY_ENV) or pf.default_policy
    if chosen not in policy_file.POLICIES:
        raise HarnessError(f"{POLICY_ENV}={chosen!r}: expected one of {', '.join(policy_file.POLICIES)}")
    hp = pf.for_harness(name)
    report = hook.Report(chosen)

    if chosen == "none":
        yield report
    elif chosen == "all":
        yield report
        hook.instrument_everything(report)
    else:
        if chosen == "derived":
            if not hp.modules:
                print(
                    f"WARNING: proxyfuzz: harness '{name}' has no modules in {path}: nothing gets counters",
                    file=sys.stderr,
                )
            select = lambda module, spec: hp.selects(module)  # noqa: E731
        else:
            select = _project_selector()
        before = set(sys.modules)
        with hook.installed(select, report):
            yield report
            if chosen == "derived":
                # Targets import some policy modules lazily (filter registries, codecs chosen
                # per connection). Import them now, while the hook is in place, so they carry
                # counters too instead of silently running uninstrumented later.
                for entry in hp.modules:
                    if "*" not in entry.pattern and entry.pattern not in sys.modules:
                        try:
                            importlib.import_module(entry.pattern)
                        except ImportError as exc:
                            raise HarnessError(
                                f"instrumentation.toml [harness.{name}]: cannot import {entry.pattern}: {exc}"
                            ) from None
        # Modules the policy names that were imported before the block cannot be re-imported:
        # rewrite their functions where they live instead.
        if chosen == "derived":
            for module in sorted(before):
                mod = sys.modules.get(module)
                if mod is not None and hp.selects(module) and module not in report.modules:
                    hook.instrument_loaded_module(mod, report)

    blame.install_if_requested()
    exit_timer.disarm_at_exit()  # a crash found late must still be written (fuzz/exit_timer.py)
    if chosen == "none":
        return
    in_place = sum(1 for m in report.modules.values() if m.in_place)
    modules = len([m for m in report.modules if m != "*"])
    print(
        f"INFO: proxyfuzz instrumentation: harness={name} policy={chosen} "
        f"modules={modules if chosen != 'all' else 'all'} functions={report.functions} "
        f"counters={report.counters}" + (f" (in place: {in_place})" if in_place else ""),
        file=sys.stderr,
    )
    if os.environ.get(REPORT_ENV):
        Path(os.environ[REPORT_ENV]).write_text(json.dumps(report.as_dict(), indent=1))


# ---------------------------------------------------------------------------------------------
# Oracles and caps


def allow(*exception_types):
    """Decorator for TestOneInput: the listed exceptions are expected outcomes and return None.

    Anything else propagates (a crash), and InvariantViolation always propagates, even if an
    allowed type is one of its bases.
    """
    if not exception_types:
        raise HarnessError("allow() needs at least one exception type")
    for t in exception_types:
        if not (isinstance(t, type) and issubclass(t, BaseException)):
            raise HarnessError(f"allow(): {t!r} is not an exception class")

    # Imported late: harness files call allow() after their instrumented() block, and fuzz.oracles
    # may import proxy modules, which must be imported inside that block to get counters.
    from fuzz.oracles import InvariantViolation

    def decorate(test_one_input):
        @functools.wraps(test_one_input)
        def guarded(data):
            try:
                return test_one_input(data)
            except InvariantViolation:
                raise
            except exception_types:
                return None

        guarded.allowed = exception_types
        return guarded

    return decorate


def mutators(name: str) -> dict:
    """Keyword arguments for atheris.Setup: harness `name`'s structure-aware mutator and crossover
    (fuzz/mutators/), or {} (libFuzzer's byte mutator alone) when it has none or
    PROXYFUZZ_MUTATOR=bytes. Imported only when the harness runs as a fuzzer: replay and coverage
    import harness modules without running their __main__ block."""
    from fuzz.mutators import setup_kwargs

    return setup_kwargs(name)


def capped(data: bytes, max_len: int) -> bytes:
    """The first max_len bytes: a harness-side cap that holds even when run without -max_len."""
    return data[:max_len]


class Budget:
    """A cap on actions or loop iterations per input.

    `take()` returns False once the budget is spent (stop feeding actions: a truncated input is
    not a bug); `must_take()` raises InvariantViolation instead, for loops in the code under test
    that must terminate on their own within the budget.
    """

    def __init__(self, limit: int, name: str = "bounded loop"):
        if limit < 0:
            raise HarnessError(f"Budget limit must be >= 0, got {limit}")
        self.limit, self.used, self.name = limit, 0, name

    def take(self) -> bool:
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    def must_take(self) -> None:
        from fuzz.oracles import InvariantViolation

        if not self.take():
            raise InvariantViolation(self.name, f"more than {self.limit} iterations")


# ---------------------------------------------------------------------------------------------
# Command-line plumbing shared by every `python -m fuzz` command


def add_layout_arguments(parser) -> None:
    g = parser.add_argument_group("layout (defaults: this repository)")
    g.add_argument("--root", type=Path, help="repository root; the other paths default below it")
    g.add_argument("--harnesses", type=Path, help="directory of fuzz_*.py (default ROOT/harnesses)")
    g.add_argument("--corpus", type=Path, help="seed corpora and dictionaries (default ROOT/corpus)")
    g.add_argument("--work", type=Path, help="working corpus, artifacts, logs (default ROOT/work)")
    g.add_argument("--reports", type=Path, help="reports directory (default ROOT/reports)")
    g.add_argument("--policy-file", type=Path, help="instrumentation policy (default ROOT/instrumentation.toml)")


def layout_from_args(args) -> Layout:
    root = (args.root or REPO_ROOT).resolve()
    pick = lambda value, default: (value or root / default).resolve()  # noqa: E731
    return Layout(
        root=root,
        harnesses=pick(args.harnesses, "harnesses"),
        corpus=pick(args.corpus, "corpus"),
        work=pick(args.work, "work"),
        reports=pick(args.reports, "reports"),
        policy_file=pick(args.policy_file, "instrumentation.toml"),
    )
