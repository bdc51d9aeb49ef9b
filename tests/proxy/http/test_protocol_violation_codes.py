"""A codec's ProtocolViolation carries a stable code beside its free-text reason: the status an
HTTP/1.1 server codec answers with, `invalid_response` from an HTTP/1.1 client codec, the RFC 9113
error code from HTTP/2. Tests, stats and triage match on the code, so rewording a reason breaks
nothing."""

import pytest

from proxy.http.codec import H2_PREFACE, ProtocolViolation, violation_code
from proxy.http.codec_select import create_client_codec, create_server_codec


def violations(events):
    return [e for e in events if isinstance(e, ProtocolViolation)]


@pytest.mark.parametrize(
    "wire, code",
    [
        (b"GET /a\\b HTTP/1.1\r\nHost: h\r\n\r\n", "bad_request"),
        (b"GET / HTTP/1.2\r\nHost: h\r\n\r\n", "http_version_not_supported"),
        (b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", "not_implemented"),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"a" * 70000 + b"\r\n\r\n", "request_header_fields_too_large"),
    ],
)
def test_an_http1_server_codec_names_the_status_it_answers(wire, code):
    [violation] = violations(create_server_codec("HTTP1").receive_data(wire))
    assert violation.code == code


def test_an_http1_client_codec_calls_a_broken_response_invalid():
    client = create_client_codec("HTTP1")
    client.send_request_headers(b"GET", b"/", b"h", [], end_stream=True)
    client.data_to_send()
    [violation] = violations(client.receive_data(b"HTTP/1.1 2000 OK\r\n\r\n"))
    assert violation.code == "invalid_response" and violation.status == 502


def test_an_http2_codec_names_the_rfc_9113_error_code():
    server = create_server_codec("HTTP2")
    events = server.receive_data(H2_PREFACE + b"\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00")
    [violation] = violations(events)  # WINDOW_UPDATE of 0 on the connection: PROTOCOL_ERROR
    assert violation.code == "h2_protocol_error"


def test_codes_follow_the_status_or_error_code_when_not_given():
    assert ProtocolViolation("x", error_code=0xB).code == "h2_enhance_your_calm"
    assert ProtocolViolation("x", status=431).code == "request_header_fields_too_large"
    assert ProtocolViolation("x", code="invalid_response").code == "invalid_response"
    assert violation_code(None, 0x42) == "h2_error_0x42"


def test_an_http1_request_with_the_preface_method_is_refused():
    """RFC 9113 3.4: PRI belongs to the HTTP/2 preface. Forwarded as an HTTP/1.1 request line, it makes
    llhttp (Node.js's parser) wait for the rest of a preface (http_translate found the proxy did)."""
    wire = b"PRI /proxy/path?x=1 HTTP/1.1\r\nhost: example.com\r\n\r\n"
    [violation] = violations(create_server_codec("HTTP1").receive_data(wire))
    assert violation.code == "bad_request" and "RFC 9113 3.4" in violation.reason


def test_an_http2_request_with_the_preface_method_is_not_downgraded():
    from proxy.http.headers import check_h2_request_for_downgrade

    block = [(b":method", b"PRI"), (b":scheme", b"http"), (b":authority", b"h"), (b":path", b"/")]
    assert "RFC 9113 3.4" in check_h2_request_for_downgrade(block)
