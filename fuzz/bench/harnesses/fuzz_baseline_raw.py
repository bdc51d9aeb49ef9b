#!/usr/bin/env python3
"""Baseline for the planted-bug bench: raw bytes into the proxy, one fixed configuration, no oracle.

examples/http.yaml is built once. Each input is one downstream connection's bytes (16 KiB
reads; end of stream after the exchange); every upstream connection the proxy opens connects and answers
one fixed HTTP/1.1 response; time then passes and everything is reset. The only oracle is
"no exception": no invariant checks, no allow-list, no structure in the input. This is what
a fuzzer that only notices crashes gets, beside the suite's oracles and structured harnesses.
"""

import sys
from pathlib import Path

import atheris

from fuzz import harness

with harness.instrumented("session"):
    from proxy.build import build, instantiate
    from proxy.config import load_file
    from proxy.event import SimulatedDispatcher
    from proxy.http.access_log import CountingSink
    from proxy.network import sim

CONFIG = Path(__file__).resolve().parents[3] / "examples" / "http.yaml"
BUILT = build(load_file(CONFIG))
RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


def TestOneInput(data):
    dispatcher = SimulatedDispatcher()
    network = sim.SimNetwork(dispatcher)
    ctx = instantiate(BUILT, dispatcher, network, seed=0)
    ctx.open_access_log = lambda spec: CountingSink()
    listener = BUILT.listeners[0]
    sock = sim.SimSocket()
    listener.create_connection(ctx, sock, (listener.address[0], listener.address[1]), ("127.0.0.1", 40000))
    sock.peer_send(data)
    dispatcher.run_posted()
    answered = set()
    for _ in range(4):
        for conn in list(network.pending):
            network.complete_connect(conn)
        for conn in network.opened:
            if conn.connected and id(conn) not in answered:
                answered.add(id(conn))
                conn.io.peer_send(RESPONSE)
        for s in [sock] + [c.io for c in network.opened]:
            s.peer_read()
        dispatcher.run_posted()
    dispatcher.advance(1_000)
    sock.peer_close()
    dispatcher.run_posted()
    sock.peer_reset()
    for conn in network.opened:
        conn.io.peer_reset()
    dispatcher.advance(120_000)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
