"""fuzz/peers/cut_short.py: a response the upstream broke off after its head reaches the client as
broken (a reset, a connection closed before the end of the body), never as complete. Shown on the
real proxy for an HTTP/1.1 client of a chunked response, and on the planted class: a router that ends
the client's response cleanly when its upstream goes away mid-body."""

from types import SimpleNamespace as NS

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.peers.cut_short import check_tls_end
from fuzz.peers.record import H1, Message
from fuzz.session import Action as A
from tests.fuzz.test_liveness import http, run

GET = b"GET /download HTTP/1.1\r\nHost: h\r\n\r\n"
HEAD_AND_ONE_CHUNK = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
CUT_SHORT = [
    A("send", payload=GET),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_send", payload=HEAD_AND_ONE_CHUNK),
    A("upstream_close"),
    A("read"),
]
WHOLE = CUT_SHORT[:3] + [A("upstream_send", payload=HEAD_AND_ONE_CHUNK + b"0\r\n\r\n"), A("read")]


def ends_cleanly(self, reason, flag="UR"):  # the planted class: the client's response ended as if whole
    self.upstream = None
    if self.done:
        return
    if self.response_started:
        self.done = True
        self.decoder_callbacks.encode_data(b"", True)
    else:
        self._local_reply(503, b"upstream reset\n", flag)


def test_a_response_cut_short_upstream_is_not_complete_for_the_client():
    (ex,) = run(http(), CUT_SHORT).peers.exchanges
    assert ex.response.status == 200 and bytes(ex.response.body) == b"hello"
    assert not ex.response.complete and ex.outcome == "closed"


def test_a_whole_response_passes():
    (ex,) = run(http(), WHOLE).peers.exchanges
    assert ex.response.complete and bytes(ex.response.body) == b"hello"


def test_a_router_that_completes_a_cut_short_response_is_found(monkeypatch):
    from proxy.http.filters.router import Router

    monkeypatch.setattr(Router, "on_upstream_reset", ends_cleanly)
    with pytest.raises(InvariantViolation) as caught:
        run(http(), CUT_SHORT)
    assert caught.value.name == "peer_response_completed_after_upstream_cut_short"
    assert "never finished its response" in caught.value.detail


# A body delimited by the close (RFC 9112 6.3 item 8) that the upstream ends with a reset rather than
# a FIN: Envoy's CodecClient ends it on any RemoteClose, and so does the proxy, which sends it on
# chunked and ended (campaign 12-05, session -seed=1502: the oracle took it for a cut).
CLOSE_DELIMITED = b"HTTP/1.1 500 X\r\nContent-Type: text/plain\r\n\r\nhello"
RESET_AFTER_A_CLOSE_DELIMITED_BODY = CUT_SHORT[:3] + [
    A("upstream_send", payload=CLOSE_DELIMITED),
    A("upstream_reset"),
    A("read"),
]


def test_a_close_delimited_body_its_upstream_resets_is_whole():
    (ex,) = run(http(), RESET_AFTER_A_CLOSE_DELIMITED_BODY).peers.exchanges
    (up,) = ex.upstreams
    assert not up.response.complete  # the strict upstream's record: no FIN
    assert ex.outcome == "response" and (ex.response.status, bytes(ex.response.body)) == (500, b"hello")


def times_out_cleanly(self):  # the planted class: a route timeout ends a started response as if whole
    if self.done:
        return
    self._abandon_upstream()
    if not self.response_started:
        return self._local_reply(504, b"upstream request timeout\n", "UT")
    self.done = True
    self.decoder_callbacks.encode_data(b"", True)


def test_a_close_delimited_body_the_proxy_cuts_is_still_judged(monkeypatch):
    from proxy.http.filters.router import Router

    monkeypatch.setattr(Router, "_on_timeout", times_out_cleanly)
    stalled = CUT_SHORT[:3] + [A("upstream_send", payload=CLOSE_DELIMITED), A("advance", value=1000), A("read")]
    with pytest.raises(InvariantViolation) as caught:
        run(http(route=", timeout_ms: 500"), stalled)
    assert caught.value.name == "peer_response_completed_after_upstream_cut_short", str(caught.value)


# check_tls_end on the records alone: which responses a close_notify could certify (RFC 9112 9.8).
def _tls_records(method=b"GET", status=200, client_headers=(), tls=True):
    sent = Message(status=status, headers=[(b"transfer-encoding", b"chunked")], body=bytearray(b"hello"))
    got = Message(status=status, headers=list(client_headers), body=bytearray(b"hel"))
    up = NS(conn=0, protocol=H1, response=sent)
    ex = NS(id="c0.1", downstream=0, protocol=H1, request=Message(method=method), response=got, upstreams=[up])
    server = NS(conn_=NS(close_event=NS(name="REMOTE_CLOSE")), tainted=False)
    sock = NS(close_notify_seen=True, tls=tls)
    return ex, sock, {0: server}


def test_a_close_notify_after_a_cut_close_delimited_body_is_judged():
    with pytest.raises(InvariantViolation, match="peer_cut_response_certified_by_close_notify"):
        check_tls_end(*_tls_records())


@pytest.mark.parametrize(
    "shape",
    [
        {"client_headers": [(b"transfer-encoding", b"chunked")]},  # its own framing says it is cut
        {"client_headers": [(b"content-length", b"5")]},
        {"method": b"HEAD"},  # ends with its head
        {"status": 304},
        {"tls": False},  # a FIN alone certifies nothing
    ],
)
def test_a_close_notify_certifies_only_a_body_delimited_by_the_close(shape):
    check_tls_end(*_tls_records(**shape))
