"""`python -m proxy -c FILE --concurrency 2` on 127.0.0.1, in front of a stdlib HTTP upstream: the
load is shared by both workers, the parent's admin sums their stats, signals and deaths of either
side leave no process behind."""

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import LOOPBACK, REPO, connect, free_port, proxy_config


class _Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path.startswith("/slow/"):  # /slow/S: answer after S seconds (a request in flight)
            time.sleep(float(self.path.split("/")[2]))
        body = b"hello " + self.path.encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer((LOOPBACK, 0), _Hello)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _config(upstream_port: int, http_filters=(), **manager) -> str:
    listener = {
        "name": "http_in",
        "address": {"host": LOOPBACK, "port": 0},
        "filter_chains": [
            {
                "filters": [
                    {
                        "http_connection_manager": {
                            "http_filters": list(http_filters),
                            **manager,
                            "route_config": {
                                "virtual_hosts": [
                                    {
                                        "name": "all",
                                        "domains": ["*"],
                                        "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "web"}}],
                                    }
                                ]
                            },
                        }
                    }
                ]
            }
        ],
    }
    cluster = {"name": "web", "endpoints": [{"host": LOOPBACK, "port": upstream_port}]}
    cfg = json.loads(proxy_config([listener], [cluster]))
    cfg["admin"] = {"address": {"host": LOOPBACK, "port": free_port()}}
    return json.dumps(cfg)


@pytest.fixture
def workers(tmp_path, upstream, proxy_process):
    """A started `--concurrency 2` proxy, with .admin (host, port) and .pids (the workers')."""
    proxy = _start_workers(tmp_path, proxy_process, _config(upstream))
    yield proxy
    if proxy.proc.poll() is None:  # a graceful stop: the workers hold the stderr pipe too
        proxy.signal(signal.SIGTERM)
        proxy.wait()
    _wait_gone(proxy.pids)


def _start_workers(tmp_path, proxy_process, config: str):
    path = tmp_path / "proxy.json"
    path.write_text(config)
    proxy = proxy_process(path, "--concurrency", "2")
    proxy.wait_ready()
    proxy.admin = (LOOPBACK, json.loads(path.read_text())["admin"]["address"]["port"])
    proxy.pids = [
        int(m[1]) for m in (re.match(r"proxy: worker \d+ pid (\d+)$", line) for line in proxy.stderr_lines) if m
    ]
    assert len(proxy.pids) == 2
    return proxy


def _get(address, target: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(*address, timeout=10)
    try:
        conn.request("GET", target)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _stats(proxy) -> dict:
    status, body = _get(proxy.admin, "/stats?format=json")
    assert status == 200, body
    return {s["name"]: s["value"] for s in json.loads(body)["stats"]}


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie waiting for a reaper that is not us."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _wait_gone(pids, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(_gone(pid) for pid in pids):
        assert time.monotonic() < deadline, f"still running: {[p for p in pids if not _gone(p)]}"
        time.sleep(0.02)


def _wait_for(proxy, prefixes, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(any(line.startswith(p) for line in proxy.stderr_lines) for p in prefixes):
        assert time.monotonic() < deadline, "".join(proxy.stderr_lines)
        time.sleep(0.01)


def test_both_workers_serve_and_the_admin_sums_their_stats(workers):
    n = 200
    address = workers.listener_address("http_in")
    with ThreadPoolExecutor(8) as pool:  # separate connections, several at a time
        answers = list(pool.map(lambda i: _get(address, f"/r{i}"), range(n)))
    assert answers == [(200, b"hello /r%d" % i) for i in range(n)]

    stats = _stats(workers)
    assert stats["http.downstream_rq_total"] == n
    assert stats["http.downstream_rq_2xx"] == n
    assert stats["listener.http_in.downstream_cx_total"] == n
    per_worker = [stats[f"listener.http_in.worker_{i}.downstream_cx_total"] for i in (0, 1)]
    assert sum(per_worker) == n and min(per_worker) > 0, per_worker
    assert stats["server.concurrency"] == 2
    assert stats["http.downstream_rq_active"] == 0

    assert _get(workers.admin, "/ready") == (200, b"LIVE\n")
    status, body = _get(workers.admin, "/clusters?format=json")
    assert status == 200 and json.loads(body)["clusters"][0]["name"] == "web"
    status, body = _get(workers.admin, "/config_dump")
    assert status == 200 and json.loads(body)["clusters"][0]["name"] == "web"
    with connect(workers.admin) as s:  # answers that wait for the workers still come in order
        s.sendall(
            b"GET /stats HTTP/1.1\r\nhost: a\r\n\r\nGET /nope HTTP/1.1\r\nhost: a\r\n\r\n"
            b"GET /ready HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n"
        )
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", out) == [b"200", b"404", b"200"]


def test_the_workers_share_one_rate_limit_bucket(tmp_path, upstream, proxy_process):
    """Envoy's local rate limit: "the token bucket is shared across all workers, thus the rate
    limits are applied per Envoy process". Found live: with a bucket in each worker, two workers
    let 10 requests of a 5-token bucket through (proxy/shared_buckets.py)."""
    limit = {"local_ratelimit": {"max_tokens": 5, "tokens_per_fill": 1, "fill_interval_ms": 86400000}}
    proxy = _start_workers(tmp_path, proxy_process, _config(upstream, [limit]))
    try:
        address = proxy.listener_address("http_in")
        with ThreadPoolExecutor(8) as pool:  # separate connections: both workers take some
            statuses = [status for status, _ in pool.map(lambda i: _get(address, f"/r{i}"), range(60))]
        stats = _stats(proxy)
        per_worker = [stats[f"listener.http_in.worker_{i}.downstream_cx_total"] for i in (0, 1)]
        assert min(per_worker) >= 5, per_worker  # each worker alone could have emptied a bucket
        assert (statuses.count(200), statuses.count(429)) == (5, 55)
        assert (stats["http.local_ratelimit.allowed"], stats["http.local_ratelimit.rate_limited"]) == (5, 55)
    finally:
        proxy.signal(signal.SIGTERM)
        assert proxy.wait() == 0
        _wait_gone(proxy.pids)


def test_the_access_log_lines_of_two_workers_never_interleave(tmp_path, upstream, proxy_process):
    """Found live: with stdout a pipe, records of both workers longer than PIPE_BUF (4 KiB) were torn
    into each other (31 of 320 lines were no JSON); the workers now write one line at a time."""
    proxy = _start_workers(tmp_path, proxy_process, _config(upstream, access_log={"stdout": True}))
    lines: list[str] = []

    def slow_reader():  # the pipe fills, so writers block in the middle of a line
        for line in proxy.proc.stdout:
            lines.append(line)
            time.sleep(0.001)

    reader = threading.Thread(target=slow_reader, daemon=True)
    reader.start()
    paths = ["/" + chr(97 + i % 26) * 20000 for i in range(160)]
    try:
        with ThreadPoolExecutor(8) as pool:
            assert [status for status, _ in pool.map(lambda p: _get(proxy.listener_address("http_in"), p), paths)] == [
                200
            ] * len(paths)
    finally:
        proxy.signal(signal.SIGTERM)
        assert proxy.wait() == 0, "".join(proxy.stderr_lines)
        _wait_gone(proxy.pids)
        reader.join(10)
    logged = sorted(json.loads(line)["attributes"]["url.path"] for line in lines)
    assert logged == sorted(paths)


def test_a_stopped_worker_makes_the_admin_answer_503_naming_it_not_hang(workers):
    os.kill(workers.pids[1], signal.SIGSTOP)
    try:
        started = time.monotonic()
        status, body = _get(workers.admin, "/stats")
        assert status == 503 and f"worker 1 (pid {workers.pids[1]}) did not answer".encode() in body
        assert time.monotonic() - started < 5
        assert _get(workers.admin, "/config_dump")[0] == 200  # needs no worker
    finally:
        os.kill(workers.pids[1], signal.SIGCONT)
    assert _get(workers.admin, "/stats")[0] == 200


def test_sigterm_stops_every_worker_and_exits_0(workers):
    address = workers.listener_address("http_in")
    assert _get(address, "/")[0] == 200
    workers.signal(signal.SIGTERM)
    assert workers.wait() == 0
    err = "".join(workers.stderr_lines)
    assert "proxy: worker 0: stopped" in err and "proxy: worker 1: stopped" in err
    assert "proxy: stopped\n" in err and "Traceback" not in err and "drain timeout" not in err
    _wait_gone(workers.pids, timeout=1)
    with pytest.raises(ConnectionRefusedError):
        connect(address, timeout=2).close()


def _keep_alive_get(conn: http.client.HTTPConnection, target: str) -> tuple[int, bytes]:
    conn.request("GET", target)
    response = conn.getresponse()
    return response.status, response.read()


def test_a_sigterm_to_the_whole_process_group_drains_once(workers):
    conn = http.client.HTTPConnection(*workers.listener_address("http_in"), timeout=10)
    try:
        assert _keep_alive_get(conn, "/a") == (200, b"hello /a")
        with ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(_keep_alive_get, conn, "/slow/1.5")  # holds its worker's drain
            time.sleep(0.3)
            # As `kill -TERM -PGID` would, in the order that lets no two SIGTERMs to a worker merge.
            for pid in workers.pids:
                os.kill(pid, signal.SIGTERM)
            _wait_for(workers, ["proxy: worker 0: draining", "proxy: worker 1: draining"])
            workers.signal(signal.SIGTERM)
            _wait_for(workers, ["proxy: stopping"])
            time.sleep(0.3)  # the parent's forwarded SIGTERM has arrived too: it must not end the drain
            assert workers.proc.poll() is None
            assert in_flight.result(timeout=10) == (200, b"hello /slow/1.5")
    finally:
        conn.close()
    assert workers.wait() == 0
    assert "drain" not in "".join(workers.stderr_lines).replace("draining", "")


def test_a_second_signal_to_the_parent_ends_the_drain(workers):
    with connect(workers.listener_address("http_in")) as s:
        s.sendall(b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n")
        response = b""
        while not response.endswith(b"hello /a"):
            response += s.recv(65536)
        # A request in flight holds the drain (an idle keep-alive connection would not).
        s.sendall(b"GET /slow/5 HTTP/1.1\r\nhost: x\r\n\r\n")
        time.sleep(0.3)
        workers.signal(signal.SIGTERM)
        _wait_for(workers, ["proxy: stopping"])
        workers.signal(signal.SIGINT)
        assert s.recv(65536) == b""  # closed by the proxy, not by us
    assert workers.wait() == 0
    assert "drain ended early: closing 1 open downstream connections" in "".join(workers.stderr_lines)


def test_sigkill_of_the_parent_takes_the_workers_down(workers):
    workers.proc.kill()
    workers.proc.wait(10)
    _wait_gone(workers.pids)


def test_a_worker_that_dies_stops_the_proxy_with_an_error(workers):
    os.kill(workers.pids[1], signal.SIGKILL)
    assert workers.wait() == 1
    err = "".join(workers.stderr_lines)
    assert f"worker 1 (pid {workers.pids[1]}) was killed by SIGKILL; stopping the other workers" in err
    assert "proxy: worker 0: stopped" in err and "Traceback" not in err
    _wait_gone(workers.pids, timeout=1)


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_bad_concurrency_is_a_usage_error(tmp_path, value):
    path = tmp_path / "proxy.json"
    path.write_text(_config(free_port()))
    done = subprocess.run(
        [sys.executable, "-m", "proxy", "-c", str(path), "--concurrency", value],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert f"argument --concurrency: must be a positive integer, not '{value}'" in done.stderr
    assert "Traceback" not in done.stderr
