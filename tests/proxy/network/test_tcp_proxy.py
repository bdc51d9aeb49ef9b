"""tcp_proxy, script style on the simulated dispatcher and network: peer events in, what each
peer receives and which counters move out."""

import dataclasses

from proxy.network.connection import State
from proxy.network.filter import CONTINUE, ReadFilter

from proxy.build import build

from tests.fuzz.test_build_harness import L4, bootstrap, tcp_config


def opened(config=None, **kw):
    """A proxy with one downstream connection whose upstream has connected."""
    p = L4(config or tcp_config(), **kw)
    down, client = p.accept()
    up, server = p.connect_upstream()
    return p, down, client, up, server


def test_downstream_reads_stay_disabled_until_the_upstream_connects():
    p = L4(tcp_config())
    down, client = p.accept()
    client.peer_send(b"early bytes")
    p.run()
    assert bytes(client.inbound) == b"early bytes"  # still in the "kernel": not read
    assert len(down.read_buffer) == 0
    assert len(p.net.pending) == 1  # the upstream is connecting
    up, server = p.connect_upstream()
    assert server.peer_read() == b"early bytes"
    assert down.read_disable_count == 0


def test_on_data_moves_the_whole_read_buffer_upstream_and_stops_iteration():
    p, down, client, up, server = opened()
    client.peer_send(b"one")
    client.peer_send(b"two")
    assert len(down.read_buffer) == 0
    assert up.write_buffer.bytes() == b"onetwo"
    assert server.peer_read() == b"onetwo"
    assert p.counter("tcp_proxy.downstream_bytes_rx") == 6 == p.counter("tcp_proxy.upstream_bytes_tx")


def test_upstream_data_is_written_downstream():
    p, down, client, up, server = opened()
    server.peer_send(b"response")
    assert client.peer_read() == b"response"
    assert p.counter("tcp_proxy.upstream_bytes_rx") == 8 == p.counter("tcp_proxy.downstream_bytes_tx")


def test_downstream_half_close_is_forwarded_and_the_other_direction_keeps_flowing():
    p, down, client, up, server = opened()
    client.peer_send(b"request", end_stream=True)
    assert server.peer_read() == b"request" and server.peer_saw_end
    assert down.state is State.OPEN and up.state is State.OPEN
    server.peer_send(b"late ")
    server.peer_send(b"response", end_stream=True)
    p.run()
    assert client.peer_read() == b"late response" and client.peer_saw_end
    assert down.state is State.CLOSED and up.state is State.CLOSED


def test_end_sent_upstream_says_when_the_downstreams_end_was_relayed():
    """The read-only view observers (the session harness's byte conservation) take of the relay."""
    from proxy.network.filters.tcp_proxy import TcpProxyFilter

    p, down, client, up, server = opened()
    relay = next(a.filter for a in down.filter_manager.read_filters if isinstance(a.filter, TcpProxyFilter))
    client.peer_send(b"request")
    assert not relay.end_sent_upstream
    client.peer_send(b"", end_stream=True)
    assert relay.end_sent_upstream
    assert server.peer_read() == b"request" and server.peer_saw_end


def test_upstream_half_close_is_forwarded_and_the_other_direction_keeps_flowing():
    p, down, client, up, server = opened()
    server.peer_send(b"banner", end_stream=True)
    assert client.peer_read() == b"banner" and client.peer_saw_end
    assert down.state is State.OPEN and up.state is State.OPEN
    client.peer_send(b"still talking")
    assert server.peer_read() == b"still talking"
    client.peer_close()
    p.run()
    assert server.peer_read() == b"" and server.peer_saw_end
    assert down.state is State.CLOSED and up.state is State.CLOSED


def test_half_close_loses_no_bytes_that_are_still_buffered_toward_a_slow_reader():
    # The downstream peer sends and half-closes while the upstream reader has not read yet; the
    # upstream answers and half-closes: every byte still arrives at both ends.
    p, down, client, up, server = opened()
    request = bytes(range(256)) * 300
    response = b"r" * 70_000
    client.peer_send(request, end_stream=True)
    p.run()
    server.peer_send(response, end_stream=True)
    p.run()
    # Both directions ended; the proxy still holds bytes toward both peers.
    assert len(up.write_buffer) and len(down.write_buffer)
    got_up, got_down = bytearray(), bytearray()
    for _ in range(100):
        got_up += server.peer_read(4096)
        got_down += client.peer_read(4096)
        p.run()
    assert bytes(got_up) == request and server.peer_saw_end
    assert bytes(got_down) == response and client.peer_saw_end
    assert down.state is State.CLOSED and up.state is State.CLOSED


def test_downstream_reset_closes_the_upstream_after_flushing_what_it_already_read():
    p, down, client, up, server = opened()
    client.peer_send(b"last words")
    client.peer_reset()
    assert down.state is State.CLOSED
    assert up.state is State.CLOSING  # flushing, then closed
    assert server.peer_read() == b"last words"
    assert up.state is State.CLOSED


def test_upstream_reset_closes_the_downstream_after_flushing():
    p, down, client, up, server = opened()
    server.peer_send(b"partial answer")
    server.peer_reset()
    assert up.state is State.CLOSED
    assert client.peer_read() == b"partial answer"
    assert down.state is State.CLOSED


def test_idle_timeout_closes_both_sides_on_virtual_time():
    cfg = tcp_config()
    cfg["listeners"][0]["filter_chains"][0]["filters"][0]["tcp_proxy"]["idle_timeout_ms"] = 1000
    p, down, client, up, server = opened(cfg)
    p.advance(999)
    client.peer_send(b"x")  # a read at t=999 re-arms it for t=1999
    p.advance(999)
    assert down.is_open and up.is_open
    p.advance(1)
    assert down.state is State.CLOSED and up.state is State.CLOSED
    assert p.counter("tcp_proxy.idle_timeout") == 1
    assert p.d.now_ms() == 1999


def test_idle_timeout_counts_bytes_flushed_to_a_slow_reader_as_activity():
    cfg = tcp_config()
    cfg["listeners"][0]["filter_chains"][0]["filters"][0]["tcp_proxy"]["idle_timeout_ms"] = 1000
    p, down, client, up, server = opened(cfg)
    server.peer_send(b"z" * 5000)
    for _ in range(4):  # the client drains 1000 bytes every 600 ms
        p.advance(600)
        assert client.peer_read(1000)
    assert down.is_open and up.is_open
    p.advance(3000)
    assert down.state is State.CLOSED
    assert p.counter("tcp_proxy.idle_timeout") == 1


def test_connect_timeout_closes_the_downstream():
    p = L4(tcp_config(cluster={"connect_timeout_ms": 250}))
    down, client = p.accept()
    p.advance(249)
    assert down.is_open
    p.advance(1)
    assert down.state is State.CLOSED and p.net.opened[0].state is State.CLOSED
    assert p.counter("tcp_proxy.upstream_cx_connect_fail") == 1
    assert p.counter("cluster.echo.upstream_cx_connect_timeout") == 1
    assert down.stream_info["failure"] == "connect_timeout"


def test_connect_failure_closes_the_downstream_with_nothing_forwarded():
    p = L4(tcp_config())
    p.net.refused.add(("127.0.0.1", 9000))
    down, client = p.accept()
    client.peer_send(b"never forwarded")
    p.run()
    assert down.state is State.CLOSED
    assert p.counter("tcp_proxy.upstream_cx_connect_fail") == 1
    assert p.counter("tcp_proxy.upstream_bytes_tx") == 0
    assert p.ctx.stats.gauge("cluster.echo.upstream_cx_active") == 0


def test_downstream_close_while_connecting_abandons_the_upstream():
    p = L4(tcp_config())
    down, client = p.accept()
    client.peer_reset()
    assert p.net.opened[0].state is State.CLOSED
    assert p.ctx.stats.gauge("cluster.echo.upstream_cx_active") == 0
    assert p.counter("tcp_proxy.upstream_cx_connect_fail") == 0  # abandoned, not failed
    assert p.counter("cluster.echo.upstream_cx_connect_fail") == 0


def test_circuit_breaker_refuses_connections_over_max_connections():
    p = L4(tcp_config(cluster={"max_connections": 1}))
    first, _ = p.accept()
    second, _ = p.accept()
    assert first.is_open and second.state is State.CLOSED
    assert p.counter("tcp_proxy.upstream_cx_overflow") == 1
    assert p.counter("cluster.echo.upstream_cx_overflow") == 1
    first.close()
    third, _ = p.accept()
    assert third.is_open


def _pump_with_slow_reader(p, sender, reader, proxy_buffered, limit, total, read_per_step):
    received = bytearray()
    peak = 0
    for _ in range(10 * total // read_per_step):
        received += reader.peer_read(read_per_step)
        p.run()
        peak = max(peak, proxy_buffered())
        assert proxy_buffered() < 2 * limit
        if len(received) == total:
            break
    return bytes(received), peak


def test_backpressure_a_slow_upstream_reader_bounds_the_proxy_buffers_while_10_mib_flow():
    limit = 256 * 1024
    cfg = tcp_config(
        listener={"per_connection_buffer_limit_bytes": limit}, cluster={"per_connection_buffer_limit_bytes": limit}
    )
    p, down, client, up, server = opened(cfg)
    payload = bytes(range(251)) * (10 * 1024 * 1024 // 251 + 1)
    payload = payload[: 10 * 1024 * 1024]
    client.peer_send(payload)  # the client has everything ready; the proxy reads what it may
    p.run()

    def buffered():
        return len(down.read_buffer) + len(up.write_buffer)

    assert buffered() < 2 * limit
    got, peak = _pump_with_slow_reader(p, client, server, buffered, limit, len(payload), 64 * 1024)
    assert got == payload
    assert peak > limit  # the reader really was slower than the proxy
    assert p.counter("tcp_proxy.downstream_flow_control_paused_reading_total") >= 1
    assert p.counter("tcp_proxy.downstream_flow_control_paused_reading_total") == p.counter(
        "tcp_proxy.downstream_flow_control_resumed_reading_total"
    )
    assert down.read_disable_count == 0


def test_backpressure_a_slow_downstream_reader_pauses_the_upstream():
    limit = 64 * 1024
    cfg = tcp_config(
        listener={"per_connection_buffer_limit_bytes": limit}, cluster={"per_connection_buffer_limit_bytes": limit}
    )
    p, down, client, up, server = opened(cfg)
    payload = b"d" * (1024 * 1024)
    server.peer_send(payload)
    p.run()
    assert up.read_disable_count >= 1  # paused: the downstream write buffer is above high

    def buffered():
        return len(up.read_buffer) + len(down.write_buffer)

    got, _ = _pump_with_slow_reader(p, server, client, buffered, limit, len(payload), 8 * 1024)
    assert got == payload
    assert up.read_disable_count == 0
    assert (
        p.counter("tcp_proxy.upstream_flow_control_paused_reading_total")
        == p.counter("tcp_proxy.upstream_flow_control_resumed_reading_total")
        >= 1
    )


class _Banner(ReadFilter):
    """An earlier filter that greets the client with more than the connection's buffer limit."""

    def on_new_connection(self):
        self.callbacks.connection.write(b"b" * 4096)
        return CONTINUE


def test_a_downstream_backed_up_before_the_upstream_exists_pauses_the_upstream_at_creation():
    # The downstream passes its high watermark while tcp_proxy has no upstream yet (the banner
    # filter runs first); the upstream must start paused, not read into a client that cannot keep up.
    cfg = tcp_config(listener={"per_connection_buffer_limit_bytes": 1024})
    built = build(bootstrap(cfg))
    listener = built.listeners[0]
    chain = listener.filter_chains[0]
    greet = (lambda conn, ctx: conn.add_read_filter(_Banner()),)
    greeted = dataclasses.replace(
        listener, filter_chains=(dataclasses.replace(chain, installs=greet + chain.installs),)
    )
    p = L4(cfg, built=dataclasses.replace(built, listeners=(greeted,)))
    down, client = p.accept()
    up, server = p.connect_upstream()
    assert len(down.write_buffer) > 1024  # the client has not read the banner
    assert up.read_disable_count == 1
    server.peer_send(b"d" * 100_000)
    p.run()
    assert len(down.write_buffer) < 8 * 1024  # the upstream's bytes wait in its socket
    assert p.counter("tcp_proxy.upstream_flow_control_paused_reading_total") == 1
    received = bytearray()
    while len(received) < 104_096:
        received += client.peer_read(512)
        p.run()
        # Resumed only below the low watermark, so at most one upstream read on top of that.
        assert len(down.write_buffer) <= 512 + up.io.read_size
    assert received == b"b" * 4096 + b"d" * 100_000
    assert up.read_disable_count == 0


def test_no_bytes_lost_or_invented_counters_balance_when_the_upstream_goes_away():
    p, down, client, up, server = opened()
    client.peer_send(b"a" * 100)
    server.peer_reset()  # the downstream is closed (flushing nothing)
    client.peer_send(b"b" * 50)  # not read: the downstream is closed
    p.run()
    rx = p.counter("tcp_proxy.downstream_bytes_rx")
    assert rx == p.counter("tcp_proxy.upstream_bytes_tx") + p.counter("tcp_proxy.downstream_bytes_dropped") == 100


def test_weighted_clusters_pick_by_weight_with_the_seeded_random():
    cfg = tcp_config()
    cfg["clusters"].append({"name": "other", "endpoints": [{"host": "127.0.0.2", "port": 9001}]})
    cfg["listeners"][0]["filter_chains"][0]["filters"][0] = {
        "tcp_proxy": {
            "weighted_clusters": {"clusters": [{"name": "echo", "weight": 3}, {"name": "other", "weight": 1}]}
        }
    }

    def hosts(seed):
        p = L4(cfg, seed=seed)
        for _ in range(200):
            p.accept()
        return [c.remote_address for c in p.net.opened]

    first = hosts(7)
    assert first == hosts(7)  # deterministic from the seed
    share = first.count(("127.0.0.1", 9000)) / len(first)
    assert 0.6 < share < 0.9  # about 3 in 4


def test_zero_weight_clusters_are_never_picked():
    cfg = tcp_config()
    cfg["clusters"].append({"name": "other", "endpoints": [{"host": "127.0.0.2", "port": 9001}]})
    cfg["listeners"][0]["filter_chains"][0]["filters"][0] = {
        "tcp_proxy": {
            "weighted_clusters": {"clusters": [{"name": "echo", "weight": 0}, {"name": "other", "weight": 5}]}
        }
    }
    p = L4(cfg)
    for _ in range(20):
        p.accept()
    assert {c.remote_address for c in p.net.opened} == {("127.0.0.2", 9001)}
