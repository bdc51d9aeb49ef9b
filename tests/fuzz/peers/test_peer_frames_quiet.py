"""The fuzzing side's own h2 connections (the strict peers, translate's reference readers) build no
repr of the frames they receive for h2's silent trace log (proxy/http/_h2_quiet.py), and read them
as before: a DATA frame's repr hex-dumps its payload, a few percent of an HTTP/2 session's time."""

import h2.config
import h2.connection
import pytest
from hyperframe.frame import Frame

from fuzz.peers import h2_peer
from fuzz.peers.h2_peer import StrictH2Connection
from fuzz.targets import translate


class _Peer:
    def sent_by_us(self, out: bytes) -> None:
        pass


def _no_repr(monkeypatch) -> None:
    def refuse(self):
        raise AssertionError(f"repr built for a received {type(self).__name__}")

    monkeypatch.setattr(Frame, "__repr__", refuse)


def _client_bytes() -> bytes:
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    client.initiate_connection()
    headers = [(b":method", b"POST"), (b":path", b"/up"), (b":scheme", b"http"), (b":authority", b"a.test")]
    client.send_headers(1, headers)
    client.send_data(1, b"x" * 300, end_stream=True)
    return client.data_to_send()


def _peer_reads(data: bytes) -> list:
    conn = StrictH2Connection(_Peer(), client_side=False)
    conn.initiate_connection()
    return [type(e).__name__ for e in conn.feed_frame(data)]


def test_a_strict_peer_reads_frames_without_a_repr(monkeypatch):
    expected = _peer_reads(_client_bytes())
    _no_repr(monkeypatch)
    assert _peer_reads(_client_bytes()) == expected
    assert "DataReceived" in expected and "StreamEnded" in expected


def test_translate_reads_h2_without_a_repr(monkeypatch):
    _no_repr(monkeypatch)
    (request,) = translate.parse_h2(_client_bytes())
    assert request.body == b"x" * 300


def test_a_peer_left_as_h2_makes_it_builds_a_repr_per_frame(monkeypatch):
    """The planted regression: the peer's connection not made quiet."""
    monkeypatch.setattr(h2_peer, "quiet", lambda conn: None)
    _no_repr(monkeypatch)
    with pytest.raises(AssertionError, match="repr built for a received"):
        _peer_reads(_client_bytes())
