"""Structured payloads for sessions: bytes a real HTTP peer would send, shaped by a seed.

Each generator is `make(seed: bytes, sock) -> bytes`. The seed picks methods, paths,
header variants and body sizes; `sock` (the peer's SimSocket) carries per-connection
peer state such as an h2 client, so frames are valid in sequence. Generators never
raise on any seed: a broken generator would hide the proxy behind it.
"""

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from . import hostile

METHODS = (b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"PURGE", b"TRACE")
PATHS = (
    b"/",
    b"/api/v1/items",
    b"/static/app.js",
    b"/admin",
    b"/a/b/../c",
    b"/?q=1&r=%20",
    b"*",
    b"/service1",
    b"/service2",
)
HOSTS = (b"example.com", b"api.example.com", b"www.example.org", b"localhost", b"foo.bar.example.com", b"")
# Request-smuggling shapes of ANCHORS.md: each is (extra head lines, body).
SMUGGLING = (
    (b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
    (b"Content-Length: 4\r\nContent-Length: 5\r\n", b"abcde"),
    (b"Content-Length: +4\r\n", b"abcd"),
    (b"Content-Length: 0x4\r\n", b"abcd"),
    (b"Content-Length:\r\n", b""),
    (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
    (b"Transfer-Encoding: xchunked\r\n", b"0\r\n\r\n"),
    (b"Transfer-Encoding: chunked\r\n", b"0x4\r\nabcd\r\n0\r\n\r\n"),
    (b"Transfer-Encoding: chunked\r\n", b" 4\r\nabcd\r\n0\r\n\r\n"),
    (b"Transfer-Encoding: chunked\r\n", b"4_0\r\nabcd\r\n0\r\n\r\n"),
    (b"X-Folded: a\r\n b\r\n", b""),
    (b"X-Nul: a\x00b\r\n", b""),
    (b"Bad Name: x\r\n", b""),
    (b"X-Space : x\r\n", b""),
    (b"X-Bare-Lf: x\n", b""),
)


def _pick(table, seed: bytes, i: int):
    return table[seed[i] % len(table)] if len(seed) > i else table[0]


def _byte(seed: bytes, i: int, default: int = 0) -> int:
    return seed[i] if len(seed) > i else default


def _target(seed: bytes, sock, paths=PATHS, hosts=HOSTS, own_fields: bool = False) -> tuple:
    """(path, header fields, host) of a request: from the fixed tables, or from the session
    configuration's own routes (a path, its fields and a host of its virtual host) when the fixed
    ones mostly miss them (a session sets
    `sock.fuzz_targets`: fuzz.models.session_oracle.route_targets); with `own_fields`, the fixed
    path and host get the fields a route of the configuration matches on (byte 1 picks it)."""
    own = getattr(sock, "fuzz_targets", None)
    if own is not None:  # the route table of the chain this connection reaches, where known
        own = own.for_connection(getattr(sock, "fuzz_connect", None))
    if own is None or not own[2]:
        fields = list(_pick(own[0], seed, 1)[1]) if own is not None and own_fields else []
        return _pick(paths, seed, 1), fields, _pick(hosts, seed, 2)
    path, fields, route_hosts = _pick(own[0], seed, 1)
    return path, list(fields), _pick(route_hosts, seed, 2)  # a host of the route's own virtual host


# Byte 4 of an HTTP/1.1 request template: add the header fields a route matches on; end a chunked
# body with a trailer field; carry a 4 KiB field (a large cookie, as browsers send; with a trailer, a
# 4 KiB signature trailer instead), past an HTTP/2 upstream's small SETTINGS_MAX_HEADER_LIST_SIZE
# (fuzz.peers.h2_peer), which the proxy must respect (RFC 9113 6.5.2).
ROUTE_FIELDS_BIT = 0x10
REQUEST_TRAILER_BIT = 0x20
LARGE_FIELD_BIT = 0x40
LARGE_FIELD = 4 * 1024


def h1_request(seed: bytes, sock) -> bytes:
    return _h1_request(seed, sock, http10=False)


def h1_request_http10(seed: bytes, sock) -> bytes:
    """An HTTP/1.0 client (wget, ab, health checkers, old balancers): the same request, its body
    framed by Content-Length only (chunked is HTTP/1.1's, RFC 9112 6.1), and the connection closed
    after the response unless bit 1 of byte 4 asks for keep-alive. The proxy must answer it in
    HTTP/1.0's terms: no chunked coding, no 1xx, a body of unknown length ended by the close."""
    return _h1_request(seed, sock, http10=True)


def h1_request_cut(seed: bytes, sock) -> bytes:
    """A client that sends its request in pieces and may stop part way (a slowloris head, an upload
    that stalls, then perhaps resumes): the first call sends the start of h1_request(seed[1:]), cut
    before its end where byte 0 says (a share of its length); each later call on the connection
    sends the next piece of what is left (byte 0 at 255: all of it), then a new request begins."""
    rest = getattr(sock, "fuzz_h1_rest", b"") or h1_request(seed[1:], sock)
    cut = 1 + _byte(seed, 0) * len(rest) // 256
    sock.fuzz_h1_rest = rest[cut:]
    return rest[:cut]


def _h1_request(seed: bytes, sock, http10: bool) -> bytes:
    method, (path, fields, host) = (
        _pick(METHODS, seed, 0),
        _target(seed, sock, own_fields=bool(_byte(seed, 4) & ROUTE_FIELDS_BIT)),
    )
    body = seed[8 : 8 + _byte(seed, 3) % 48]
    target, host, extra = hostile.apply(_byte(seed, 7), path, host, fields)  # byte 7: a hostile shape, or none
    large = _large(seed[5:7].hex().encode(), LARGE_FIELD) if _byte(seed, 4) & LARGE_FIELD_BIT else b""
    version = b"HTTP/1.0" if http10 else b"HTTP/1.1"
    head = [b"%s %s %s" % (method, target, version), b"Host: " + host] + _id_line(sock)
    head += [b"%s: %s" % f for f in extra]
    if _byte(seed, 4) & 1 or (http10 and body):
        head.append(b"Content-Length: %d" % len(body))
        tail = body
    elif body:
        head.append(b"Transfer-Encoding: chunked")
        trailer, large = _large_into_trailer(_trailer(seed, 4, REQUEST_TRAILER_BIT), large)
        trailer += b"".join(b"%s: %s\r\n" % f for f in [hostile.trailer_field(_byte(seed, 7))] if f is not None)
        if trailer:  # a client sending trailers says it takes them too (RFC 9110 10.1.4), as gRPC's do
            head.append(b"TE: " + TE_LISTS[_byte(seed, 6) % len(TE_LISTS)])
        tail = b"%x\r\n%s\r\n0\r\n%s\r\n" % (len(body), body, trailer)
    else:
        tail = b""
    if _byte(seed, 4) & 2:
        head.append(b"Connection: keep-alive" if http10 else b"Connection: close")
    if _byte(seed, 4) & 4:
        head.append(b"X-Tenant: " + seed[5:7].hex().encode())
    if _byte(seed, 4) & 8:
        head.append(b"Expect: 100-continue")
    if large:
        head.append(b"Cookie: session=" + large)
    return b"\r\n".join(head) + b"\r\n\r\n" + tail


def h1_smuggling(seed: bytes, sock) -> bytes:
    extra, body = _pick(SMUGGLING, seed, 0)
    extra = b"".join(line + b"\r\n" for line in _id_line(sock)) + extra
    path, fields, host = _target(seed, sock)
    extra = b"".join(b"%s: %s\r\n" % f for f in fields) + extra
    return b"POST %s HTTP/1.1\r\nHost: %s\r\n%s\r\n%s" % (path, host, extra, body)


def h1_pipeline(seed: bytes, sock) -> bytes:
    n = 1 + _byte(seed, 0) % 4
    return b"".join(h1_request(seed[i:] + bytes([i]), sock) for i in range(n))


def _request_id(sock) -> bytes | None:
    """A session-unique id for the next request on this connection (the strict peers link what an
    upstream saw to what the client sent by it: fuzz/peers), or None outside a session."""
    peers = getattr(sock, "fuzz_peers", None)
    return peers[0].new_id(peers[1]) if peers is not None else None


def _id_line(sock) -> list:
    rid = _request_id(sock)
    return [b"X-Fuzz-Id: " + rid] if rid is not None else []


def _h2_client(sock):
    """The connection's h2 client: in a session, the strict peer's (fuzz/peers), which records and
    judges everything it sends and receives."""
    client = getattr(sock, "fuzz_h2_client", None)
    peers = getattr(sock, "fuzz_peers", None)
    peer = peers[0].h2_client(peers[1]) if client is None and peers is not None else None
    if peer is not None:
        client = sock.fuzz_h2_client = peer.conn
    elif client is None:
        client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        client.initiate_connection()
        sock.fuzz_h2_client = client
    return client


def h2_request(seed: bytes, sock) -> bytes:
    client = _h2_client(sock)
    try:
        stream_id = client.get_next_available_stream_id()
        body = seed[6 : 6 + _byte(seed, 3) % 40]
        # Byte 5 (above its reset bit): a hostile shape of the request, or of its trailers, or none.
        selector = _byte(seed, 5) >> 1
        path, fields, host = _target(seed, sock, PATHS[:-1], HOSTS[:-1])
        scheme = hostile.scheme(selector)  # the :scheme shape leaves the path origin-form
        path, authority, extra = hostile.apply(0 if scheme else selector, path, host or b"x", fields)
        trailers = hostile.trailers(selector - hostile.N_SHAPES)
        own = hostile.trailer_field(selector)
        trailers = (trailers or []) + [own] if own is not None else trailers
        headers = [
            (b":method", _pick(METHODS[:7], seed, 0)),
            (b":path", path),
            # Bit 7 of byte 4: https, as a client behind TLS (or a TLS-terminating balancer) sends.
            (b":scheme", scheme or (b"https" if _byte(seed, 4) & HTTPS_BIT else b"http")),
            (b":authority", authority),
        ]
        headers += [(b"x-fuzz-id", rid) for rid in [_request_id(sock)] if rid is not None] + extra
        if trailers:  # te: trailers, the one TE HTTP/2 allows (RFC 9113 8.2.2), as gRPC clients send
            headers.append((b"te", b"trailers"))
        pad = PADS[_byte(seed, 3) // 40]  # byte 3 mod 40 is the body's length, the rest its padding
        if _byte(seed, 4) & LARGE_UPLOAD_BITS == LARGE_UPLOAD_BITS:
            body = _large(seed[6:], 2048 << (_byte(seed, 3) % LARGE_UPLOAD_STEPS))
            # What the proxy's windows let go now (the stream's is its initial window: it opens next).
            body = body[: min(client.outbound_flow_control_window, client.remote_settings.initial_window_size)]
            pad = 0
        if _byte(seed, 4) & 1:
            headers.append((b"content-length", b"%d" % (len(body) + (_byte(seed, 4) >> 4) % 3)))
        # Bit 6 of byte 4: a streaming upload, the request stays open (h2_control continues it).
        streaming = bool(_byte(seed, 4) & STREAMING_BIT)
        trailers = None if streaming else trailers
        client.send_headers(stream_id, headers, end_stream=not body and not trailers and not streaming)
        # DATA frames as large as the proxy allows (its SETTINGS_MAX_FRAME_SIZE, once the client read it).
        step = client.max_outbound_frame_size
        for at in range(0, len(body), step):
            client.send_data(
                stream_id,
                body[at : at + step],
                end_stream=not trailers and not streaming and at + step >= len(body),
                pad_length=pad or None,
            )
        if trailers:
            client.send_headers(stream_id, trailers, end_stream=True)
        if _byte(seed, 5) & 1:
            client.reset_stream(stream_id)  # rapid reset
    except (h2.exceptions.H2Error, ValueError, IndexError):
        pass  # IndexError: h2 4.4 fails on a trailer block its own normalisation empties (host, te)
    return client.data_to_send()


STREAMING_BIT = 0x40
HTTPS_BIT = 0x80
# TE of an HTTP/1.1 request with trailers: asking for them alone, among codings, or not at all.
TE_LISTS = (b"trailers", b"gzip;q=0.5, trailers", b"deflate")
# DATA padding of an upload (RFC 9113 6.1: 0-255 bytes, flow controlled like the data and credited back
# by the receiver): most uploads unpadded, some a little, some the most a frame may carry.
PADS = (0, 0, 0, 7, 64, 200, 255)


def h2_control(seed: bytes, sock) -> bytes:
    """Byte 0 mod 4: a PING, a SETTINGS frame, a WINDOW_UPDATE, or more of the newest upload still open
    (seed[2:] up to 40 bytes, possibly none: an empty DATA frame, as streaming clients send; bit 2 of
    byte 0 ends it)."""
    client = _h2_client(sock)
    kind = _byte(seed, 0) % 4
    try:
        if kind == 0:
            client.ping(bytes(seed[1:9]).ljust(8, b"\0"))
        elif kind == 1:
            client.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: _byte(seed, 1) * 257})
        elif kind == 2:
            client.increment_flow_control_window(1 + _byte(seed, 1) * 1000)
        else:
            sending = [
                sid
                for sid, st in client.streams.items()
                if sid % 2 and st.open and not st.state_machine.state.name.startswith(("HALF_CLOSED_LOCAL", "CLOSED"))
            ]
            if sending:
                client.send_data(
                    max(sending),
                    seed[2 : 2 + _byte(seed, 1) % 41],
                    end_stream=bool(_byte(seed, 0) & 4),
                    pad_length=PADS[(_byte(seed, 0) >> 3) % len(PADS)] or None,
                )
    except (h2.exceptions.H2Error, ValueError):
        pass
    return client.data_to_send()


# A large response body, when bits 2-5 of byte 2 are all set (one response in sixteen): 2 KiB << (byte
# 3 mod 10), up to 1 MiB (Envoy's default buffer limit), past HTTP/2 windows and small limits, so what
# the proxy holds for a slow or stalled client (fuzz/held.py) is tested with sizes the 4 KiB action
# payloads cannot reach.
LARGE_BODY_BITS = 0x3C
LARGE_BODY_STEPS = 10


# A large request body from an HTTP/2 client, when bits 1-3 of byte 4 are all set (one request in
# eight): 2 KiB << (byte 3 mod 6), up to 64 KiB, as far as the proxy's windows let it go at once.
LARGE_UPLOAD_BITS = 0x0E
LARGE_UPLOAD_STEPS = 6


def _large(fill: bytes, size: int) -> bytes:
    fill = fill[:64] or b"b"
    return (fill * (size // len(fill) + 1))[:size]


def _body(seed: bytes, at: int) -> bytes:
    if _byte(seed, 2) & LARGE_BODY_BITS == LARGE_BODY_BITS:
        return _large(seed[at:], 2048 << (_byte(seed, 3) % LARGE_BODY_STEPS))
    return seed[at : at + _byte(seed, 1) % 64]


def h1_response(seed: bytes, sock) -> bytes:
    status = (200, 204, 301, 404, 500, 503, 100, 304)[_byte(seed, 0) % 8]
    body = b"" if status in (100, 204, 304) else _body(seed, 4)
    head = b"HTTP/1.1 %d X\r\n" % status
    if status == 100:
        return head + b"\r\n"
    large = _large(seed[4:6].hex().encode(), LARGE_FIELD) if _byte(seed, 2) & LARGE_RESPONSE_FIELD_BIT else b""
    trailer = _trailer(seed, 2)
    if _byte(seed, 2) & 1 and body:
        trailer, large = _large_into_trailer(trailer, large)
    if large:
        head += b"Set-Cookie: session=" + large + b"\r\n"
    if _byte(seed, 2) & 1 and body:
        return head + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n%s\r\n" % (len(body), body, trailer)
    conn = b"Connection: close\r\n" if _byte(seed, 2) & 2 else b""
    return head + conn + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def h1_response_until_close(seed: bytes, sock) -> bytes:
    """A response whose body runs to the connection's close (RFC 9112 6.3 item 8: neither
    Content-Length nor Transfer-Encoding), as HTTP/1.0 servers, CGI scripts and legacy backends
    answer: HTTP/1.0 or HTTP/1.1 (bit 0 of byte 2), with `Connection: close` or without (bit 1).
    The action's end of stream is the close that completes it; without it the body stays open
    and whatever the upstream sends next is more of it."""
    status = (200, 404, 500, 503, 301)[_byte(seed, 0) % 5]
    version = b"HTTP/1.0" if _byte(seed, 2) & 1 else b"HTTP/1.1"
    conn = b"Connection: close\r\n" if _byte(seed, 2) & 2 else b""
    return b"%s %d X\r\nContent-Type: text/plain\r\n%s\r\n%s" % (version, status, conn, _body(seed, 4))


# Bit 7 of byte 2: a 4 KiB Set-Cookie (with a chunked body and a trailer: a 4 KiB x-signature trailer
# instead), past an HTTP/2 client's small SETTINGS_MAX_HEADER_LIST_SIZE (fuzz.peers.h2_peer): RFC 9113
# 6.5.2, the proxy must not send it to that client.
LARGE_RESPONSE_FIELD_BIT = 0x80


# Response trailers (bit 6 of byte 2; HTTP/2: of byte 0): a checksum field, as gRPC and digest
# trailers carry, which the client must get wherever its framing can carry trailers (fuzz/peers/judge.py).
TRAILER_BIT = 0x40


def _trailer_fields(seed: bytes, byte: int, bit: int = TRAILER_BIT) -> list:
    return [(b"x-checksum", b"%02x" % _byte(seed, 3))] if _byte(seed, byte) & bit else []


def _trailer(seed: bytes, byte: int, bit: int = TRAILER_BIT) -> bytes:
    """The HTTP/1.1 trailer section's lines (requests: REQUEST_TRAILER_BIT of byte 4)."""
    return b"".join(b"%s: %s\r\n" % field for field in _trailer_fields(seed, byte, bit))


def _large_into_trailer(trailer: bytes, large: bytes) -> tuple[bytes, bytes]:
    """With a trailer section, the 4 KiB field travels in it (x-signature) instead of the head."""
    return (trailer + b"x-signature: " + large + b"\r\n", b"") if trailer and large else (trailer, large)


def h2_upstream_server(sock):
    """The HTTP/2 server of an upstream peer, one per socket, with what it knows: how much of the
    proxy's bytes it has read (`fuzz_h2_seen`), the streams it has not answered (`fuzz_h2_open`,
    oldest first) and those whose request ended (`fuzz_h2_ended`)."""
    server = getattr(sock, "fuzz_h2_server", None)
    if server is None:
        server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
        server.initiate_connection()
        sock.fuzz_h2_server = server
        sock.fuzz_h2_seen = 0
        sock.fuzz_h2_open = []
        sock.fuzz_h2_ended = set()
    return server


def h2_upstream_read(sock):
    """The upstream HTTP/2 server reads what the proxy sent since it last looked, noting the streams
    opened, reset and ended (fuzz/settle.py answers those whose request ended). h2's errors propagate."""
    server = h2_upstream_server(sock)
    fresh = bytes(sock.received[sock.fuzz_h2_seen :])
    sock.fuzz_h2_seen = len(sock.received)
    for event in server.receive_data(fresh):
        sid = getattr(event, "stream_id", None)
        if isinstance(event, h2.events.RequestReceived):
            sock.fuzz_h2_open.append(sid)
        elif isinstance(event, h2.events.StreamReset) and sid in sock.fuzz_h2_open:
            sock.fuzz_h2_open.remove(sid)
        if isinstance(event, h2.events.StreamEnded) or getattr(event, "stream_ended", None) is not None:
            sock.fuzz_h2_ended.add(sid)
    return server


# Bit 7 of byte 0 of an HTTP/2 answer: a 204 (No Content) with `content-length: 0`, as many frameworks
# send it; the proxy, the client's server, must pass on neither framing field (RFC 9110 8.6, judged in
# fuzz/peers/judge.py). An HTTP/1.1 upstream's 204 loses a zero Content-Length in the proxy's codec.
NO_CONTENT_BIT = 0x80


def h2_response(seed: bytes, sock) -> bytes:
    """Answer the oldest unanswered stream the proxy opened on this HTTP/2 upstream."""
    server = h2_upstream_server(sock)
    try:
        h2_upstream_read(sock)
        if sock.fuzz_h2_open:
            stream_id = sock.fuzz_h2_open.pop(0)
            body = seed[2 : 2 + _byte(seed, 1) % 64]
            status = b"%d" % (200, 404, 500, 503)[_byte(seed, 0) % 4]
            trailers = _trailer_fields(seed, 0)
            if _byte(seed, 0) & NO_CONTENT_BIT:
                status, body, trailers = b"204", b"", []
            server.send_headers(
                stream_id,
                [(b":status", status), (b"content-length", b"%d" % len(body))],
                end_stream=not body and not trailers,
            )
            if body:
                server.send_data(stream_id, body, end_stream=not trailers)
            if trailers:
                server.send_headers(stream_id, trailers, end_stream=True)
    except (h2.exceptions.H2Error, ValueError):
        pass
    return server.data_to_send()


# Appended only: an action's template is its index here, so committed seeds keep their meaning.
DOWNSTREAM_PAYLOADS = (h1_request, h1_pipeline, h1_smuggling, h2_request, h2_control, h1_request_http10, h1_request_cut)
UPSTREAM_PAYLOADS = (h1_response, h2_response, h1_response_until_close)
