"""fuzz.models.server_preface: a client that opens with the HTTP/2 preface on a connection manager
speaking HTTP/2 gets a SETTINGS frame first, however the proxy's reads split its bytes (h2_server_preface)."""

import pytest

from fuzz import oracles, session
from fuzz.models.server_preface import first_frame_problem
from fuzz.session import Action as A
from proxy.http import codec_select
from proxy.http.codec import H2_PREFACE

H2_GET = [A("connect"), A("send_http", value=3, payload=bytes([2, 0, 0, 30, 0, 0]))]


def _run(read_size: int):
    from tests.fuzz.test_liveness import http

    return session.Session(http(limit=1 << 20, codec="AUTO"), read_size=read_size, models=True).run(H2_GET)


@pytest.mark.parametrize("read_size", session.READ_SIZES)
def test_an_http2_client_on_an_auto_listener_gets_settings_first_in_any_read_size(read_size):
    s = _run(read_size)
    assert s.downstream[0].received[3] == 4 and s.peers.exchanges


def test_a_sniffer_that_decides_on_the_last_read_only_is_caught(monkeypatch):
    # The class: the preface prefix checked on the newest read instead of every byte held so far, so
    # a preface arriving in three or more reads is taken for HTTP/1.1.
    def receive_data(self, data):
        if self._inner is None and data:
            self._held += data
            if H2_PREFACE.startswith(data) and len(self._held) < len(H2_PREFACE):
                return []
            kind = "HTTP2" if self._held.startswith(H2_PREFACE) else "HTTP1"
            self._inner = codec_select.create_server_codec(kind, self._limits)
            held, self._held = self._held, b""
            return self._inner.receive_data(held)
        return real(self, data)

    real = codec_select.AutoServerCodec.receive_data
    monkeypatch.setattr(codec_select.AutoServerCodec, "receive_data", receive_data)
    _run(16 * 1024)  # one read: still HTTP/2
    with pytest.raises(oracles.InvariantViolation, match="h2_server_preface"):
        _run(7)


@pytest.mark.parametrize(
    "received, problem",
    [
        (b"", None),
        (b"\x00\x00\x00\x04\x00\x00\x00\x00\x00", None),
        (b"HTTP/1.1 505 HTTP Version Not Supported\r\n", "an HTTP/1.x response"),
        (b"\x00\x00\x08\x07", "a frame of type 7"),
        (b"\x00\x00\x00\x04\x01", "a SETTINGS acknowledgement"),
        (b"\x00\x00\x00\x04\x00\x00\x00\x00\x01", "a SETTINGS frame on a stream"),
    ],
)
def test_first_frame_problem(received, problem):
    assert first_frame_problem(received) == problem
