"""A response body delimited by the connection's close (RFC 9112 6.3, item 8), as the proxy answers an
HTTP/1.0 client a chunked upstream response: the client reads end of file at the proxy's close after
its last byte. The simulated socket shows a FIN only after a half close, so the client peer took such
a response for one cut by the close (response_lost on a clean tree, PLANT's round-4 report)."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A
from tests.fuzz.test_liveness import http, run

HTTP10_REQUEST = b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"
CHUNKED_ANSWER = b"\x00\x05\x01\x00hello"  # 200, chunked (bit 0 of byte 2), body "hello"


def exchange():
    return run(
        http(),
        [
            A("send", payload=HTTP10_REQUEST),
            A("upstream_connect"),
            A("upstream_read"),
            A("upstream_http", value=0, payload=CHUNKED_ANSWER),
            A("read"),
        ],
    )


def test_a_close_delimited_response_ends_at_the_close():
    (ex,) = exchange().peers.exchanges
    assert (ex.outcome, ex.response.status, bytes(ex.response.body)) == ("response", 200, b"hello")
    assert not any(n.lower() in (b"content-length", b"transfer-encoding") for n, _ in ex.response.headers)


def test_a_close_delimited_body_cut_short_is_still_found(monkeypatch):
    from proxy.http.h1 import H1ServerCodec

    real = H1ServerCodec.send_data

    def drop_the_end(self, stream_id, data, end_stream=False):
        return real(self, stream_id, data[:-2], end_stream)

    monkeypatch.setattr(H1ServerCodec, "send_data", drop_the_end)
    with pytest.raises(InvariantViolation) as caught:
        exchange()
    assert caught.value.name == "peer_response_body_changed", str(caught.value)


# A close-delimited body to an HTTP/1.0 client that reads 16 KiB, then nothing for 1.5 s: Envoy's
# delayed_close_timeout (1 s) closes the connection without the rest, as documented (docs/semantics.md,
# HCM delayed close; fuzz/closing.py judges the timing). The cut is the bound, not a changed body.
BIG = b"x" * 65536
STALLED_READER = [
    A("send", payload=HTTP10_REQUEST),
    A("upstream_connect"),
    A("upstream_read"),
    A(
        "upstream_send",
        payload=b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n" + BIG + b"\r\n0\r\n\r\n",
    ),
    A("read", value=16384),
    A("advance", value=1500),
]


def test_a_close_delimited_body_cut_by_the_delayed_close_timeout_is_no_response():
    s = run(http(limit=1 << 20), STALLED_READER)
    assert s.ctx.stats.counter("http.downstream_cx_delayed_close_timeout") == 1
    (ex,) = s.peers.exchanges
    assert ex.outcome == "closed" and len(s.downstream[0].received) < len(BIG)


@pytest.mark.parametrize("end", ["close", "reset"])
def test_a_close_delimited_body_the_client_ends_is_no_response(end):
    # The client's FIN (half close is off: the proxy closes, as Envoy) or reset drops what the proxy
    # had not sent yet: the body stops where the client stopped it, not where the proxy ended it.
    s = run(http(), STALLED_READER[:-1] + [A(end)])  # 1 KiB buffers: the proxy is mid-response, reading
    (ex,) = s.peers.exchanges
    assert ex.outcome == "closed" and len(s.downstream[0].received) < len(BIG)


# The proxy aborts a response it already started (HTTP/1.1 has no stream reset: the connection ends
# mid-body) when its upstream resets with bytes the proxy had not read, or a route or stream idle
# timeout fires while the slow client holds the rest back. A close-delimited body stops there, an
# end no client can tell from the true one: no response (a 15-minute session campaign, 12-04d, crashed
# with peer_response_body_changed from the upstream reset at 900 s).
ABORTS = {
    "upstream reset": ("", "", [A("upstream_reset")]),
    "route timeout": ("", ", timeout_ms: 300", [A("advance", value=400)]),
    "stream idle timeout": ("stream_idle_timeout_ms: 300", "", [A("advance", value=400)]),
}


@pytest.mark.parametrize("abort", sorted(ABORTS))
def test_a_close_delimited_body_the_proxy_aborts_is_no_response(abort):
    hcm, route, then = ABORTS[abort]
    s = run(http(hcm=hcm, route=route), STALLED_READER[:-1] + then)  # 1 KiB buffers: the proxy is mid-response
    (ex,) = s.peers.exchanges
    assert s.ctx.stats.counter("http.h1_reset_by_owner") == 1
    assert ex.outcome == "closed" and len(s.downstream[0].received) < len(BIG)


def test_a_complete_response_the_proxy_aborts_is_still_found(monkeypatch):
    # The abort is no end of the body, so a close-delimited response the proxy had whole and cut
    # is judged as a lost response (fuzz/delivery.py), not passed as a complete one.
    from proxy.http.h1 import H1ServerCodec

    real = H1ServerCodec.send_data

    def reset_at_the_end(self, stream_id, data, end_stream=False):
        if end_stream:
            return self.reset_stream(stream_id)
        return real(self, stream_id, data, end_stream)

    monkeypatch.setattr(H1ServerCodec, "send_data", reset_at_the_end)
    with pytest.raises(InvariantViolation) as caught:
        exchange()
    assert caught.value.name == "response_lost", str(caught.value)
