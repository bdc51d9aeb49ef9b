"""Upstreams that stretch HTTP/1.1, through the running proxy (`python -m proxy`) to real clients
(curl over HTTP/1.1 and HTTP/2 prior knowledge). The upstream here answers each request with the
bytes its path names, in one write, and closes when the script says so."""

import shutil
import socket
import socketserver
import subprocess
import threading
import time

import httpx
import pytest

from conftest import LOOPBACK
from tests.e2e.stack import web_config
from tests.e2e.test_e2e_resources import _stats

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")

# path -> (response bytes, close after writing them)
SCRIPTS: dict[bytes, tuple[bytes, bool]] = {
    # RFC 9112 6.3 (8): no Content-Length, not chunked: the body runs to the close (HTTP/1.0 servers, CGI).
    b"/until-close": (b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nbody until the close", True),
    b"/http10": (b"HTTP/1.0 200 OK\r\n\r\nten", True),
    # The close cuts a declared body short: the client must see the response fail, not complete.
    b"/cut": (b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhalf", True),
    # RFC 9110 8.6 / RFC 9112 6.1: a 204 has no body; a length there is the upstream's error and the
    # bytes it would frame (here a whole second response) must not reach the client as anything.
    b"/204-length": (
        b"HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nbad",
        False,
    ),
    b"/204-chunked": (b"HTTP/1.1 204 No Content\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", False),
    b"/204-zero": (b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n", False),
    # An upstream that answers a TLS alert record (it speaks TLS) and keeps the connection open.
    b"/tls-answer": (b"\x15\x03\x03\x00\x02\x02\x46", False),
    # RFC 9110 6.5.1 keeps content-length out of trailers; a recipient may discard such a field.
    b"/trailer-forbidden": (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\ncontent-length: 5\r\nx-sum: 7\r\n\r\n",
        False,
    ),
    # ... whatever its value: in trailers it frames nothing (the codec judged -1 as a framing field).
    b"/trailer-forbidden-malformed": (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\ncontent-length: -1\r\n\r\n",
        False,
    ),
}


class _Upstream(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock, held = self.request, b""
        while True:
            while b"\r\n\r\n" not in held:
                data = sock.recv(65536)
                if not data:
                    return
                held += data
            head, held = held.split(b"\r\n\r\n", 1)
            if head.split(b" ", 2)[1] == b"/endless":
                self._endless(sock)
                return
            answer, close = SCRIPTS.get(
                head.split(b" ", 2)[1], (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", False)
            )
            sock.sendall(answer)
            if close:
                return

    @staticmethod
    def _endless(sock) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % (1 << 40))
        chunk = b"e" * 65536
        try:
            while True:
                sock.sendall(chunk)
        except OSError:
            return


@pytest.fixture
def stack(proxy_process, tmp_path):
    server = _Upstream((LOOPBACK, 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    path = tmp_path / "proxy.yaml"
    path.write_text(web_config(server.server_address[1], hcm="stream_idle_timeout_ms: 500", max_connections=8))
    proc = proxy_process(path)
    proc.wait_ready()
    yield proc
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(stack):
    return stack.listener_address("http_in")


def _curl(flag: str, address, path: str) -> subprocess.CompletedProcess:
    url = f"http://{address[0]}:{address[1]}{path}"
    return subprocess.run(["curl", "-s", "--max-time", "10", flag, url], capture_output=True, timeout=20)


@needs_curl
@pytest.mark.parametrize("flag", ["--http1.1", "--http2-prior-knowledge"])
@pytest.mark.parametrize(("path", "body"), [("/until-close", b"body until the close"), ("/http10", b"ten")])
def test_a_body_that_runs_to_the_upstreams_close_reaches_the_client_complete(proxy, flag, path, body):
    """The proxy read the upstream's close as a reset: HTTP/1.1 clients got a chunked body without its
    last chunk and a close (curl exit 18), HTTP/2 clients RST_STREAM(CANCEL) (curl exit 92)."""
    done = _curl(flag, proxy, path)
    assert (done.returncode, done.stdout) == (0, body)


@needs_curl
@pytest.mark.parametrize("flag", ["--http1.1", "--http2-prior-knowledge"])
def test_a_body_the_close_cuts_short_still_fails_at_the_client(proxy, flag):
    done = _curl(flag, proxy, "/cut")
    assert done.returncode != 0 and b"half".startswith(done.stdout)  # curl may drop DATA read with the reset


def _two_requests(http2: bool, address, first: str) -> list:
    """`first`, then /next on the same connection: (status, headers, body) of each, from httpx
    (HTTP/2 prior knowledge) or curl (HTTP/1.1; curl 7.88 cannot reuse a prior-knowledge connection)."""
    url = f"http://{address[0]}:{address[1]}"
    if http2:
        with httpx.Client(http1=False, http2=True, timeout=10) as client:
            answers = [client.get(url + path) for path in (first, "/next")]
        return [(r.status_code, r.headers, r.content) for r in answers]
    done = subprocess.run(
        ["curl", "-s", "-i", "--max-time", "10", "--http1.1", url + first, url + "/next"],
        capture_output=True,
        timeout=20,
    )
    assert done.returncode == 0, done
    out = []
    for raw in done.stdout.split(b"HTTP/1.1 ")[1:]:
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        fields = {
            n.strip().lower().decode(): v.strip().decode() for n, _, v in (line.partition(b":") for line in lines[1:])
        }
        out.append((int(lines[0].split(b" ")[0]), fields, body))
    return out


@pytest.mark.parametrize("http2", [False, True], ids=["http1", "http2"])
@pytest.mark.parametrize("path", ["/204-length", "/204-chunked"])
def test_a_204_with_a_body_length_is_an_upstream_error_and_the_connection_goes_on(proxy, http2, path):
    """Envoy's strict 1xx/204 rule: a 502/503, not a 204 carrying "content-length: 5" (HTTP/2 clients
    refused the stream; HTTP/1.1 clients were told of a length with no body); the next request on the
    same client connection gets its own answer."""
    if not http2 and shutil.which("curl") is None:
        pytest.skip("curl not installed")
    first, second = _two_requests(http2, proxy, path)
    assert first[0] in (502, 503), first
    assert (second[0], second[2]) == (200, b"ok")


@pytest.mark.parametrize("http2", [False, True], ids=["http1", "http2"])
def test_a_204_reaches_the_client_without_content_length(proxy, http2):
    """RFC 9110 8.6: a server MUST NOT send Content-Length in a 204 (a zero one is dropped)."""
    if not http2 and shutil.which("curl") is None:
        pytest.skip("curl not installed")
    first, second = _two_requests(http2, proxy, "/204-zero")
    assert first[0] == 204 and "content-length" not in first[1], first
    assert (second[0], second[2]) == (200, b"ok")


@pytest.mark.parametrize("http2", [False, True], ids=["http1", "http2"])
def test_an_upstream_answering_in_another_protocol_is_a_503_at_once(proxy, http2):
    """Bytes that cannot start an HTTP/1.1 status line are an upstream protocol error at once (Envoy's
    incremental parser: 503). The proxy waited for a whole head from an upstream that would never
    send one, until the stream idle timeout (here 500 ms: a 408; by default minutes)."""
    if not http2 and shutil.which("curl") is None:
        pytest.skip("curl not installed")
    first, second = _two_requests(http2, proxy, "/tls-answer")
    assert first[0] == 503, first
    assert (second[0], second[2]) == (200, b"ok")


def test_a_client_that_never_reads_loses_its_connection_after_the_stream_times_out(stack):
    """A raw socket asks for an endless body and never reads. The stream idle timeout (500 ms) resets
    the stream; the connection, closing with ~1 MiB still to flush, stayed open for good (Envoy's
    delayed_close_timeout, 1 s by default, bounds that flush). Now it closes and is counted."""
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect(stack.listener_address("http_in"))
    client.sendall(b"GET /endless HTTP/1.1\r\nHost: h\r\n\r\n")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        stats = _stats(stack)
        if stats.get("http.downstream_rq_idle_timeout") and not stats.get("http.downstream_cx_active"):
            break
        time.sleep(0.2)
    client.close()
    assert stats.get("http.downstream_rq_idle_timeout") == 1
    assert (stats.get("http.downstream_cx_active"), stats.get("http.downstream_cx_delayed_close_timeout")) == (0, 1)


@needs_curl
def test_curl_offering_h2c_keeps_its_connection_for_the_next_request(proxy):
    """curl --http2 on http:// sends 'Upgrade: h2c'. The proxy answers in HTTP/1.1 (no upgrade, as
    Envoy without upgrade_configs) and must keep the connection: it closed it after the response,
    without 'connection: close', so curl's second request met a reset and a fresh connect."""
    url = f"http://{proxy[0]}:{proxy[1]}"
    done = subprocess.run(
        ["curl", "-s", "--http2", "--max-time", "10", "-w", " connects=%{num_connects}\n", url + "/a", url + "/b"],
        capture_output=True,
        timeout=20,
    )
    assert done.returncode == 0 and done.stdout == b"ok connects=1\nok connects=0\n", done


@needs_curl
@pytest.mark.parametrize("flag", ["--http1.1", "--http2-prior-knowledge"])
@pytest.mark.parametrize("path", ["/trailer-forbidden", "/trailer-forbidden-malformed"])
def test_a_forbidden_trailer_field_from_the_upstream_is_dropped_not_the_response(proxy, flag, path):
    """An upstream put content-length in its trailers. The proxy refused the whole response: an
    HTTP/1.1 client got a head and a close (curl exit 18), an HTTP/2 client RST_STREAM (exit 92), and
    "hello" never arrived. Envoy delivers it (its HTTP/1 codec drops trailers by default); now the
    field alone is dropped (RFC 9110 6.5.1: a recipient may discard trailer fields)."""
    done = _curl(flag, proxy, path)
    assert (done.returncode, done.stdout) == (0, b"hello"), done


def test_the_other_trailer_fields_still_reach_an_http1_client(proxy):
    with socket.create_connection(proxy, timeout=10) as s:
        s.sendall(b"GET /trailer-forbidden HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.endswith(b"\r\n5\r\nhello\r\n0\r\nx-sum: 7\r\n\r\n"), answer
