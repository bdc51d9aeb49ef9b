"""Codecs back to back in memory, AUTO sniffing, split invariance, HTTP/1 <-> HTTP/2 translation,
and the downgrade rules as a function."""

import pytest

from proxy.http.codec import ConnectionClosed, Data, InformationalResponse, RequestHeaders, ResponseHeaders, Trailers
from proxy.http.codec_select import create_client_codec, create_server_codec
from proxy.http.headers import check_h2_request_for_downgrade, h1_request_to_h2, h2_request_to_h1
from proxy.http.h1 import H1ClientCodec

H2_REQ = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"a.example"), (b":path", b"/x")]


def pump(a, b):
    """Move bytes a -> b and b -> a until quiet; returns (events at a, events at b)."""
    ea, eb = [], []
    while True:
        out_a, out_b = a.data_to_send(), b.data_to_send()
        if not out_a and not out_b:
            return ea, eb
        if out_a:
            eb += b.receive_data(out_a)
        if out_b:
            ea += a.receive_data(out_b)


def normalise(events):
    """Events with each stream's body concatenated: what split invariance must preserve."""
    out, bodies = [], {}
    for e in events:
        if isinstance(e, Data):
            bodies[e.stream_id] = bodies.get(e.stream_id, b"") + e.data
            if e.end_stream:
                out.append(("end", e.stream_id, bodies.pop(e.stream_id)))
        else:
            if isinstance(e, Trailers) and e.stream_id in bodies:
                out.append(("body", e.stream_id, bodies.pop(e.stream_id)))
            out.append(e)
    return out + sorted(("partial", k, v) for k, v in bodies.items())


@pytest.mark.parametrize("kind", ["HTTP1", "HTTP2"])
def test_client_and_server_back_to_back(kind):
    client, server = create_client_codec(kind), create_server_codec(kind)
    sid = client.send_request_headers(b"POST", b"/up", b"svc", [(b"content-type", b"text/plain")])
    client.send_data(sid, b"hello ")
    client.send_data(sid, b"world", end_stream=True)
    _, at_server = pump(client, server)
    req = at_server[0]
    assert (req.method, req.target, req.authority) == (b"POST", b"/up", b"svc")
    assert (b"content-type", b"text/plain") in req.headers
    assert normalise(at_server)[-1] == ("end", req.stream_id, b"hello world")
    server.send_headers(req.stream_id, 200, [(b"x-r", b"1")])
    server.send_data(req.stream_id, b"ok")
    server.send_trailers(req.stream_id, [(b"x-done", b"yes")])
    at_client, _ = pump(client, server)
    assert isinstance(at_client[0], ResponseHeaders) and at_client[0].status == 200
    assert (b"x-r", b"1") in at_client[0].headers
    assert normalise(at_client)[1:] == [("body", sid, b"ok"), Trailers(sid, [(b"x-done", b"yes")])]
    assert client.can_send_request()


def test_h1_keepalive_reuse_and_head_and_204_back_to_back():
    client, server = create_client_codec("HTTP1"), create_server_codec("HTTP1")
    for method, status in ((b"HEAD", 200), (b"GET", 204), (b"GET", 304), (b"GET", 200)):
        sid = client.send_request_headers(method, b"/", b"svc", [], end_stream=True)
        _, [req] = pump(client, server)
        server.send_headers(req.stream_id, status, [(b"content-length", b"3")] if status == 200 else [])
        server.send_data(req.stream_id, b"abc", end_stream=True)
        at_client, _ = pump(client, server)
        body = b"" if method == b"HEAD" or status != 200 else b"abc"
        assert normalise(at_client)[1:] == ([("end", sid, body)] if at_client[-1].__class__ is Data else [])
        assert client.can_send_request(), (method, status)


def test_h1_client_sees_100_continue_then_the_response():
    c = H1ClientCodec()
    sid = c.send_request_headers(b"PUT", b"/f", b"svc", [(b"content-length", b"2")])
    events = c.receive_data(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert events == [InformationalResponse(sid, 100, []), ResponseHeaders(sid, 200, [(b"content-length", b"0")], True)]
    c.send_data(sid, b"ab", end_stream=True)
    assert c.data_to_send().endswith(b"\r\n\r\nab")
    assert c.can_send_request()


def test_h1_client_reads_a_close_delimited_body_to_eof():
    c = H1ClientCodec()
    sid = c.send_request_headers(b"GET", b"/", b"svc", [], end_stream=True)
    events = c.receive_data(b"HTTP/1.0 200 OK\r\n\r\npart one ")
    events += c.receive_data(b"part two")
    events += c.receive_data(b"")
    assert normalise(events)[1:] == [("end", sid, b"part one part two"), ConnectionClosed("upstream closed")]


def test_h1_client_upstream_closing_mid_body_is_a_reset():
    c = H1ClientCodec()
    sid = c.send_request_headers(b"GET", b"/", b"svc", [], end_stream=True)
    c.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    events = c.receive_data(b"")
    assert [type(e).__name__ for e in events] == ["StreamReset", "ConnectionClosed"] and events[0].stream_id == sid


def test_auto_sniffs_h2_preface_split_across_reads():
    server = create_server_codec("AUTO")
    client = create_client_codec("HTTP2")
    client.send_request_headers(b"GET", b"/", b"svc", [], end_stream=True)
    wire = client.data_to_send()
    events = []
    for i in range(0, len(wire), 5):
        events += server.receive_data(wire[i : i + 5])
    assert server.protocol == "HTTP2"
    assert [type(e) for e in events] == [RequestHeaders]


def test_auto_falls_back_to_http1_at_the_first_differing_byte():
    server = create_server_codec("AUTO")
    assert server.receive_data(b"P") == [] and server.protocol is None
    [req] = server.receive_data(b"OST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert server.protocol == "HTTP1" and req.method == b"POST"


def test_auto_rejects_pri_with_a_wrong_tail_as_http1():
    server = create_server_codec("AUTO")
    events = server.receive_data(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
    assert server.protocol == "HTTP1" and events[0].status == 505


SPLIT_CASES = {
    "HTTP1": (
        b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n5;e=1\r\npedia\r\n"
        b"0\r\nX-T: 1\r\n\r\nGET /b HTTP/1.1\r\nHost: y\r\n\r\n"
        b"PUT /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello"
    ),
}


def _h2_wire():
    c = create_client_codec("HTTP2")
    sid = c.send_request_headers(b"POST", b"/a", b"x", [(b"content-length", b"9")])
    c.send_data(sid, b"wiki")
    c.send_data(sid, b"pedia", end_stream=True)
    sid2 = c.send_request_headers(b"GET", b"/b", b"y", [(b"te", b"trailers")])
    c.send_trailers(sid2, [(b"x-t", b"1")])
    return c.data_to_send()


@pytest.mark.parametrize("kind", ["HTTP1", "HTTP2", "AUTO"])
def test_split_invariance(kind):
    wire = SPLIT_CASES["HTTP1"] if kind == "HTTP1" else _h2_wire()
    one = create_server_codec(kind).receive_data(wire)
    byte_codec = create_server_codec(kind)
    per_byte = [e for i in range(len(wire)) for e in byte_codec.receive_data(wire[i : i + 1])]
    assert normalise(one) == normalise(per_byte)
    assert len([e for e in one if isinstance(e, RequestHeaders)]) >= 2


def test_h2_request_forwarded_through_an_h1_client_and_back():
    """Downstream HTTP/2, upstream HTTP/1.1: events are protocol neutral, so the owner just relays."""
    down_client, down_server = create_client_codec("HTTP2"), create_server_codec("HTTP2")
    up_client, up_server = create_client_codec("HTTP1"), create_server_codec("HTTP1")
    sid = down_client.send_request_headers(
        b"POST", b"/p?q=1", b"svc:80", [(b"content-length", b"3"), (b"te", b"trailers")]
    )
    down_client.send_data(sid, b"abc", end_stream=True)
    _, [req, body] = pump(down_client, down_server)
    up_sid = up_client.send_request_headers(req.method, req.target, req.authority, req.headers, req.end_stream)
    up_client.send_data(up_sid, body.data, body.end_stream)
    wire = up_client.data_to_send()
    # te: trailers goes on (Envoy keeps it), with the connection option RFC 9110 10.1.4 asks for
    assert wire == (
        b"POST /p?q=1 HTTP/1.1\r\nhost: svc:80\r\ncontent-length: 3\r\nte: trailers\r\nconnection: te\r\n\r\nabc"
    )
    [ureq, ubody] = up_server.receive_data(wire)
    up_server.send_headers(
        ureq.stream_id,
        200,
        [(b"Content-Length", b"2"), (b"Connection", b"keep-alive"), (b"Keep-Alive", b"timeout=5"), (b"X-Up", b"1")],
    )
    up_server.send_data(ureq.stream_id, b"ok", end_stream=True)
    [resp, rbody] = up_client.receive_data(up_server.data_to_send())
    assert resp.headers == [(b"content-length", b"2"), (b"x-up", b"1")]  # hop-by-hop gone
    down_server.send_headers(req.stream_id, resp.status, resp.headers, resp.end_stream)
    down_server.send_data(req.stream_id, rbody.data, rbody.end_stream)
    at_client, _ = pump(down_client, down_server)
    assert at_client[0] == ResponseHeaders(
        sid, 200, [(b"content-length", b"2"), (b"x-up", b"1")], False, http_version=b"2"
    )
    assert normalise(at_client)[1:] == [("end", sid, b"ok")]


def test_h1_request_forwarded_through_an_h2_client():
    down = create_server_codec("HTTP1")
    [req, body] = down.receive_data(
        b"PUT /k HTTP/1.1\r\nHost: svc\r\nConnection: keep-alive, x-drop\r\n"
        b"X-Drop: 1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    up_client, up_server = create_client_codec("HTTP2"), create_server_codec("HTTP2")
    up_sid = up_client.send_request_headers(req.method, req.target, req.authority, req.headers, req.end_stream)
    up_client.send_data(up_sid, body.data, body.end_stream)
    _, at_up = pump(up_client, up_server)
    assert at_up[0] == RequestHeaders(1, b"PUT", b"/k", b"svc", b"http", [], False, http_version=b"2")
    assert normalise(at_up)[1:] == [("end", 1, b"abc")]


def test_header_translation_helpers():
    block = h1_request_to_h2(
        b"GET",
        b"/x",
        [
            (b"Host", b"a.example"),
            (b"Connection", b"close, X-Hop"),
            (b"X-Hop", b"1"),
            (b"Accept", b"*/*"),
            (b"TE", b"trailers, deflate"),
        ],
    )
    assert block == H2_REQ + [(b"accept", b"*/*"), (b"te", b"trailers")]  # TE asks for trailers: that is kept
    assert h2_request_to_h1(H2_REQ + [(b"accept", b"*/*"), (b"te", b"trailers")]) == (
        b"GET",
        b"/x",
        [(b"host", b"a.example"), (b"accept", b"*/*"), (b"te", b"trailers")],
    )


@pytest.mark.parametrize(
    "block,reason",
    [
        (H2_REQ + [(b"x", b"a\r\nb")], "CR, LF or NUL"),
        (H2_REQ + [(b"x", b"a\x00b")], "CR, LF or NUL"),
        (H2_REQ + [(b"x\nevil", b"1")], "CR, LF or NUL"),
        (H2_REQ + [(b"", b"1")], "empty header name"),
        (H2_REQ + [(b"x y", b"1")], "not a token"),
        (H2_REQ + [(b"X-Up", b"1")], "uppercase"),
        (H2_REQ + [(b"transfer-encoding", b"chunked")], "connection-specific"),
        (H2_REQ + [(b"connection", b"close")], "connection-specific"),
        (H2_REQ + [(b"keep-alive", b"1")], "connection-specific"),
        (H2_REQ + [(b"proxy-connection", b"1")], "connection-specific"),
        (H2_REQ + [(b"upgrade", b"h2c")], "connection-specific"),
        (H2_REQ + [(b"te", b"gzip")], "te other than trailers"),
        ([(b":method", b"GET / HTTP/1.1\r\nX:")] + H2_REQ[1:], "CR, LF or NUL"),
        ([(b":method", b"GE T")] + H2_REQ[1:], ":method"),
        (H2_REQ[:3] + [(b":path", b"/a HTTP/1.1")], ":path"),
        (H2_REQ[:3] + [(b":path", b"a")], "invalid :path form"),
        (H2_REQ + [(b"host", b"b.example")], "disagree"),
        (H2_REQ[:2] + H2_REQ[3:] + [(b"host", b"a"), (b"host", b"b")], "several host"),
        (H2_REQ[:2] + H2_REQ[3:], "missing or invalid :authority"),
        (H2_REQ + [(b"content-length", b"1"), (b"content-length", b"2")], "conflicting content-length"),
        (H2_REQ + [(b"content-length", b"+1")], "invalid content-length"),
        ([(b"x", b"1")] + H2_REQ, "after a regular field"),
        (H2_REQ + [(b":status", b"200")], "unknown request pseudo-header"),
        (H2_REQ + H2_REQ[:1], "duplicate pseudo-header"),
        (H2_REQ[:1] + H2_REQ, "duplicate pseudo-header"),
        ([(b":method", b"CONNECT"), (b":authority", b"a:1")], "CONNECT"),
    ],
)
def test_downgrade_check_rejects(block, reason):
    got = check_h2_request_for_downgrade(block)
    assert got is not None and reason in got, got


def test_downgrade_check_accepts_a_normal_request():
    assert (
        check_h2_request_for_downgrade(
            H2_REQ + [(b"te", b"trailers"), (b"content-length", b"3"), (b"host", b"a.example"), (b"x", b"a b\tc")]
        )
        is None
    )
    assert (
        check_h2_request_for_downgrade(
            [(b":method", b"OPTIONS"), (b":scheme", b"http"), (b":authority", b"a"), (b":path", b"*")]
        )
        is None
    )
