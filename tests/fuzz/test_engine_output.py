"""Reading libFuzzer's output: status lines (single process and fork mode), final stats, crash files."""

from fuzz.runner import Progress, RunResult


def feed(*lines):
    p = Progress()
    for line in lines:
        p.feed(line + "\n")
    return p


def test_status_lines_update_executions_coverage_corpus_and_speed():
    p = feed(
        "#2\tINITED cov: 10 ft: 12 corp: 1/1b exec/s: 0 rss: 40Mb",
        "#35\tNEW    cov: 14 ft: 20 corp: 3/7b lim: 4 exec/s: 0 rss: 30Mb L: 3/3 MS: 1 ChangeBit-",
        "#65536\tpulse  cov: 240 ft: 446 corp: 24/917b lim: 70 exec/s: 21845 rss: 43Mb",
    )
    assert (p.executions, p.cov, p.ft, p.corpus, p.exec_per_sec) == (65536, 240, 446, 24, 21845)
    assert p.saw_status_line and p.crashes == 0


def test_fork_mode_status_lines_carry_crash_counts():
    p = feed("#129808: cov: 544 ft: 704 corp: 56 exec/s 16815 oom/timeout/crash: 0/1/2 time: 8s job: 3 dft_time: 0")
    assert (p.executions, p.cov, p.ft, p.corpus, p.exec_per_sec) == (129808, 544, 704, 56, 16815)
    assert p.crashes == 3


def test_final_stats_win_over_the_last_pulse():
    p = feed(
        "#1000\tpulse  cov: 5 ft: 5 corp: 1/1b lim: 4 exec/s: 500 rss: 1Mb",
        "stat::number_of_executed_units: 4321",
        "stat::average_exec_per_sec:     2160",
        "stat::new_units_added:          7",
    )
    assert p.executions == 4321 and p.exec_per_sec == 2160
    assert p.final_stats["new_units_added"] == 7


def test_artifact_lines_are_collected_once():
    line = "artifact_prefix='/w/a/'; Test unit written to /w/a/crash-0123abcd"
    p = feed(line, line, "Base64: Qk9PTQ==")
    assert p.artifacts == ["/w/a/crash-0123abcd"] and p.crashes == 1


def test_unrelated_lines_change_nothing():
    p = feed("INFO: Seed: 1", "=== Uncaught Python exception: ===", "ValueError: x", "Done 5 runs in 0 second(s)")
    assert p == Progress()


def test_summary_names_crash_files_and_falls_back_to_measured_speed():
    p = feed("#400\tDONE   cov: 9 ft: 9 corp: 2/2b lim: 4 exec/s: 0 rss: 1Mb")
    result = RunResult("demo", 1, 2.0, p, ["/w/a/crash-1"], 2, None)
    text = result.summary()
    assert text.startswith("== demo: 400 executions in 2.0 s (200 exec/s), cov: 9 ft: 9")
    assert "crash file: /w/a/crash-1" in text
