"""The admin listener out of file descriptors: it pauses accepting quietly and serves again after, as
the data listeners do (a4876f6), with one process and with `--concurrency 2` (whose parent serves it)."""

import os
import resource
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import LOOPBACK, REPO, free_port, recv_all

CONFIG = """\
admin: {{address: {{host: 127.0.0.1, port: {admin}}}}}
listeners:
  - name: tcp_in
    address: {{host: 127.0.0.1, port: {port}}}
    filter_chains:
      - filters:
          - tcp_proxy: {{cluster: echo}}
clusters:
  - name: echo
    endpoints: [{{host: 127.0.0.1, port: 9}}]
"""


@pytest.mark.parametrize("concurrency", [1, 2])
def test_out_of_descriptors_the_admin_pauses_accepting_quietly_and_recovers(tmp_path, concurrency):
    """asyncio's create_server logged a traceback for each failed accept(2), up to its backlog a
    second, while a client held more admin connections than the proxy has descriptors."""
    admin = free_port()
    path = tmp_path / "proxy.yaml"
    path.write_text(CONFIG.format(admin=admin, port=free_port()))
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy", "-c", str(path), "--concurrency", str(concurrency)],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)),
    )
    held = []
    try:
        while not proc.stderr.readline().startswith("proxy: ready"):
            assert proc.poll() is None
        for _ in range(100):  # more than the proxy can hold: the kernel queues the rest
            held.append(socket.create_connection((LOOPBACK, admin), timeout=5))
        time.sleep(1.5)
        for s in held:
            s.close()
        held.clear()
        time.sleep(1.2)  # the pause ends
        answer = b""
        with socket.create_connection((LOOPBACK, admin), timeout=5) as s:
            s.sendall(b"GET /ready HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            try:
                answer = recv_all(s)
            except TimeoutError:
                answer = b"(no answer within 5 s)"
    finally:
        for s in held:
            s.close()
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=10)[1]
    assert answer.startswith(b"HTTP/1.1 200 "), (answer, err[:2000])
    assert "Traceback" not in err, err[:2000]
    assert 1 <= err.count("accept failed ([Errno 24] Too many open files)") <= 4, err[:2000]
