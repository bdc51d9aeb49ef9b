"""What a user sees after fuzzing (issue 14 §4): the campaign folder of `run` / `fuzz-all` (status
lines as CSV, a chart, index.md linking crashes to triage reports), `bench mutators`' coverage
curves, and `bench bugs`' survival curve."""

import csv
import hashlib
import json
import math
import re
import subprocess
import sys

from engine_layout import fuzz, make_layout
from fuzz.bench.bugs import report as bug_report
from fuzz.campaign import Campaign, Samples
from fuzz.harness import REPO_ROOT, Layout
from fuzz.runner import Progress, RunResult

PNG = b"\x89PNG\r\n\x1a\n"


def status(samples, progress, line="#1 pulse"):
    samples(line, progress, True)


def test_samples_keep_one_row_per_interval_and_the_latest_line():
    samples = Samples(every=3600)
    for executions in (10, 20, 30, 40):
        status(samples, Progress(executions=executions, cov=executions // 10, ft=executions))
    samples("not a status line", Progress(executions=99), False)
    assert [r["executions"] for r in samples.rows] == [10, 40]  # the first, then the latest
    every = Samples(every=0)
    for executions in (1, 2, 3):
        status(every, Progress(executions=executions))
    assert [r["executions"] for r in every.rows] == [1, 2, 3]


def _result(name, tmp_path, artifacts=(), ft=50):
    progress = Progress(executions=1000, exec_per_sec=500, cov=20, ft=ft, corpus=7)
    return RunResult(name, 0, 2.0, progress, list(artifacts), 7, tmp_path / "log", mutations={"bytes": 1, "h1.x": 3})


def test_index_links_each_crash_to_its_triage_report(tmp_path):
    layout = Layout(root=tmp_path, reports=tmp_path / "reports", work=tmp_path / "work")
    crash = tmp_path / "crash-1"
    crash.write_bytes(b"BOOM")
    other = tmp_path / "crash-2"
    other.write_bytes(b"not triaged")
    (layout.reports).mkdir()
    key = "h1_server:" + hashlib.sha1(b"BOOM").hexdigest()
    (layout.reports / "index.json").write_text(
        json.dumps(
            {"format": "proxyfuzz-triage-index/1", "signatures": {}, "artifacts": {key: {"signature": "abcdef012345"}}}
        )
    )
    campaign = Campaign(layout)
    samples = Samples(every=0)
    for ft in (10, 40, 50):
        status(samples, Progress(executions=ft * 10, exec_per_sec=300, cov=ft // 2, ft=ft))
    campaign.add(_result("h1_server", tmp_path, [str(crash), str(other)]), samples)
    index = campaign.write_index().read_text()
    assert campaign.folder.parent == layout.reports / "campaign"
    assert "| h1_server | 2 | 1000 | 500 | 20 | 50 | 7 | 2 |" in index
    assert "![h1_server](h1_server.png)" in index and "mutations: 4; h1.x 75%, bytes 25%" in index
    assert "[abcdef012345](../../abcdef012345/report.md)" in index
    assert "not triaged yet" in index
    rows = list(csv.DictReader(open(campaign.folder / "h1_server.csv")))
    assert [int(r["ft"]) for r in rows] == [10, 40, 50] and set(rows[0]) >= {"seconds", "exec_per_sec", "corpus"}
    assert (campaign.folder / "h1_server.png").read_bytes().startswith(PNG)


def test_run_and_fuzz_all_write_a_campaign_folder(tmp_path):
    root = make_layout(tmp_path / "repo", crashy=True)
    out = fuzz(root, "run", "demo", "--time", "2", "--quiet")
    assert out.returncode == 0, out.stdout + out.stderr
    folders = sorted((root / "reports" / "campaign").iterdir())
    assert len(folders) == 1 and f"campaign report: {folders[0] / 'index.md'}" in out.stdout
    rows = list(csv.DictReader(open(folders[0] / "demo.csv")))
    assert rows and int(rows[-1]["executions"]) > 0
    assert [float(r["seconds"]) for r in rows] == sorted(float(r["seconds"]) for r in rows)
    assert (folders[0] / "demo.png").read_bytes().startswith(PNG)
    out = fuzz(root, "fuzz-all", "--time", "2")
    assert out.returncode == 1, out.stdout + out.stderr  # crashy crashed; triage ran on its crash file
    second = sorted((root / "reports" / "campaign").iterdir())[-1]
    index = (second / "index.md").read_text()
    assert second != folders[0] and "| demo |" in index and "| crashy |" in index
    link = re.search(r"- crash `[^`]+`: \[(\w+)\]\(\.\./\.\./(\w+)/report\.md\)", index)
    assert link, index
    assert (root / "reports" / link[2] / "report.md").is_file()


def test_survival_curve_steps_up_at_each_detection_to_the_budget(tmp_path):
    found_twice = bug_report.BugOutcome([5.0, 30.0], ["h", "h"], ["mutation", "mutation"])
    missed = bug_report.BugOutcome([math.inf, math.inf], ["", ""], ["", ""])
    xs, ys = bug_report.survival_curve([found_twice, missed], 60)
    assert xs == [0.0, 5.0, 30.0, 60.0] and ys == [0.0, 0.25, 0.5, 0.5]
    rows = [("a", "noticed", found_twice, missed), ("b", "silent", missed, found_twice)]
    chart = bug_report.survival_chart(rows, 60, True, tmp_path / "survival.png")
    assert chart.read_bytes().startswith(PNG)


def test_bench_mutators_compares_both_mutators_from_an_empty_corpus(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "fuzz",
        "bench",
        "mutators",
        "h1_client",
        "--time",
        "3",
        "--trials",
        "1",
        "--reports",
        str(tmp_path),
        "--work",
        str(tmp_path / "work"),
    ]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.strip().startswith("custom mutator       trial 1: ft") for line in lines)
    assert any(line.strip().startswith("byte mutator alone   trial 1: ft") for line in lines)
    assert lines[-1].startswith("RESULT mutator_coverage_ratio_h1_client ") and float(lines[-1].split()[-1]) > 0
    assert (tmp_path / "mutators" / "h1_client.png").read_bytes().startswith(PNG)
    modes = {row["mode"] for row in csv.DictReader(open(tmp_path / "mutators" / "h1_client.csv"))}
    assert modes == {"custom", "bytes"}
