"""Helpers for script-style HTTP tests over the in-memory network: a proxy built from YAML, a
client connection to it, and upstream connections the test answers by hand.

    p = Proxy(CONFIG)                       # validated, built, instantiated on virtual time
    c = p.client()                          # a downstream connection (SimSocket peer)
    c.send(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    up = p.upstream()                       # the next upstream connection the proxy opened
    up.accept()                             # complete its connect
    assert up.read().startswith(b"GET / HTTP/1.1")
    up.send(b"HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\nok")
    assert c.read().endswith(b"ok")
"""

import h11

from proxy.build import build, instantiate
from proxy.config import load_bytes
from proxy.event import SimulatedDispatcher
from proxy.http import access_log
from proxy.network import sim


class Client:
    def __init__(self, proxy, conn) -> None:
        self.proxy = proxy
        self.conn = conn
        self.sock = conn.io

    def send(self, data: bytes, end_stream: bool = False) -> None:
        self.sock.peer_send(data, end_stream)
        self.proxy.run()

    def read(self, max_bytes=None) -> bytes:
        self.proxy.run()
        return self.sock.peer_read(max_bytes)

    def reset(self) -> None:
        self.sock.peer_reset()
        self.proxy.run()


class Upstream:
    def __init__(self, proxy, conn) -> None:
        self.proxy = proxy
        self.conn = conn
        self.sock = conn.io

    @property
    def address(self):
        return self.conn.remote_address

    def accept(self) -> "Upstream":
        self.proxy.network.complete_connect(self.conn)
        self.proxy.run()
        return self

    def refuse(self) -> None:
        self.proxy.network.fail_connect(self.conn)
        self.proxy.run()

    def read(self, max_bytes=None) -> bytes:
        self.proxy.run()
        return self.sock.peer_read(max_bytes)

    def send(self, data: bytes, end_stream: bool = False) -> None:
        self.sock.peer_send(data, end_stream)
        self.proxy.run()

    def close(self) -> None:
        self.sock.peer_close()
        self.proxy.run()


class Proxy:
    def __init__(self, yaml_text: str, seed: int = 0, listener: int = 0) -> None:
        self.bootstrap = load_bytes(yaml_text.encode(), "yaml")
        self.built = build(self.bootstrap)
        self.dispatcher = SimulatedDispatcher()
        self.network = sim.SimNetwork(self.dispatcher)
        self.ctx = instantiate(self.built, self.dispatcher, self.network, seed=seed)
        self.listener = self.built.listeners[listener]
        self.log = access_log.MemorySink()
        for spec in ("stdout",):
            access_log.use_sink(self.ctx, spec, self.log)
        self._taken = 0
        self._port = 50000

    def run(self) -> None:
        self.dispatcher.run_posted()

    def advance(self, ms: int) -> None:
        self.dispatcher.advance(ms)

    def client(self, remote=("127.0.0.1", None)) -> Client:
        self._port += 1
        remote = (remote[0], remote[1] or self._port)
        sock = sim.SimSocket()
        conn = self.listener.create_connection(
            self.ctx, sock, (self.listener.address[0], self.listener.address[1]), remote
        )
        assert conn is not None, "no filter chain matched"
        self.run()
        return Client(self, conn)

    def upstreams(self) -> list:
        return [Upstream(self, c) for c in self.network.opened]

    def upstream(self) -> Upstream:
        """The next upstream connection opened since the last call."""
        self.run()
        opened = self.network.opened
        assert len(opened) > self._taken, f"no new upstream connection (opened {len(opened)})"
        up = Upstream(self, opened[self._taken])
        self._taken += 1
        return up

    def new_upstream_count(self) -> int:
        self.run()
        return len(self.network.opened) - self._taken

    def counter(self, name: str) -> int:
        return self.ctx.stats.counter(name)

    def stats_add_up(self) -> bool:
        c = self.counter
        return c("http.downstream_rq_total") == (
            c("http.downstream_rs_total") + c("http.local_replies") + c("http.downstream_rq_reset")
        )


def parse_responses(data: bytes, methods=None) -> list:
    """HTTP/1.1 responses in `data` as (status, headers dict, body) by h11, in order."""
    conn = h11.Connection(h11.CLIENT)
    out = []
    methods = list(methods or [])
    if not data:
        return out
    conn.receive_data(data)
    while True:
        conn.send(h11.Request(method=methods.pop(0) if methods else "GET", target="/", headers=[("host", "x")]))
        conn.send(h11.EndOfMessage())
        status, headers, body = None, None, b""
        while True:
            ev = conn.next_event()
            if ev is h11.NEED_DATA:
                return out
            if isinstance(ev, h11.Response):
                status, headers = ev.status_code, {bytes(k): bytes(v) for k, v in ev.headers}
            elif isinstance(ev, h11.Data):
                body += ev.data
            elif isinstance(ev, h11.EndOfMessage):
                out.append((status, headers, body))
                break
            elif isinstance(ev, h11.ConnectionClosed):
                return out
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        else:
            return out


def parse_requests(data: bytes) -> list:
    """HTTP/1.1 requests in `data` as (method, target, headers dict, body), by h11."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    out = []
    while True:
        ev = conn.next_event()
        if ev is h11.NEED_DATA or isinstance(ev, h11.ConnectionClosed):
            return out
        if isinstance(ev, h11.Request):
            cur = [bytes(ev.method), bytes(ev.target), {bytes(k): bytes(v) for k, v in ev.headers}, b""]
        elif isinstance(ev, h11.Data):
            cur[3] += ev.data
        elif isinstance(ev, h11.EndOfMessage):
            out.append(tuple(cur))
            conn.send(h11.Response(status_code=200, headers=[("content-length", "0")]))
            conn.send(h11.EndOfMessage())
            conn.start_next_cycle()


def ok(body: bytes = b"ok", status: int = 200, extra: bytes = b"") -> bytes:
    reason = {200: b"OK", 404: b"Not Found", 500: b"Internal Server Error"}.get(status, b"X")
    return b"HTTP/1.1 %d %s\r\ncontent-length: %d\r\n" % (status, reason, len(body)) + extra + b"\r\n" + body


def basic_config(hcm_extra: str = "", cluster_extra: str = "", routes: str | None = None, filters: str = "") -> str:
    routes = (
        routes
        or """
                      - match: {prefix: "/"}
                        route: {cluster: web}"""
    )
    return f"""
listeners:
  - name: http_in
    address: {{host: 127.0.0.1, port: 10080}}
    filter_chains:
      - filters:
          - http_connection_manager:
              codec: AUTO
              access_log: {{stdout: true}}{hcm_extra}{filters}
              route_config:
                virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:{routes}
clusters:
  - name: web
    endpoints: [{{host: 127.0.0.1, port: 9080}}]{cluster_extra}
"""
