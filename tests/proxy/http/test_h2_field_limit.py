"""CodecLimits.max_headers (100, Envoy's max_headers_count) binds the HTTP/2 codecs as it binds
HTTP/1.1's: more fields in a request, a response or trailers is a malformed message, a stream error
(RST_STREAM(PROTOCOL_ERROR)) that leaves the connection's other streams alone. Found black-box: an
HTTP/2 request with 150 fields reached an HTTP/1.1 upstream, and an HTTP/2 upstream's 1500-field
response reached its client, where HTTP/1.1 answered 431 and 503."""

import h2.config
import h2.connection
import h2.events
import pytest

from proxy.http.codec import ProtocolViolation, RequestHeaders, ResponseHeaders, Trailers
from proxy.http.h2 import PROTOCOL_ERROR, H2ClientCodec, H2ServerCodec
from tests.proxy.http.test_h2_server import REQ, exchange, peer


def fields(n: int) -> list:
    return [(b"x-f%d" % i, b"v") for i in range(n)]


@pytest.mark.parametrize(("n", "refused"), [(100, False), (101, True)])
def test_a_request_over_the_field_limit_resets_only_its_stream(n, refused):
    s, c = H2ServerCodec(), peer()
    c.send_headers(1, REQ + fields(n), end_stream=True)
    c.send_headers(3, REQ, end_stream=True)
    events, got = exchange(s, c)
    assert [type(e) for e in events] == ([ProtocolViolation] if refused else [RequestHeaders]) + [RequestHeaders]
    assert [e.stream_id for e in got if isinstance(e, h2.events.StreamReset)] == ([1] if refused else [])
    assert not s.wants_close


def test_trailers_over_the_field_limit_are_malformed():
    s, c = H2ServerCodec(), peer()
    c.send_headers(1, REQ)
    c.send_headers(1, fields(101), end_stream=True)
    events, _ = exchange(s, c)
    assert isinstance(events[0], RequestHeaders) and not any(isinstance(e, Trailers) for e in events)
    assert events[-1] == ProtocolViolation("more than 100 trailer fields", error_code=PROTOCOL_ERROR, stream_id=1)


def _upstream():
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    conn.initiate_connection()
    return conn


@pytest.mark.parametrize(("n", "refused"), [(100, False), (101, True)])
def test_a_response_over_the_field_limit_is_malformed(n, refused):
    client, upstream = H2ClientCodec(), _upstream()
    upstream.receive_data(client.data_to_send())
    sid = client.send_request_headers(b"GET", b"/", b"a", [], end_stream=True)
    upstream.receive_data(client.data_to_send())
    upstream.send_headers(sid, [(b":status", b"200")] + fields(n), end_stream=True)
    events = client.receive_data(upstream.data_to_send())
    assert isinstance(events[-1], ProtocolViolation if refused else ResponseHeaders), events
