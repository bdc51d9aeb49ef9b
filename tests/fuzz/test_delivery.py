"""fuzz/delivery.py: a response the proxy read in full from its upstream reaches the client in full.
Real sessions (fuzz.session) with a planted proxy bug that loses such a response."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.network.connection import ConnectionEvent
from proxy.upstream import pool_conn
from tests.fuzz.test_liveness import http

GET = b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"


def script(response: bytes, close: bool):
    return [
        A("connect"),
        A("send", payload=GET),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_send", payload=response, end_stream=close),
        A("read"),
    ]


UNTIL_CLOSE = (b"HTTP/1.0 200 OK\r\n\r\nbody until the close", True)


@pytest.mark.parametrize(
    ("response", "close"),
    [UNTIL_CLOSE, (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", True), (b"HTTP/1.1 200 OK\r\n\r\nx", False)],
)
def test_responses_that_reach_the_client_pass(response, close):
    s = Session(http(limit=1 << 20, codec="AUTO")).run(script(response, close))
    [ex] = s.peers.exchanges
    assert ex.upstreams and ex.upstreams[0].response is not None


def test_a_body_cut_by_the_close_is_no_finding():
    s = Session(http(limit=1 << 20, codec="AUTO")).run(
        script(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nhalf", True)
    )
    [ex] = s.peers.exchanges
    assert ex.outcome == "closed" and not ex.upstreams[0].response.complete


def plant_close_read_as_a_reset(monkeypatch):
    original = pool_conn.PoolConnection.on_event

    def planted(self, event):  # the defect: the upstream's close never reaches the codec
        if event is ConnectionEvent.REMOTE_CLOSE and self.state == "ready":
            self.state = "closing"
        return original(self, event)

    monkeypatch.setattr(pool_conn.PoolConnection, "on_event", planted)


def test_planted_close_read_as_a_reset_is_caught(monkeypatch):
    plant_close_read_as_a_reset(monkeypatch)
    with pytest.raises(InvariantViolation, match="response_lost"):
        Session(http(limit=1 << 20, codec="AUTO")).run(script(*UNTIL_CLOSE))


def test_a_response_a_write_probe_drops_is_no_finding(monkeypatch):
    """network_filter (make test's corpus replay): a write probe that drops every chunk the proxy
    writes (mode 0xff) keeps the response from the client by design; the same session without the
    probe, and the planted defect above, are still judged."""
    from pathlib import Path

    from fuzz.targets import network_filter as nf

    seed = Path(__file__).resolve().parents[2] / "corpus" / "network_filter"
    nf.run((seed / "crash-02dfc5364ef74acec970b2027c1a1091ad296ad5").read_bytes())
    plant_close_read_as_a_reset(monkeypatch)
    with pytest.raises(InvariantViolation, match="response_lost"):
        Session(http(limit=1 << 20, codec="AUTO")).run(script(*UNTIL_CLOSE))


# An HTTP/2 client with 16-byte stream windows (settings byte 0x0C) whose request is answered.
H2_GET = [A("connect"), A("settings", value=0x0C), A("send_http", value=3, payload=bytes([2, 0, 0, 30, 0, 0]))]
H2_ANSWERED = H2_GET + [
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_send", payload=b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n" + b"x" * 100),
]


def test_a_close_the_clients_own_raw_bytes_provoke_is_no_finding():
    """Found by fuzz run session (response_lost, 'client saw closed (connection closed)'): raw bytes
    the fuzzer wrote on the HTTP/2 connection (an RST_STREAM frame of length 0: FRAME_SIZE_ERROR, a
    connection error, RFC 9113 6.4) end it with a GOAWAY the tainted client peer no longer reads."""
    s = Session(http(limit=1 << 20, codec="AUTO")).run(H2_ANSWERED + [A("send", payload=bytes(3) + b"\x03" + bytes(5))])
    [ex] = s.peers.exchanges
    assert s.peers.clients[0].tainted and ex.outcome == "closed"
    assert s.ctx.stats.counters["http.downstream_cx_protocol_error"] == 1


def test_planted_close_read_as_a_reset_is_caught_for_an_http2_client(monkeypatch):
    plant_close_read_as_a_reset(monkeypatch)
    with pytest.raises(InvariantViolation, match="response_lost"):
        Session(http(limit=1 << 20, codec="AUTO")).run(
            H2_GET
            + [A("upstream_connect"), A("upstream_read"), A("upstream_send", payload=UNTIL_CLOSE[0], end_stream=True)]
        )


TWO_PIPELINED = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"


def pipelined(first: bytes, second: bytes, close_second: bool):
    """Two pipelined requests, each on its own upstream; /b's answer comes first, /a's then ends its upstream."""
    return [
        A("connect"),
        A("send", payload=TWO_PIPELINED),
        A("upstream_connect", target=0),
        A("upstream_connect", target=1),
        A("upstream_read", target=0),
        A("upstream_read", target=1),
        A("upstream_send", target=1, payload=second, end_stream=close_second),
        A("upstream_send", target=0, payload=first, end_stream=True),
    ]


def test_a_response_queued_behind_a_cut_one_goes_with_the_connection():
    """Found by fuzz run session (response_lost, HTTP/1.1 client, examples/http.yaml): /a's upstream
    closed 4000 bytes into an 8000-byte body, so the proxy had to end the client's connection (a cut
    HTTP/1.1 response has no other ending), and /b's complete response, queued behind it, went too."""
    s = Session(http(limit=1 << 20, codec="AUTO")).run(
        pipelined(
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\ncut",
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            False,
        )
    )
    first, second = s.peers.exchanges
    assert first.outcome == second.outcome == "closed" and second.upstreams[0].response.complete


def test_planted_close_read_as_a_reset_is_caught_behind_a_complete_pipelined_response(monkeypatch):
    plant_close_read_as_a_reset(monkeypatch)
    with pytest.raises(InvariantViolation, match="response_lost") as caught:
        Session(http(limit=1 << 20, codec="AUTO")).run(
            pipelined(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", UNTIL_CLOSE[0], True)
        )
    assert "request c0.2" in caught.value.detail  # /b, behind /a's complete response


def test_a_client_the_proxy_ends_as_an_outbound_flood_lost_nothing_to_judge():
    """config-s2-0006 of the session pool: max_outbound_frames 3 and an HTTP/2 client that had read
    nothing when the response came; the proxy's flood defence ended its connection (as Envoy's would),
    which response_lost called a lost response."""
    hcm = "http2_protocol_options: {max_outbound_frames: 3}"
    s = Session(http(limit=1 << 20, codec="AUTO", hcm=hcm)).run(
        H2_GET
        + [A("upstream_connect"), A("upstream_read"), A("upstream_send", payload=UNTIL_CLOSE[0], end_stream=True)]
    )
    assert s.ctx.stats.counters["http.h2_outbound_flood"] == 1
