"""The access log of the running proxy (`python -m proxy`, access_log to a file) against what a raw
client read: the status a record carries is the one that went downstream."""

import json
import re
import signal
import socket
import socketserver
import threading
import time

import httpx
import pytest

from conftest import LOOPBACK, connect, recv_all
from tests.e2e.stack import access_log_records, web_config
from tests.e2e.test_e2e_resources import _Upstream


class _HalfABody(socketserver.BaseRequestHandler):
    """Answers a 200 head and 4 of its 100 bytes, then closes: the proxy must reset the stream."""

    def handle(self) -> None:
        held = b""
        while b"\r\n\r\n" not in held:
            data = self.request.recv(65536)
            if not data:
                return
            held += data
        self.request.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhalf")


@pytest.fixture
def logged(proxy_process, tmp_path):
    server = _Upstream((LOOPBACK, 0), _HalfABody)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log = tmp_path / "access.log"
    path = tmp_path / "proxy.yaml"
    path.write_text(web_config(server.server_address[1], hcm=f"access_log: {{path: {log}}}"))
    proc = proxy_process(path)
    proc.wait_ready()
    yield proc.listener_address("http_in"), log
    server.shutdown()
    server.server_close()


def test_a_stream_reset_after_its_head_is_logged_with_the_status_the_client_read(logged):
    """The record said status 0 ("no response was sent") for a 200 head the client had read and that
    http.downstream_rq_200 counted; Envoy's %RESPONSE_CODE% is the status sent downstream."""
    address, log = logged
    with connect(address) as s:
        s.sendall(b"GET /cut HTTP/1.1\r\nHost: h\r\n\r\n")
        try:
            got = recv_all(s)
        except socket.timeout:
            got = b""
    assert got.startswith(b"HTTP/1.1 200 OK\r\n") and got.endswith(b"half")
    (record,) = access_log_records(log, 1)
    attrs = record["attributes"]
    assert (attrs["http.response.status_code"], attrs["proxy.stream.end"]) == (200, "reset")
    assert "UC" in attrs["proxy.response_flags"]  # the upstream closed its connection under the response


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),  # CL.TE
        (b"GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505),
    ],
)
def test_a_request_the_codec_refuses_leaves_a_record(logged, request_bytes, status):
    """A smuggling attempt answered 400 by the HTTP/1.1 codec (or a 505) left no access log line at
    all, although http.downstream_rq_400 counted it; Envoy logs such requests with flag DPE."""
    address, log = logged
    with connect(address) as s:
        s.sendall(request_bytes)
        assert recv_all(s).startswith(b"HTTP/1.1 %d " % status)
    (record,) = access_log_records(log, 1)
    attrs = record["attributes"]
    assert (attrs["http.response.status_code"], attrs["proxy.response_flags"]) == (status, "DPE")


def _stdout_logged_direct_responses(tmp_path):
    """A config: listener http_in answers every request 200 "direct\n" itself, logging to stdout."""
    route = {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": "direct\n"}}
    manager = {
        "codec": "AUTO",
        "access_log": {"stdout": True},
        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [route]}]},
    }
    listener = {
        "name": "http_in",
        "address": {"host": LOOPBACK, "port": 0},
        "filter_chains": [{"filters": [{"http_connection_manager": manager}]}],
    }
    path = tmp_path / "proxy.json"
    path.write_text(json.dumps({"listeners": [listener], "admin": {"address": {"host": LOOPBACK, "port": 0}}}))
    return path


def _admin_get(proc, target: str) -> bytes:
    admin = next(line for line in proc.stderr_lines if line.startswith("proxy: admin on "))
    host, port = admin.removeprefix("proxy: admin on ").strip().rsplit(":", 1)
    with connect((host, int(port)), timeout=5) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % target.encode())
        return recv_all(s)


def test_a_log_reader_that_stops_reading_never_stalls_the_proxy(proxy_process, tmp_path):
    """Found live: stdout a pipe nobody drains (here, as in many a supervisor, subprocess'
    stdout=PIPE never read): after about 64 KiB of records the proxy blocked in write(2), and every
    later request timed out, the admin's /ready too. A thread writes the log now; what its bounded
    queue cannot take is dropped and counted (access_log.dropped)."""
    proc = proxy_process(_stdout_logged_direct_responses(tmp_path))
    proc.wait_ready()
    address = proc.listener_address("http_in")
    for i in range(150):  # 150 records of over 2 KB: several times what a pipe holds
        with connect(address, timeout=5) as s:
            s.sendall(b"GET /%d/%s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" % (i, b"p" * 2000))
            assert recv_all(s).endswith(b"\r\n\r\ndirect\n"), i
    assert _admin_get(proc, "/ready").endswith(b"LIVE\n")


def test_a_log_nobody_reads_any_more_loses_records_not_requests(proxy_process, tmp_path):
    """Found live: with the access log on stdout and its reader gone (EPIPE), each record's write
    raised into the connection the stream ended on: a direct response never reached curl (HTTP/1.1
    and HTTP/2), and with an HTTP/2 upstream 54 of 100 requests failed with the shared upstream
    connection. Envoy's file flusher counts filesystem.write_failed and serves on."""
    path = _stdout_logged_direct_responses(tmp_path)
    proc = proxy_process(path)
    proc.wait_ready()
    proc.proc.stdout.close()  # the log's only reader: the proxy's next write gets EPIPE
    address = proc.listener_address("http_in")
    for _ in range(3):
        with connect(address) as s:
            s.sendall(b"GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            assert recv_all(s).endswith(b"\r\n\r\ndirect\n")
    with httpx.Client(http1=False, http2=True, timeout=10) as client:
        answers = [client.get(f"http://{address[0]}:{address[1]}/h2/{i}") for i in range(5)]
    assert [(a.http_version, a.status_code, a.text) for a in answers] == [("HTTP/2", 200, "direct\n")] * 5
    stats = _admin_get(proc, "/stats")
    # Counted as the writer thread reports them, at the next record: all but the last few.
    failed = re.search(rb"filesystem\.write_failed: (\d+)\n", stats)
    assert failed is not None and 1 <= int(failed[1]) <= 8, stats
    assert not any("unhandled error" in line for line in proc.stderr_lines)


@pytest.mark.parametrize("workers", [(), ("--concurrency", "2")])
def test_sigusr1_reopens_the_access_log_as_envoy_does(proxy_process, tmp_path, workers):
    """Found live: SIGUSR1, which logrotate scripts send Envoy to reopen its access logs, killed the
    proxy at once (the default action), requests in flight and all. Now each file log reopens its
    path: the rotated file keeps the earlier records, a new one gets the later."""
    log = tmp_path / "access.log"
    config = json.loads(_stdout_logged_direct_responses(tmp_path).read_text())
    config["listeners"][0]["filter_chains"][0]["filters"][0]["http_connection_manager"]["access_log"] = {
        "path": str(log)
    }
    path = tmp_path / "proxy.json"
    path.write_text(json.dumps(config))
    proc = proxy_process(path, *workers)
    proc.wait_ready()
    address = proc.listener_address("http_in")

    def get(target: bytes) -> None:
        with connect(address) as s:
            s.sendall(b"GET %s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" % target)
            assert recv_all(s).endswith(b"direct\n")

    for i in range(3):
        get(b"/before/%d" % i)
    access_log_records(log, 3)
    log.rename(tmp_path / "access.log.1")
    proc.signal(signal.SIGUSR1)
    time.sleep(0.3)
    assert proc.proc.poll() is None, "killed by SIGUSR1"
    for i in range(2):
        get(b"/after/%d" % i)
    assert sorted(r["attributes"]["url.path"] for r in access_log_records(log, 2)) == ["/after/0", "/after/1"]
    rotated = [
        json.loads(line)["attributes"]["url.path"] for line in (tmp_path / "access.log.1").read_text().splitlines()
    ]
    assert sorted(rotated) == ["/before/0", "/before/1", "/before/2"]


@pytest.mark.parametrize("workers", [(), ("--concurrency", "2")])
def test_an_access_log_file_that_cannot_be_opened_is_a_startup_error_naming_the_field(proxy_process, tmp_path, workers):
    """Found by reading: opened at the first record, a log in a missing directory let the proxy
    serve and log nothing, said only by filesystem.write_failed; Envoy refuses to start."""
    path = tmp_path / "proxy.yaml"
    missing = tmp_path / "no-such-dir" / "access.log"
    path.write_text(web_config(9, hcm=f"access_log: {{path: {missing}}}"))
    proc = proxy_process(path, *workers)
    assert proc.wait() == 1
    err = "".join(proc.stderr_lines)
    assert (
        f"error: listeners[0].filter_chains[0].filters[0].http_connection_manager.access_log.path: "
        f"cannot open '{missing}' for appending: No such file or directory"
    ) in err, err
    assert "proxy: ready" not in err and "Traceback" not in err
