"""fuzz/flow_control.py's h2_connection_window_below_setting: an HTTP/2 codec grants a connection window
at least as large as the stream window its SETTINGS advertise, or a configured initial_window_size
changes nothing (every stream stayed at 64 KiB in flight until c64bbc9)."""

from pathlib import Path

import pytest

import proxy.http.h2 as h2_codec
from fuzz import flow_control, session
from fuzz.oracles import InvariantViolation
from proxy.http.codec import CodecLimits

SEED = Path(__file__).resolve().parents[2] / "corpus" / "session" / "config-s1-0003-h2_rapid_reset-r0-7b8d5c87e82d"


def _plant(monkeypatch):
    """The defect as it was: the connection window is never opened past RFC 9113's 65535."""
    monkeypatch.setattr(h2_codec, "DEFAULT_WINDOW", 2**31 - 1)


def test_a_server_with_a_1_mib_window_grants_it_on_the_connection():
    flow_control.check_h2_windows("server", h2_codec.H2ServerCodec(CodecLimits(h2_initial_window_size=1 << 20)))


def test_a_connection_window_left_at_65535_is_caught(monkeypatch):
    _plant(monkeypatch)
    server = h2_codec.H2ServerCodec(CodecLimits(h2_initial_window_size=1 << 20))
    with pytest.raises(InvariantViolation, match="h2_connection_window_below_setting"):
        flow_control.check_h2_windows("server", server)


def test_a_committed_session_seed_catches_it(monkeypatch):
    """config-s1-0003 advertises initial_window_size 65536: an HTTP/2 client's session on it is judged at
    quiescence (fuzz/liveness.py), where the planted 65535 connection window is one byte short."""
    _plant(monkeypatch)
    with pytest.raises(InvariantViolation, match="h2_connection_window_below_setting"):
        session.run_input(session.ConfigPool.default(), SEED.read_bytes())
