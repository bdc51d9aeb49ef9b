"""`python -m fuzz bench proxy [--duration S] [--connections N] [--h2-clients N] [--h2-streams N]
[--concurrency N] [--profile]`: requests/s and p99 latency of this proxy beside nginx direct and
mitmproxy.

In one run, every process on 127.0.0.1, started here and stopped by pid at the end:
- direct:    nginx (Debian's, configured in a temp dir: one process serving a 17-byte body,
             HTTP/1.1 on one port, h2c on another)
- proxy:     `python -m proxy -c` with examples/http.yaml rewritten to free ports, in front of
             that nginx (HTTP/1.1 upstream; HTTP/2 clients are translated): once with one worker
             process, and once more with `--concurrency N` workers (default: one per core, as
             Envoy's default), when N > 1
- mitmproxy: `mitmdump --mode reverse:http://127.0.0.1:NGINX` (from .venv-bench/)
each measured with wrk (HTTP/1.1: -c N -t T -d S --latency) and h2load (HTTP/2 prior knowledge:
-c / -m / -D S, p99 from its per-request log). A target that does not answer one probe request
with 200 and the body is shown as n/a with the reason (mitmproxy does not speak h2c).

--profile then runs the proxy once more under py-spy with the same wrk load and prints where
its time goes (raw samples kept in work/bench/proxy-profile.txt).

Tools: `bash scripts/bench-tools.sh` (wrk, nginx, h2load from Debian; mitmproxy into .venv-bench/,
py-spy into .venv). The CPU time per request counts a process and its live children (the workers).
Both ratios to mitmproxy are printed (one worker, N workers); mitmproxy is one process and cannot
use a second core. Last line: `RESULT proxy_vs_mitmproxy_h1 <proxy h1 req/s / mitmproxy h1 req/s>`
for the proxy as deployed with N workers (the one-worker figure when N = 1).
"""

import argparse
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fuzz.bench.proxy_load import (
    configs as _proxy_configs,
    parse as _proxy_parse,
    procs as _proxy_procs,
    profile as _proxy_profile,
)
from fuzz.bench.proxy_load.parse import LoadResult, ReportError
from fuzz.bench.proxy_load.procs import Services, StartError, free_port, run_tool

REPO = Path(__file__).resolve().parents[3]
BENCH_VENV = REPO / ".venv-bench" / "bin"
INSTALL_HINT = "install them with: bash scripts/bench-tools.sh"


@dataclass(frozen=True)
class Tools:
    wrk: str
    h2load: str
    nginx: str
    mitmdump: str
    py_spy: str | None


@dataclass
class Row:
    target: str
    protocol: str
    result: LoadResult | None = None
    note: str = ""
    cpu_us: float | None = None  # CPU time of the server process (nginx / proxy / mitmdump) per request


def find_tools() -> tuple[Tools | None, list[str]]:
    """The executables, or the names of those missing."""
    found = {
        "wrk": shutil.which("wrk"),
        "h2load": shutil.which("h2load"),
        "nginx": shutil.which("nginx") or _executable("/usr/sbin/nginx"),
        "mitmdump": _executable(BENCH_VENV / "mitmdump") or shutil.which("mitmdump"),
    }
    paths = {name: path for name, path in found.items() if path is not None}
    missing = [name for name in found if name not in paths]
    if missing:
        return None, missing
    py_spy = _executable(Path(sys.executable).parent / "py-spy") or shutil.which("py-spy")
    return Tools(**paths, py_spy=py_spy), []


def _executable(path) -> str | None:
    return str(path) if os.access(path, os.X_OK) else None


def _args(argv):
    p = argparse.ArgumentParser(prog="python -m fuzz bench proxy", description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per measurement (default 10)")
    p.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    p.add_argument("--threads", type=int, default=2, help="wrk and h2load threads (default 2)")
    p.add_argument("--h2-clients", type=int, default=4, help="h2load connections (default 4)")
    p.add_argument("--h2-streams", type=int, default=8, help="h2load concurrent streams per connection (default 8)")
    p.add_argument(
        "--concurrency",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes for the proxy's second run (default: one per core)",
    )
    p.add_argument("--profile", action="store_true", help="then profile the proxy under wrk load with py-spy")
    args = p.parse_args(argv)
    for name in ("duration", "connections", "threads", "h2_clients", "h2_streams", "concurrency"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.duration > 120:
        p.error("--duration is at most 120 s (the machine is shared)")
    if args.connections < args.threads or args.h2_clients < args.threads:
        p.error("--connections and --h2-clients must be at least --threads")
    return args


# ------------------------------------------------------------------------------------ measuring
def _probe_h1(port: int) -> str | None:
    """None when GET / answers 200 with nginx's body, else what went wrong."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/")
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace")
        conn.close()
    except (OSError, http.client.HTTPException) as exc:
        return f"probe failed: {exc}"
    if resp.status != 200 or body != _proxy_configs.BODY:
        return f"probe got {resp.status} {body[:40]!r}"
    return None


def _probe_h2(tools: Tools, port: int, workdir: Path) -> str | None:
    try:
        out = run_tool([tools.h2load, "-n", "1", "-c", "1", f"http://127.0.0.1:{port}/"], 10, workdir)
        result = _proxy_parse.parse_h2load(out)
    except (StartError, ReportError) as exc:
        return f"h2c probe failed: {str(exc).splitlines()[0]}"
    if result.requests != 1 or result.errors:
        return "no HTTP/2 (prior knowledge) answer"
    return None


def _wrk(tools: Tools, args, port: int, workdir: Path) -> LoadResult:
    out = run_tool(
        [
            tools.wrk,
            f"-c{args.connections}",
            f"-t{args.threads}",
            f"-d{args.duration}s",
            "--latency",
            f"http://127.0.0.1:{port}/",
        ],
        args.duration + 30,
        workdir,
    )
    return _proxy_parse.parse_wrk(out)


def _h2load(tools: Tools, args, port: int, workdir: Path) -> LoadResult:
    log = workdir / f"h2load-{port}.tsv"
    out = run_tool(
        [
            tools.h2load,
            "-c",
            str(args.h2_clients),
            "-m",
            str(args.h2_streams),
            "-t",
            str(args.threads),
            "-D",
            str(args.duration),
            "--warm-up-time",
            "1",
            "--log-file",
            str(log),
            f"http://127.0.0.1:{port}/",
        ],
        args.duration + 30,
        workdir,
    )
    latencies = _proxy_parse.parse_h2load_log(log.read_text()) if log.exists() else None
    log.unlink(missing_ok=True)
    return _proxy_parse.parse_h2load(out, latencies)


def _measure(
    target: str, tools: Tools, args, workdir: Path, server: _proxy_procs.Service, h1_port: int, h2_port: int
) -> list[Row]:
    """Both protocols against one server; its CPU time per request is the figure that varies
    least on a shared machine (req/s also moves with what else runs)."""
    rows = []
    for protocol, port in (("HTTP/1.1", h1_port), ("HTTP/2", h2_port)):
        row = Row(target, protocol)
        problem = _probe_h1(port) if protocol == "HTTP/1.1" else _probe_h2(tools, port, workdir)
        if problem:
            row.note = problem
        else:
            cpu_before = server.cpu_seconds()
            try:
                row.result = (_wrk if protocol == "HTTP/1.1" else _h2load)(tools, args, port, workdir)
            except (StartError, ReportError) as exc:
                row.note = str(exc).splitlines()[0]
            cpu_after = server.cpu_seconds()
            if row.result is not None and row.result.requests and cpu_before is not None and cpu_after is not None:
                row.cpu_us = (cpu_after - cpu_before) / row.result.requests * 1e6
        print(
            f"  {target:10} {protocol:8} " + (f"{row.result.rps:10.0f} req/s" if row.result else row.note), flush=True
        )
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------ services
def _start_nginx(svc: Services, tools: Tools, workdir: Path) -> tuple[_proxy_procs.Service, int, int]:
    (workdir / "tmp").mkdir()
    h1, h2 = free_port(), free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(_proxy_configs.nginx_conf(workdir, h1, h2))
    nginx = svc.start(
        "nginx", [tools.nginx, "-p", str(workdir), "-e", str(workdir / "nginx-error.log"), "-c", str(conf)], [h1, h2]
    )
    return nginx, h1, h2


def _proxy_argv(workdir: Path, upstream: int, concurrency: int = 1) -> tuple[list[str], int]:
    port = free_port()
    cfg = workdir / f"proxy-{port}.json"
    cfg.write_text(_proxy_configs.proxy_config(port, upstream, free_port()))
    workers = ["--concurrency", str(concurrency)] if concurrency > 1 else []
    return [sys.executable, "-m", "proxy", "-c", str(cfg), *workers], port


def _proxy_name(workers: int) -> str:
    return "proxy" if workers == 1 else f"proxy x{workers}"


def _proxy_env() -> dict:
    return dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")


def _start_mitmdump(svc: Services, tools: Tools, workdir: Path, upstream: int) -> tuple[_proxy_procs.Service, int]:
    port = free_port()
    mitm = svc.start(
        "mitmdump",
        [
            tools.mitmdump,
            "--mode",
            f"reverse:http://127.0.0.1:{upstream}",
            "--listen-host",
            "127.0.0.1",
            "-p",
            str(port),
            "-q",
            "--set",
            f"confdir={workdir / 'mitmproxy'}",
        ],
        [port],
        timeout_s=30,
    )
    return mitm, port


def _profile(svc: Services, tools: Tools, args, workdir: Path, upstream: int) -> str:
    """The proxy under py-spy for the wrk run; the summary text (raw kept under work/bench)."""
    if tools.py_spy is None:
        return f"profile: py-spy is not installed ({INSTALL_HINT})"
    argv, port = _proxy_argv(workdir, upstream)
    raw = workdir / "proxy-profile.txt"
    service = svc.start(
        "proxy-profiled",
        [tools.py_spy, "record", "-r", "250", "-f", "raw", "-o", str(raw), "-d", str(args.duration + 3), "--", *argv],
        [port],
        env=_proxy_env(),
    )
    result = _wrk(tools, args, port, workdir)
    try:
        service.proc.wait(30)  # py-spy stops sampling after -d, writes the file and ends the proxy
    except subprocess.TimeoutExpired:
        pass
    finally:
        svc.stop(service)
    if not raw.exists():
        return f"profile: py-spy wrote nothing; its log:\n{service.log.read_text(errors='replace')[-800:]}"
    keep = REPO / "work" / "bench" / "proxy-profile.txt"
    keep.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(raw, keep)
    summary = _proxy_profile.summarize(raw.read_text(), top=25, root_prefix=str(REPO) + "/", inclusive_only="proxy/")
    return (
        f"profiled proxy HTTP/1.1: {result.rps:.0f} req/s under py-spy (raw: {keep.relative_to(REPO)})\n"
        + _proxy_profile.render(summary)
    )


# ------------------------------------------------------------------------------------ report
def render_table(rows: list[Row]) -> str:
    lines = [
        f"{'target':<10} {'protocol':<8} {'req/s':>10} {'p99 ms':>8} {'requests':>9} {'errors':>7} "
        f"{'cpu us/req':>10}  note",
        "-" * 81,
    ]
    for r in rows:
        if r.result is None:
            lines.append(f"{r.target:<10} {r.protocol:<8} {'n/a':>10} {'':>8} {'':>9} {'':>7} {'':>10}  {r.note}")
            continue
        p99 = f"{r.result.p99_ms:.2f}" if r.result.p99_ms is not None else "-"
        cpu = f"{r.cpu_us:.0f}" if r.cpu_us is not None else "-"
        lines.append(
            f"{r.target:<10} {r.protocol:<8} {r.result.rps:>10.0f} {p99:>8} {r.result.requests:>9} "
            f"{r.result.errors:>7} {cpu:>10}  {r.note}".rstrip()
        )
    return "\n".join(lines)


def h1_ratio(rows: list[Row], proxy: str = "proxy") -> float | None:
    """`proxy`'s HTTP/1.1 req/s over mitmproxy's; None unless both were measured without errors."""
    rps = {
        r.target: r.result.rps
        for r in rows
        if r.protocol == "HTTP/1.1" and r.result is not None and r.result.errors == 0
    }
    if proxy not in rps or not rps.get("mitmproxy"):
        return None
    return rps[proxy] / rps["mitmproxy"]


def h1_cpu_ratio(rows: list[Row]) -> float | None:
    """mitmproxy's CPU time per HTTP/1.1 request over the proxy's (steadier than req/s when other
    work shares the machine); None unless both were measured."""
    cpu = {r.target: r.cpu_us for r in rows if r.protocol == "HTTP/1.1" and r.cpu_us}
    if "proxy" not in cpu or "mitmproxy" not in cpu:
        return None
    return cpu["mitmproxy"] / cpu["proxy"]


def main(argv: list[str]) -> int:
    args = _args(argv)
    tools, missing = find_tools()
    if tools is None:
        print(f"error: missing {', '.join(missing)}; {INSTALL_HINT}")
        print("RESULT proxy_vs_mitmproxy_h1 nan")
        return 2
    rows: list[Row] = []
    profile_text = ""
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp:
        workdir = Path(tmp)
        try:
            with Services(workdir) as svc:
                nginx, nginx_h1, nginx_h2 = _start_nginx(svc, tools, workdir)
                print(
                    f"nginx on 127.0.0.1:{nginx_h1} (HTTP/1.1) and :{nginx_h2} (h2c); {args.duration} s per run",
                    flush=True,
                )
                rows += _measure("direct", tools, args, workdir, nginx, nginx_h1, nginx_h2)

                for workers in sorted({1, args.concurrency}):
                    argv_, port = _proxy_argv(workdir, nginx_h1, workers)
                    proxy = svc.start(_proxy_name(workers), argv_, [port], env=_proxy_env())
                    rows += _measure(_proxy_name(workers), tools, args, workdir, proxy, port, port)
                    svc.stop(proxy)

                mitm, mitm_port = _start_mitmdump(svc, tools, workdir, nginx_h1)
                rows += _measure("mitmproxy", tools, args, workdir, mitm, mitm_port, mitm_port)

                if args.profile:
                    profile_text = _profile(svc, tools, args, workdir, nginx_h1)
        except (StartError, _proxy_configs.ConfigShapeError) as exc:
            print(f"error: {exc}")
            print("RESULT proxy_vs_mitmproxy_h1 nan")
            return 1
    print()
    print(render_table(rows))
    print(
        f"wrk -c{args.connections} -t{args.threads} -d{args.duration}s --latency; "
        f"h2load -c{args.h2_clients} -m{args.h2_streams} -t{args.threads} -D {args.duration} --warm-up-time 1"
    )
    cpu_ratio = h1_cpu_ratio(rows)
    if cpu_ratio is not None:
        print(f"HTTP/1.1 CPU time per request: mitmproxy / proxy = {cpu_ratio:.2f}")
    if profile_text:
        print()
        print(profile_text)
    single = h1_ratio(rows)
    ratio = h1_ratio(rows, _proxy_name(args.concurrency))
    if single is not None and ratio is not None and args.concurrency > 1:
        print(
            f"HTTP/1.1 req/s over mitmproxy's: one worker {single:.2f}x, "
            f"{args.concurrency} workers {ratio:.2f}x (the RESULT below)"
        )
    if ratio is None:
        print("error: no error-free HTTP/1.1 figures for both the proxy and mitmproxy")
        print("RESULT proxy_vs_mitmproxy_h1 nan")
        return 1
    print(f"RESULT proxy_vs_mitmproxy_h1 {ratio:.2f}")
    return 0
