"""Each smuggling and HTTP/2 attack class of ANCHORS.md through the running proxy (python -m proxy
in front of a hypercorn upstream that logs every request): refused with the right status or a
GOAWAY(ENHANCE_YOUR_CALM), nothing reaches the upstream, and the proxy's memory stays bounded."""

import socket

import h2.config
import h2.connection
import pytest
from hyperframe.frame import ContinuationFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame, SettingsFrame

from fuzz.payloads import SMUGGLING
from test_e2e_http import stack  # noqa: F401  (the module-scoped proxy + upstream fixture)

ENHANCE_YOUR_CALM = 0xB
REQ = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"example.com")]


def exchange(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send `data`, then read until the proxy closes the connection (or the timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused midway: what it answered is still readable below
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        return out


def upstream_paths(stack) -> list[str]:
    return [line.split()[1] for line in stack["log"].read_text().splitlines()] if stack["log"].exists() else []


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def goaway_code(wire: bytes) -> int | None:
    """The error code of the first GOAWAY in the server's frames (after its SETTINGS)."""
    pos = 0
    while pos + 9 <= len(wire):
        frame, length = Frame.parse_frame_header(memoryview(wire[pos:pos + 9]))
        frame.parse_body(memoryview(wire[pos + 9:pos + 9 + length]))
        if isinstance(frame, GoAwayFrame):
            return frame.error_code
        pos += 9 + length
    return None


def client(path: bytes):
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    c.initiate_connection()
    return c, REQ + [(b":path", path)]


@pytest.mark.parametrize("index", range(len(SMUGGLING)))
def test_smuggling_shape_is_refused_and_never_forwarded(stack, index):  # noqa: F811
    extra, body = SMUGGLING[index]
    path = f"/smuggle-{index}"
    request = b"POST %s HTTP/1.1\r\nHost: example.com\r\n%s\r\n%s" % (path.encode(), extra, body)
    reply = exchange(stack["proxy"], request + b"GET /after-%d HTTP/1.1\r\nHost: example.com\r\n\r\n" % index)
    assert reply.startswith(b"HTTP/1.1 400"), reply[:80]
    assert reply.count(b"HTTP/1.1 ") == 1  # closed after the 400: the smuggled second request is not answered
    assert not [p for p in upstream_paths(stack) if p in (path, f"/after-{index}")]


def h2_attack(kind: str) -> bytes:
    c, req = client(f"/h2-{kind}".encode())
    wire = c.data_to_send()
    if kind == "rapid_reset":
        for sid in range(1, 2 * 400, 2):
            c.send_headers(sid, req, end_stream=True)
            c.reset_stream(sid)
        return wire + c.data_to_send()
    if kind == "continuation_flood":
        block = HeadersFrame(1, data=b"\x82\x86", flags=["END_STREAM"]).serialize()
        return wire + block + b"".join(ContinuationFrame(1, data=b"\x84").serialize() for _ in range(2000))
    if kind == "hpack_bomb":
        c.send_headers(1, req + [(b"x-bomb", b"a" * 4000)] * 100, end_stream=True)
        return wire + c.data_to_send()
    if kind == "ping_flood":
        return wire + b"".join(PingFrame(0, opaque_data=b"12345678").serialize() for _ in range(5000))
    if kind == "settings_flood":
        return wire + b"".join(SettingsFrame(0, settings={0x4: 70000}).serialize() for _ in range(5000))
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["rapid_reset", "continuation_flood", "hpack_bomb", "ping_flood", "settings_flood"])
def test_http2_attack_gets_goaway_enhance_your_calm(stack, kind):  # noqa: F811
    before = rss_kb(stack["proxy_pid"])
    reply = exchange(stack["proxy"], h2_attack(kind))
    assert goaway_code(reply) == ENHANCE_YOUR_CALM
    assert f"/h2-{kind}" not in upstream_paths(stack) or kind == "rapid_reset"
    # Bounded: the attack's bytes are refused as they arrive, not buffered.
    assert rss_kb(stack["proxy_pid"]) - before < 64 * 1024
