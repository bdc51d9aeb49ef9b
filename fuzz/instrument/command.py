"""Selective instrumentation: instrumentation.toml checked against measured reachability.

    python -m fuzz instrumentation scan [NAME]   what each harness reaches; proposed policy; diff
    python -m fuzz instrumentation check         fails naming harness and module on a stale policy
                                                 (judged on the committed seeds; scan also reads work/corpus)

The proposal for a harness is: modules executed while replaying its corpus, in its scope
(`proxy.*`, plus e.g. `h11` for codec harnesses), never the engine, harnesses, generators or
runtimes. Applying a policy at fuzz time is fuzz.harness.instrumented() (fuzz.instrument.hook).
"""

from dataclasses import dataclass

from fuzz.instrument import policy as policies
from fuzz.instrument.scan import Reach, ScanError, measure
from fuzz.harness import HarnessError, HarnessSpec, Layout


@dataclass
class Finding:
    harness: str
    module: str
    problem: str

    def __str__(self):
        return f"{self.harness}: {self.module}: {self.problem}"


def reach_of(spec: HarnessSpec, layout: Layout, *, local: bool = True) -> Reach:
    """What the harness executes on its committed seeds and, with `local`, on the corpus local
    fuzzing runs grew in work/corpus/NAME (scan proposes from both; check judges the repository by
    what it holds, so a clean clone and a fuzzed tree get the same answer)."""
    from fuzz.runner import child_env

    inputs = [spec.seeds] + ([layout.work_corpus(spec.name)] if local else [])
    return measure(spec.path, layout.policy_file, inputs, child_env(layout, "none"), layout.root)


def proposal(hp: policies.HarnessPolicy, reach: Reach) -> list[str]:
    return sorted(m for m in reach.executed if hp.in_scope(m) and not hp.excluded(m))


def current(hp: policies.HarnessPolicy, reach: Reach) -> list[str]:
    """Modules the file selects, among every module the harness could load."""
    universe = reach.static | reach.loaded | set(reach.executed)
    return sorted(m for m in universe if hp.selects(m))


def findings(hp: policies.HarnessPolicy, reach: Reach) -> list[Finding]:
    out = []
    for entry in hp.modules:
        if not any(policies.matches(m, entry.pattern) for m in reach.executed):
            out.append(Finding(hp.name, entry.pattern, "listed in the policy but never reached by the corpus"))
    for module in proposal(hp, reach):
        if not hp.selects(module):
            out.append(
                Finding(
                    hp.name,
                    module,
                    f"reached and in scope ({', '.join(hp.scope)}) but not "
                    f"in the policy (list it, or exclude it with a reason)",
                )
            )
    return out


def _policy_file(layout: Layout) -> policies.PolicyFile:
    if not layout.policy_file.is_file():
        raise HarnessError(f"{layout.policy_file}: policy file not found")
    return policies.load(layout.policy_file)


def check(layout: Layout) -> list[Finding]:
    from fuzz.harness import discover

    pf = _policy_file(layout)
    specs = discover(layout)
    names = {s.name for s in specs}
    out = [
        Finding(name, "-", f"[harness.{name}] names no harness in {layout.harnesses}")
        for name in sorted(set(pf.sections) - names)
    ]
    for spec in specs:
        try:
            out += findings(pf.for_harness(spec.name), reach_of(spec, layout, local=False))
        except ScanError as exc:
            out.append(Finding(spec.name, "-", str(exc)))
    return out


def scan_report(spec: HarnessSpec, layout: Layout, pf: policies.PolicyFile) -> str:
    hp = pf.for_harness(spec.name)
    reach = reach_of(spec, layout)
    proposed, selected = proposal(hp, reach), current(hp, reach)
    static_in_scope = sorted(m for m in reach.static if hp.in_scope(m))
    lines = [
        f"== {spec.name}: {reach.inputs} input(s) replayed (the empty input plus the corpus)",
        f"   scope: {', '.join(hp.scope)}",
        f"   static import closure: {len(reach.static)} modules, {len(static_in_scope)} in scope",
        f"   executed during TestOneInput: {len(reach.executed)} modules, {len(proposed)} in scope",
    ]
    unexecuted = sorted(set(static_in_scope) - set(reach.executed) - {m for m in static_in_scope if hp.excluded(m)})
    if unexecuted:
        lines.append("   in scope, imported, never executed by the corpus: " + ", ".join(unexecuted))
    lines.append(
        f"   proposed policy ({len(proposed)} modules) vs {pf.path.name if pf.path else 'file'} "
        f"({len(selected)} selected):"
    )
    diff = [f"     + {m}" for m in proposed if m not in selected] + [
        f"     - {m}" for m in selected if m not in proposed
    ]
    lines += diff or ["     (no difference)"]
    reasons = {e.pattern: e.reason for e in hp.modules}
    lines.append(f"\n[harness.{spec.name}]")
    if tuple(hp.scope) != tuple(pf.scope):
        lines.append("scope = [" + ", ".join(f'"{s}"' for s in hp.scope) + "]")
    lines.append(f"\n[harness.{spec.name}.modules]")
    for m in proposed:
        reason = reasons.get(m) or f"executed by {reach.executed[m]} of {reach.inputs} corpus inputs (scan)"
        lines.append(f'"{m}" = "{reason}"')
    if hp.exclude:
        lines.append(f"\n[harness.{spec.name}.exclude]")
        lines += [f'"{e.pattern}" = "{e.reason}"' for e in hp.exclude]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    import argparse
    from fuzz.harness import add_layout_arguments, discover, find, layout_from_args

    parser = argparse.ArgumentParser(
        prog="python -m fuzz instrumentation",
        description="Reachability scan and policy check for instrumentation.toml.",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    scan = sub.add_parser("scan", help="measure reachability and propose a policy")
    scan.add_argument("name", nargs="?")
    sub.add_parser("check", help="fail if a policy lists an unreached module or misses a reached one")
    # Layout options go after the action: `instrumentation check --harnesses DIR`.
    for p in (scan, sub.choices["check"]):
        add_layout_arguments(p)
    args = parser.parse_args(argv)
    layout = layout_from_args(args)
    if args.action == "check":
        problems = check(layout)
        for problem in problems:
            print(f"instrumentation check: {problem}")
        n = len(discover(layout))
        print(f"instrumentation check: {n} harness(es), {len(problems)} problem(s) in {layout.policy_file}")
        return 1 if problems else 0
    pf = _policy_file(layout)
    specs = [find(layout, args.name)] if args.name else discover(layout)
    if not specs:
        print(f"no harnesses in {layout.harnesses}")
    failed = 0
    for spec in specs:
        try:
            print(scan_report(spec, layout, pf))
        except ScanError as exc:
            print(f"== {spec.name}: {exc}")
            failed += 1
    return 1 if failed else 0
