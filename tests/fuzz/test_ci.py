"""The OSS-Fuzz-style CI job and the real integration files.

There is no Docker here, so oss-fuzz/build.sh runs with stand-ins for OSS-Fuzz's environment:
$SRC holding a copy of the project, $OUT, a `compile_python_fuzzer` and a `pip3` that record
their arguments; `python3` is the real interpreter, so the schema compile and the seed zips are
real. `python -m fuzz ci` runs for real over a scratch project with two small harnesses.
"""

import io
import os
import shutil
import subprocess
import sys
import zipfile
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import yaml

from fuzz import ci

ROOT = Path(__file__).resolve().parents[2]
PLANTED = ROOT / "tests" / "triage_harness"

CLEAN_HARNESS = """#!/usr/bin/env python3
import sys

import atheris


def TestOneInput(data):
    data.decode("latin-1").split(",")


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
"""

STAND_IN_COMPILE = """#!/bin/sh
# Records its arguments and leaves an executable where pyinstaller would put the fuzzer.
echo "$@" >> "$RECORD/compile_python_fuzzer"
target=$(basename -s .py "$1")
printf '#!/bin/sh\\n' > "$OUT/$target"
chmod +x "$OUT/$target"
"""

STAND_IN_PIP = """#!/bin/sh
echo "$@" >> "$RECORD/pip3"
"""


def write_executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def scratch_project(root: Path) -> None:
    """Two harnesses: `clean` (seeds, dict, options) and `planted` (a crashing seed, nothing else)."""
    (root / "harnesses").mkdir(parents=True)
    write_executable(root / "harnesses" / "fuzz_clean.py", CLEAN_HARNESS)
    (root / "harnesses" / "fuzz_clean.options").write_text("[libfuzzer]\nmax_len = 64\n")
    (root / "corpus" / "clean").mkdir(parents=True)
    (root / "corpus" / "clean" / "seed-1").write_bytes(b"a,b")
    (root / "corpus" / "clean" / "seed-2").write_bytes(b"GET / HTTP/1.1")
    (root / "corpus" / "clean.dict").write_text('"HTTP/1.1"\n')
    write_executable(root / "harnesses" / "fuzz_planted.py", (PLANTED / "fuzz_planted.py").read_text())
    shutil.copyfile(PLANTED / "planted.py", root / "harnesses" / "planted.py")
    (root / "corpus" / "planted").mkdir(parents=True)
    (root / "corpus" / "planted" / "seed").write_bytes(b"A1")  # planted bug 1: crashes at once


def assert_oss_fuzz_layout(out: Path) -> None:
    with zipfile.ZipFile(out / "fuzz_clean_seed_corpus.zip") as zf:
        assert sorted(zf.namelist()) == ["seed-1", "seed-2"]
        assert zf.read("seed-1") == b"a,b"
    assert (out / "fuzz_clean.dict").read_text() == '"HTTP/1.1"\n'
    assert "max_len = 64" in (out / "fuzz_clean.options").read_text()
    for target in ("fuzz_clean", "fuzz_planted"):
        assert os.access(out / target, os.X_OK)
    assert not (out / "fuzz_planted.dict").exists() and not (out / "fuzz_planted.options").exists()


@pytest.mark.parametrize("script", ["oss-fuzz/build.sh", ".clusterfuzzlite/build.sh"])
def test_build_sh_with_oss_fuzz_stand_ins(tmp_path, script):
    src, out, record, bin_dir, work = (tmp_path / d for d in ("src", "out", "record", "bin", "work"))
    for folder in (out, record, bin_dir, work):
        folder.mkdir()
    project = src / "proxyfuzz"
    scratch_project(project)
    shutil.copytree(ROOT / "proxy", project / "proxy", ignore=shutil.ignore_patterns("gen", "__pycache__"))
    for name in ("oss-fuzz", ".clusterfuzzlite"):
        shutil.copytree(ROOT / name, project / name)
    shutil.copyfile(ROOT / "requirements.txt", project / "requirements.txt")
    write_executable(bin_dir / "compile_python_fuzzer", STAND_IN_COMPILE)
    write_executable(bin_dir / "pip3", STAND_IN_PIP)
    # The real interpreter (a wrapper, not a symlink: a symlink would lose the venv).
    write_executable(bin_dir / "python3", f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    env = dict(
        os.environ,
        SRC=str(src),
        OUT=str(out),
        WORK=str(work),
        RECORD=str(record),
        PATH=os.pathsep.join([str(bin_dir), os.environ["PATH"]]),
    )
    done = subprocess.run(
        ["bash", str(project / script)], env=env, cwd=src, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr

    calls = (record / "compile_python_fuzzer").read_text().splitlines()
    assert [c.split()[0] for c in calls] == [f"harnesses/{h}.py" for h in ("fuzz_clean", "fuzz_planted")]
    for call in calls:  # what a bundle reads at run time, and every lazily imported module
        assert "--collect-submodules proxy --collect-submodules fuzz" in call
        assert "--add-data instrumentation.toml:." in call and "--add-data examples:examples" in call
        assert "--add-data corpus/session_configs:corpus/session_configs" in call
    assert (record / "pip3").read_text().splitlines() == [
        f"install --require-hashes -r {work}/proxyfuzz-requirements.txt",
        "install --no-deps .",
    ]
    pinned = (work / "proxyfuzz-requirements.txt").read_text()
    assert "atheris" not in pinned and "hypothesis==" in pinned
    # atheris's hash lines went with it: every remaining requirement still carries its hashes.
    blocks = pinned.replace("\\\n", " ").splitlines()
    pins = [b for b in blocks if b and not b.lstrip().startswith("#")]
    assert pins and all("--hash=sha256:" in b and "==" in b.split()[0] for b in pins)
    assert (project / "proxy" / "config" / "gen" / "bootstrap_pb2.py").is_file()  # schema compiled before install
    assert_oss_fuzz_layout(out)


def run_ci(root: Path, *extra: str) -> tuple[int, str]:
    args = ci.build_parser().parse_args(
        [
            "--time",
            "2",
            "--out",
            str(root / "out"),
            "--work",
            str(root / "work"),
            "--reproductions",
            "2",
            "--minimize-time",
            "2",
            *extra,
        ]
    )
    printed = io.StringIO()
    with redirect_stdout(printed):
        status = ci.run(args, root=root)
    return status, printed.getvalue()


def test_ci_job_builds_fuzzes_triages_and_fails_on_a_new_crash(tmp_path):
    scratch_project(tmp_path)
    status, printed = run_ci(tmp_path)
    assert status == 1, printed
    assert_oss_fuzz_layout(tmp_path / "out")
    log = (tmp_path / "work" / "logs" / "clean.log").read_text()
    assert "-seed=1337" in log and "-len_control=0" in log and "-max_len=64" in log
    report_lines = [line for line in printed.splitlines() if "NEW REPRODUCIBLE CRASH" in line]
    assert len(report_lines) == 1
    report = Path(report_lines[0].rsplit(": ", 1)[1])
    assert report.is_file() and "KeyError" in report.read_text()
    assert (tmp_path / "out" / "reports" / "results.sarif").is_file()

    # The same crash, once listed in the committed known-issues file, no longer fails the job.
    (tmp_path / "known-issues.toml").write_text('[[issue]]\npattern = "KeyError"\nreason = "accepted in a test"\n')
    status, printed = run_ci(tmp_path, "--harness", "planted")
    assert status == 0, printed
    assert "no new reproducible crash" in printed


def test_ci_refuses_a_project_without_harnesses(tmp_path):
    with pytest.raises(ci.CIError, match="no harnesses"):
        ci.discover_harnesses(tmp_path)
    (tmp_path / "harnesses").mkdir()
    write_executable(tmp_path / "harnesses" / "fuzz_one.py", CLEAN_HARNESS)
    with pytest.raises(ci.CIError, match="no such harness: fuzz_two"):
        ci.discover_harnesses(tmp_path, ["two"])


def test_options_file_becomes_libfuzzer_flags(tmp_path):
    options = tmp_path / "fuzz_x.options"
    options.write_text("[libfuzzer]\nmax_len = 1024\ndict = fuzz_x.dict\n\n[asan]\ndetect_leaks = 0\n")
    assert ci.libfuzzer_options(options) == ["-max_len=1024", f"-dict={tmp_path / 'fuzz_x.dict'}"]
    options.write_text("max_len = 3\n")
    with pytest.raises(ci.CIError, match="not an OSS-Fuzz options file"):
        ci.libfuzzer_options(options)


def test_workflows_use_clusterfuzzlite_modes():
    workflows = ROOT / ".github" / "workflows"

    def run_step(name):
        jobs = yaml.safe_load((workflows / name).read_text())["jobs"]
        return [s["with"] for job in jobs.values() for s in job["steps"] if "run_fuzzers" in s.get("uses", "")]

    assert run_step("cflite_pr.yml")[0]["mode"] == "code-change"
    assert run_step("cflite_pr.yml")[0]["fuzz-seconds"] == 600
    assert run_step("cflite_batch.yml")[0]["mode"] == "batch"
    assert sorted(s["mode"] for s in run_step("cflite_cron.yml")) == ["coverage", "prune"]
    assert yaml.safe_load((ROOT / ".clusterfuzzlite" / "project.yaml").read_text()) == {"language": "python"}
    oss = yaml.safe_load((ROOT / "oss-fuzz" / "project.yaml").read_text())
    assert oss["language"] == "python" and oss["fuzzing_engines"] == ["libfuzzer"]


BRANCHY_HARNESS = """#!/usr/bin/env python3
import sys

import atheris


@atheris.instrument_func
def TestOneInput(data):
    if data[:1] == b"z":
        if data[1:2] == b"z":
            return 2
        return 1
    return 0


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
"""


def branchy_project(root: Path) -> Path:
    """One harness with coverage counters, so libFuzzer keeps and merges inputs by what they reach."""
    (root / "harnesses").mkdir(parents=True)
    write_executable(root / "harnesses" / "fuzz_branchy.py", BRANCHY_HARNESS)
    (root / "corpus" / "branchy").mkdir(parents=True)
    (root / "corpus" / "branchy" / "seed").write_bytes(b"a")
    return root / "work" / "corpus" / "branchy"


def test_ci_batch_mode_keeps_and_grows_the_corpus_without_a_fixed_seed(tmp_path):
    corpus = branchy_project(tmp_path)
    corpus.mkdir(parents=True)
    (corpus / "from-an-earlier-run").write_bytes(b"q")
    status, printed = run_ci(tmp_path, "--mode", "batch")
    assert status == 0, printed
    assert (corpus / "from-an-earlier-run").read_bytes() == b"q"  # ClusterFuzzLite's corpus storage
    assert (corpus / "seed").is_file()  # seeds added
    assert len(list(corpus.iterdir())) > 2  # and what the run found ("z", "zz")
    log = (tmp_path / "work" / "logs" / "branchy.log").read_text()
    assert "-seed=1337" not in log and "-len_control=0" not in log


def test_ci_prune_mode_minimizes_the_kept_corpus(tmp_path):
    corpus = branchy_project(tmp_path)
    corpus.mkdir(parents=True)
    for i in range(20):  # the same behaviour twenty times, one other: two files are enough
        (corpus / f"same-{i}").write_bytes(b"a")
    (corpus / "other").write_bytes(b"zz")
    status, printed = run_ci(tmp_path, "--mode", "prune")
    assert status == 0, printed
    assert "prune fuzz_branchy: 21 -> 2 file(s)" in printed, printed
    assert sorted(p.read_bytes() for p in corpus.iterdir()) == [b"a", b"zz"]


def test_ci_accepts_clusterfuzzlite_mode_names_only():
    for mode in ("code-change", "batch", "prune", "coverage"):
        assert ci.build_parser().parse_args(["--mode", mode]).mode == mode
    with redirect_stdout(io.StringIO()), pytest.raises(SystemExit):
        ci.build_parser().parse_args(["--mode", "fuzz"])


def test_ci_coverage_mode_writes_a_coverage_report_per_harness(tmp_path):
    args = ci.build_parser().parse_args(
        ["--mode", "coverage", "--harness", "route", "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work")]
    )
    printed = io.StringIO()
    with redirect_stdout(printed):
        status = ci.run(args, root=ROOT)
    assert status == 0, printed.getvalue()
    report = tmp_path / "out" / "reports" / "coverage" / "route"
    assert (report / "index.html").is_file()
    files = yaml.safe_load((report / "coverage.json").read_text())["files"]
    assert any(
        f.endswith("proxy/http/route.py") and info["summary"]["covered_lines"] > 0 for f, info in files.items()
    ), sorted(files)[:5]


def test_ci_seed_zip_is_the_start_set_a_run_uses(tmp_path):
    """Seeds corpus/NAME.redundant lists stay out of the zip (make test still replays them);
    regress-* seeds and seeds changed since the listing go in."""
    from fuzz.startup_seeds import digest

    scratch_project(tmp_path)
    seeds = tmp_path / "corpus" / "clean"
    (seeds / "regress-shape").write_bytes(b"kept,always")
    listed = [seeds / "seed-2", seeds / "regress-shape"]
    (tmp_path / "corpus" / "clean.redundant").write_text("".join(digest(s) + "\n" for s in listed))
    out = tmp_path / "out"
    ci.build(tmp_path, out, ci.discover_harnesses(tmp_path, ["clean"]))
    with zipfile.ZipFile(out / "fuzz_clean_seed_corpus.zip") as zf:
        assert sorted(zf.namelist()) == ["regress-shape", "seed-1"]
