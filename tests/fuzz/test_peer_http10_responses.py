"""fuzz/peers/h1_stream.py ResponseStream: a response to an HTTP/1.0 request carries no Transfer-Encoding
(RFC 9112 6.1: "A server MUST NOT send a response containing Transfer-Encoding unless the corresponding
request indicates HTTP/1.1") and comes after no 1xx (RFC 9110 15.2: "A server MUST NOT send a 1xx
response to an HTTP/1.0 client"); the client peers refuse such bytes (peer_h1_response_rejected).
Shown on the real proxy's HTTP/1.1 codec and on a planted bug (chunked framing for any HTTP/1.x)."""

from fuzz.peers.h1_stream import RequestStream, ResponseStream
from proxy.http.h1 import H1ServerCodec

CHUNKED = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"


def _read(version: bytes, response: bytes) -> ResponseStream:
    stream = ResponseStream()
    stream.expect(b"GET", version)
    stream.feed(response, 0, eof=True)
    return stream


def test_the_version_of_each_request_is_recorded():
    for line, version in ((b"GET / HTTP/1.0", b"1.0"), (b"GET / HTTP/1.1", b"1.1")):
        requests = RequestStream()
        requests.feed(line + b"\r\nHost: h\r\n\r\n", 0)
        assert [m.version for m in requests.messages] == [version]


def test_chunked_or_1xx_to_an_http10_request_is_refused():
    assert _read(b"1.1", CHUNKED).error is None
    assert "RFC 9112 6.1" in _read(b"1.0", CHUNKED).error
    assert _read(b"1.0", b"HTTP/1.1 200 OK\r\n\r\nhello").error is None  # close-delimited
    assert "RFC 9110 15.2" in _read(b"1.0", b"HTTP/1.1 100 Continue\r\n\r\n" + CHUNKED).error


def _answer(codec_class) -> bytes:
    codec = codec_class()
    (head,) = codec.receive_data(b"GET / HTTP/1.0\r\nHost: h\r\n\r\n")
    codec.send_headers(head.stream_id, 200, [])
    codec.send_data(head.stream_id, b"hello", end_stream=True)
    return codec.data_to_send()


def test_the_codec_frames_an_http10_answer_by_the_close():
    assert _read(b"1.0", _answer(H1ServerCodec)).error is None


def test_chunked_for_any_http1x_is_found(monkeypatch):
    from proxy.http import h1

    original = h1.H1ServerCodec._response_fields

    def as_http11(self, ex, status, fields, end):  # the planted bug: an HTTP/1.0 client framed as 1.1
        version, ex.version = ex.version, b"1.1"
        try:
            return original(self, ex, status, fields, end)
        finally:
            ex.version = version

    monkeypatch.setattr(h1.H1ServerCodec, "_response_fields", as_http11)
    assert "RFC 9112 6.1" in _read(b"1.0", _answer(h1.H1ServerCodec)).error
