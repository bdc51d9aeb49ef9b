"""Shared fixtures for tests on real sockets (127.0.0.1 only).

  free_port()                     a port nobody listens on right now
  run_async(coro, timeout=30)     run a coroutine on a fresh loop, bounded
  LoopThread                      an asyncio loop on a thread; .call(fn) / .run(coro) from the test
  echo_upstream (fixture)         an EchoServer on its own thread: .port and its counters
  proxy_config(...)               a Bootstrap-shaped dict -> JSON text (YAML is a superset)
  start_proxy (fixture)           start_proxy(config_text) -> ProxyThread: a Server on a thread
  ProxyProcess                    `python -m proxy -c FILE` in a subprocess, waited for "ready"
  (autouse) the test PKI          made once per run where examples and fuzzing expect it
                                  (fuzz/test_pki.py: no private key is committed)
  (autouse) fresh memos           each test judges with the code it runs (fuzz/memo.py)

Everything started here is stopped by the fixture's teardown, also when a test fails.
"""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


@pytest.fixture(scope="session", autouse=True)
def test_pki():
    """examples/*.yaml and generated configurations name the test PKI's files."""
    from fuzz.test_pki import ensure

    return ensure()


@pytest.fixture(autouse=True)
def fresh_memos():
    """A defect planted by one test (monkeypatch) must not meet verdicts another test's clean run
    left in a harness's Memo (fuzz/memo.py). Here, not in tests/fuzz/conftest.py: a second
    conftest module would shadow this one for tests that import helpers from `conftest`."""
    from fuzz.memo import forget_all

    forget_all()
    yield
    forget_all()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the OS may hand it out again later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def run_async(coro, timeout: float = 30.0):
    """Run `coro` to completion on a new event loop; fail the test after `timeout` seconds."""

    async def bounded():
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


class LoopThread:
    """An event loop running on a daemon thread, driven from the (blocking) test."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn, timeout: float = 10.0):
        """Call fn() on the loop's thread (the proxy core is single-threaded) and return its value."""

        async def call():
            return fn()

        return self.run(call(), timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()


class EchoThread:
    """proxy.tools.echo.EchoServer on its own loop thread."""

    def __init__(self, rate: int = 0) -> None:
        from proxy.tools.echo import EchoServer

        self.lt = LoopThread("echo")
        self.server = EchoServer(LOOPBACK, 0, rate)
        self.host, self.port = self.lt.run(self.server.start())

    def counters(self) -> dict:
        s = self.server
        return self.lt.call(
            lambda: {
                "connections_total": s.connections_total,
                "bytes_received": s.bytes_received,
                "connections_active": s.connections_active,
                "eofs_received": s.eofs_received,
            }
        )

    def stop(self) -> None:
        self.lt.run(self.server.stop())
        self.lt.close()


@pytest.fixture
def echo_upstream():
    echo = EchoThread()
    yield echo
    echo.stop()


def proxy_config(listeners, clusters=(), admin=False) -> str:
    """JSON text for a Bootstrap; listeners/clusters are lists of dicts in the YAML's shape."""
    cfg = {"listeners": list(listeners), "clusters": list(clusters)}
    if admin:
        cfg["admin"] = {"address": {"host": LOOPBACK, "port": 0}}
    return json.dumps(cfg)


def tcp_proxy_config(
    upstream_port: int,
    *,
    filters=(),
    tcp_proxy=None,
    buffer_limit=None,
    cluster_buffer_limit=None,
    admin=False,
    listener_port: int = 0,
) -> str:
    """One listener `tcp_in` (extra `filters` first, then tcp_proxy) to the cluster `echo`."""
    listener = {
        "name": "tcp_in",
        "address": {"host": LOOPBACK, "port": listener_port},
        "filter_chains": [{"filters": list(filters) + [{"tcp_proxy": {"cluster": "echo", **(tcp_proxy or {})}}]}],
    }
    if buffer_limit is not None:
        listener["per_connection_buffer_limit_bytes"] = buffer_limit
    cluster = {"name": "echo", "endpoints": [{"host": LOOPBACK, "port": upstream_port}], "connect_timeout_ms": 2000}
    if cluster_buffer_limit is not None:
        cluster["per_connection_buffer_limit_bytes"] = cluster_buffer_limit
    return proxy_config([listener], [cluster], admin=admin)


def load_config(text: str):
    from proxy.config.load import load_bytes

    return load_bytes(text.encode(), "json" if text.lstrip().startswith("{") else "yaml")


class ProxyThread:
    """proxy.server.Server for one configuration, on its own loop thread."""

    def __init__(self, config_text: str, drain_timeout_s: float = 5.0) -> None:
        from proxy.build import build
        from proxy.server import Server

        self.server = Server(build(load_config(config_text)), drain_timeout_s=drain_timeout_s)
        self.lt = LoopThread("proxy")
        try:
            self.addresses = self.lt.run(self.server.start())
        except BaseException:
            self.lt.close()
            raise
        self.admin_address = self.server.admin_address

    def address(self, name: str = "tcp_in") -> tuple:
        return self.addresses[name]

    def call(self, fn):
        return self.lt.call(fn)

    def stats(self) -> dict:
        return self.call(lambda: self.server.ctx.stats.snapshot())

    def stop(self) -> None:
        if self.lt.thread.is_alive():
            try:
                self.lt.run(self.server.stop(drain_timeout_s=2.0))
            finally:
                self.lt.close()


@pytest.fixture
def start_proxy():
    started = []

    def start(config_text: str, **kw) -> ProxyThread:
        proxy = ProxyThread(config_text, **kw)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


class ProxyProcess:
    """`python -m proxy -c FILE` in a subprocess; started() waits for its "proxy: ready" line."""

    def __init__(self, config_path, *args) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "proxy", "-c", str(config_path), *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr_lines: list[str] = []
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        self._ready = threading.Event()

    def _read_stderr(self) -> None:
        try:
            for line in self.proc.stderr:
                self.stderr_lines.append(line)
                if line.startswith("proxy: ready"):
                    self._ready.set()
        except ValueError:  # kill() closed the pipe while a process the proxy started still held it
            pass

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self._reader.join(2)
                raise AssertionError(f"proxy did not start (exit {self.proc.poll()}):\n" + "".join(self.stderr_lines))

    def listener_address(self, name: str) -> tuple:
        prefix = f"proxy: listener {name} on "
        for line in self.stderr_lines:
            if line.startswith(prefix):
                host, port = line[len(prefix) :].strip().rsplit(":", 1)
                return host, int(port)
        raise KeyError(name)

    def signal(self, sig=signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 20.0) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(5)  # the rest of stderr read before the pipe is closed under the reader
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except Exception:
                    pass


@pytest.fixture
def proxy_process():
    started = []

    def start(config_path, *args) -> ProxyProcess:
        p = ProxyProcess(config_path, *args)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


def proxy_with_few_descriptors(config_path, *args) -> subprocess.Popen:
    """`python -m proxy -c FILE ARGS` with RLIMIT_NOFILE 64 and stderr piped, already "proxy: ready"."""
    import resource

    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy", "-c", str(config_path), *args],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)),
    )
    try:
        while not proc.stderr.readline().startswith("proxy: ready"):
            assert proc.poll() is None, "the proxy exited before it was ready"
    except BaseException:
        proc.kill()
        proc.communicate(timeout=10)
        raise
    return proc


def exhaust_descriptors(address, count: int = 100) -> None:
    """Hold more connections to `address` than a proxy of proxy_with_few_descriptors can accept (the
    kernel queues the rest), let it fail accepts for a while, close them, and wait out its pause."""
    held = []
    try:
        for _ in range(count):
            held.append(socket.create_connection(address, timeout=5))
        time.sleep(1.5)
    finally:
        for s in held:
            s.close()
    time.sleep(1.2)  # the pause ends


def connect(address, timeout: float = 10.0) -> socket.socket:
    s = socket.create_connection(address, timeout=timeout)
    s.settimeout(timeout)
    return s


def recv_all(sock: socket.socket, limit: int = 1 << 30) -> bytes:
    """Read until the peer's end of stream (or a reset), at most `limit` bytes."""
    out = bytearray()
    while len(out) < limit:
        try:
            data = sock.recv(1 << 16)
        except ConnectionResetError:
            break
        if not data:
            break
        out += data
    return bytes(out)


@pytest.fixture
def skip_on_new_connection_after_resume(monkeypatch):
    """Plants the bug of bench/bugs/filter-new-connection-skipped-on-resume: filters first reached
    by continue_reading are marked initialized without on_new_connection."""
    from proxy.network.filter_manager import FilterManager

    original = FilterManager.continue_reading

    def skips_new_on_resume(self, start, injected):
        if start:
            for active in self.read_filters[start:]:
                active.initialized = True
        return original(self, start, injected)

    def plant():
        monkeypatch.setattr(FilterManager, "continue_reading", skips_new_on_resume)

    return plant
