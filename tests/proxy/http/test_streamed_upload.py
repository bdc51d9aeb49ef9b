"""An HTTP/2 upload streamed over several actions (fuzz/payloads.py STREAMING_BIT, h2_control kind 3):
the body goes upstream chunked, an empty DATA frame in the middle included, and means what the client
sent. The class: HTTP/2 -> HTTP/1.1 framing bugs (cloudflare/pingora#935: an empty DATA frame written
as the chunked terminator; Envoy CVE-2023-27491's downgrade class)."""

from fuzz.payloads import h2_control
from fuzz.session_seeds import HTTP
from tests.fuzz.test_liveness import fails, http, run

STREAMED = HTTP["h2_streamed_upload"]


def test_a_streamed_upload_reaches_the_upstream_whole_in_chunks():
    s = run(http(codec="HTTP2"), STREAMED)
    (ex,) = s.peers.exchanges
    assert ex.outcome == "response" and ex.request.body == b"abctail" == ex.upstreams[0].request.body
    assert b"transfer-encoding: chunked" in bytes(s.network.opened[0].io.received)


def test_h2_control_sends_an_empty_data_frame_on_the_open_upload():
    import h2.config
    import h2.connection

    class Sock:
        fuzz_h2_client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))

    client = Sock.fuzz_h2_client
    client.initiate_connection()
    client.send_headers(1, [(":method", "POST"), (":path", "/"), (":scheme", "http"), (":authority", "a")])
    client.data_to_send()
    assert h2_control(b"\x03\x00", Sock) == bytes(9)[:3] + b"\x00\x00" + (1).to_bytes(4, "big")  # DATA, empty, open
    assert h2_control(b"\x07\x02ab", Sock)[3:5] == b"\x00\x01"  # DATA with END_STREAM


def test_an_empty_data_frame_written_as_the_last_chunk_is_found(monkeypatch):
    # The planted bug: the HTTP/1.1 client codec frames an empty send_data as a chunk, i.e. the last-chunk.
    from proxy.http import h1

    real = h1.H1ClientCodec.send_data

    def send_data(self, stream_id, data, end_stream=False):
        if not data and not end_stream and self._chunked:
            self._out += b"0\r\n\r\n"
        return real(self, stream_id, data, end_stream)

    monkeypatch.setattr(h1.H1ClientCodec, "send_data", send_data)
    fails("peer_h1_request_rejected", http(codec="HTTP2"), STREAMED)
