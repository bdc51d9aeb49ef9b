"""The wire monitor's HPACK table rule (fuzz/peers/h2_wire.py h2_wire_hpack_table_too_large): a
dynamic table size update above the peer's SETTINGS_HEADER_TABLE_SIZE, or above 4096 bytes (what
nghttp2, Envoy's codec, keeps whatever the peer allows), is caught. The proxy's server codec keeps
4096 for a client allowing 4 GiB; with its cap lifted (planted by monkeypatch, the behaviour before
the black-box round 4 fix) the monitor fails."""

import h2.config
import h2.connection
import h2.settings
import pytest
from hyperframe.frame import HeadersFrame, SettingsFrame

from fuzz.oracles import InvariantViolation
from fuzz.peers.h2_wire import H2Monitor
from proxy.http import _h2_gaps
from proxy.http.h2 import H2ServerCodec

REQUEST = [(":method", "GET"), (":scheme", "http"), (":authority", "a"), (":path", "/")]


def answer_a_client_allowing(table_size: int, responses: int = 3) -> None:
    """A client allowing `table_size` bytes opens streams; the server codec answers each with a unique field."""
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.local_settings = h2.settings.Settings(
        client=True, initial_values={h2.settings.SettingCodes.HEADER_TABLE_SIZE: table_size}
    )
    client.initiate_connection()
    monitor = H2Monitor(judged_is_client=False, label="server codec")
    server = H2ServerCodec()
    for i in range(responses):
        sid = 2 * i + 1
        client.send_headers(sid, REQUEST, end_stream=True)
        sent = client.data_to_send()
        monitor.peer(sent)
        server.receive_data(sent)
        server.send_headers(sid, 200, [(b"x-request-id", b"%032d" % i)], end_stream=True)
        answer = server.data_to_send()
        monitor.judged(answer)
        client.receive_data(answer)


def test_the_server_codec_keeps_its_table_for_a_client_allowing_4_gib():
    answer_a_client_allowing(2**32 - 1)


def test_an_encoder_table_following_a_4_gib_setting_is_caught(monkeypatch):
    monkeypatch.setattr(_h2_gaps, "ENCODER_TABLE_LIMIT", 2**32)  # planted: h2's own behaviour
    with pytest.raises(InvariantViolation, match="h2_wire_hpack_table_too_large"):
        answer_a_client_allowing(2**32 - 1)


def test_an_update_above_the_peers_setting_is_caught():
    monitor = H2Monitor(judged_is_client=False)
    monitor.peer(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + SettingsFrame(0, settings={0x1: 100}).serialize())
    monitor.judged(SettingsFrame(0, flags=["ACK"]).serialize())
    monitor.judged(HeadersFrame(2, data=b"\x3f\x45", flags=["END_HEADERS"]).serialize())  # 31 + 69 = 100: allowed
    with pytest.raises(InvariantViolation, match="h2_wire_hpack_table_too_large"):
        monitor.judged(HeadersFrame(4, data=b"\x3f\x46", flags=["END_HEADERS"]).serialize())  # 101
