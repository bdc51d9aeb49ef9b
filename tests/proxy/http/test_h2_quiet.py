"""h2 builds no repr of the frames it receives for its (silent) trace log, and reads them as before."""

import h2.config
import h2.connection
import pytest
from hyperframe.frame import Frame

from proxy.http import _h2_quiet
from proxy.http.h2 import H2ClientCodec, H2ServerCodec


def _exchange() -> list:
    client, server = H2ClientCodec(), H2ServerCodec()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    sid = client.send_request_headers(b"POST", b"/up", b"example.com", [(b"x-a", b"1")])
    client.send_data(sid, b"hello", end_stream=False)
    client.send_trailers(sid, [(b"x-sum", b"5")])
    return server.receive_data(client.data_to_send())


def _no_repr(monkeypatch) -> None:
    def refuse(self):
        raise AssertionError(f"repr built for a received {type(self).__name__}")

    monkeypatch.setattr(Frame, "__repr__", refuse)


def test_received_frames_are_read_without_a_repr(monkeypatch):
    expected = _exchange()
    _no_repr(monkeypatch)
    assert _exchange() == expected
    assert [type(e).__name__ for e in expected] == ["RequestHeaders", "Data", "Trailers"]


def test_without_quiet_h2_builds_a_repr_per_frame(monkeypatch):
    """The planted regression: the codec's connection left as h2 makes it."""
    monkeypatch.setattr("proxy.http.h2.quiet", lambda conn: None)
    _no_repr(monkeypatch)
    with pytest.raises(AssertionError, match="repr built for a received"):
        _exchange()


def test_a_connection_with_a_real_logger_keeps_its_frames_printable():
    logged = []

    class Logger(h2.config.DummyLogger):
        def trace(self, fmt, *args):
            logged.append(fmt % args)

    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, logger=Logger()))
    _h2_quiet.quiet(conn)
    client = H2ClientCodec()
    conn.initiate_connection()
    conn.receive_data(client.data_to_send())
    assert any(line.startswith("Received frame: SettingsFrame(") for line in logged)
