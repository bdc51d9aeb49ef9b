"""Trailers in sessions: the request and response templates send one (fuzz/payloads.py TRAILER_BIT,
REQUEST_TRAILER_BIT; HTTP/2 requests: fuzz/hostile.py TRAILERS), and the judge requires it at every
peer whose framing carries trailers (HTTP/2, a chunked HTTP/1.1 body): docs/semantics.md, request and
response trailers (Envoy forwards HTTP/2 trailers; gRPC status lives there).
"""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A
from proxy.buffer import Buffer
from tests.fuzz.test_liveness import http, run

H1_CHUNKED_WITH_TRAILER = b"\x00\x05\x41\x07hello"  # 200, chunked (bit 0), trailer (bit 6), x-checksum 07
H2_WITH_TRAILER = b"\x40\x05hello"  # 200, trailer (bit 6 of byte 0)


def exchange(codec: str, h2_upstream: bool):
    return run(
        http(codec=codec, cluster="protocol: HTTP2" if h2_upstream else ""),
        [
            A("send_http", value=3 if codec == "HTTP2" else 0, payload=b"\x00" * 6),
            A("upstream_connect"),
            A("upstream_read"),
            A(
                "upstream_http",
                value=int(h2_upstream),
                payload=H2_WITH_TRAILER if h2_upstream else H1_CHUNKED_WITH_TRAILER,
            ),
            A("read"),
        ],
    )


@pytest.mark.parametrize(
    "codec, h2_upstream, arrives",
    [
        ("HTTP1", False, [(b"x-checksum", b"07")]),  # chunked to chunked
        ("HTTP2", False, [(b"x-checksum", b"07")]),
        ("HTTP2", True, [(b"x-checksum", b"65")]),
        ("HTTP1", True, []),  # the HTTP/2 upstream's content-length frames the client's body: no trailers
    ],
)
def test_a_response_trailer_reaches_every_client_whose_framing_carries_it(codec, h2_upstream, arrives):
    (ex,) = exchange(codec, h2_upstream).peers.exchanges
    assert (ex.outcome, ex.response.status, bytes(ex.response.body)) == ("response", 200, b"hello")
    assert ex.response.trailers == arrives


def test_a_router_that_drops_response_trailers_is_found(monkeypatch):
    from proxy.http.filters.router import Router

    def end_without_them(self, headers):
        self._response_complete()
        self.decoder_callbacks.encode_data(b"", True)

    monkeypatch.setattr(Router, "on_upstream_trailers", end_without_them)
    with pytest.raises(InvariantViolation) as caught:
        exchange("HTTP2", True)
    assert caught.value.name == "peer_response_trailers_dropped", str(caught.value)


# -- request trailers ------------------------------------------------------------------------------------
H1_CHUNKED_REQUEST_WITH_TRAILER = b"\x00\x00\x00\x05\x20\x00\x00\x00hello"  # chunked, trailer (bit 5 of byte 4)


def upload(codec: str, h2_upstream: bool):
    from fuzz.hostile import N_SHAPES

    x_trailer = bytes([(N_SHAPES + 6) << 1])  # byte 5: hostile.TRAILERS[5], x-trailer: 1
    request = (
        (0, H1_CHUNKED_REQUEST_WITH_TRAILER)
        if codec == "HTTP1"
        else (3, b"\x01\x00\x00\x05\x00" + x_trailer + b"hello")
    )
    return run(
        http(codec=codec, cluster="protocol: HTTP2" if h2_upstream else ""),
        [
            A("send_http", value=request[0], payload=request[1]),
            A("upstream_connect"),
            A("upstream_read"),
            A("upstream_http", value=int(h2_upstream), payload=b"\x00\x02ok"),
            A("read"),
        ],
    )


@pytest.mark.parametrize("codec", ["HTTP1", "HTTP2"])
@pytest.mark.parametrize("h2_upstream", [False, True])
def test_a_request_trailer_reaches_the_upstream(codec, h2_upstream):
    (ex,) = upload(codec, h2_upstream).peers.exchanges
    (up,) = ex.upstreams
    assert ex.outcome == "response" and up.request.trailers == ex.request.trailers != []


def test_a_router_that_drops_request_trailers_is_found(monkeypatch):
    from proxy.http.filters.router import Router

    def end_without_them(self, trailers):
        return Router.decode_data(self, Buffer(), True)

    monkeypatch.setattr(Router, "decode_trailers", end_without_them)
    with pytest.raises(InvariantViolation) as caught:
        upload("HTTP2", True)
    assert caught.value.name == "peer_forwarded_trailers_dropped", str(caught.value)
