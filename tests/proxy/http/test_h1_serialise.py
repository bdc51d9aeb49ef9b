"""The HTTP/1.1 codecs serialise heads and bodies themselves: a plain h11 peer must read back
exactly what the codec was asked to send (status or request line, fields, body, trailers, and the
framing h11's own writer would have chosen)."""

import h11
from hypothesis import given, settings, strategies as st

from proxy.http.h1 import H1ClientCodec, H1ServerCodec

TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12).map(str.encode)
VALUE = st.binary(max_size=20).map(lambda v: bytes(b for b in v if 0x21 <= b <= 0x7E or b == 0x20).strip())
FIELDS = st.lists(st.tuples(TOKEN.map(lambda n: b"x-" + n), VALUE), max_size=5)
BODY = st.lists(st.binary(min_size=1, max_size=40), max_size=4)
FRAMING = st.sampled_from(["length", "chunked", "chunked+trailers", "empty"])


def _read_all(conn: h11.Connection, data: bytes, eof: bool = False) -> list:
    conn.receive_data(data)
    if eof:
        conn.receive_data(b"")
    events = []
    while True:
        ev = conn.next_event()
        if ev in (h11.NEED_DATA, h11.PAUSED) or isinstance(ev, h11.ConnectionClosed):
            return events
        events.append(ev)


def _body_and_trailers(events) -> tuple[bytes, list]:
    body = b"".join(bytes(e.data) for e in events if isinstance(e, h11.Data))
    end = [e for e in events if isinstance(e, h11.EndOfMessage)]
    assert len(end) == 1, events
    return body, [(bytes(n), bytes(v)) for n, v in end[0].headers]


@settings(max_examples=300, deadline=None)
@given(
    version=st.sampled_from([b"1.1", b"1.0"]),
    method=st.sampled_from([b"GET", b"HEAD", b"POST"]),
    status=st.sampled_from([200, 201, 204, 304, 404, 500, 503]),
    fields=FIELDS,
    body=BODY,
    framing=FRAMING,
    trailers=FIELDS,
)
def test_server_response_reads_back_through_a_plain_h11_client(
    version, method, status, fields, body, framing, trailers
):
    server = H1ServerCodec()
    [req] = [e for e in server.receive_data(method + b" /p HTTP/" + version + b"\r\nhost: h\r\n\r\n")]
    data = b"".join(body)
    bodiless = status in (204, 304) or method == b"HEAD"
    headers = list(fields)
    if framing == "length":
        headers.append((b"content-length", b"%d" % (0 if bodiless else len(data))))
    server.send_headers(req.stream_id, status, headers, end_stream=framing == "empty")
    if framing != "empty":
        for piece in body:
            server.send_data(req.stream_id, piece)
        if framing == "chunked+trailers":
            server.send_trailers(req.stream_id, trailers)
        else:
            server.send_data(req.stream_id, b"", end_stream=True)
    wire = server.data_to_send()

    client = h11.Connection(h11.CLIENT)
    # h11 only sends HTTP/1.1 requests; the framing it reads back does not depend on that.
    client.send(h11.Request(method=method, target=b"/p", headers=[(b"host", b"h")]))
    client.send(h11.EndOfMessage())
    events = _read_all(client, wire, eof=server.wants_close)
    response = events[0]
    assert isinstance(response, h11.Response) and response.status_code == status
    got = [(bytes(n), bytes(v)) for n, v in response.headers]
    assert [f for f in got if f[0].startswith(b"x-")] == [(n, v) for n, v in fields]
    got_body, got_trailers = _body_and_trailers(events[1:])
    assert got_body == (b"" if bodiless or framing == "empty" else data)
    chunked = (b"transfer-encoding", b"chunked") in got
    assert got_trailers == (trailers if framing == "chunked+trailers" and chunked and not bodiless else [])
    # h11 and the codec agree on whether the connection stays open.
    assert (client.their_state is h11.DONE) == (not server.wants_close)


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from([b"GET", b"POST", b"PUT", b"DELETE"]),
    fields=FIELDS,
    body=BODY,
    framing=FRAMING,
    trailers=FIELDS,
)
def test_client_request_reads_back_through_a_plain_h11_server(method, fields, body, framing, trailers):
    client = H1ClientCodec()
    data = b"".join(body)
    headers = list(fields) + ([(b"content-length", b"%d" % len(data))] if framing == "length" else [])
    sid = client.send_request_headers(method, b"/q?x=1", b"svc:8080", headers, end_stream=framing == "empty")
    if framing != "empty":
        for piece in body:
            client.send_data(sid, piece)
        if framing == "chunked+trailers":
            client.send_trailers(sid, trailers)
        else:
            client.send_data(sid, b"", end_stream=True)

    server = h11.Connection(h11.SERVER)
    events = _read_all(server, client.data_to_send())
    request = events[0]
    assert isinstance(request, h11.Request) and (request.method, request.target) == (method, b"/q?x=1")
    got = [(bytes(n), bytes(v)) for n, v in request.headers]
    assert got[0] == (b"host", b"svc:8080")
    assert [f for f in got if f[0].startswith(b"x-")] == [(n, v) for n, v in fields]
    got_body, got_trailers = _body_and_trailers(events[1:])
    assert got_body == (b"" if framing == "empty" else data)
    assert got_trailers == (trailers if framing == "chunked+trailers" else [])
