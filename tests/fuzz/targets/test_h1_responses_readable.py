"""The h1_server harness answers requests with and without a Content-Length (the codec then frames
them) and judges that what the codec wrote reads, for a strict client that knows each request's
method, as one response per request with nothing stray (h1_responses_unreadable). A last-chunk written
after a HEAD response, planted by monkeypatch, is caught; the real codec passes."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import h1
from proxy.http.h1 import H1ServerCodec

PIPELINE = b"".join(
    b"%s /%d HTTP/1.1\r\nHost: a\r\n\r\n" % (method, i) for i, method in enumerate([b"HEAD", b"GET", b"HEAD", b"GET"])
)


@pytest.mark.parametrize("data", [PIPELINE, b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", b"GET / HTTP/1.0\r\n\r\n"])
def test_the_real_codec_writes_readable_responses(data):
    h1.check_server(data)


def test_every_framing_is_used():
    events, out = h1.run_server([PIPELINE])
    assert b"content-length: 0" in out and b"transfer-encoding: chunked" in out and b"2\r\nok\r\n0\r\n\r\n" in out


def test_a_last_chunk_after_a_head_response_is_caught(monkeypatch):
    original = H1ServerCodec._response_fields

    def chunked_head(self, ex, status, fields, end):
        out = original(self, ex, status, fields, end)
        if (b"transfer-encoding", b"chunked") in out:
            ex.out_chunked = True
        return out

    monkeypatch.setattr(H1ServerCodec, "_response_fields", chunked_head)
    with pytest.raises(InvariantViolation, match="h1_responses_unreadable"):
        h1.check_server(PIPELINE)
