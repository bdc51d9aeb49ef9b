"""Session shapes of the ninth planted round, HTTP half: an HTTP/2 upstream's 204 with
`content-length: 0` (fuzz/payloads.py NO_CONTENT_BIT) and request trailers with "_" in a name
(fuzz/hostile.py LATE). Their committed seeds replay clean, and the bug class each one exists for,
planted by monkeypatch, fails them."""

from pathlib import Path

import pytest

from fuzz import hostile, oracles, payloads, session
from proxy.http.conn_manager import HttpConnectionManager
from proxy.http.h1 import H1ServerCodec
from proxy.http.h2 import H2ServerCodec
from proxy.upstream import pool as pool_module

SEEDS = Path(session.__file__).resolve().parents[1] / "corpus" / "session"


def replay(name: str) -> None:
    session.run_input(session.ConfigPool.default(), (SEEDS / name).read_bytes())


class _Sock:
    received = b""


def test_the_no_content_bit_makes_a_204_with_a_zero_length():
    sock = _Sock()
    server = payloads.h2_upstream_server(sock)
    assert server is not None
    import h2.connection

    client = h2.connection.H2Connection()
    client.initiate_connection()
    client.send_headers(1, [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "x")], True)
    sock.received = client.data_to_send()
    events = client.receive_data(payloads.h2_response(bytes([payloads.NO_CONTENT_BIT, 5]) + b"hello", sock))
    heads = [dict(e.headers) for e in events if hasattr(e, "headers") and e.headers]
    assert heads[-1][b":status"] == b"204" and heads[-1][b"content-length"] == b"0"


@pytest.mark.parametrize("codec", [H1ServerCodec, H2ServerCodec])
def test_a_204_passed_on_with_its_content_length_is_caught(monkeypatch, codec):
    """The class: a bodiless status whose framing fields reach the client (RFC 9110 8.6)."""
    replay("regress-h2-upstream-204-with-content-length")
    original = codec.send_headers

    def keeps_length(self, stream_id, status, headers, end_stream=False):
        if status == 204:
            headers = list(headers) + [(b"content-length", b"0")]
        return original(self, stream_id, status, headers, end_stream)

    monkeypatch.setattr(codec, "send_headers", keeps_length)
    with pytest.raises(oracles.InvariantViolation, match="peer_response_field"):
        replay("regress-h2-upstream-204-with-content-length")


def test_the_underscore_trailer_is_a_late_shape_of_both_request_templates():
    selector = hostile.LATE_FIRST + len(hostile.LATE) - 1
    assert hostile.trailer_field(selector) == (b"x_forwarded_user", b"admin")
    assert hostile.apply(selector, b"/", b"h", []) == (b"/", b"h", [])  # not a header field
    request = payloads.h1_request(b"\x01\x00\x00\x05\x00\x00\x00" + bytes([selector]) + b"hello", _Sock())
    assert request.endswith(b"0\r\nx_forwarded_user: admin\r\n\r\n")


UNDERSCORE_SEEDS = ("regress-trailer-with-underscore-rejected", "regress-trailer-with-underscore-dropped")


@pytest.mark.parametrize("name", UNDERSCORE_SEEDS)
def test_underscores_checked_in_headers_only_are_caught(monkeypatch, name):
    """The class: headers_with_underscores_action applied to the request head, not to its trailers."""
    replay(name)
    original = HttpConnectionManager._refuse_underscores

    def headers_only(self, stream, fields):
        return original(self, stream, fields) if fields is stream.head.headers else False

    monkeypatch.setattr(HttpConnectionManager, "_refuse_underscores", headers_only)
    with pytest.raises(oracles.InvariantViolation, match="peer_forwarded_despite_config"):
        replay(name)


def test_rejected_trailers_dropped_instead_of_refused_are_caught(monkeypatch):
    """REJECT_REQUEST read as DROP_HEADER for trailers: the upstream gets a complete request the proxy
    should have refused."""
    original = HttpConnectionManager._refuse_underscores

    def drops_trailers(self, stream, fields):
        if fields is stream.head.headers:
            return original(self, stream, fields)
        for name in {n for n, _ in fields if b"_" in n}:
            fields.remove(name)
        return False

    monkeypatch.setattr(HttpConnectionManager, "_refuse_underscores", drops_trailers)
    with pytest.raises(oracles.InvariantViolation, match="peer_forwarded_despite_config"):
        replay("regress-trailer-with-underscore-rejected")


def test_a_request_rehomed_without_leaving_the_pending_gauge_is_caught(monkeypatch):
    """The class: a request that leaves the pending queue by the pool's rarer path (another host's idle
    connection, max_connections below the host count) stays counted in upstream_rq_pending_active."""
    replay("regress-requests-in-turn-max-connections-below-hosts")
    original = pool_module.ClusterHttpPool._rehome_stranded

    def rehome_uncounted(self):
        stats = self.ctx.stats
        real = stats.gauge_add
        stats.gauge_add = lambda name, n: None if name.endswith("pending_active") and n < 0 else real(name, n)
        try:
            original(self)
        finally:
            del stats.gauge_add

    monkeypatch.setattr(pool_module.ClusterHttpPool, "_rehome_stranded", rehome_uncounted)
    with pytest.raises(oracles.InvariantViolation, match="gauge_leaked"):
        replay("regress-requests-in-turn-max-connections-below-hosts")
