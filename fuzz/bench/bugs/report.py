"""Figures of the planted-bug bench: per-bug rows, found N of M, medians, survival table, and
how many detections came from seed replay (an input handed to libFuzzer) vs mutation."""

import math
import statistics
from dataclasses import dataclass, field

from fuzz.bench.bugs.trial import MUTATION, RESTART_REPLAY, SEED_REPLAY

SURVIVAL_AT = (10, 60, 300, 600)


@dataclass
class BugOutcome:
    """One bug's trials for one column (the suite, or the baseline)."""

    times: list = field(default_factory=list)  # per trial: seconds to detection, or math.inf
    harness: list = field(default_factory=list)  # per trial: the harness that found it first, or ""
    phase: list = field(default_factory=list)  # per trial: that detection's phase (trial.py), or ""

    @property
    def found(self) -> bool:
        return any(math.isfinite(t) for t in self.times)

    @property
    def found_trials(self) -> int:
        return sum(math.isfinite(t) for t in self.times)

    def at_phase(self, phase: str) -> int:
        """Found trials whose (first) detection happened in this phase."""
        return sum(math.isfinite(t) and p == phase for t, p in zip(self.times, self.phase))

    def add(self, best: tuple) -> None:
        t, h, p = best
        self.times.append(t)
        self.harness.append(h)
        self.phase.append(p)

    def median(self) -> float:
        return statistics.median(self.times) if self.times else math.inf


def best_of(results) -> tuple[float, str, str]:
    """A trial of several harnesses finds the bug at the earliest time any of them does:
    (seconds, harness, phase), or (inf, "", "")."""
    hits = [(r.seconds, r.harness, r.phase) for r in results if r.detected]
    return min(hits) if hits else (math.inf, "", "")


def phase_line(outcomes: list) -> str:
    """'N of M detections at seed replay, K by mutation' over all bug-trials of one column."""
    found = sum(o.found_trials for o in outcomes)
    replay, mutation = (sum(o.at_phase(p) for o in outcomes) for p in (SEED_REPLAY, MUTATION))
    restart = sum(o.at_phase(RESTART_REPLAY) for o in outcomes)
    line = f"{replay} of {found} detections at seed replay, {mutation} by mutation"
    if restart:
        line += f", {restart} at corpus replay after a restart"
    other = found - replay - mutation - restart
    if other:
        line += f", {other} of unknown phase"
    return line


def fmt_time(t: float, budget: int) -> str:
    return f"{t:.1f}" if math.isfinite(t) else f">{budget}"


def survival(outcomes: list, budget: int) -> list[str]:
    """Share of (bug, trial) pairs found by each threshold; thresholds beyond the budget are unknown."""
    pairs = [t for o in outcomes for t in o.times]
    cells = []
    for at in SURVIVAL_AT:
        if at > budget:
            cells.append("n/a")
        elif pairs:
            cells.append(f"{100 * sum(t <= at for t in pairs) / len(pairs):.0f}%")
        else:
            cells.append("-")
    return cells


def median_line(outcomes: list, budget: int) -> str:
    pairs = [t for o in outcomes for t in o.times]
    found = [t for t in pairs if math.isfinite(t)]
    if not pairs:
        return "no trials"
    overall = statistics.median(pairs)
    of_found = f"{statistics.median(found):.1f} s over the {len(found)} detections" if found else "no detections"
    return f"{fmt_time(overall, budget)} s over all {len(pairs)} bug-trials (misses count as >{budget} s); {of_found}"


def summary(rows: list, budget: int, trials: int, with_baseline: bool) -> list[str]:
    """rows: (bug name, unit-tests verdict, suite BugOutcome, baseline BugOutcome | None)."""
    out = []
    head = f"{'bug':40} {'unit tests':12} {'suite found':>11} {'median s':>9} {'first by':16} {'at replay':>9}"
    if with_baseline:
        head += f" {'baseline found':>14} {'median s':>9} {'at replay':>9}"
    out += [head, "-" * len(head)]
    for name, unit, suite, base in rows:
        line = (
            f"{name:40} {unit:12} {suite.found_trials:>5}/{trials:<5} {fmt_time(suite.median(), budget):>9} "
            f"{next((h for h in suite.harness if h), '-'):16} "
            f"{f'{suite.at_phase(SEED_REPLAY)}/{suite.found_trials}':>9}"
        )
        if with_baseline and base is not None:
            line += (
                f" {base.found_trials:>8}/{trials:<5} {fmt_time(base.median(), budget):>9} "
                f"{f'{base.at_phase(SEED_REPLAY)}/{base.found_trials}':>9}"
            )
        out.append(line)
    m = len(rows)
    suites = [r[2] for r in rows]
    out.append("")
    out.append(
        f"suite:    found {sum(s.found for s in suites)} of {m} bugs; median time to detection "
        + median_line(suites, budget)
    )
    bases = [r[3] for r in rows if r[3] is not None]
    if with_baseline:
        out.append(
            f"baseline: found {sum(b.found for b in bases)} of {m} bugs; median time to detection "
            + median_line(bases, budget)
        )
    out.append(f"suite:    {phase_line(suites)}")
    if with_baseline:
        out.append(f"baseline: {phase_line(bases)}")
    out.append("")
    out.append(f"survival (share of bug-trials found by; each trial ran at most {budget} s per harness):")
    out.append(f"{'':10}" + "".join(f"{f'{at} s':>8}" for at in SURVIVAL_AT))
    out.append(f"{'suite':10}" + "".join(f"{c:>8}" for c in survival(suites, budget)))
    if with_baseline:
        out.append(f"{'baseline':10}" + "".join(f"{c:>8}" for c in survival(bases, budget)))
    return out


def survival_curve(outcomes: list, budget: int) -> tuple[list, list]:
    """(seconds, share of bug-trials found by then) as steps from 0 to the budget."""
    pairs = [t for o in outcomes for t in o.times]
    found = sorted(t for t in pairs if math.isfinite(t))
    xs, ys = [0.0], [0.0]
    for i, t in enumerate(found, 1):
        xs.append(t)
        ys.append(i / len(pairs))
    xs.append(float(budget))
    ys.append(ys[-1])
    return xs, ys


def survival_chart(rows: list, budget: int, with_baseline: bool, path):
    """Magma's survival plot: the share of bug-trials found against time, suite beside baseline."""
    from fuzz import charts

    columns = [("suite", [r[2] for r in rows], 0)]
    if with_baseline:
        columns.append(("baseline (raw bytes, no oracle)", [r[3] for r in rows if r[3] is not None], 1))
    series = [(label, *survival_curve(outcomes, budget), colour) for label, outcomes, colour in columns]
    return charts.curves(
        path,
        f"Planted bugs found over time ({len(rows)} bugs, at most {budget} s per harness)",
        "seconds",
        "share of bug-trials found",
        series,
        step=True,
        ylim=(0, 1.02),
    )
