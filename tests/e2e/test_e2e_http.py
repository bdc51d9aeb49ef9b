"""End to end through the real runtime on loopback: `python -m proxy` in front of hypercorn, driven
by curl (HTTP/1.1 and HTTP/2 prior knowledge), httpx (HTTP/2), raw pipelined requests and h2load.
The upstream logs every request it sees; the admin stats must agree with the clients' counts."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[2])
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


CONFIG = """
listeners:
  - name: http_in
    address: {{host: 127.0.0.1, port: {proxy}}}
    filter_chains:
      - filters:
          - http_connection_manager:
              codec: AUTO
              http_filters:
                - header_mutation:
                    request_headers_to_add: {{x-proxied-by: proxyfuzz}}
                    response_headers_to_add: {{x-served-by: proxyfuzz}}
              route_config:
                virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                      - match: {{prefix: "/"}}
                        route: {{cluster: web}}
clusters:
  - name: web
    endpoints: [{{host: 127.0.0.1, port: {upstream}}}]
admin: {{address: {{host: 127.0.0.1, port: {admin}}}}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    ports = {"proxy": free_port(), "upstream": free_port(), "admin": free_port()}
    cfg = tmp / "proxy.yaml"
    cfg.write_text(CONFIG.format(**ports))
    log = tmp / "upstream.log"
    env = dict(os.environ, E2E_UPSTREAM_LOG=str(log), PYTHONPATH=ROOT + os.pathsep + os.path.join(ROOT, "tests"))
    upstream = subprocess.Popen(
        [PY, "-m", "hypercorn", "e2e_upstream_app:app", "--bind", f"127.0.0.1:{ports['upstream']}"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proxy = subprocess.Popen(
        [PY, "-m", "proxy", "-c", str(cfg)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_port(ports["upstream"])
        wait_port(ports["proxy"])
        wait_port(ports["admin"])
        yield dict(ports, log=log, proxy_pid=proxy.pid)
    finally:
        for proc in (proxy, upstream):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def stats(stack) -> dict:
    out = subprocess.run(
        ["curl", "-s", f"http://127.0.0.1:{stack['admin']}/stats?format=json"],
        capture_output=True,
        timeout=10,
        check=True,
    ).stdout
    return {s["name"]: s["value"] for s in json.loads(out)["stats"]}


def curl(*args):
    return subprocess.run(["curl", "-s", "-i", *args], capture_output=True, timeout=20, check=True).stdout


needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")


@needs_curl
@pytest.mark.parametrize(
    "flag, status_line", [("--http1.1", b"HTTP/1.1 200"), ("--http2-prior-knowledge", b"HTTP/2 200")]
)
def test_curl_through_the_proxy(stack, flag, status_line):
    out = curl(flag, f"http://127.0.0.1:{stack['proxy']}/hello")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(status_line), head
    assert b"x-served-by: proxyfuzz" in head.lower()
    assert body == b"hello /hello"


@needs_curl
def test_curl_post_body_reaches_the_upstream(stack):
    out = curl("--http2-prior-knowledge", "--data-binary", "payload", f"http://127.0.0.1:{stack['proxy']}/post")
    assert out.endswith(b"hello /post payload")
    assert "POST /post 1.1 7" in stack["log"].read_text()


def test_httpx_http2(stack):
    import httpx

    with httpx.Client(http1=False, http2=True) as client:
        r = client.get(f"http://127.0.0.1:{stack['proxy']}/x")
    assert (r.http_version, r.status_code, r.text) == ("HTTP/2", 200, "hello /x")
    assert r.headers["x-served-by"] == "proxyfuzz"


def test_pipelined_raw_requests_answered_in_order(stack):
    reqs = b"".join(b"GET /p%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(5))
    with socket.create_connection(("127.0.0.1", stack["proxy"]), timeout=10) as s:
        s.sendall(reqs + b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    bodies = [part.split(b"\r\n\r\n", 1)[1][: len(b"hello /p0")] for part in data.split(b"HTTP/1.1 200")[1:]]
    assert bodies[:5] == [b"hello /p%d" % i for i in range(5)]
    assert data.count(b"HTTP/1.1 200") == 6


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("h2load") is None, reason="h2load not installed")
def test_h2load_zero_errors_and_stats_agree(stack):
    before = stats(stack)
    n = int(os.environ.get("E2E_H2LOAD_REQUESTS", "2000"))  # the full run: 10000
    out = subprocess.run(
        ["h2load", "-n", str(n), "-c", "1", "-m", "100", f"http://127.0.0.1:{stack['proxy']}/load"],
        capture_output=True,
        text=True,
        timeout=240,
    ).stdout
    line = next(text for text in out.splitlines() if text.startswith("requests:"))
    assert f"{n} succeeded, 0 failed, 0 errored" in line, out
    after = stats(stack)
    assert after["http.downstream_rq_2xx"] - before.get("http.downstream_rq_2xx", 0) == n
    assert after["http.downstream_rq_total"] - before.get("http.downstream_rq_total", 0) == n
