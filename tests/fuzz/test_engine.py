"""The fuzzing engine end to end, on the test-only demo harness in a throw-away layout:
list, bounded runs (single process and fork mode), crash files, merge, replay, fuzz-all."""

from pathlib import Path

import pytest

from engine_layout import fuzz, make_layout
from fuzz.harness import corpus_files


@pytest.fixture
def layout(tmp_path):
    return make_layout(tmp_path / "repo")


@pytest.fixture
def crashy_layout(tmp_path):
    return make_layout(tmp_path / "repo", crashy=True)


def test_list_shows_target_corpus_dictionary_options_and_policy(layout):
    out = fuzz(layout, "list")
    assert out.returncode == 0, out.stderr
    assert "demo\n" in out.stdout
    assert "target:     Raw bytes into h11's server-side parser" in out.stdout
    assert "corpus:     4 files in corpus/demo" in out.stdout
    assert "dictionary: corpus/demo.dict" in out.stdout
    assert "options:    max_len=4096 timeout=10 rss_limit_mb=2560" in out.stdout
    assert "policy:     derived: 7 module entries" in out.stdout


def test_bounded_run_grows_working_corpus_and_summarizes(layout):
    out = fuzz(layout, "run", "demo", "--time", "2", "--quiet")
    assert out.returncode == 0, out.stdout + out.stderr
    summary = next(line for line in out.stdout.splitlines() if line.startswith("== demo: "))
    assert "exec/s" in summary and "cov: " in summary and "crashes: 0" in summary
    work = layout / "work" / "corpus" / "demo"
    assert len(corpus_files(work)) > 4  # seeds are read from corpus/demo, new inputs land here
    assert len(corpus_files(layout / "corpus" / "demo")) == 4  # seeds untouched
    log = (layout / "work" / "logs" / "demo.log").read_text()
    assert "policy=derived" in log and "-dict" not in out.stdout  # quiet: libFuzzer output only in the log
    assert "ParseDictionaryFile: Reading dictionary" in log or "Dictionary:" in log


def test_fork_mode_reexecutes_the_harness_script(layout):
    out = fuzz(layout, "run", "demo", "--time", "3", "--jobs", "2", "--quiet")
    assert out.returncode == 0, out.stdout + out.stderr
    log = (layout / "work" / "logs" / "demo.log").read_text()
    assert "-fork=2: fuzzing in separate process(s)" in log
    assert "oom/timeout/crash: 0/0/0" in log  # the fork children ran and reported back
    assert len(corpus_files(layout / "work" / "corpus" / "demo")) > 4


def test_libfuzzer_flags_pass_through(layout):
    out = fuzz(layout, "run", "demo", "--time", "30", "--quiet", "--", "-runs=300")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "== demo: 300 executions" in out.stdout


def test_crash_is_reported_with_its_file_and_replays_as_a_crash(crashy_layout):
    out = fuzz(crashy_layout, "run", "crashy", "--time", "10", "--quiet")
    assert out.returncode == 1
    crash_lines = [line for line in out.stdout.splitlines() if "crash file:" in line]
    assert len(crash_lines) == 1, out.stdout
    crash = Path(crash_lines[0].split("crash file:")[1].strip())
    assert crash.parent == crashy_layout / "work" / "artifacts" / "crashy"
    assert crash.read_bytes().startswith(b"BOOM")

    replayed = fuzz(crashy_layout, "replay", "crashy", str(crash))
    assert replayed.returncode == 1
    assert "CRASH" in replayed.stdout and "ValueError: planted bug" in replayed.stdout
    assert "1 input(s): 0 ok, 1 crashed" in replayed.stdout


def test_replay_reports_ok_and_allowed_exceptions_are_not_crashes(crashy_layout, tmp_path):
    allowed = tmp_path / "k"
    allowed.write_bytes(b"K-allowed")
    out = fuzz(crashy_layout, "replay", "crashy", str(allowed))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("ok    ")

    out = fuzz(crashy_layout, "replay", "demo")  # default: corpus/demo + work/corpus/demo
    assert out.returncode == 0
    assert "4 input(s): 4 ok, 0 crashed" in out.stdout


def test_merge_minimizes_working_corpus_into_seeds(layout):
    assert fuzz(layout, "run", "demo", "--time", "2", "--quiet").returncode == 0
    worked = len(corpus_files(layout / "work" / "corpus" / "demo"))
    out = fuzz(layout, "merge", "demo")
    assert out.returncode == 0, out.stdout + out.stderr
    after = len(corpus_files(layout / "corpus" / "demo"))
    assert 4 < after < 4 + worked  # new coverage kept, redundant inputs dropped
    assert f"had 4 files, now {after}" in out.stdout
    assert "MERGE-OUTER" in (layout / "work" / "logs" / "demo.merge.log").read_text()


def test_merge_with_nothing_to_merge_is_a_clear_error(layout):
    out = fuzz(layout, "merge", "demo")
    assert out.returncode == 2
    assert "nothing to merge" in out.stderr and "Traceback" not in out.stderr


def test_fuzz_all_prints_progress_and_lists_artifacts(crashy_layout):
    out = fuzz(crashy_layout, "fuzz-all", "--time", "2")
    assert out.returncode == 1  # crashy crashed
    lines = out.stdout.splitlines()
    assert any(line.startswith("[1/2 crashy] fuzzing for 2 s") for line in lines)
    assert any(line.startswith("[2/2 demo] fuzzing for 2 s") for line in lines)
    assert any(line.startswith("[2/2 demo]") and "exec/s" in line and "crashes so far 1" in line for line in lines)
    assert "fuzz-all: 2 harness(es)" in out.stdout and "1 crash file(s)" in out.stdout
    assert any("artifact:" in line and "crash-" in line for line in lines) or "running triage" in out.stdout


def test_unknown_harness_and_command_are_clear_errors(layout):
    out = fuzz(layout, "run", "nope", "--time", "1")
    assert out.returncode == 2
    assert "no harness 'nope'" in out.stderr and "harnesses: demo" in out.stderr
    assert "Traceback" not in out.stderr
    out = fuzz(layout, "frobnicate")
    assert out.returncode == 2 and "unknown command 'frobnicate'" in out.stderr


def test_broken_options_file_and_non_executable_harness_are_clear_errors(layout):
    (layout / "harnesses" / "fuzz_demo.options").write_text("[libfuzzer]\nmax_len = lots\n")
    out = fuzz(layout, "run", "demo", "--time", "1")
    assert out.returncode == 2 and "max_len = 'lots' is not an integer" in out.stderr
    (layout / "harnesses" / "fuzz_demo.options").write_text("[libfuzzer]\nmax_len = 64\n")
    (layout / "harnesses" / "fuzz_demo.py").chmod(0o644)
    out = fuzz(layout, "run", "demo", "--time", "1")
    assert out.returncode == 2 and "not executable" in out.stderr
