"""What a user sees after fuzzing: `python -m fuzz run` and `fuzz-all` (`make fuzz`) write

    reports/campaign/<YYYYmmdd-HHMMSS>/
      index.md      one row per harness: time, executions, exec/s, cov, ft, corpus, crashes, the
                    share of each mutation kind, its chart, and the triage report of each crash
      NAME.csv      libFuzzer's status lines, sampled: seconds, executions, exec_per_sec, cov, ft,
                    corpus, crashes
      NAME.png      cov and ft, and exec/s, against time

Samples is the on_line hook of fuzz.runner.run (also used by `bench mutators`).
"""

import csv
import hashlib
import time
from pathlib import Path

from fuzz import charts
from fuzz.harness import Layout
from fuzz.mutators import shares_line

FIELDS = ("seconds", "executions", "exec_per_sec", "cov", "ft", "corpus", "crashes")


class Samples:
    """libFuzzer's status lines of one run as rows of FIELDS, at most one per `every` seconds."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self.start = time.monotonic()
        self.rows: list[dict] = []
        self._kept_at = 0.0

    def __call__(self, line, progress, status) -> None:
        if not status:
            return
        now = time.monotonic() - self.start
        row = {
            "seconds": round(now, 2),
            "executions": progress.executions,
            "exec_per_sec": progress.exec_per_sec,
            "cov": progress.cov,
            "ft": progress.ft,
            "corpus": progress.corpus,
            "crashes": progress.crashes,
        }
        if len(self.rows) > 1 and now - self._kept_at < self.every:
            self.rows[-1] = row  # the latest line of the interval stands for it
        else:
            self.rows.append(row)
            self._kept_at = now

    def final(self, key: str) -> int:
        return self.rows[-1][key] if self.rows else 0

    def write_csv(self, path: Path) -> Path:
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(self.rows)
        return path


def tee(*hooks):
    """One on_line hook calling several."""

    def call(line, progress, status):
        for hook in hooks:
            if hook is not None:
                hook(line, progress, status)

    return call


class Campaign:
    """One `run` or `fuzz-all`: a folder under reports/campaign/ and a row per harness."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        stamp = time.strftime("%Y%m%d-%H%M%S")
        folder = layout.reports / "campaign" / stamp
        n = 1
        while folder.exists():
            n += 1
            folder = layout.reports / "campaign" / f"{stamp}-{n}"
        folder.mkdir(parents=True)
        self.folder = folder
        self.rows: list[tuple] = []

    def add(self, result, samples: Samples) -> None:
        """Write NAME.csv and NAME.png for a finished run and remember its row."""
        name = result.name
        samples.write_csv(self.folder / f"{name}.csv")
        if samples.rows:
            charts.run_chart(
                samples.rows, self.folder / f"{name}.png", f"{name}: coverage and exec/s ({result.elapsed:.0f} s)"
            )
        self.rows.append((result, bool(samples.rows)))

    def write_index(self) -> Path:
        """index.md; crash files are linked to their triage reports when triage has seen them."""
        index = _triage_index(self.layout.reports)
        lines = [
            f"# Fuzzing campaign {self.folder.name}",
            "",
            "| harness | seconds | executions | exec/s | cov | ft | corpus | crashes |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for result, _ in self.rows:
            p = result.progress
            lines.append(
                f"| {result.name} | {result.elapsed:.0f} | {p.executions} | {result.exec_per_sec:.0f} | "
                f"{p.cov} | {p.ft} | {result.corpus_size} | {len(result.artifacts)} |"
            )
        for result, charted in self.rows:
            lines += ["", f"## {result.name}", ""]
            if charted:
                lines += [
                    f"![{result.name}]({result.name}.png)",
                    "",
                    f"Status lines: [{result.name}.csv]({result.name}.csv)",
                    "",
                ]
            else:
                lines += ["libFuzzer printed no status line (see its log).", ""]
            if result.mutations:
                lines += [shares_line(result.mutations, top=30), ""]
            for artifact in result.artifacts:
                lines.append(f"- crash `{artifact}`: {self._report_link(index, result.name, artifact)}")
        path = self.folder / "index.md"
        path.write_text("\n".join(lines) + "\n")
        return path

    def _report_link(self, index, name: str, artifact: str) -> str:
        try:
            digest = hashlib.sha1(Path(artifact).read_bytes()).hexdigest()
        except OSError:
            return "file gone"
        entry = index.get(f"{name}:{digest}") if index else None
        if entry is None:
            return "not triaged yet (`python -m fuzz triage`)"
        report = self.layout.reports / entry["signature"] / "report.md"
        rel = Path("..", "..", report.relative_to(self.layout.reports))
        return f"[{entry['signature']}]({rel.as_posix()})"


def _triage_index(reports: Path) -> dict:
    """Triage's artifact table (harness:sha1 -> signature), or {} when there is none."""
    from fuzz.triage.index import TriageIndex, TriageIndexError

    path = reports / "index.json"
    if not path.is_file():
        return {}
    try:
        return TriageIndex(path).artifacts
    except TriageIndexError:
        return {}
