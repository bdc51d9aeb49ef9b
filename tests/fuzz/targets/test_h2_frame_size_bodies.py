"""h2_codec sends bodies at the frame size limits (fuzz/targets/h2pair.py LARGE_BODIES), so a codec
that advertises SETTINGS_MAX_FRAME_SIZE above 16384 gets frames that large from its peer (RFC 9113
4.2: it must accept them). Planted: the advertised size not applied to inbound frames (h2 keeps its
own default underneath, envoyproxy/envoy#5626's class): h2_connection_error_on_valid_input."""

import random

import atheris
import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import h2pair
from proxy.http.codec import CodecLimits
from proxy.http.h2 import H2ServerCodec

POST = (b"POST", b"/upload", b"a.example", b"http", [])


def upload(pair, size: int, joined: bool) -> int:
    """The server advertises MAX_FRAME_SIZE 65536; once the client read it, it posts `size` bytes."""
    pair.server = h2pair.Side("server", H2ServerCodec(CodecLimits(h2_max_frame_size=65_536)))
    pair.server.collect()
    pair.drain(pair.server, len(pair.server.queue))
    sid = pair.command(pair.client, "send_request_headers", *POST[:3], [], end_stream=False)
    body = b"b" * size
    pair.client.sent[sid] = h2pair.Sent(head=POST, body=body, ended=True)
    pair.command(pair.client, "send_data", sid, body, end_stream=True)
    pair.client.collect()
    if joined:  # the SETTINGS ACK, HEADERS and DATA in one read
        pair.drain_joined(pair.client, len(pair.client.queue))
    pair.settle()
    return sid


@pytest.mark.parametrize("joined", [False, True])
def test_a_frame_as_large_as_the_advertised_size_is_accepted(joined):
    pair = h2pair.Pair()
    sid = upload(pair, 40_000, joined)
    assert not pair.server.conn_dead and len(pair.server.got[sid].body) == 40_000


def test_a_codec_that_keeps_the_default_inbound_frame_size_is_caught(monkeypatch):
    original = H2ServerCodec.__init__

    def default_underneath(self, limits=CodecLimits()):  # the planted bug
        original(self, limits)
        self._conn.max_inbound_frame_size = 16_384

    monkeypatch.setattr(H2ServerCodec, "__init__", default_underneath)
    with pytest.raises(InvariantViolation, match="h2_connection_error_on_valid_input"):
        upload(h2pair.Pair(), 40_000, joined=False)


def test_body_lengths_at_the_top_of_the_range_are_the_large_sizes():
    rng = random.Random(7)
    large = 0
    for _ in range(3000):
        raw = rng.randbytes(24)
        n = atheris.FuzzedDataProvider(raw).ConsumeIntInRange(0, 2048)
        body = h2pair._body_bytes(atheris.FuzzedDataProvider(raw))
        if n > h2pair._SMALL_BODY:
            assert len(body) in h2pair.LARGE_BODIES
            large += 1
        else:
            assert len(body) <= n  # the input's own bytes, as many as it has
    assert large > 100
