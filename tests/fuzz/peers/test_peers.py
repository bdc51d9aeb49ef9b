"""Strict, independent peers in sessions (fuzz/peers): the records they keep, and each oracle failing on
a planted proxy bug (a monkeypatch that breaks what a proxy user relies on)."""

from pathlib import Path

import pytest

from fuzz import session
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.upstream import pool_conn
from tests.fuzz.test_liveness import http

REPO = Path(__file__).resolve().parents[3]


def built(cluster_protocol="HTTP1", codec="AUTO", filters=""):
    """Listener -> HCM (`filters`: more HCM fields) -> cluster `web` speaking `cluster_protocol`."""
    return http(limit=1 << 20, codec=codec, hcm=filters, cluster=f"protocol: {cluster_protocol}")


# Seeds of fuzz/payloads.py templates: h1_request (method, path, host, body length, flags, ...),
# h2_request (method, path, host, body length, flags, rapid-reset bit, body...).
H1_POST = A("send_http", value=0, payload=b"\x01\x01\x01\x10\x05\x00\x00\x00" + b"0123456789abcdef")
H2_POST = A("send_http", value=3, payload=b"\x01\x01\x01\x08\x00\x00" + b"ABCDEFGH")
UP_OK = A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok")
UP_H2_OK = A("upstream_http", value=1, payload=b"\x00\x02ok")


def exchange_script(request, answer=UP_OK):
    return [A("connect"), request, A("upstream_connect"), A("upstream_read"), answer, A("read")]


def run(built_config, script):
    return Session(built_config).run(script)


# ------------------------------------------------------------------------------------- records
def test_an_h1_exchange_is_recorded_from_the_peers_own_parsers():
    s = run(built(), exchange_script(H1_POST))
    [ex] = s.peers.exchanges
    assert (ex.id, ex.protocol, ex.request.method, ex.request.target, ex.request.authority) == (
        "0-1",
        "HTTP/1.1",
        b"POST",
        b"/api/v1/items",
        b"api.example.com",
    )
    assert ex.request.complete and bytes(ex.request.body) == b"0123456789abcdef"
    [up] = ex.upstreams
    assert (up.conn, up.cluster, up.endpoint, up.protocol) == (0, "web", ("127.0.0.1", 9080), "HTTP/1.1")
    assert bytes(up.request.body) == b"0123456789abcdef" and up.request.complete
    assert up.response.status == 200 and bytes(up.response.body) == b"ok"
    assert ex.outcome == "response" and ex.response.status == 200 and bytes(ex.response.body) == b"ok"
    assert s.peers.unlinked == [] and s.peers.all_understood


def test_an_h2_exchange_to_an_h2_upstream_is_recorded_by_the_strict_peers():
    s = run(built("HTTP2"), exchange_script(H2_POST, UP_H2_OK))
    [ex] = s.peers.exchanges
    assert (ex.protocol, ex.stream, ex.request.method, bytes(ex.request.body)) == ("HTTP/2", 1, b"POST", b"ABCDEFGH")
    [up] = ex.upstreams
    assert up.protocol == "HTTP/2" and up.request.complete and bytes(up.request.body) == b"ABCDEFGH"
    assert ex.outcome == "response" and ex.response.status == 200 and bytes(ex.response.body) == b"ok"


def test_a_client_reset_and_a_local_reply_are_outcomes():
    s = run(
        built(),
        [
            A("connect"),
            A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x01"),
            A("send", payload=b"GET / HTTP/1.1\r\n\r\n"),
        ],
    )  # second connection never opened: ignored
    [ex] = s.peers.exchanges
    assert ex.outcome == "reset" and ex.reset_reason == "client reset"


def test_committed_session_seeds_pass_with_records():
    pool = session.ConfigPool.default()
    exchanges = linked = answered = 0
    for path in sorted((REPO / "corpus" / "session").iterdir()):
        s = session.run_input(pool, path.read_bytes())
        exchanges += len(s.peers.exchanges)
        linked += sum(1 for ex in s.peers.exchanges if ex.upstreams)
        answered += sum(1 for ex in s.peers.exchanges if ex.outcome == "response")
    assert exchanges > 100 and linked > 20 and answered > 20


# ------------------------------------------------------------------ planted bugs: what is forwarded
def plant_on_upstream(monkeypatch, change):
    """Wrap the router's upstream send_headers: change(method, target, authority, headers)."""
    original = pool_conn.UpstreamStream.send_headers

    def planted(self, method, target, authority, headers, end_stream, scheme=b"http"):
        return original(self, *change(method, target, authority, list(headers)), end_stream, scheme)

    monkeypatch.setattr(pool_conn.UpstreamStream, "send_headers", planted)


def test_planted_fragment_in_the_forwarded_target_is_caught(monkeypatch):
    plant_on_upstream(monkeypatch, lambda m, t, a, h: (m, t + b"#frag", a, h))
    with pytest.raises(InvariantViolation, match="peer_forwarded_target"):
        run(built(), exchange_script(H1_POST))


def test_planted_rewritten_path_is_a_meaning_change(monkeypatch):
    plant_on_upstream(monkeypatch, lambda m, t, a, h: (m, b"/internal" + t, a, h))
    with pytest.raises(InvariantViolation, match="peer_forwarded_target_changed"):
        run(built("HTTP2"), exchange_script(H2_POST, UP_H2_OK))


def test_planted_userinfo_in_the_authority_is_caught(monkeypatch):
    plant_on_upstream(monkeypatch, lambda m, t, a, h: (m, t, b"user@" + a, h))
    with pytest.raises(InvariantViolation, match="peer_forwarded_authority"):
        run(built("HTTP2"), exchange_script(H2_POST, UP_H2_OK))


def test_planted_lost_header_is_a_meaning_change(monkeypatch):
    plant_on_upstream(monkeypatch, lambda m, t, a, h: (m, t, a, [f for f in h if f[0] != b"x-tenant"]))
    with pytest.raises(InvariantViolation, match="peer_forwarded_headers_changed"):
        run(built(), exchange_script(H1_POST))


def test_planted_header_mutation_that_skips_its_removal_is_caught(monkeypatch):
    from proxy.http.filters import header_mutation

    config = built(
        filters='http_filters: [{header_mutation: {request_headers_to_remove: ["x-tenant"], '
        'request_headers_to_add: {"x-added": "1"}}}]'
    )
    run(config, exchange_script(H1_POST))  # the model follows the documented removal and addition
    monkeypatch.setattr(header_mutation, "_mutate", lambda headers, remove, add: [headers.add(n, v) for n, v in add])
    with pytest.raises(InvariantViolation, match="peer_forwarded_headers_changed"):
        run(config, exchange_script(H1_POST))


def test_planted_truncated_body_is_caught(monkeypatch):
    original = pool_conn.UpstreamStream.send_data
    monkeypatch.setattr(
        pool_conn.UpstreamStream,
        "send_data",
        lambda self, data, end_stream: original(self, data[:-1] if end_stream else data, end_stream),
    )
    with pytest.raises(InvariantViolation, match="peer_forwarded_body_changed|peer_h1|count"):
        run(built("HTTP2"), exchange_script(H2_POST, UP_H2_OK))


def test_planted_forbidden_trailer_is_caught(monkeypatch):
    """A filter adds a trailer RFC 9110 6.5.1 forbids, and the codec's filter of such trailers is gone."""
    from proxy.http import h2 as h2_codec

    monkeypatch.setattr(h2_codec, "sendable_trailers", lambda fields: fields)
    original = pool_conn.UpstreamStream.send_data

    def with_trailer(self, data, end_stream):
        if not end_stream:
            return original(self, data, end_stream)
        original(self, data, False)
        self.send_trailers([(b"content-length", b"50")])

    monkeypatch.setattr(pool_conn.UpstreamStream, "send_data", with_trailer)
    with pytest.raises(InvariantViolation, match="peer_forwarded_trailer"):
        run(built("HTTP2"), exchange_script(H2_POST, UP_H2_OK))


def test_planted_smuggled_request_is_invented_or_a_framing_split(monkeypatch):
    from proxy.http.h1 import H1ClientCodec

    original = H1ClientCodec.data_to_send
    monkeypatch.setattr(
        H1ClientCodec,
        "data_to_send",
        lambda self: original(self).replace(b"\r\n\r\n", b"\r\n\r\nGET /admin HTTP/1.1\r\nhost: x\r\n\r\n", 1),
    )
    with pytest.raises(InvariantViolation, match="peer_request_invented"):
        run(built(), exchange_script(A("send_http", value=0, payload=b"\x00\x00\x00\x00\x00")))


def test_planted_te_and_cl_together_are_refused_by_the_upstream_parsers(monkeypatch):
    from proxy.http.h1 import H1ClientCodec

    original = H1ClientCodec.data_to_send
    monkeypatch.setattr(
        H1ClientCodec,
        "data_to_send",
        lambda self: original(self).replace(
            b"transfer-encoding: chunked\r\n", b"transfer-encoding: chunked\r\ncontent-length: 3\r\n"
        ),
    )
    with pytest.raises(InvariantViolation, match="peer_h1"):
        run(built(), exchange_script(A("send_http", value=0, payload=b"\x01\x00\x00\x10\x00\x00\x00\x00" + b"x" * 16)))


# ------------------------------------------------------------------ planted bugs: HTTP/2 behaviour
def plant_on_proxy_h2(monkeypatch, codec_class, patch):
    original = codec_class.__init__

    def planted(self, *args, **kwargs):
        original(self, *args, **kwargs)
        patch(self._conn)

    monkeypatch.setattr(codec_class, "__init__", planted)


def subclass_instance(obj, **overrides):
    """Give one object (the proxy's own h2 connection) a planted behaviour, leaving its class alone."""
    obj.__class__ = type("Planted" + type(obj).__name__, (type(obj),), overrides)


def test_planted_proxy_ignoring_the_clients_initial_window_is_caught(monkeypatch):
    from proxy.http.h2 import H2ServerCodec

    script = [
        A("connect"),
        A("settings", value=0b0000_1100),  # the client's INITIAL_WINDOW_SIZE: 16
        A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x00"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_send", payload=b"HTTP/1.1 200 OK\r\ncontent-length: 3000\r\n\r\n" + b"r" * 3000),
        A("read"),
    ]
    s = run(built(), script)  # the proxy sends 16 bytes at a time as the client credits them
    assert s.peers.exchanges[0].response.status == 200
    plant_on_proxy_h2(
        monkeypatch,
        H2ServerCodec,
        lambda conn: subclass_instance(conn.remote_settings, initial_window_size=property(lambda self: 65_535)),
    )
    with pytest.raises(InvariantViolation, match="h2_wire_window_exceeded"):
        run(built(), script)


def test_planted_proxy_ignoring_the_clients_max_frame_size_is_caught(monkeypatch):
    from proxy.http.h2 import H2ServerCodec

    script = [
        A("connect"),
        A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x00"),
        A("upstream_connect"),
        A("upstream_read"),
        A(
            "upstream_send",
            payload=b"HTTP/1.1 200 OK\r\nx-big: " + bytes(range(33, 127)) * 320 + b"\r\ncontent-length: 0\r\n\r\n",
        ),
        A("read"),
    ]
    run(built(), script)  # a 29 KB header block goes out as HEADERS + CONTINUATION
    plant_on_proxy_h2(
        monkeypatch,
        H2ServerCodec,
        lambda conn: subclass_instance(
            conn, max_outbound_frame_size=property(lambda self: 32_768, lambda self, value: None)
        ),
    )
    with pytest.raises(InvariantViolation, match="h2_wire_frame_too_large"):
        run(built(), script)


def test_planted_proxy_opening_more_streams_than_the_upstream_allows_is_caught(monkeypatch):
    from proxy.http.h2 import H2ClientCodec

    script = [
        A("connect"),
        A("upstream_settings", value=0b0000_0001),  # MAX_CONCURRENT_STREAMS 1
        A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x00"),
        A("upstream_connect"),
        A("upstream_read"),
        A("send_http", value=3, payload=b"\x00\x01\x00\x00\x00\x00"),
        A("upstream_read"),
        A("send_http", value=3, payload=b"\x00\x02\x00\x00\x00\x00"),
        A("upstream_read"),
    ]
    run(built("HTTP2"), script)
    monkeypatch.setattr(H2ClientCodec, "can_send_request", lambda self: True)
    plant_on_proxy_h2(
        monkeypatch, H2ClientCodec, lambda conn: subclass_instance(conn, open_outbound_streams=property(lambda self: 0))
    )
    with pytest.raises(InvariantViolation, match="h2_wire_streams_exceeded"):
        run(built("HTTP2"), script)


def test_planted_pool_opening_streams_before_the_upstreams_settings_is_caught(monkeypatch):
    """Three requests wait for a new HTTP/2 upstream connection. The pool sends one with the preface
    and the others once the upstream's SETTINGS (its stream limit) are in; a pool that sent all three
    at once had 15 of 20 requests refused live by an upstream allowing 5 (docs/semantics.md)."""
    script = [
        A("connect"),
        A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x00"),
        A("send_http", value=3, payload=b"\x00\x01\x00\x00\x00\x00"),
        A("send_http", value=3, payload=b"\x00\x02\x00\x00\x00\x00"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_read"),
    ]
    s = run(built("HTTP2"), script)
    assert [len(ex.upstreams) for ex in s.peers.exchanges] == [1, 1, 1]
    monkeypatch.setattr(pool_conn.PoolConnection, "awaiting_settings", property(lambda self: False))
    with pytest.raises(InvariantViolation, match="h2_wire_streams_before_settings"):
        run(built("HTTP2"), script)


def test_planted_router_sending_http_for_an_https_request_is_caught(monkeypatch):
    """An HTTP/2 client's :scheme https reaches an HTTP/2 upstream as https (RFC 9113 8.3.1); a
    router that always sent http (found live before) fails peer_forwarded_scheme_changed."""
    https_get = A("send_http", value=3, payload=b"\x00\x00\x00\x00\x80\x00")  # byte 4 bit 7: https
    s = run(built("HTTP2"), exchange_script(https_get, UP_H2_OK))
    assert [up.request.scheme for ex in s.peers.exchanges for up in ex.upstreams] == [b"https"]
    original = pool_conn.UpstreamStream.send_headers
    monkeypatch.setattr(
        pool_conn.UpstreamStream,
        "send_headers",
        lambda self, method, target, authority, headers, end_stream, scheme=b"http": original(
            self, method, target, authority, headers, end_stream
        ),
    )
    with pytest.raises(InvariantViolation, match="peer_forwarded_scheme_changed"):
        run(built("HTTP2"), exchange_script(https_get, UP_H2_OK))


def test_planted_data_after_end_stream_is_caught(monkeypatch):
    from proxy.http.h2 import H2ServerCodec

    original = H2ServerCodec.data_to_send

    def trailing_data(self):
        out = original(self)
        if b"\x00\x01\x00\x00\x00\x01ok" in out:  # DATA "ok" with END_STREAM on stream 1
            out += b"\x00\x00\x01\x00\x00\x00\x00\x00\x01!"
        return out

    monkeypatch.setattr(H2ServerCodec, "data_to_send", trailing_data)
    with pytest.raises(InvariantViolation, match="h2_wire_frame_on_closed_stream"):
        run(built(), exchange_script(A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x00")))


# ------------------------------------------------------------------ planted bugs: the HCM's options
# h1_request seed byte 7 picks a hostile shape (fuzz/hostile.py): 4 "/a/../admin", 18 "Transfer_Encoding: chunked".
def hostile_h1(shape: int):
    return A("send_http", value=0, payload=bytes([0, 0, 0, 0, 0, 0, 0, shape]))


def test_planted_normalize_path_that_does_nothing_is_caught(monkeypatch):
    from proxy.http import conn_manager
    from proxy.http.path import PathOutcome

    config = built(filters="normalize_path: true")
    s = run(config, exchange_script(hostile_h1(4)))
    assert [up.request.target for ex in s.peers.exchanges for up in ex.upstreams] == [b"/admin"]
    monkeypatch.setattr(conn_manager, "apply_path_options", lambda path, options: PathOutcome("forward", path))
    with pytest.raises(InvariantViolation, match="peer_forwarded_target_changed"):
        run(config, exchange_script(hostile_h1(4)))


def test_planted_underscore_check_that_lets_requests_through_is_caught(monkeypatch):
    from proxy.http import conn_manager

    s = run(built(), exchange_script(hostile_h1(18)))  # REJECT_REQUEST by default: 400, nothing upstream
    assert s.peers.exchanges[0].response.status == 400 and not s.peers.exchanges[0].upstreams
    monkeypatch.setattr(conn_manager.HttpConnectionManager, "_refuse_underscores", lambda self, stream, fields: False)
    with pytest.raises(InvariantViolation, match="peer_forwarded_despite_config"):
        run(built(), exchange_script(hostile_h1(18)))


def test_requests_sent_without_an_id_are_linked_by_what_they_ask_for():
    data = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET http://localhost/x HTTP/1.1\r\nHost: localhost\r\n\r\n"
    s = run(
        built(),
        [
            A("connect"),
            A("send", payload=data),
            A("upstream_connect"),
            A("upstream_read"),
            UP_OK,
            A("upstream_read"),
            UP_OK,
            A("read"),
        ],
    )
    assert [
        (ex.id, [(up.request.target, up.request.authority) for up in ex.upstreams]) for ex in s.peers.exchanges
    ] == [("c0.1", [(b"/", b"a")]), ("c0.2", [(b"/x", b"localhost")])]
    assert s.peers.unlinked == []


# The client advertises SETTINGS_MAX_HEADER_LIST_SIZE 4096 and asks; the upstream answers with a 5 KB field.
OVER_THE_CLIENTS_LIMIT = [
    A("connect"),
    A("settings", value=0x80),
    A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x00"),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_send", payload=b"HTTP/1.1 200 OK\r\nx-big: " + b"a" * 5000 + b"\r\ncontent-length: 0\r\n\r\n"),
    A("read"),
]


def test_a_response_over_the_clients_header_list_limit_becomes_a_502():
    """RFC 9113 6.5.2: the proxy does not send the client more than it accepts; it answers 502."""
    s = run(built(), OVER_THE_CLIENTS_LIMIT)
    (ex,) = s.peers.exchanges
    assert ex.outcome == "response" and ex.response.status == 502
    assert s.ctx.stats.counters["http.h2_header_list_too_large"] == 1


def test_header_lists_over_the_clients_limit_are_caught(monkeypatch):
    """The defect as it was: the proxy forwarded a 5 KB header list to a client that advertised 4096."""
    from proxy.http import h2 as h2_codec

    monkeypatch.setattr(h2_codec._H2Codec, "_check_header_list", lambda self, block: None)
    with pytest.raises(InvariantViolation, match="h2_wire_header_list_too_large"):
        run(built(), OVER_THE_CLIENTS_LIMIT)


def test_a_limit_acknowledged_after_a_header_block_does_not_judge_that_block():
    """A client read, in one go, a 4,235-byte response head the proxy sent before that client's
    SETTINGS_MAX_HEADER_LIST_SIZE of 4096, and the proxy's ACK after it: the block was judged by the
    limit the ACK brought (session campaign, examples/tls.yaml; the monitor had read the ACK first).
    Each block is judged by the limit in effect at its own frame (H2Monitor.header_list_limits)."""
    from pathlib import Path

    from fuzz.session import ConfigPool, run_input

    (seed,) = (Path(__file__).resolve().parents[3] / "corpus" / "session").glob(
        "regress-header-list-limit-acked-after-the-block-8d7dfe24b5de"
    )
    run_input(ConfigPool.default(), seed.read_bytes())


def test_planted_upstream_request_with_an_uppercase_field_name_is_refused_by_the_strict_upstream(monkeypatch):
    from proxy.http import h2 as h2_codec
    from proxy.http.h2 import H2ClientCodec

    plant_on_proxy_h2(
        monkeypatch,
        H2ClientCodec,
        lambda conn: (
            setattr(conn.config, "validate_outbound_headers", False),
            setattr(conn.config, "normalize_outbound_headers", False),
        ),
    )
    original = h2_codec._outbound
    monkeypatch.setattr(h2_codec, "_outbound", lambda headers: original(headers) + [(b"X-Upper", b"1")])
    with pytest.raises(InvariantViolation, match="h2_peer_protocol_error"):
        run(built("HTTP2"), exchange_script(H2_POST, UP_H2_OK))


# ------------------------------------------------------------------ planted bugs: what comes back
UP_WITH_FIELD = A("upstream_send", payload=b"HTTP/1.1 200 OK\r\nx-r: 1\r\ncontent-length: 2\r\n\r\nok")


def plant_on_response(monkeypatch, headers=None, data=None):
    from proxy.http.filters.router import Router

    if headers is not None:
        original = Router.on_upstream_headers
        monkeypatch.setattr(
            Router,
            "on_upstream_headers",
            lambda self, status, fields, end, version: original(self, status, headers(list(fields)), end, version),
        )
    if data is not None:
        original_data = Router.on_upstream_data
        monkeypatch.setattr(Router, "on_upstream_data", lambda self, chunk, end: original_data(self, data(chunk), end))


@pytest.mark.parametrize(
    "change", [lambda fields: [f for f in fields if f[0] != b"x-r"], lambda fields: fields + [(b"x-injected", b"1")]]
)
def test_planted_response_field_lost_or_injected_is_caught(monkeypatch, change):
    for protocol_seed in (H1_POST, H2_POST):
        run(built(), exchange_script(protocol_seed, UP_WITH_FIELD))
    plant_on_response(monkeypatch, headers=change)
    for protocol_seed in (H1_POST, H2_POST):
        with pytest.raises(InvariantViolation, match="peer_response_headers_changed"):
            run(built(), exchange_script(protocol_seed, UP_WITH_FIELD))


def test_planted_response_body_corruption_is_caught(monkeypatch):
    plant_on_response(monkeypatch, data=lambda chunk: bytes(chunk).upper())
    with pytest.raises(InvariantViolation, match="peer_response_body_changed"):
        run(built(), exchange_script(H2_POST, UP_WITH_FIELD))


def test_a_connection_the_proxy_closes_or_the_client_resets_is_an_outcome_with_its_reason():
    s = run(
        built(), [A("connect"), A("send", payload=b"GET / HTTP/1.1\r\nHost: a\r\nX-Fuzz-Id: 0-1\r\n\r\n"), A("reset")]
    )
    [ex] = s.peers.exchanges
    assert (ex.outcome, ex.reset_reason) == ("closed", "client closed")
    s = run(
        built(),
        [
            A("connect"),
            A("send", payload=b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            A("upstream_connect"),
            A("upstream_read"),
            A("upstream_send", payload=b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nab"),
            A("upstream_reset"),
            A("read"),
        ],
    )
    [ex] = s.peers.exchanges
    assert (ex.outcome, ex.reset_reason) == ("closed", "connection closed") and bytes(ex.response.body) == b"ab"


def _big_request_to_an_h2_upstream_that_accepts_4096():
    small = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
    big = b"GET /b HTTP/1.1\r\nHost: h\r\nx-big: " + b"a" * 5000 + b"\r\n\r\n"
    return run(
        built("HTTP2"),
        [
            A("upstream_settings", value=0x80),
            A("connect"),
            A("send", payload=small),
            A("upstream_connect"),
            A("upstream_read"),
            UP_H2_OK,
            A("read"),
            A("upstream_read"),
            A("send", payload=big),
            A("upstream_read"),
            A("read"),
        ],
    )


def test_a_request_over_the_upstreams_header_list_limit_is_answered_431_and_never_sent():
    s = _big_request_to_an_h2_upstream_that_accepts_4096()
    assert [ex.response.status for ex in s.peers.exchanges] == [200, 431]
    assert s.ctx.stats.counters["cluster.web.upstream_rq_header_list_too_large"] == 1


def test_request_header_lists_over_the_upstreams_limit_are_caught(monkeypatch):
    from proxy.http import h2 as h2_codec

    monkeypatch.setattr(h2_codec._H2Codec, "_check_header_list", lambda self, block: None)
    with pytest.raises(InvariantViolation, match="h2_wire_header_list_too_large"):
        _big_request_to_an_h2_upstream_that_accepts_4096()


def test_planted_content_length_on_a_204_is_caught(monkeypatch):
    """RFC 9110 8.6: no Content-Length in a 204 (the proxy forwarded an upstream's "content-length: 5")."""
    from proxy.http.h1 import H1ServerCodec

    original = H1ServerCodec.send_headers

    def with_length(self, stream_id, status, headers, end_stream=False):
        extra = [(b"content-length", b"0")] if status == 204 else []
        return original(self, stream_id, status, list(headers) + extra, end_stream)

    no_content = A("upstream_send", payload=b"HTTP/1.1 204 No Content\r\n\r\n")
    run(built(), exchange_script(H1_POST, no_content))  # the clean proxy passes
    monkeypatch.setattr(H1ServerCodec, "send_headers", with_length)
    with pytest.raises(InvariantViolation, match="peer_response_field.*204 response with content-length"):
        run(built(), exchange_script(H1_POST, no_content))
