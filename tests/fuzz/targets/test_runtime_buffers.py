"""The runtime harness holds every live connection's buffers to the configured
per_connection_buffer_limit_bytes (fuzz/targets/runtime_buffers.py): an upload to an upstream that reads
nothing leaves about one limit in the proxy, whatever the transport in between."""

from pathlib import Path

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import runtime
from proxy import _server_socket
from proxy.network.connection import Connection

SEED = Path(__file__).resolve().parents[3] / "corpus" / "runtime" / "tcp_upstream_stops_reading-cap512"


def _fails() -> str:
    with pytest.raises(InvariantViolation) as err:
        runtime.run(SEED.read_bytes())
    return err.value.name


def test_an_upload_to_an_upstream_that_reads_nothing_stays_within_the_limits():
    runtime.run(SEED.read_bytes())


def test_upstream_connections_made_with_the_default_limit_are_caught(monkeypatch):
    """The runtime's connect loses the cluster's limit on the way (the in-memory network keeps it)."""
    connect = _server_socket.AsyncioNetwork.connect
    monkeypatch.setattr(
        _server_socket.AsyncioNetwork, "connect", lambda self, host, port, buffer_limit=0: connect(self, host, port)
    )
    assert _fails() == "runtime_buffer_over_limit"


def test_a_write_buffer_whose_high_watermark_pauses_nothing_is_caught(monkeypatch):
    monkeypatch.setattr(Connection, "_on_write_buffer_high", lambda self: None)
    assert _fails() == "runtime_buffer_over_limit"
