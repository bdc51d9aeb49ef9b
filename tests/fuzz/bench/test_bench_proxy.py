"""The proxy benchmark's (`python -m fuzz bench proxy`) parts that need no load: reading wrk's and
h2load's reports, the nginx and proxy configurations it writes, the profile summary, the table
and the ratio. The benchmark itself is a measurement, not a test."""

import json
import os
import signal
import shutil
import subprocess

import pytest

from fuzz.bench.proxy_load import configs as configs
from fuzz.bench.proxy_load import parse as parse
from fuzz.bench.proxy_load import profile as profile
from fuzz.bench.proxy_load import command as bench
from fuzz.bench.proxy_load.parse import LoadResult, ReportError

WRK = """Running 10s test @ http://127.0.0.1:18090/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.71ms   20.31ms 210.84ms   94.66%
    Req/Sec     1.26k   219.50     1.61k    71.00%
  Latency Distribution
     50%    8.95ms
     75%   10.10ms
     90%   13.20ms
     99%  121.90ms
  25043 requests in 10.01s, 3.37MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   2501.80
Transfer/sec:    344.49KB
"""

H2LOAD = """starting benchmark...
spawning thread #0: 2 total client(s). Timing-based test with 1s of warm-up time and 10s of main duration
Main benchmark duration is over for thread #0. Stopping all clients.

finished in 10.00s, 2797.30 req/s, 109.27KB/s
requests: 27973 total, 28005 started, 27973 done, 27970 succeeded, 3 failed, 1 errored, 2 timeout
status codes: 27965 2xx, 0 3xx, 4 4xx, 1 5xx
traffic: 1.07MB (1118920) total, 546.97KB (560100) headers (space savings 30.10%), 464.39KB (475541) data
"""


def test_wrk_report_gives_rate_p99_count_and_every_kind_of_error():
    r = parse.parse_wrk(WRK)
    assert r == LoadResult(requests=25043, rps=2501.80, p99_ms=121.90, errors=2 + 3 + 7)


def test_wrk_report_without_errors_or_distribution():
    text = "  100 requests in 1.00s, 1KB read\nRequests/sec:    100.00\n"
    assert parse.parse_wrk(text) == LoadResult(100, 100.0, None, 0)


@pytest.mark.parametrize("text, ms", [("134.00us", 0.134), ("5.46ms", 5.46), ("1.02s", 1020.0), ("2.00m", 120000.0)])
def test_wrk_time_units(text, ms):
    assert parse.wrk_time_ms(text) == pytest.approx(ms)


@pytest.mark.parametrize("text", ["", "12", "1.5 ms", "fast"])
def test_wrk_time_refuses_what_is_not_a_time(text):
    with pytest.raises(ReportError):
        parse.wrk_time_ms(text)


def test_a_failed_wrk_run_is_a_clear_error():
    with pytest.raises(ReportError, match="Requests/sec"):
        parse.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_h2load_report_counts_failures_timeouts_and_4xx_5xx_as_errors():
    r = parse.parse_h2load(H2LOAD, latencies_us=[1000] * 99 + [50_000])
    assert (r.requests, r.rps, r.errors) == (27973, 2797.30, 3 + 1 + 2 + 4 + 1)
    assert r.p99_ms == 1.0


def test_h2load_sub_millisecond_run_and_no_log():
    text = H2LOAD.replace("finished in 10.00s", "finished in 207us")
    assert parse.parse_h2load(text).p99_ms is None
    with pytest.raises(ReportError):
        parse.parse_h2load("connect failed\n")


def test_h2load_log_durations_and_bad_lines():
    assert parse.parse_h2load_log("1700000000000000\t200\t812\n1700000000000100\t200\t95\n\n") == [812, 95]
    with pytest.raises(ReportError, match="line 2"):
        parse.parse_h2load_log("1\t200\t5\nnot a log line\n")


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert parse.percentile(values, 99) == 99
    assert parse.percentile(values, 100) == 100
    assert parse.percentile([7], 99) == 7
    assert parse.percentile([5, 1, 3], 50) == 3
    with pytest.raises(ReportError):
        parse.percentile([], 99)


def test_nginx_conf_keeps_everything_under_its_prefix(tmp_path):
    text = configs.nginx_conf(tmp_path, 18081, 18082)
    assert "listen 127.0.0.1:18081;" in text and "listen 127.0.0.1:18082 http2;" in text
    assert "daemon off;" in text and "master_process off;" in text
    paths = [word.rstrip(";") for word in text.split() if word.startswith("/") and word != "/"]
    assert paths and all(p.startswith(str(tmp_path)) for p in paths)
    with pytest.raises(ValueError):
        configs.nginx_conf(tmp_path, 1, 2, body='say "hi"')


@pytest.mark.skipif(
    shutil.which("nginx") is None and not shutil.os.access("/usr/sbin/nginx", shutil.os.X_OK),
    reason="nginx not installed (scripts/bench-tools.sh)",
)
def test_nginx_accepts_the_generated_conf(tmp_path):
    (tmp_path / "tmp").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(configs.nginx_conf(tmp_path, 18081, 18082))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "e.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr


def test_proxy_config_is_the_example_on_new_ports_and_builds():
    from proxy.build import build
    from proxy.config.load import load_bytes

    text = configs.proxy_config(20001, 20002, 20003)
    cfg = json.loads(text)
    assert cfg["listeners"][0]["address"] == {"host": "127.0.0.1", "port": 20001}
    assert cfg["clusters"][0]["endpoints"] == [{"host": "127.0.0.1", "port": 20002}]
    assert cfg["admin"]["address"] == {"host": "127.0.0.1", "port": 20003}
    hcm = cfg["listeners"][0]["filter_chains"][0]["filters"][0]["http_connection_manager"]
    assert hcm["codec"] == "AUTO"  # the example's own settings are kept
    built = build(load_bytes(text.encode(), "json"))
    assert [listener.address for listener in built.listeners] == [("127.0.0.1", 20001)]


def test_proxy_config_names_an_example_of_another_shape(tmp_path):
    example = tmp_path / "two.yaml"
    example.write_text("listeners: [{name: a}, {name: b}]\nclusters: []\n")
    with pytest.raises(configs.ConfigShapeError, match="one listener"):
        configs.proxy_config(1, 2, 3, example=example)


def test_profile_summary_self_and_inclusive_shares():
    raw = (
        "main (app.py:1);handle (proxy/a.py:5);parse (h11/x.py:9) 5\n"
        "main (app.py:1);handle (proxy/a.py:6);parse (h11/x.py:12) 1\n"
        "main (app.py:1);handle (proxy/a.py:5) 2\n"
        "main (app.py:1);idle (app.py:3) 2\n"
        "garbage line\n"
    )
    s = profile.summarize(raw, inclusive_only="proxy/")
    assert s.samples == 10
    assert s.self_top[0] == ("parse (h11/x.py)", 0.6)  # lines 9 and 12: one function
    assert dict(s.inclusive_top) == {"handle (proxy/a.py)": 0.8}
    assert "60.0%" in profile.render(s)
    assert profile.summarize("").samples == 0


def _row(target, protocol, rps, errors=0):
    return bench.Row(target, protocol, LoadResult(1000, rps, 1.5, errors))


def test_ratio_needs_error_free_h1_figures_for_both():
    rows = [_row("proxy", "HTTP/1.1", 5000), _row("mitmproxy", "HTTP/1.1", 800), _row("proxy", "HTTP/2", 9999)]
    assert bench.h1_ratio(rows) == pytest.approx(6.25)
    assert bench.h1_ratio(rows[:1]) is None
    assert bench.h1_ratio([_row("proxy", "HTTP/1.1", 5000), _row("mitmproxy", "HTTP/1.1", 800, errors=3)]) is None


def test_table_shows_figures_and_reasons():
    rows = [_row("direct", "HTTP/1.1", 106000), bench.Row("mitmproxy", "HTTP/2", note="no HTTP/2 answer")]
    rows[0].cpu_us = 9.6
    table = bench.render_table(rows).splitlines()
    assert table[2].split() == ["direct", "HTTP/1.1", "106000", "1.50", "1000", "0", "10"]
    assert table[3].split()[:3] == ["mitmproxy", "HTTP/2", "n/a"] and table[3].endswith("no HTTP/2 answer")


def test_missing_tools_are_named_and_the_result_line_still_comes_last(monkeypatch, capsys):
    monkeypatch.setattr(bench, "find_tools", lambda: (None, ["wrk", "mitmdump"]))
    assert bench.main([]) == 2
    out = capsys.readouterr().out.splitlines()
    assert "wrk, mitmdump" in out[0] and "bench-tools.sh" in out[0]
    assert out[-1] == "RESULT proxy_vs_mitmproxy_h1 nan"


@pytest.mark.parametrize("argv", [["--duration", "0"], ["--duration", "500"], ["--connections", "1"]])
def test_bad_arguments_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(argv)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_proc_stat_cpu_counts_user_and_system_ticks_after_an_odd_command_name():
    from fuzz.bench.proxy_load.procs import parse_proc_stat_cpu

    stat = "4242 (py (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 731 45 0 0 20 0 3 0 123 456 789"
    assert parse_proc_stat_cpu(stat) == 731 + 45


def test_cpu_ratio_is_mitmproxy_cpu_per_request_over_the_proxys():
    rows = [_row("proxy", "HTTP/1.1", 3000), _row("mitmproxy", "HTTP/1.1", 900)]
    assert bench.h1_cpu_ratio(rows) is None
    rows[0].cpu_us, rows[1].cpu_us = 300.0, 1200.0
    assert bench.h1_cpu_ratio(rows) == pytest.approx(4.0)


def test_ratio_of_the_worker_row_is_its_own():
    rows = [_row("proxy", "HTTP/1.1", 4000), _row("proxy x2", "HTTP/1.1", 7000), _row("mitmproxy", "HTTP/1.1", 1000)]
    assert bench.h1_ratio(rows) == pytest.approx(4.0)
    assert bench.h1_ratio(rows, "proxy x2") == pytest.approx(7.0)
    assert bench.h1_ratio(rows, "proxy x3") is None


def test_cpu_seconds_counts_live_child_processes():
    """A worker model's CPU is in its children: a parent that only sleeps while its child spins
    must still show that CPU time."""
    import time
    from fuzz.bench.proxy_load.procs import cpu_seconds

    proc = subprocess.Popen(
        ["bash", "-c", "(end=$((SECONDS+5)); while [ $SECONDS -lt $end ]; do :; done) & wait"], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 4.5  # on a busy machine the child may get little of a core
        while cpu_seconds(proc.pid) < 0.3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert cpu_seconds(proc.pid) >= 0.3
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the spinning child too
        proc.wait()
