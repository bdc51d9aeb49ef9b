"""Seeded random scripts against tcp_proxy chains (with rbac, local_ratelimit, fault in front):
no unexpected exception, bytes never invented or reordered (each peer receives a prefix of what
the other sent), and, for connection pairs nobody reset, every byte and end of stream arrives
once the script stops interfering."""

import random

import pytest

from proxy.network.connection import State

from tests.fuzz.test_build_harness import L4, tcp_config

CONFIGS = {
    "plain": tcp_config(),
    "small_buffers": tcp_config(
        listener={"per_connection_buffer_limit_bytes": 1024},
        cluster={"per_connection_buffer_limit_bytes": 1024, "connect_timeout_ms": 500},
    ),
    "filters": tcp_config(
        {"rbac": {"action": "DENY", "policies": [{"name": "bad", "source_prefixes": ["10.66.0.0/16"]}]}},
        {"local_ratelimit": {"max_tokens": 3, "tokens_per_fill": 1, "fill_interval_ms": 100}},
        {"fault": {"delay_ms": 30, "throttle_bytes_per_sec": 4000}},
        listener={"per_connection_buffer_limit_bytes": 2048},
    ),
}


class Pair:
    def __init__(self, conn, sock):
        self.down, self.client = conn, sock
        self.sent_up, self.client_ended = bytearray(), False
        self.sent_down, self.server_ended = bytearray(), False
        self.reset = False

    @property
    def up(self):
        return self.down.stream_info.get("upstream_connection") if self.down is not None else None


def check_prefixes(pairs):
    for pair in pairs:
        assert bytes(pair.client.received) == bytes(pair.sent_down[: len(pair.client.received)])
        up = pair.up
        if up is not None:
            assert bytes(up.io.received) == bytes(pair.sent_up[: len(up.io.received)])
            if up.io.peer_saw_end:
                assert pair.client_ended and bytes(up.io.received) == bytes(pair.sent_up)
        if pair.client.peer_saw_end:
            assert pair.server_ended and bytes(pair.client.received) == bytes(pair.sent_down)
        for conn in (pair.down, up):
            if conn is not None:
                assert conn.read_disable_count >= 0


def run_script(config_name, seed, steps=80):
    rng = random.Random(seed)
    p = L4(CONFIGS[config_name], seed=seed)
    pairs = []
    for _ in range(steps):
        op = rng.randrange(10)
        live = [x for x in pairs if x.down is not None]
        if op == 0 or not live:
            source = rng.choice(["10.1.0.1", "10.66.0.5"])
            conn, sock = p.accept(remote=(source, 1000 + len(pairs)), read_size=rng.choice([7, 512, 16384]))
            pairs.append(Pair(conn, sock))
            continue
        pair = rng.choice(live)
        up = pair.up
        if op == 1 and not pair.client_ended:
            data = rng.randbytes(rng.choice([1, 100, 3000, 40000]))
            end = rng.random() < 0.3
            if pair.client.inbound_end:
                continue
            pair.sent_up += data
            pair.client_ended |= end
            pair.client.peer_send(data, end)
        elif op == 2 and up is not None and not pair.server_ended and up.connected:
            data = rng.randbytes(rng.choice([1, 100, 3000, 40000]))
            end = rng.random() < 0.3
            pair.sent_down += data
            pair.server_ended |= end
            up.io.peer_send(data, end)
        elif op == 3:
            pair.client.peer_read(rng.choice([None, 1, 1000]))
        elif op == 4 and up is not None:
            up.io.peer_read(rng.choice([None, 1, 1000]))
        elif op == 5:
            p.advance(rng.choice([0, 1, 10, 100, 1000]))
        elif op == 6 and up is not None and up in p.net.pending:
            (p.net.complete_connect if rng.random() < 0.9 else p.net.fail_connect)(up)
        elif op == 7 and rng.random() < 0.1:
            pair.reset = True
            pair.client.peer_reset()
        elif op == 8 and up is not None and rng.random() < 0.1:
            pair.reset = True
            up.io.peer_reset()
        p.run()
        check_prefixes(pairs)
    return p, pairs


def drain(p, pairs):
    for _ in range(400):
        for conn in list(p.net.pending):
            p.net.complete_connect(conn)
        for pair in pairs:
            pair.client.peer_read()
            if pair.up is not None:
                pair.up.io.peer_read()
        p.advance(100)
        check_prefixes(pairs)


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
def test_random_scripts_neither_lose_nor_invent_bytes(config_name):
    for seed in range(40):
        p, pairs = run_script(config_name, seed)
        drain(p, pairs)
        for pair in pairs:
            up = pair.up
            if pair.reset or up is None or pair.down is None or not up.connected:
                continue
            if pair.down.stream_info.get("failure"):
                continue
            assert bytes(up.io.received) == bytes(pair.sent_up), (config_name, seed)
            assert bytes(pair.client.received) == bytes(pair.sent_down), (config_name, seed)
            assert up.io.peer_saw_end == pair.client_ended, (config_name, seed)
            assert pair.client.peer_saw_end == pair.server_ended, (config_name, seed)
            if pair.client_ended and pair.server_ended:
                assert pair.down.state is State.CLOSED and up.state is State.CLOSED, (config_name, seed)
