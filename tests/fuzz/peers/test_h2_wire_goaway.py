"""The wire monitor's GOAWAY rules (RFC 9113 6.8, fuzz/peers/h2_wire.py): a server that answers a stream
above the last stream id of its own GOAWAY, or raises that id, is caught. The proxy's server codec
drains correctly; a drain GOAWAY naming stream 0 (planted by monkeypatch) is caught."""

import h2.config
import h2.connection
import pytest
from hyperframe.frame import GoAwayFrame

import proxy.http.h2 as proxy_h2
from fuzz.oracles import InvariantViolation
from fuzz.peers.h2_wire import H2Monitor
from proxy.http.h2 import H2ServerCodec


def drain_with_a_stream_in_flight() -> None:
    """A client opens stream 1; the server codec drains (GOAWAY), then answers stream 1."""
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    client.send_headers(1, [(":method", "GET"), (":scheme", "http"), (":authority", "a"), (":path", "/")], True)
    monitor = H2Monitor(judged_is_client=False, label="server codec")
    server = H2ServerCodec()
    sent = client.data_to_send()
    monitor.peer(sent)
    server.receive_data(sent)
    server.goaway()
    monitor.judged(server.data_to_send())  # the GOAWAY goes out while the upstream is still answering
    server.send_headers(1, 200, [(b"content-length", b"0")], True)
    monitor.judged(server.data_to_send())


def frame(f) -> bytes:
    return f.serialize()


def test_the_server_codec_answers_the_streams_its_drain_goaway_covers():
    drain_with_a_stream_in_flight()


def test_a_drain_goaway_naming_stream_0_is_caught(monkeypatch):
    def zero(stream_id, **kwargs):  # the planted bug: the last stream id is always 0
        return GoAwayFrame(stream_id, **{**kwargs, "last_stream_id": 0})

    monkeypatch.setattr(proxy_h2, "GoAwayFrame", zero)
    with pytest.raises(InvariantViolation, match="h2_wire_frame_after_goaway"):
        drain_with_a_stream_in_flight()


def test_a_raised_last_stream_id_is_caught():
    monitor = H2Monitor(judged_is_client=False)
    monitor.judged(frame(GoAwayFrame(0, last_stream_id=5)) + frame(GoAwayFrame(0, last_stream_id=3)))
    with pytest.raises(InvariantViolation, match="h2_wire_goaway_last_stream_raised"):
        monitor.judged(frame(GoAwayFrame(0, last_stream_id=7)))
