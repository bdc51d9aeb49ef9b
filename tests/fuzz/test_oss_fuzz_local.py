"""OSS-Fuzz's build for real (scripts/oss-fuzz-local.sh: the real PyInstaller through our
compile_python_fuzzer), harness files run directly, and the supply-chain files Scorecard reads.

The packaged-binary test builds with PyInstaller (minutes) and is marked slow; the rest is fast.
"""

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from fuzz import oss_fuzz_run

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
INSTRUMENTATION = re.compile(r"harness=(\S+) policy=(\S+) modules=(\d+) functions=(\d+) counters=(\d+)")


def active_venv_env() -> dict:
    """What `source .venv/bin/activate` gives: the venv first on PATH, no PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    env["VIRTUAL_ENV"] = str(VENV_BIN.parent)
    return env


def instrumentation_counts(output: str) -> tuple:
    found = INSTRUMENTATION.search(output)
    assert found, f"no instrumentation line in:\n{output[-3000:]}"
    return found.groups()


# ---------------------------------------------------------------------------------------------
# Harnesses run directly (the project is installed editable in .venv by make setup)


def route_corpus_copy(tmp_path: Path) -> str:
    """libFuzzer writes new inputs into its first corpus folder: never the committed one."""
    copy = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus" / "route", copy)
    return str(copy)


def test_harness_file_runs_directly_from_anywhere(tmp_path):
    done = subprocess.run(
        [str(ROOT / "harnesses" / "fuzz_route.py"), "-runs=300", "-seed=1", route_corpus_copy(tmp_path)],
        cwd=tmp_path,
        env=active_venv_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert instrumentation_counts(done.stderr)[0] == "route"
    assert "INITED" in done.stderr and "Done 300 runs" in done.stderr


def test_harness_file_runs_in_libfuzzer_fork_mode(tmp_path):
    # Fork mode re-executes argv[0] (the .py file) for each job: that child must import too.
    done = subprocess.run(
        [str(ROOT / "harnesses" / "fuzz_route.py"), "-fork=1", "-runs=200", "-seed=1", route_corpus_copy(tmp_path)],
        cwd=tmp_path,
        env=active_venv_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "FUZZER: fork mode" in done.stderr or "INFO: -fork=1" in done.stderr, done.stderr[-2000:]
    assert "ModuleNotFoundError" not in done.stderr
    assert re.search(r"#\d+: cov: \d+", done.stderr), done.stderr[-2000:]  # a job reported back


# ---------------------------------------------------------------------------------------------
# The packaged binaries (slow: PyInstaller builds three one-file binaries)


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    base = tmp_path_factory.mktemp("oss-fuzz-local")
    env = dict(os.environ, OSS_FUZZ_LOCAL_DIR=str(base))
    done = subprocess.run(
        [
            "bash",
            str(ROOT / "scripts" / "oss-fuzz-local.sh"),
            "--build-only",
            "--harness",
            "h1_server",
            "--harness",
            "session",
            "--add-harnesses",
            str(ROOT / "tests" / "triage_harness"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return base


@pytest.mark.slow
@pytest.mark.parametrize("name", ["h1_server", "session"])
def test_packaged_binary_replays_its_seeds_with_the_same_instrumentation(packaged, tmp_path, name):
    out = packaged / "out"
    binary = out / f"fuzz_{name}"
    assert os.access(binary, os.X_OK) and (out / f"fuzz_{name}.pkg").is_file()
    assert not os.access(out / f"fuzz_{name}.pkg", os.X_OK)  # only the wrapper is a target
    seeds = tmp_path / "seeds"
    with zipfile.ZipFile(out / f"fuzz_{name}_seed_corpus.zip") as zf:
        zf.extractall(seeds)
        count = len(zf.namelist())
    # From outside the repository, without PYTHONPATH: only the bundle.
    env = oss_fuzz_run.runner_env()
    env["PROXYFUZZ_PKI"] = str(tmp_path / "pki")
    done = subprocess.run(
        [str(binary), "-runs=0", *oss_fuzz_run.target_flags(binary), str(seeds)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(rf"INFO: seed corpus: files: {count} ", done.stderr), done.stderr[-2000:]
    assert "INITED" in done.stderr

    # The same harness unpackaged, from the tree the bundle was built from ($SRC/proxyfuzz).
    source = packaged / "src" / "proxyfuzz"
    unpackaged = subprocess.run(
        [sys.executable, str(source / "harnesses" / f"fuzz_{name}.py"), "-runs=0"],
        cwd=source,
        env=dict(env, PYTHONPATH=str(source)),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert instrumentation_counts(done.stderr) == instrumentation_counts(unpackaged.stderr)


@pytest.mark.slow
def test_packaged_binary_reports_a_planted_crash_as_clusterfuzz_reproduces_it(packaged, tmp_path):
    crash = tmp_path / "crash-planted"
    crash.write_bytes(b"A1")  # tests/triage_harness/planted.py: bug 1, a KeyError
    rep = oss_fuzz_run.reproduce(packaged / "out" / "fuzz_planted", crash, tmp_path)
    assert rep.reproduced and rep.status not in (0, -9), rep.output[-2000:]
    assert "Uncaught Python exception" in rep.output and "KeyError" in rep.output
    assert "planted.py" in rep.stack_top(), rep.output[-2000:]


# ---------------------------------------------------------------------------------------------
# Supply-chain files (OpenSSF Scorecard: Pinned-Dependencies, Token-Permissions, SAST, ...)


def requirement_blocks(path: Path) -> dict:
    """name -> (version, hashes) of a pip-compile'd file."""
    text = path.read_text().replace("\\\n", " ")
    pins = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        spec, *rest = line.split()
        assert "==" in spec, f"{path.name}: not pinned: {line.strip()}"
        name, version = spec.split("==")
        hashes = [r for r in rest if r.startswith("--hash=sha256:")]
        assert hashes, f"{path.name}: {name} has no --hash"
        pins[name.lower().replace("_", "-")] = (version, hashes)
    return pins


@pytest.mark.parametrize(
    "locked",
    [
        "requirements.txt",
        "requirements-bench.txt",
        "requirements-mitmproxy.txt",
        "scripts/oss-fuzz/builder-requirements.txt",
        "scripts/lock-tools.txt",
    ],
)
def test_requirements_are_locked_with_hashes_from_their_in_files(locked):
    locked = ROOT / locked
    pins = requirement_blocks(locked)
    source = locked.with_suffix(".in")
    for line in source.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-c "):  # a constraint file, checked below
            name, version = line.split("==")
            name = re.sub(r"\[.*\]", "", name).lower().replace("_", "-")
            assert pins.get(name, ("missing",))[0] == version.strip(), (
                f"{source.name} pins {line}, {locked.name} has {pins.get(name)}: run scripts/lock-requirements.sh"
            )


def test_the_bench_add_on_moves_no_pin_of_the_project():
    """requirements-bench.txt is installed into .venv (scripts/bench-tools.sh): it is locked against
    requirements.txt, so every package both lock is the same version in both."""
    assert "-c requirements.txt" in (ROOT / "requirements-bench.in").read_text().splitlines()
    project = requirement_blocks(ROOT / "requirements.txt")
    add_on = requirement_blocks(ROOT / "requirements-bench.txt")
    moved = {name: (project[name][0], version) for name, (version, _) in add_on.items() if name in project}
    assert {name: pair for name, pair in moved.items() if pair[0] != pair[1]} == {}


def workflows() -> list[Path]:
    return sorted((ROOT / ".github" / "workflows").glob("*.yml"))


@pytest.mark.parametrize("workflow", workflows(), ids=lambda p: p.name)
def test_workflow_pins_actions_by_sha_with_least_privilege(workflow):
    text = workflow.read_text()
    for uses in re.findall(r"uses:\s*(\S+.*)$", text, re.M):
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}\s+# v\d+(\.\d+)*", uses), (
            f"{workflow.name}: not pinned by commit SHA with its version in a comment: {uses}"
        )
    doc = yaml.safe_load(text)
    assert doc["permissions"] in ({"contents": "read"}, {}), f"{workflow.name}: top-level permissions"
    for name, job in doc["jobs"].items():
        assert "permissions" in job, f"{workflow.name}: job {name} has no permissions block"
        writes = {k for k, v in job["permissions"].items() if v == "write"}
        assert writes <= {"security-events"}, f"{workflow.name}: job {name} writes {writes}"


def test_codeql_dependabot_and_security_policy_exist():
    codeql = yaml.safe_load((ROOT / ".github" / "workflows" / "codeql.yml").read_text())
    steps = [s.get("uses", "") for s in codeql["jobs"]["analyze"]["steps"]]
    assert any("codeql-action/init@" in s for s in steps) and any("codeql-action/analyze@" in s for s in steps)
    dependabot = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert {u["package-ecosystem"] for u in dependabot["updates"]} >= {"pip", "github-actions"}
    assert "Reporting a vulnerability" in (ROOT / "SECURITY.md").read_text()
    assert "--require-hashes" in (ROOT / "Makefile").read_text()
