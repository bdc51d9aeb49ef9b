"""The h2_codec harness's h2_connection_error_on_valid_input oracle: while only the codecs' own bytes
flow, neither may end the connection (flood defences aside). Planted: the server codec answering a
stream over its advertised MAX_CONCURRENT_STREAMS, sent before the client saw the SETTINGS, with a
connection error (issue 13 defect 7) instead of refusing that stream."""

import h2.settings
import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import h2pair
from proxy.http.codec import CodecLimits
from proxy.http.h2 import H2ServerCodec

GET = (b"GET", b"/", b"a.example", b"http", [])


def two_streams_before_the_settings(pair):
    """The server allows one stream; the client opens two before it reads the server's SETTINGS."""
    pair.server = h2pair.Side("server", H2ServerCodec(CodecLimits(h2_max_concurrent_streams=1)))
    pair.server.collect()
    for _ in range(2):
        sid = pair.command(pair.client, "send_request_headers", *GET[:3], [], end_stream=True)
        pair.client.sent[sid] = h2pair.Sent(head=GET, ended=True)
    pair.settle()


def test_the_real_codec_refuses_the_extra_stream_alone():
    pair = h2pair.Pair()
    two_streams_before_the_settings(pair)
    assert not pair.server.conn_dead
    assert pair.client.got[3].dead and pair.server.got[1].head is not None  # 3 refused, 1 goes on


def test_a_connection_error_for_one_stream_too_many_is_caught(monkeypatch):
    original = H2ServerCodec.__init__

    def keeps_h2s_own_check(self, limits=CodecLimits()):
        original(self, limits)
        self._conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: limits.h2_max_concurrent_streams},
        )

    monkeypatch.setattr(H2ServerCodec, "__init__", keeps_h2s_own_check)
    with pytest.raises(InvariantViolation) as caught:
        two_streams_before_the_settings(h2pair.Pair())
    assert caught.value.name == "h2_connection_error_on_valid_input"


def test_an_empty_cookie_field_does_not_end_the_connection():
    """h2 joins cookie crumbs with "; " and then refused its own "a; " (found by this oracle)."""
    pair = h2pair.Pair()
    head = (b"GET", b"/", b"a.example", b"http", [(b"cookie", b"a=1"), (b"cookie", b"")])
    sid = pair.command(pair.client, "send_request_headers", *head[:3], head[4], end_stream=True)
    pair.client.sent[sid] = h2pair.Sent(head=head, ended=True)
    pair.settle()
    assert not pair.server.conn_dead
    assert (b"cookie", b"a=1") in pair.server.got[sid].head.headers
