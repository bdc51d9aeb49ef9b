"""Stage 2 sessions: bounded, deterministic, state-free between inputs, and oracles that fail."""

import random

import pytest

from fuzz import oracles, session
from fuzz.session import Action, ConfigPool, Session

TCP_EXAMPLES = ["examples/tcp_proxy.yaml", "examples/rbac_deny.yaml", "examples/fault_delay.yaml", "examples/ratelimit.yaml"]


@pytest.fixture(scope="module")
def pool():
    return ConfigPool(TCP_EXAMPLES)


def tcp(pool):
    return pool.built[pool.names.index("examples/tcp_proxy.yaml")]


def echo_script(payload=b"hello world", end=True):
    return [Action("connect"), Action("upstream_connect"), Action("send", payload=payload, end_stream=end),
            Action("upstream_read"), Action("upstream_send", payload=payload.upper(), end_stream=end), Action("read")]


def test_a_session_relays_bytes_both_ways_and_sees_clean_ends(pool):
    s = Session(tcp(pool)).run(echo_script())
    down = s.downstream[0]
    up = s.network.opened[0].io
    assert bytes(up.received) == b"hello world" and up.peer_saw_end
    assert bytes(down.received) == b"HELLO WORLD" and down.peer_saw_end


def test_replaying_an_input_alone_or_after_a_thousand_others_gives_the_same_result(pool):
    rng = random.Random(7)
    inputs = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600))) for _ in range(1000)]
    probe = bytes(rng.randrange(256) for _ in range(900))
    alone = session.run_input(pool, probe).digest()
    for data in inputs:
        session.run_input(pool, data)
    assert session.run_input(pool, probe).digest() == alone


def test_action_decoding_is_bounded_for_huge_inputs():
    actions = session.decode_actions(session.Reader(bytes(range(256)) * 4000))
    assert len(actions) <= session.MAX_ACTIONS
    assert all(len(a.payload) <= session.MAX_PAYLOAD for a in actions)


def test_empty_and_tiny_inputs_run(pool):
    session.run_input(pool, b"")
    session.run_input(pool, b"\x00")


def test_byte_conservation_oracle_catches_bytes_dropped_at_half_close(pool, monkeypatch):
    from proxy.network.filters import tcp_proxy
    original = tcp_proxy.TcpProxyFilter._forward

    def lossy(self, buffer, end_stream, to_upstream):
        if end_stream and len(buffer):
            buffer.add(buffer.take()[:-1])  # the planted bug: the last byte before the FIN is lost
        return original(self, buffer, end_stream, to_upstream)

    monkeypatch.setattr(tcp_proxy.TcpProxyFilter, "_forward", lossy)
    with pytest.raises(oracles.InvariantViolation, match="bytes_lost"):
        Session(tcp(pool)).run(echo_script())


def test_filter_rules_oracle_catches_on_data_after_close(pool, monkeypatch):
    from proxy.network.filter_manager import FilterManager

    def careless(self, start, injected):  # the planted bug: iteration ignores the connection state
        conn = self.connection
        for active in self.read_filters[start:]:
            buf, end_stream = injected if injected is not None else (conn.read_buffer, conn.read_end_stream)
            if not active.initialized:
                active.initialized = True
                from proxy.network import filter_manager
                filter_manager.observer(conn, active.filter, "new")
                active.filter.on_new_connection()
            filter_manager.observer(conn, active.filter, "data")
            active.filter.on_data(buf, end_stream)

    rbac = pool.built[pool.names.index("examples/rbac_deny.yaml")]
    monkeypatch.setattr(FilterManager, "continue_reading", careless)
    with pytest.raises(oracles.InvariantViolation, match="filter_called_after_close"):
        Session(rbac).run([Action("connect", value=0), Action("send", payload=b"x")])


def test_watermark_model_catches_an_off_by_one(monkeypatch):
    from proxy.buffer import WatermarkBuffer
    buf = WatermarkBuffer(lambda: None, lambda: None, 100)
    buf.add(b"x" * 102)
    oracles.check_watermark_state("ok", buf)
    buf._above_high = False  # as if the crossing had been missed
    with pytest.raises(oracles.InvariantViolation, match="watermark_missed_high"):
        oracles.check_watermark_state("broken", buf)


def test_encode_actions_is_the_inverse_of_decoding():
    script = [Action("upstream_connect", 0), Action("send", 1, payload=b"abc", end_stream=True),
              Action("send_http", 0, value=3, payload=b"seed"), Action("read", 2, value=70000),
              Action("connect", 0, value=9), Action("advance", value=5_000), Action("upstream_reset", 3)]
    reader = session.Reader(session.encode_actions(script, config=5, read_size=2))
    assert (reader.int(1, 256), reader.int(1, len(session.READ_SIZES))) == (5, 2)
    assert session.decode_actions(reader)[1:] == script
