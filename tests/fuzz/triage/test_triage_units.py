"""Triage's pure parts, on canned outputs: classification, signatures, known issues, severity."""

from pathlib import Path

import pytest

from fuzz.triage.classify import RawFrame, classify
from fuzz.triage.known import KnownIssuesError, load_known_issues, match_known
from fuzz.triage.run_once import RunResult
from fuzz.triage.reproduce import Attempt, _decide
from fuzz.triage.severity import rate
from fuzz.triage.signature import FrameNormalizer, Signature, signature_of

ROOT = Path("/repo")
HARNESS = ROOT / "harnesses" / "fuzz_codec.py"
SITE = "/venv/lib/python3.11/site-packages"

ATHERIS_EXCEPTION = f'''
 === Uncaught Python exception: ===
KeyError: 'content-length'
Traceback (most recent call last):
  File "/repo/harnesses/fuzz_codec.py", line 20, in TestOneInput
    session.run(data)
  File "/repo/fuzz/session.py", line 88, in run
    conn.on_data(chunk)
  File "/repo/proxy/http/codec.py", line {{line}}, in on_data
    self._headers(event)
  File "/repo/proxy/http/codec.py", line 140, in _headers
    return lookup(h)
  File "{SITE}/h11/_headers.py", line 77, in lookup
    return table[name]
           ~~~~~^^^^^^
KeyError: 'content-length'
'''


def run(stdout="", stderr="", returncode=77, killed_for=None, peak=50.0):
    return RunResult(returncode, stdout, stderr, 0.1, peak, killed_for)


def sig(result, rss_limit_mb=100):
    failure = classify(result, rss_limit_mb)
    return failure, signature_of(failure, FrameNormalizer(ROOT, HARNESS), "codec")


def test_exception_signature_keeps_project_frames_without_line_numbers():
    failure, s = sig(run(ATHERIS_EXCEPTION.format(line=120)))
    assert failure.kind == "exception" and failure.exception_type == "KeyError"
    assert failure.message == "'content-length'"
    # innermost first; h11 (site-packages), the engine and the harness are not the project
    assert s.frames == ("proxy/http/codec.py:_headers", "proxy/http/codec.py:on_data")
    _, moved = sig(run(ATHERIS_EXCEPTION.format(line=999)))
    assert moved.id == s.id  # an edit above the function does not split the bug


def test_another_exception_type_in_the_same_place_is_another_signature():
    _, a = sig(run(ATHERIS_EXCEPTION.format(line=1)))
    _, b = sig(run(ATHERIS_EXCEPTION.format(line=1).replace("KeyError", "IndexError")))
    assert a.frames == b.frames and a.id != b.id


def test_chained_exception_takes_the_last_traceback():
    text = (
        ATHERIS_EXCEPTION.format(line=1)
        + """
During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/repo/proxy/config/load.py", line 9, in load
    raise ConfigError("bad")
proxy.config.errors.ConfigError: bad
"""
    )
    failure, s = sig(run(text))
    assert failure.exception_type == "proxy.config.errors.ConfigError"
    assert s.frames == ("proxy/config/load.py:load",)


def test_invariant_name_from_fuzz_oracles_wording():
    text = """Traceback (most recent call last):
  File "/repo/fuzz/oracles.py", line 40, in check
    raise InvariantViolation("bytes_conserved", "3 in, 2 out")
fuzz.oracles.InvariantViolation: invariant 'bytes_conserved' violated: 3 in, 2 out
"""
    failure, s = sig(run(text))
    assert failure.kind == "invariant" and failure.invariant == "bytes_conserved"
    assert "[bytes_conserved]" in s.text
    # no project frame: the engine's frames stand in
    assert s.frames == ("fuzz/oracles.py:check",)


def test_timeout_from_atheris_dump_is_innermost_first():
    stderr = """Running: x
Current thread 0x00007f5cb1c38b80 (most recent call first):
  File "/repo/proxy/http/codec.py", line 5 in spin
  File "/repo/harnesses/fuzz_codec.py", line 18 in TestOneInput
  File "/repo/harnesses/fuzz_codec.py", line 21 in <module>
ALARM: working on the last Unit for 4 seconds
==1== ERROR: libFuzzer: timeout after 4 seconds
"""
    failure, s = sig(run(stderr=stderr, returncode=70))
    assert failure.kind == "timeout"
    assert s.frames == ("proxy/http/codec.py:spin",)


def test_out_of_memory_by_measurement_or_memoryerror_is_one_signature():
    dump = """Fatal Python error: Aborted

Current thread 0x1 (most recent call first):
  File "/repo/proxy/buffer.py", line 10 in grow
  File "/repo/harnesses/fuzz_codec.py", line 18 in TestOneInput
"""
    measured, a = sig(run(stderr=dump, returncode=-6, killed_for="memory", peak=120))
    raised, b = sig(
        run("""Traceback (most recent call last):
  File "/repo/harnesses/fuzz_codec.py", line 18, in TestOneInput
  File "/repo/proxy/buffer.py", line 11, in grow
MemoryError
""")
    )
    assert measured.kind == raised.kind == "oom"
    assert a.id == b.id


def test_peak_rss_over_the_limit_is_oom_even_when_the_run_ends():
    failure, _ = sig(run(returncode=0, peak=300), rss_limit_mb=100)
    assert failure.kind == "oom"


def test_signal_exit_and_success():
    assert classify(run(returncode=-11), 100).kind == "signal"
    assert classify(run(returncode=3), 100).kind == "exit"
    assert classify(run(returncode=0), 100).kind == "none"


def test_fallback_to_innermost_frames_when_no_project_frame():
    text = f'''Traceback (most recent call last):
  File "/repo/harnesses/fuzz_codec.py", line 20, in TestOneInput
  File "{SITE}/atheris/function_hooks.py", line 3, in hook
  File "{SITE}/h11/_readers.py", line 50, in read_chunk
ValueError: bad chunk
'''
    _, s = sig(run(text))
    assert s.frames == ("h11/_readers.py:read_chunk", "harnesses/fuzz_codec.py:TestOneInput")


def test_security_marker_sets_severity():
    failure, _ = sig(run("FuzzerSecurityIssueCritical: smuggled\n" + ATHERIS_EXCEPTION.format(line=1)))
    assert failure.security_level == "critical"
    assert rate(failure, []).level == "critical"


def test_severity_rules():
    norm = FrameNormalizer(ROOT, HARNESS)

    def level(text):
        failure = classify(run(text), 100)
        return rate(failure, [norm.normalize(f) for f in failure.frames]).level

    assert level(ATHERIS_EXCEPTION.format(line=1)) == "medium"  # codec
    config = 'Traceback (most recent call last):\n  File "/repo/proxy/config/load.py", line 9, in load\nKeyError: x\n'
    assert level(config) == "low"
    lost = (
        'Traceback (most recent call last):\n  File "/repo/fuzz/oracles.py", line 4, in check\n'
        "fuzz.oracles.InvariantViolation: invariant 'bytes_conserved' violated\n"
    )
    assert level(lost) == "high"


def test_reproducibility_rule_is_half_of_the_planned_runs():
    failing = Signature("exception", "KeyError", "", ("a.py:f",))
    other = Signature("exception", "ValueError", "", ("b.py:g",))

    def attempts(*sigs):
        return [Attempt(run(), classify(run(returncode=0), 1), s) for s in sigs]

    assert _decide(attempts(failing, failing, failing, failing, failing, *[None] * 5), 10).reproducible
    four = _decide(attempts(failing, failing, failing, failing, other, *[None] * 5), 10)
    assert four.signature == failing and four.matching == 4 and not four.reproducible
    assert _decide(attempts(*[None] * 10), 10).signature is None


def test_known_issues_by_id_and_by_pattern(tmp_path):
    s = Signature("exception", "KeyError", "", ("proxy/config/load.py:load",))
    path = tmp_path / "known.toml"
    path.write_text(
        f'[[issue]]\nsignature = "{s.id}"\nreason = "tracked"\n[[issue]]\npattern = "ValueError"\nreason = "other"\n'
    )
    issues = load_known_issues(path)
    assert match_known(issues, s.id, s.text).reason == "tracked"
    assert match_known(issues, "0" * 12, "exception|ValueError|x").reason == "other"
    assert match_known(issues, "0" * 12, "exception|TypeError|x") is None
    assert load_known_issues(tmp_path / "absent.toml") == []


@pytest.mark.parametrize(
    "text, problem",
    [
        ('[[issue]]\nreason = "r"\n', "exactly one of"),
        ('[[issue]]\npattern = "x"\n', "non-empty `reason`"),
        ('[[issue]]\npattern = "("\nreason = "r"\n', "not a valid regex"),
        ('[[issue]]\nsignature = "xyz"\nreason = "r"\n', "12-hex-digit"),
        ('[[issue]]\npattern = "x"\nreason = "r"\nsevrity = 1\n', "unexpected keys"),
        ("[[issue]\n", "not valid TOML"),
    ],
)
def test_known_issues_errors_name_the_problem(tmp_path, text, problem):
    path = tmp_path / "known.toml"
    path.write_text(text)
    with pytest.raises(KnownIssuesError, match=problem):
        load_known_issues(path)


def test_raw_frames_are_parsed_from_both_formats():
    failure = classify(run(ATHERIS_EXCEPTION.format(line=7)), 100)
    assert failure.frames[0] == RawFrame(f"{SITE}/h11/_headers.py", 77, "lookup")
    assert failure.frames[-1].function == "TestOneInput"


def test_command_line_errors_are_clear(tmp_path, capsys):
    from fuzz.triage import main

    assert main(["--out", str(tmp_path), str(tmp_path / "missing")]) == 2
    assert "artifact not found" in capsys.readouterr().err
    stray = tmp_path / "somewhere" / "crash-1"
    stray.parent.mkdir()
    stray.write_bytes(b"x")
    assert main(["--out", str(tmp_path / "out"), str(stray)]) == 2
    assert "pass --harness PATH" in capsys.readouterr().err
    assert main(["--harness", str(tmp_path / "nope.py"), str(stray)]) == 2
    assert "harness not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--reproductions", "0", str(stray)])
    assert "must be at least 1" in capsys.readouterr().err


def test_a_corrupt_index_is_refused_not_overwritten(tmp_path, capsys):
    from fuzz.triage import main

    (tmp_path / "index.json").write_text("{not json")
    harness = tmp_path / "fuzz_x.py"
    harness.write_text("")
    art = tmp_path / "crash-1"
    art.write_bytes(b"x")
    assert main(["--harness", str(harness), "--out", str(tmp_path), str(art)]) == 2
    assert "not a triage index" in capsys.readouterr().err
    assert (tmp_path / "index.json").read_text() == "{not json"


def test_a_clean_run_writes_an_empty_index_and_sarif(tmp_path):
    # make ci-fuzz triages an empty artifact list when nothing crashed; it must not fail then.
    from fuzz.triage import TriageOptions, triage

    root = Path(__file__).resolve().parents[3]
    out = tmp_path / "reports"
    triage([], TriageOptions(out_dir=out, project_root=root, known_issues=None))
    assert {p.name for p in out.iterdir()} >= {"index.md", "results.sarif"}
