"""fuzz/models/idle.py on a request head still arriving: it is a request in flight (Envoy makes the
stream at its first byte), so the connection's idle timeout does not cut it and the stream idle
timeout ends it (408, close). Shown on the real proxy and on the planted bug (the proxy's defect
before this: no timer watches a partial head, `request_head_not_timed_out`)."""

from pathlib import Path

from fuzz import session
from fuzz.session import Action as A
from tests.fuzz.test_liveness import fails, http, response, run

SEEDS = Path(__file__).parents[3] / "corpus" / "session"


def _replay(name: str):
    """The committed session seed `name`, run as the fuzzer runs it."""
    return session.run_input(session.ConfigPool.default(), (SEEDS / name).read_bytes())


PARTIAL = [A("send", payload=b"GET /slow HTTP/1.1\r\nHost: h\r\nX-Slow: ")]
STREAM_IDLE = "stream_idle_timeout_ms: 1000"
BOTH = "idle_timeout_ms: 100\n        stream_idle_timeout_ms: 1000"


def test_a_head_that_never_ends_gets_408_at_the_stream_idle_timeout():
    s = run(http(hcm=STREAM_IDLE), PARTIAL + [A("advance", value=1000), A("read")])
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 408 ")
    assert s.ctx.stats.counters["http.downstream_rq_idle_timeout"] == 1


def test_a_head_slower_than_the_idle_timeout_is_not_cut():
    rest = [A("advance", value=90), A("advance", value=90), A("send", payload=b"1\r\n\r\n"), A("upstream_connect")]
    s = run(
        http(hcm=BOTH), PARTIAL + rest + [A("upstream_read"), A("upstream_send", payload=response(b"ok")), A("read")]
    )
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 200 ")  # the idle timer (100 ms) cut it before


def test_a_partial_head_nothing_times_out_is_found(monkeypatch):
    from proxy.http.conn_manager import HttpConnectionManager

    monkeypatch.setattr(HttpConnectionManager, "_watch_request_start", lambda self: None)  # the defect
    err = fails("request_head_not_timed_out", http(hcm=STREAM_IDLE), PARTIAL)
    assert "stream_idle_timeout_ms is 1000" in err.detail


def test_a_partial_head_is_not_an_idle_connection():
    """The idle model runs time on for connections with no stream; one with a head arriving is left
    to the stream idle timeout (1000 ms, ten idle timeouts): no idle_connection_not_closed."""
    s = run(http(hcm=BOTH), PARTIAL + [A("advance", value=500)])
    assert "http.downstream_cx_idle_timeout" not in s.ctx.stats.counters
    assert s.ctx.stats.counters["http.downstream_rq_idle_timeout"] == 1


def test_a_head_a_fault_delay_still_holds_is_not_timed_yet():
    """fuzz run session (6 min, config-s1-0011): two fault delays (158 ms, 10 ms) before a manager
    whose stream_idle_timeout_ms is 50 held a request and one byte of the next; the check ran time
    51 ms and called the head late while the manager had not seen it."""

    s = _replay("regress-a-head-a-fault-delay-holds-is-not-late")
    assert bytes(s.downstream[4].received).startswith(b"HTTP/1.1 ")  # the GET answered once let through


def test_a_head_its_client_cannot_parse_is_in_flight_while_a_throttle_holds_it():
    """harnesses/fuzz_session.py from an empty corpus (-seed=9001, config-s1-0010): a request with a
    field name holding a space went through a 1 B/s fault throttle. The client's parser (h11) refused
    it, so no request was in flight by the client's record, and the idle check expected the 1,000 ms
    idle close while the proxy, which had not yet seen the bad field, held a head in flight."""
    s = _replay("regress-a-refused-head-a-throttle-still-holds-is-in-flight")
    assert s.peers.clients[1].requests.error and not s.downstream[1].received


def test_raw_http2_ending_inside_a_header_block_is_a_request_in_flight():
    """harnesses/fuzz_session.py from an empty corpus (-seed=10001, config-s1-0024): a client sent raw
    HTTP/2 (no strict peer reads it) ending in a HEADERS frame without END_HEADERS. The proxy holds
    such a block until the stream idle timeout (f7c48f2); the idle check, with no record of the
    client, expected the 250 ms idle close."""
    from fuzz.models.idle import _h2_header_block_open
    from fuzz.peers.h2_wire import PREFACE

    headers = bytes([0, 0, 1, 0x1, 0x0, 0, 0, 0, 1, 0x82])
    assert _h2_header_block_open(PREFACE + headers)
    assert not _h2_header_block_open(PREFACE + headers[:4] + b"\x04" + headers[5:])  # END_HEADERS
    assert not _h2_header_block_open(PREFACE + headers + bytes([0, 0, 1, 0x9, 0x4, 0, 0, 0, 1, 0x84]))
    assert not _h2_header_block_open(b"GET / HTTP/1.1\r\n")
    s = _replay("regress-a-raw-http2-header-block-left-open-is-in-flight")
    assert s.peers.clients[2] is None and _h2_header_block_open(bytes(s.downstream[2].sent))


def test_a_client_whose_bytes_could_start_the_preface_is_in_flight():
    """harnesses/fuzz_session.py from an empty corpus (-seed=11001, config-s1-0013): after its PROXY
    header a client sent "P" to an HTTP/1.1 listener. The peers read nothing (it may begin HTTP/2's
    preface); the proxy holds it as a head arriving, and the idle check expected the 250 ms close."""
    from fuzz.models.idle import _unread_client_in_flight

    assert _unread_client_in_flight(b"P") and _unread_client_in_flight(b"PRI * HTTP/2.0\r\n")
    assert not _unread_client_in_flight(b"") and not _unread_client_in_flight(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    s = _replay("regress-a-first-byte-p-is-a-request-in-flight")
    assert s.peers.clients[1] is None and bytes(s.downstream[1].sent).endswith(b"\r\nP")


def test_a_raw_client_whose_bytes_a_throttle_still_holds_is_in_flight():
    """python -m fuzz run session --time 360 on a clean clone (config-s1-0010): a client sent the
    HTTP/2 preface and frames (no strict peer reads it) to an HTTP/1.1 listener behind a 1 B/s fault
    throttle. The manager had "PR", a head arriving (Envoy makes the stream at its first byte), and
    the idle check, which judged the whole of what the client sent, expected the 1,000 ms idle close."""
    s = _replay("regress-a-raw-preface-a-throttle-holds-is-in-flight")
    sock = s.downstream[6]
    assert s.peers.clients[6] is None and bytes(sock.sent).startswith(b"PRI * HTTP/2.0\r\n")
    assert not sock.received  # still a head arriving when its client closed, seconds later


def test_a_head_ends_by_the_documented_default_when_the_configuration_sets_none():
    """bootstrap.proto: stream_idle_timeout_ms "Default 5 min": a manager configured without one ends a
    head that never completes after 300 s (judged with the documented default, not the proxy's own)."""
    s = run(http(), PARTIAL)  # quiescence runs time on past the default
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 408 ")


def test_a_lost_stream_idle_default_is_found(monkeypatch):
    # The bug class (PLANT round 5, hcm-stream-idle-timeout-default-lost): the manager read the optional
    # field without its documented default, so an unset one meant no stream idle timeout at all.
    from proxy.config import defaults

    monkeypatch.setitem(defaults.DEFAULTS, "proxyfuzz.config.HttpConnectionManager.stream_idle_timeout_ms", 0)
    err = fails("request_head_not_timed_out", http(), PARTIAL)
    assert "stream_idle_timeout_ms is 300000" in err.detail


# A strict HTTP/2 client's request and its empty response (no DATA: nothing for the client to credit
# back after what follows), then a frame the session writes on its connection: a HEADERS frame on
# stream 3 without END_HEADERS, its CONTINUATION never sent.
OPEN_BLOCK = bytes([0, 0, 1, 0x1, 0x0, 0, 0, 0, 3, 0x82])
H2_EXCHANGE_THEN_OPEN_BLOCK = [
    A("send_request", payload=bytes(6)),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_send", payload=response(b"")),
    A("read"),
    A("send", payload=OPEN_BLOCK),
]


def test_a_header_block_left_open_on_a_strict_http2_client_is_in_flight():
    """python -m fuzz run session --time 360 -- -seed=1401 on a clean clone of a55cebc (config-s1-0006,
    at 226 s): after a strict HTTP/2 client's exchange the session wrote a HEADERS frame without
    END_HEADERS on its connection. The proxy held it as a head arriving (the stream idle timeout
    ends it with a GOAWAY); the idle check read only the client's own record (no request without an
    outcome) and expected the 250 ms idle close."""
    s = run(http(codec="HTTP2", hcm=BOTH), H2_EXCHANGE_THEN_OPEN_BLOCK)
    assert s.peers.clients[0].exchanges[0].response.status == 200
    assert s.ctx.stats.counters["http.h2_header_block_timeout"] == 1
    assert "http.downstream_cx_idle_timeout" not in s.ctx.stats.counters
    s = _replay("regress-a-header-block-on-a-strict-h2-client-is-in-flight")
    assert bytes(s.downstream[2].received).endswith(b"header block not completed in time")


def test_a_header_block_left_open_that_nothing_times_out_is_found(monkeypatch):
    """The check that bounds such a block: with the manager's head timer planted away, an HTTP/2
    connection whose header block never ends stays open for good (slowloris over HTTP/2)."""
    from proxy.http.conn_manager import HttpConnectionManager

    monkeypatch.setattr(HttpConnectionManager, "_on_head_timeout", lambda self: None)  # the defect
    err = fails("request_head_not_timed_out", http(codec="HTTP2", hcm=BOTH), H2_EXCHANGE_THEN_OPEN_BLOCK)
    assert "stream_idle_timeout_ms is 1000" in err.detail
