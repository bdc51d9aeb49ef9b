"""Strict HTTP/1.1 framing: every smuggling class of ANCHORS.md is a 400 (or 431/501/505) and a close,
with no request event for it, whether the bytes arrive in one chunk or one byte at a time."""

import pytest

from proxy.http.codec import CodecLimits, ProtocolViolation, RequestHeaders
from proxy.http.h1 import H1ClientCodec, H1ServerCodec

HEAD_CASES = {
    "cl_and_te": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    "te_and_cl": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
    "duplicate_cl_equal": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
    "conflicting_cl": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "cl_list": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc",
    "cl_signed_plus": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc",
    "cl_negative": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "cl_empty": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n",
    "cl_hex": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x3\r\n\r\nabc",
    "cl_inner_space": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n",
    "cl_vertical_tab": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \x0b3\r\n\r\nabc",
    "cl_underscore": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1_0\r\n\r\n",
    "cl_overlong": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1234567890123456789\r\n\r\n",
    "te_gzip_chunked": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    "te_repeated": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
    "te_identity": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n",
    "te_in_http10": b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "bare_lf": b"GET / HTTP/1.1\nHost: x\n\n",
    "bare_lf_in_one_line": b"GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n",
    "bare_cr": b"GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n",
    "obs_fold": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n",
    "nul_in_value": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "space_before_colon": b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello",
    "tab_before_colon": b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding\t: chunked\r\n\r\n",
    "non_token_name": b"GET / HTTP/1.1\r\nHost: x\r\nX(a): 1\r\n\r\n",
    "empty_name": b"GET / HTTP/1.1\r\nHost: x\r\n: 1\r\n\r\n",
    "no_host": b"GET / HTTP/1.1\r\nX: y\r\n\r\n",
    "two_hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "space_in_target": b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad_method": b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
    "junk_version": b"GET / HTTX/1.1\r\nHost: x\r\n\r\n",
}


def feed_all(codec, data, byte_at_a_time):
    events = []
    if byte_at_a_time:
        for i in range(len(data)):
            events += codec.receive_data(data[i : i + 1])
    else:
        events += codec.receive_data(data)
    return events


@pytest.mark.parametrize("byte_at_a_time", [False, True], ids=["one_chunk", "byte_at_a_time"])
@pytest.mark.parametrize("name", sorted(HEAD_CASES))
def test_smuggling_head_is_rejected_with_400_and_close(name, byte_at_a_time):
    s = H1ServerCodec()
    events = feed_all(s, HEAD_CASES[name], byte_at_a_time)
    assert not any(isinstance(e, RequestHeaders) for e in events), events
    [err] = [e for e in events if isinstance(e, ProtocolViolation)]
    assert err.code == "bad_request" and err.status == 400 and err.stream_id is None
    assert s.data_to_send() == b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    assert s.wants_close


CHUNK_CASES = {
    "hex_prefix": b"0x5\r\nhello\r\n0\r\n\r\n",
    "plus": b"+5\r\nhello\r\n0\r\n\r\n",
    "minus": b"-5\r\nhello\r\n0\r\n\r\n",
    "underscore": b"1_0\r\n0123456789\r\n0\r\n\r\n",
    "leading_space": b" 5\r\nhello\r\n0\r\n\r\n",
    "trailing_space": b"5 \r\nhello\r\n0\r\n\r\n",
    "ext_with_space": b"5 ;a=b\r\nhello\r\n0\r\n\r\n",
    "overlong_size": b"00000000000000005\r\nhello\r\n0\r\n\r\n",
    "huge_size": b"fffffffffffffffff\r\n",
    "empty_size": b"\r\nhello\r\n0\r\n\r\n",
    "bare_lf_size_line": b"5\nhello\r\n0\r\n\r\n",
    "data_not_followed_by_crlf": b"5\r\nhelloXY0\r\n\r\n",
    "bare_lf_after_data": b"5\r\nhello\n0\r\n\r\n",
    "obs_fold_trailer": b"0\r\nX: 1\r\n folded\r\n\r\n",
    "content_length_trailer": b"0\r\nContent-Length: 5\r\n\r\n",
    "bad_extension": b"5;a b\r\nhello\r\n0\r\n\r\n",
    "extension_quote_unterminated": b'5;a="b\\"\r\nhello\r\n0\r\n\r\n',
}


@pytest.mark.parametrize("byte_at_a_time", [False, True], ids=["one_chunk", "byte_at_a_time"])
@pytest.mark.parametrize("name", sorted(CHUNK_CASES))
def test_lenient_chunked_framing_is_rejected(name, byte_at_a_time):
    s = H1ServerCodec()
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    events = feed_all(s, head + CHUNK_CASES[name] + b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", byte_at_a_time)
    assert [e.target for e in events if isinstance(e, RequestHeaders)] == [b"/"]  # nothing smuggled through
    [err] = [e for e in events if isinstance(e, ProtocolViolation)]
    assert err.code == "bad_request" and err.status == 400 and err.stream_id == 1
    assert s.data_to_send().startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert s.wants_close


@pytest.mark.parametrize(
    "extensions",
    [b'5;name=value;q="quoted";flag', b'5;q="a;b=c";r="\\"x\\\\"'],  # a quoted-string may hold ; = and quoted-pairs
)
def test_valid_chunk_extensions_are_accepted(extensions):
    s = H1ServerCodec()
    events = s.receive_data(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + extensions + b"\r\nhello\r\n0\r\n\r\n"
    )
    assert events[-1].data == b"hello" and events[-1].end_stream


@pytest.mark.parametrize("coding", [b"Chunked", b"CHUNKED"])
def test_transfer_coding_names_are_case_insensitive(coding):
    """RFC 9112 7: `Transfer-Encoding: Chunked` is chunked (Envoy and h11 read it so); a 400 here
    refused valid requests."""
    s = H1ServerCodec()
    events = s.receive_data(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding + b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    assert isinstance(events[0], RequestHeaders) and events[-1].data == b"hello" and events[-1].end_stream


def test_oversized_head_is_431():
    s = H1ServerCodec(CodecLimits(max_header_bytes=1024))
    events = s.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2000)
    [err] = events
    assert err.status == 431 and err.stream_id is None
    assert s.data_to_send().startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")


def test_too_many_headers_is_431():
    s = H1ServerCodec(CodecLimits(max_headers=3))
    events = s.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
    assert events[0].status == 431


@pytest.mark.parametrize(
    "head,status",
    [
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501),
    ],
)
def test_unsupported_versions_and_methods(head, status):
    s = H1ServerCodec()
    [err] = s.receive_data(head)
    assert err.status == status
    assert s.wants_close


def test_leading_empty_lines_are_ignored_but_bare_lf_is_not():
    s = H1ServerCodec()
    [req] = s.receive_data(b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert req.target == b"/"
    s2 = H1ServerCodec()
    [err] = s2.receive_data(b"\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert isinstance(err, ProtocolViolation) and err.code == "bad_request"


RESPONSE_CASES = {
    "cl_and_te": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
    "duplicate_cl": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
    "signed_cl": b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
    "te_not_chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
    "chunk_hex_prefix": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nok\r\n0\r\n\r\n",
    "bare_lf": b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
    "obs_fold": b"HTTP/1.1 200 OK\r\nX: 1\r\n 2\r\nContent-Length: 0\r\n\r\n",
    "bad_status": b"HTTP/1.1 2000 OK\r\n\r\n",
    "extra_response": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(RESPONSE_CASES))
def test_client_rejects_lenient_response_framing_with_502(name):
    c = H1ClientCodec()
    c.send_request_headers(b"GET", b"/", b"up", [], end_stream=True)
    events = c.receive_data(RESPONSE_CASES[name])
    [err] = [e for e in events if isinstance(e, ProtocolViolation)]
    assert err.code == "invalid_response" and err.status == 502
    assert c.wants_close and not c.can_send_request()


@pytest.mark.parametrize(
    "start", [b"\x15\x03\x03\x00\x02\x02\x46", b"HTTP/2 200\r\n", b"SSH-2.0-OpenSSH\r\n", b"HTTP/1.10 200 OK\r\n"]
)
def test_a_response_in_another_protocol_is_refused_at_its_first_bytes(start):
    """The head never ends: the status line's version is judged as it arrives (Envoy's incremental
    parser), in any split, where the codec used to wait for a whole head until a timeout."""
    for cut in range(1, len(start)):
        c = H1ClientCodec()
        c.send_request_headers(b"GET", b"/", b"up", [], end_stream=True)
        events = c.receive_data(start[:cut]) + c.receive_data(start[cut:])
        [err] = [e for e in events if isinstance(e, ProtocolViolation)]
        assert err.reason.endswith("unsupported HTTP version in the status line"), (cut, err)
    c = H1ClientCodec()
    c.send_request_headers(b"GET", b"/", b"up", [], end_stream=True)
    assert not [e for e in c.receive_data(b"\r\nHTTP/1.1 2") if isinstance(e, ProtocolViolation)]
