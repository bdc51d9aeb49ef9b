"""Stage 2 sessions: bounded, deterministic, state-free between inputs, and oracles that fail."""

import random

import pytest

from fuzz import oracles, session
from fuzz.session import _APPLY, _PEER_ACTS, OPS, Action, ConfigPool, Session

TCP_EXAMPLES = [
    "examples/tcp_proxy.yaml",
    "examples/rbac_deny.yaml",
    "examples/fault_delay.yaml",
    "examples/ratelimit.yaml",
]


@pytest.fixture(scope="module")
def pool():
    return ConfigPool(TCP_EXAMPLES)


def tcp(pool):
    return pool.built[pool.names.index("examples/tcp_proxy.yaml")]


def echo_script(payload=b"hello world", end=True):
    return [
        Action("connect"),
        Action("upstream_connect"),
        Action("send", payload=payload, end_stream=end),
        Action("upstream_read"),
        Action("upstream_send", payload=payload.upper(), end_stream=end),
        Action("read"),
    ]


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


def test_every_op_has_one_entry_in_the_dispatch_table():
    assert set(_APPLY) == set(OPS)
    # and every op a peer acts out has its act: upstream_connect/_fail/_connect_silent complete a connect instead
    peer_ops = [op for op, do in _APPLY.items() if do in (Session._downstream, Session._upstream)]
    # send_request and upstream_respond are templated sends whose template the connection chooses
    templated = ("send_http", "send_request", "upstream_respond")
    verbs = {"http" if op in templated else op.removeprefix("upstream_") for op in peer_ops}
    assert verbs - {"connect", "fail", "connect_silent"} == set(_PEER_ACTS)


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
                self.observer(conn, active.filter, "new")
                active.filter.on_new_connection()
            self.observer(conn, active.filter, "data")
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
    script = [
        Action("upstream_connect", 0),
        Action("send", 1, payload=b"abc", end_stream=True),
        Action("send_http", 0, value=3, payload=b"seed"),
        Action("read", 2, value=70000),
        Action("connect", 0, value=9),
        Action("advance", value=5_000),
        Action("upstream_reset", 3),
        Action("read_to", 1, value=3),
        Action("upstream_read_to", 0, value=len(session.DRAIN_LEVELS) - 1),
    ]
    reader = session.Reader(session.encode_actions(script, config=5, read_size=2))
    assert (reader.int(1, 256), reader.int(1, len(session.READ_SIZES))) == (5, 2)
    assert session.decode_actions(reader)[1:] == script


SMALL_TCP = b"""
listeners:
  - name: small
    address: {host: 127.0.0.1, port: 10000}
    per_connection_buffer_limit_bytes: 1024
    filter_chains:
      - filters:
          - tcp_proxy: {cluster: backend}
clusters:
  - name: backend
    per_connection_buffer_limit_bytes: 1024
    endpoints: [{host: 127.0.0.1, port: 9000}]
"""
LEVEL = {name: i for i, (name, _) in enumerate(session.DRAIN_LEVELS)}


@pytest.fixture(scope="module")
def small_tcp():
    from proxy.build import build
    from proxy.config import load_bytes

    return build(load_bytes(SMALL_TCP, "yaml"))


def steps(s, actions):
    """Apply actions as Session.run does, without the final settling and shutdown."""
    for a in actions:
        s.apply(a)
        s.dispatcher.run_posted()
        s.check()


def test_read_to_leaves_the_write_buffer_at_the_level_its_watermarks_name(small_tcp):
    s = Session(small_tcp)
    steps(s, [Action("connect"), Action("upstream_connect"), Action("upstream_send", payload=b"u" * 4096)])
    buf = s.downstream[0].conn.write_buffer
    assert (buf.high_watermark, buf.low_watermark, len(buf)) == (1025, 512, 4096) and buf.above_high_watermark
    for level, expected, above in (
        ("high+1", 1026, True),
        ("high", 1025, True),
        ("low+1", 513, True),
        ("low", 512, False),
        ("low", 512, False),
        ("1", 1, False),
        ("0", 0, False),
    ):
        steps(s, [Action("read_to", value=LEVEL[level])])
        assert (len(buf), buf.above_high_watermark) == (expected, above), level
    up = s.network.opened[0]
    steps(s, [Action("send", payload=b"d" * 4096)])
    assert len(up.write_buffer) == 4096 and up.write_buffer.above_high_watermark
    steps(s, [Action("upstream_read_to", value=LEVEL["low-1"])])
    assert len(up.write_buffer) == 511 and not up.write_buffer.above_high_watermark
    assert bytes(up.io.received) == b"d" * (4096 - 511)


def _low_watermark_compared_with_less_than(monkeypatch):
    from proxy.buffer import WatermarkBuffer

    def changed(self):  # the planted bug: drained to exactly the low watermark, still "above high"
        n = len(self._data)
        if not self._above_high:
            if self.high_watermark and n > self.high_watermark:
                self._above_high = True
                self._on_above_high()
        elif not self.high_watermark or n < self.low_watermark:
            self._above_high = False
            self._on_below_low()

    monkeypatch.setattr(WatermarkBuffer, "_changed", changed)


def test_draining_to_exactly_the_low_watermark_catches_a_low_watermark_off_by_one(small_tcp, monkeypatch):
    script = [
        Action("connect"),
        Action("upstream_connect"),
        Action("upstream_send", payload=b"u" * 4096),
        Action("read_to", value=LEVEL["low"]),
    ]
    Session(small_tcp).run(script)
    _low_watermark_compared_with_less_than(monkeypatch)
    with pytest.raises(oracles.InvariantViolation, match="watermark_missed_low"):
        Session(small_tcp).run(script)


def test_every_change_of_a_connection_buffer_is_checked_not_only_the_state_after_an_action(small_tcp, monkeypatch):
    _low_watermark_compared_with_less_than(monkeypatch)
    s = Session(small_tcp)
    steps(s, [Action("connect"), Action("upstream_connect")])
    buf = s.downstream[0].conn.write_buffer
    assert type(buf) is session.CheckedWatermarkBuffer
    assert type(s.network.opened[0].write_buffer) is session.CheckedWatermarkBuffer
    buf.add(b"x" * 2000)
    with pytest.raises(oracles.InvariantViolation, match="watermark_missed_low"):
        buf.drain(2000 - buf.low_watermark)  # at low: the check runs inside the drain itself


def test_a_buffer_growing_past_its_high_watermark_unnoticed_is_caught_at_the_change(small_tcp, monkeypatch):
    """The on-change check (CheckedWatermarkBuffer) judges the high side too, and check() leaves the
    checked buffers to it: a crossing of the high watermark that never sets the flag is found inside
    the add that made it."""
    from proxy.buffer import WatermarkBuffer

    s = Session(small_tcp)
    steps(s, [Action("connect"), Action("upstream_connect")])
    monkeypatch.setattr(WatermarkBuffer, "_changed", lambda self: None)  # planted: crossings never noticed
    buf = s.downstream[0].conn.write_buffer
    with pytest.raises(oracles.InvariantViolation, match="watermark_missed_high"):
        buf.add(b"x" * (buf.high_watermark + 1))


def test_chain_tours_start_a_connection_on_every_other_filter_chain_and_catch_a_resume_bug(
    skip_on_new_connection_after_resume,
):
    from fuzz.session_seeds import chain_tours, retarget, CHAIN_TOUR

    pool = ConfigPool(["corpus/session_configs/pinned-s1-0007.yaml"])  # fault (delay) before an HCM on chain 2
    built = pool.built[0]
    tours = chain_tours(built)
    chains = {id(c) for listener in built.listeners for c in listener.filter_chains}
    reached = set()
    for connect, http in tours:
        listener, local, source, name = session.connect_address(built, connect.value, connect.target)
        reached.add(id(listener.select_filter_chain(local, (source, 40000), name)))
    first = session.connect_address(built, 0, 0)
    reached.add(id(first[0].select_filter_chain(first[1], (first[2], 40000), first[3])))
    assert reached - {id(None)} == chains  # the first connection may match no chain at all
    scripts = [[Action("connect"), connect] + retarget(CHAIN_TOUR[http]) for connect, http in tours]
    for script in scripts:
        Session(built).run(script)
    skip_on_new_connection_after_resume()  # the planted bug: only the first pass initializes
    with pytest.raises(oracles.InvariantViolation, match="on_data_before_on_new_connection"):
        for script in scripts:
            Session(built).run(script)


def test_an_action_with_nothing_to_act_on_is_not_checked_again_but_the_next_real_one_is(pool, monkeypatch):
    checked = []
    original = Session.check
    monkeypatch.setattr(Session, "check", lambda self: checked.append(self.actions_run) or original(self))
    nothing = [Action("upstream_send", payload=b"x"), Action("read", 3), Action("connect")] + [Action("connect")] * 20
    s = Session(tcp(pool)).run(nothing + echo_script()[1:])
    # 16 connects act; the read before them, the upstream send and the connects past 16 find nothing
    # (the first action is checked anyway: nothing was checked before it)
    assert 0 in checked and 1 not in checked and 2 in checked and 19 not in checked
    assert len(s.downstream) == session.MAX_CONNECTIONS
    assert set(range(len(nothing), s.actions_run)) <= set(checked)


def test_two_sessions_in_one_process_do_not_see_each_others_connections(pool):
    """The filter observer is per server instance (ServerContext.filter_observer), not a global:
    one session's iteration-rule oracle never judges another session's connections."""
    rbac = pool.built[pool.names.index("examples/rbac_deny.yaml")]
    quiet, busy = Session(rbac), Session(rbac)
    busy.run([Action("connect", value=0), Action("send", payload=b"x")])
    assert busy.ctx.filter_observer.calls > 0
    assert quiet.ctx.filter_observer.calls == 0


def half_closed_reply_script(reply=b"r" * 3000):
    """The client sends and half-closes; the upstream answers and closes before the client reads."""
    return [
        Action("connect"),
        Action("upstream_connect"),
        Action("send", payload=b"ping", end_stream=True),
        Action("upstream_read"),
        Action("upstream_send", payload=reply, end_stream=True),
        Action("read"),
    ]


def test_an_upstream_that_closes_cleanly_leaves_the_client_every_byte(pool):
    s = Session(tcp(pool)).run(half_closed_reply_script())
    assert bytes(s.downstream[0].received) == b"r" * 3000 and s.downstream[0].peer_saw_end


def test_byte_conservation_catches_a_downstream_closed_unflushed_after_a_clean_upstream_end(pool, monkeypatch):
    from proxy.network.connection import CloseType
    from proxy.network.filters import tcp_proxy

    original = tcp_proxy.TcpProxyFilter._on_upstream_event

    def unflushed(self, event):  # the planted bug: an upstream close cuts the downstream's pending output
        original(self, event)
        if self.downstream.state is not tcp_proxy.State.CLOSED and self.upstream.state is tcp_proxy.State.CLOSED:
            self.downstream.close(CloseType.NO_FLUSH)

    monkeypatch.setattr(tcp_proxy.TcpProxyFilter, "_on_upstream_event", unflushed)
    with pytest.raises(oracles.InvariantViolation, match="bytes_lost"):
        Session(tcp(pool)).run(half_closed_reply_script())


def test_a_client_reset_after_the_upstream_end_loses_its_unread_bytes_without_a_finding(pool):
    script = half_closed_reply_script()[:-1] + [Action("reset")]
    s = Session(tcp(pool)).run(script)
    assert s.downstream[0].reset_sent and len(s.downstream[0].received) < 3000
