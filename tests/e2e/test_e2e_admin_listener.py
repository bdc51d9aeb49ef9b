"""The admin listener with one process and with `--concurrency 2` (whose parent serves it): out of file
descriptors it pauses accepting quietly and serves again after, as the data listeners do (a4876f6);
a request target no URL parser reads is a 400 in both modes."""

import os
import signal
import socket
import subprocess
import sys

import pytest

from conftest import LOOPBACK, REPO, exhaust_descriptors, free_port, proxy_with_few_descriptors, recv_all

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
    proc = proxy_with_few_descriptors(path, "--concurrency", str(concurrency))
    try:
        exhaust_descriptors((LOOPBACK, admin))
        answer = b""
        with socket.create_connection((LOOPBACK, admin), timeout=5) as s:
            s.sendall(b"GET /ready HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            try:
                answer = recv_all(s)
            except TimeoutError:
                answer = b"(no answer within 5 s)"
    finally:
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=10)[1]
    assert answer.startswith(b"HTTP/1.1 200 "), (answer, err[:2000])
    assert "Traceback" not in err, err[:2000]
    assert 1 <= err.count("accept failed ([Errno 24] Too many open files)") <= 4, err[:2000]


@pytest.mark.parametrize("concurrency", [1, 2])
def test_a_target_no_url_parser_reads_is_a_400_in_both_modes(tmp_path, concurrency):
    """c351be6 made the admin answer 400 to GET http://[::1/; the parent of --concurrency N asked
    urlsplit first to know whether the workers were needed, which raised: 500 and a traceback."""
    admin = free_port()
    path = tmp_path / "proxy.yaml"
    path.write_text(CONFIG.format(admin=admin, port=free_port()))
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy", "-c", str(path), "--concurrency", str(concurrency)],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        stderr=subprocess.PIPE,
        text=True,
    )
    answers = []
    try:
        while not proc.stderr.readline().startswith("proxy: ready"):
            assert proc.poll() is None
        for target in (b"http://[::1/", b"http://admin/stats", b"//x/stats"):
            with socket.create_connection((LOOPBACK, admin), timeout=5) as s:
                s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                answers.append(recv_all(s).split(b"\r\n", 1)[0])
    finally:
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=10)[1]
    assert answers == [b"HTTP/1.1 400 Bad Request", b"HTTP/1.1 200 OK", b"HTTP/1.1 404 Not Found"], err[:2000]
    assert "Traceback" not in err, err[:2000]
