"""What every planted-bug repro shares: the proxy of this tree as a live process, small upstreams and
clients on 127.0.0.1, and the verdict.

A repro is `bench/bugs/repro/NAME.py`, run from a tree's root as `python bench/bugs/repro/NAME.py`.
It exits 0 when the proxy behaves as a user expects, 1 with one line saying what went wrong when
it does not, and 2 when it could not run at all (the proxy did not start, a port was taken).

    with Upstream(http1_app(lambda req: (200, [], b"hi"))) as up, \\
            Proxy(CONFIG.format(upstream=up.port)) as proxy:
        status, headers, body = http1_get(proxy.port("web"), "/")
    check(status == 200, f"a plain GET got {status}")
    ok("the GET was answered")

The proxy runs as `python -m proxy -c FILE` in the tree this file belongs to (its listeners on port
0; the ports it bound are read from its status lines), so a patched copy of the repository runs
its own patched proxy.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import h11

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))  # in-memory repros import this tree's proxy package
START_TIMEOUT_S = 20.0
IO_TIMEOUT_S = 5.0


# -- the verdict ----------------------------------------------------------------------------------
def ok(what: str) -> None:
    print(f"ok: {what}")
    sys.exit(0)


def fail(why: str) -> None:
    print(f"FAIL: {why}")
    sys.exit(1)


def check(condition: bool, why: str) -> None:
    if not condition:
        fail(why)


def broken(why: str) -> None:
    """The repro itself could not run: neither a pass nor the bug."""
    print(f"ERROR: {why}")
    sys.exit(2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the proxy ------------------------------------------------------------------------------------
class Proxy:
    """`python -m proxy -c` on a YAML configuration; listeners and admin may use port 0."""

    def __init__(self, config: str, args=()) -> None:
        self.config = config
        self.args = list(args)  # more command-line arguments, e.g. ("--concurrency", "2")
        self.ports: dict[str, int] = {}
        self.admin_port: int | None = None
        self.lines: list[str] = []
        self._ready = threading.Event()

    def __enter__(self) -> "Proxy":
        self._dir = tempfile.TemporaryDirectory(prefix="repro-")
        path = Path(self._dir.name) / "proxy.yaml"
        path.write_text(self.config)
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "proxy", "-c", str(path), *self.args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read_status, daemon=True).start()
        if not self._ready.wait(START_TIMEOUT_S) or "proxy: ready" not in self.lines:
            self.__exit__(None, None, None)
            broken("the proxy did not start: " + " | ".join(self.lines[-5:]))
        return self

    def _read_status(self) -> None:
        for line in self.proc.stderr:
            line = line.rstrip("\n")
            self.lines.append(line)
            words = line.split()
            if line.startswith("proxy: listener ") and len(words) == 5:
                self.ports[words[2]] = int(words[4].rsplit(":", 1)[1])
            elif line.startswith("proxy: admin on "):
                self.admin_port = int(words[3].rsplit(":", 1)[1])
            elif line == "proxy: ready":
                self._ready.set()
        self._ready.set()  # the process ended: let __enter__ see it

    def port(self, listener: str) -> int:
        return self.ports[listener]

    def stats(self) -> dict:
        """/stats?format=json of the admin (the configuration needs an admin block)."""
        status, _, body = http1_request(self.admin_port, "GET", "/stats?format=json")
        if status != 200:
            broken(f"/stats answered {status}")
        return {s["name"]: s["value"] for s in json.loads(body)["stats"]}

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._dir.cleanup()


# -- upstreams -------------------------------------------------------------------------------------
class Upstream:
    """A TCP server on 127.0.0.1 in threads: `serve(sock, log)` runs per accepted connection, with
    `log` the list that collects what the connection saw (one list per connection, in order)."""

    def __init__(self, serve) -> None:
        self.serve = serve
        self.connections: list[list] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False

    def __enter__(self) -> "Upstream":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while not self._closed:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            log: list = []
            self.connections.append(log)
            threading.Thread(target=self._run, args=(sock, log), daemon=True).start()

    def _run(self, sock, log) -> None:
        try:
            self.serve(sock, log)
        except OSError:
            pass
        except Exception as exc:  # the upstream's own peer library gave up: keep the repro's output clean
            log.append(f"upstream error: {type(exc).__name__}: {exc}")
        finally:
            sock.close()

    @property
    def requests(self) -> list:
        """Every parsed request of every connection (http1_app logs (method, target, headers, body, trailers))."""
        return [entry for log in self.connections for entry in log if isinstance(entry, tuple)]

    def __exit__(self, *exc) -> None:
        self._closed = True
        self._listener.close()


def http1_app(respond):
    """An HTTP/1.1 origin parsed by h11. `respond(request)` gets (method, target, headers, body,
    trailers) with lowercase names and returns (status, headers, body), or None to stay silent.
    A request h11 refuses is logged as the string "unparsable: ..." and ends the connection."""

    def serve(sock, log) -> None:
        conn = h11.Connection(h11.SERVER)
        sock.settimeout(30)
        request, body = None, bytearray()
        while True:
            event = conn.next_event() if conn.their_state is not h11.ERROR else None
            if event is h11.NEED_DATA:
                data = sock.recv(65536)
                conn.receive_data(data)
                if not data:
                    return
                continue
            if isinstance(event, h11.Request):
                request, body = event, bytearray()
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                entry = (
                    request.method.decode(),
                    request.target.decode(),
                    [(n.decode(), v.decode()) for n, v in request.headers],
                    bytes(body),
                    [(n.decode(), v.decode()) for n, v in event.headers],
                )
                log.append(entry)
                answer = respond(entry)
                if answer is None:
                    while sock.recv(65536):
                        pass
                    return
                status, headers, payload = answer
                fields = list(headers) + [("content-length", str(len(payload)))]
                sock.sendall(
                    conn.send(h11.Response(status_code=status, headers=fields))
                    + conn.send(h11.Data(data=payload))
                    + conn.send(h11.EndOfMessage())
                )
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed) or event is None:
                return

    return _guarded(serve)


def _guarded(serve):
    def run(sock, log) -> None:
        try:
            serve(sock, log)
        except h11.RemoteProtocolError as exc:
            log.append(f"unparsable: {exc}")

    return run


# -- HTTP/1.1 clients ------------------------------------------------------------------------------
class Responses:
    """HTTP/1.1 responses read one after the other from one connection (bytes left over from one
    response start the next). `next()` is (status, headers, body), or None when the connection
    closed or stayed silent for its timeout before a complete response."""

    def __init__(self, sock) -> None:
        self.sock = sock
        self._left = b""

    def next(self, method: str = "GET"):
        conn = h11.Connection(h11.CLIENT)
        conn.send(h11.Request(method=method, target="/", headers=[("host", "x")]))
        conn.send(h11.EndOfMessage())
        if self._left:
            conn.receive_data(self._left)
        self._left = b""
        status, headers, body = None, [], bytearray()
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:  # closed mid-response, or not HTTP/1.1
                return None
            if event is h11.NEED_DATA:
                try:
                    data = self.sock.recv(65536)
                except (socket.timeout, ConnectionError):
                    return None
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Response):
                status, headers = event.status_code, [(n.decode(), v.decode()) for n, v in event.headers]
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                self._left = conn.trailing_data[0]
                return status, headers, bytes(body)
            elif isinstance(event, h11.ConnectionClosed):
                return None


def read_response(sock, method: str = "GET"):
    """One response on `sock` (see Responses)."""
    return Responses(sock).next(method)


def request_bytes(method: str, target: str, headers=(), body: bytes = b"") -> bytes:
    fields = list(headers)
    if not any(n.lower() == "host" for n, _ in fields):
        fields.insert(0, ("Host", "repro"))
    if body:
        fields.append(("Content-Length", str(len(body))))
    return (f"{method} {target} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in fields) + "\r\n").encode() + body


def connect(port: int, timeout: float = IO_TIMEOUT_S):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def http1_request(port: int, method: str, target: str, headers=(), body: bytes = b"", timeout=IO_TIMEOUT_S):
    """One request on a new connection: (status, headers, body), or (None, [], b"") without an answer."""
    with connect(port, timeout) as sock:
        sock.sendall(request_bytes(method, target, headers, body))
        answer = read_response(sock, method)
    return answer if answer is not None else (None, [], b"")


def wait_for(condition, timeout: float = IO_TIMEOUT_S, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def echo(sock, log) -> None:
    """An upstream that sends back what it reads (log: the chunks read)."""
    while True:
        data = sock.recv(65536)
        if not data:
            return
        log.append(data)
        sock.sendall(data)


def read_head(sock) -> bytes:
    """One message head from `sock` (through its blank line, with what came after it), or b"" when
    the peer closed first."""
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(65536)
        if not data:
            return b""
        head += data
    return head


def recv_until(sock, n: int, timeout: float = IO_TIMEOUT_S) -> bytes:
    """At least n bytes, or what arrived before the peer closed or the timeout passed."""
    sock.settimeout(timeout)
    got = bytearray()
    try:
        while len(got) < n:
            data = sock.recv(65536)
            if not data:
                break
            got += data
    except (socket.timeout, ConnectionError):
        pass
    return bytes(got)


def in_memory(config: str, seed: int = 0):
    """The tree's proxy built from a YAML configuration through its public API, on an in-memory network
    with virtual time: (built config, server context, dispatcher, network)."""
    from proxy.build import build, instantiate
    from proxy.config import load_bytes
    from proxy.event import SimulatedDispatcher
    from proxy.network.sim import SimNetwork

    built = build(load_bytes(config.encode(), "yaml"))
    dispatcher = SimulatedDispatcher()
    network = SimNetwork(dispatcher, auto_connect=True)
    return built, instantiate(built, dispatcher, network, seed=seed), dispatcher, network


def tcp_pair_in_memory(filters=()):
    """tcp_config's proxy (the network `filters`, then tcp_proxy) in memory, one client accepted and
    its upstream connection open: (dispatcher, downstream connection, client socket, upstream socket)."""
    built, ctx, dispatcher, network = in_memory(tcp_config(9000, filters=filters))
    down, client = guarded(lambda: accept_in_memory(built, ctx, "tcp", ("127.0.0.1", 40000)))
    guarded(dispatcher.run_posted)
    check(len(network.opened) == 1, f"tcp_proxy opened {len(network.opened)} upstream connections")
    return dispatcher, down, client, network.opened[0].io


def guarded(step):
    """Run one in-memory step of the proxy; an exception it raises is the proxy failing (a FAIL line)."""
    try:
        return step()
    except Exception as exc:  # noqa: BLE001 - any exception out of the proxy core is its failure
        fail(f"the proxy raised {type(exc).__name__}: {str(exc)[:200]}")


def accept_in_memory(built, ctx, listener: str, remote_address, local_address=("10.0.0.1", 10000)):
    """A downstream connection from `remote_address` accepted by `listener`: (connection or None, socket)."""
    from proxy.network.sim import SimSocket

    sock = SimSocket()
    conn = built.listener(listener).create_connection(ctx, sock, local_address, remote_address)
    return conn, sock


class H2Client:
    """A strict HTTP/2 client (prior knowledge) on the h2 library: it keeps the flow-control windows
    the proxy grants and acknowledges every response byte it reads. `settings` are its SETTINGS."""

    def __init__(
        self, port: int, settings: dict | None = None, timeout: float = IO_TIMEOUT_S, validate: bool = True
    ) -> None:
        """validate=False lets the client send field values h2 would refuse (CR, LF, NUL)."""
        import h2.config
        import h2.connection

        self.sock = connect(port, timeout)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None, validate_outbound_headers=validate)
        )
        if settings:  # in force from the first frame, as the SETTINGS of the preface announce them
            import h2.settings

            self.conn.local_settings = h2.settings.Settings(client=True, initial_values=settings)
        self.conn.initiate_connection()
        self.streams: dict[int, dict] = {}
        self.closed = False
        self.goaway = None
        self.flush()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, method: str, path: str, body: bytes | None = None, headers=()) -> int:
        """Opens a stream; with a body the headers do not end it (send the body with `send`)."""
        sid = self.conn.get_next_available_stream_id()
        block = [
            (b":method", method.encode()),
            (b":scheme", b"http"),
            (b":authority", b"repro"),
            (b":path", path.encode()),
        ] + [(n.encode(), v.encode()) for n, v in headers]
        self.conn.send_headers(sid, block, end_stream=body is None)
        self.streams[sid] = {"status": None, "headers": [], "data": bytearray(), "ended": False, "reset": None}
        self.flush()
        return sid

    def send(self, sid: int, data: bytes, end: bool = True, timeout: float = IO_TIMEOUT_S) -> bool:
        """Send `data` on stream `sid` within the windows the proxy grants, reading while blocked.
        False when the windows stayed shut for `timeout` (the bytes left are not sent)."""
        deadline = time.monotonic() + timeout
        while data:
            window = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if window <= 0:
                if time.monotonic() > deadline or self.closed:
                    return False
                self.read(0.1)
                continue
            piece, data = data[:window], data[window:]
            self.conn.send_data(sid, piece, end_stream=end and not data)
            self.flush()
        if end and not self._sent_end(sid):
            self.conn.end_stream(sid)
            self.flush()
        return True

    def _sent_end(self, sid: int) -> bool:
        import h2.exceptions

        try:
            return self.conn._get_stream_by_id(sid).state_machine.state.name in ("HALF_CLOSED_LOCAL", "CLOSED")
        except h2.exceptions.StreamClosedError:
            return True

    def read(self, timeout: float) -> None:
        import h2.events

        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, BlockingIOError):
            return
        except ConnectionError:
            data = b""
        if not data:
            self.closed = True
            return
        for ev in self.conn.receive_data(data):
            st = self.streams.get(getattr(ev, "stream_id", None))
            if isinstance(ev, h2.events.ResponseReceived) and st is not None:
                st["headers"] = [(bytes(n), bytes(v)) for n, v in ev.headers]
                st["status"] = int(dict(st["headers"])[b":status"])
            elif isinstance(ev, h2.events.DataReceived):
                if st is not None:
                    st["data"] += ev.data
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded) and st is not None:
                st["ended"] = True
            elif isinstance(ev, h2.events.StreamReset) and st is not None:
                st["reset"] = int(ev.error_code)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.goaway = int(ev.error_code)
                self.closed = True
        self.flush()

    def wait(self, condition, timeout: float = IO_TIMEOUT_S) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline or self.closed:
                return condition()
            self.read(0.1)
        return True

    def response(self, sid: int, timeout: float = IO_TIMEOUT_S):
        """(status, body) once stream `sid` ended, or None (reset, connection gone, or no answer in time)."""
        st = self.streams[sid]
        self.wait(lambda: st["ended"] or st["reset"] is not None, timeout)
        return (st["status"], bytes(st["data"])) if st["ended"] else None

    def close(self) -> None:
        self.sock.close()


def h2_app(respond, settings: dict | None = None, validate: bool = True):
    """An HTTP/2 origin (prior knowledge) on the h2 library with the SETTINGS given. `respond(path)`
    returns (status, body) or (status, body, extra header fields), or None to leave the stream open
    and unanswered. The log gets each request's path as it arrives (complete: END_STREAM seen).
    validate=False lets it send field values h2 would refuse (CR, LF, NUL)."""

    def serve(sock, log) -> None:
        import h2.config
        import h2.connection
        import h2.events
        import h2.settings

        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None, validate_outbound_headers=validate)
        )
        if settings:
            conn.local_settings = h2.settings.Settings(client=False, initial_values=settings)
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        paths = {}
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    paths[ev.stream_id] = dict(ev.headers)[b":path"].decode()
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                if isinstance(ev, (h2.events.RequestReceived, h2.events.DataReceived)) and ev.stream_ended:
                    log.append(paths[ev.stream_id])
                    answer = respond(paths[ev.stream_id])
                    if answer is not None:
                        status, body, *extra = answer
                        conn.send_headers(
                            ev.stream_id,
                            [(b":status", str(status).encode()), (b"content-length", str(len(body)).encode())]
                            + (extra[0] if extra else []),
                        )
                        conn.send_data(ev.stream_id, body, end_stream=True)
            sock.sendall(conn.data_to_send())

    return serve


def http_config(
    upstream: int,
    *,
    codec: str = "AUTO",
    filters=(),
    route=None,
    routes=None,
    hcm=None,
    cluster=None,
    clusters=(),
    listener=None,
    admin: bool = False,
) -> str:
    """A configuration (JSON, which the proxy reads as YAML) with one listener `web` on port 0 whose
    connection manager routes every request to cluster `app` at 127.0.0.1:`upstream`. Each keyword adds
    to or replaces one part: `filters` (HTTP filters), `route` (fields of the route action), `routes`
    (the whole route list), `hcm`, `cluster` and `listener` (fields of those), `clusters` (more
    clusters: (name, port) pairs), `admin` (an admin on port 0)."""
    routes = routes or [{"match": {"prefix": "/"}, "route": {"cluster": "app", **(route or {})}}]
    manager = {
        "codec": codec,
        "http_filters": list(filters),
        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": routes}]},
        **(hcm or {}),
    }
    return _config([{"http_connection_manager": manager}], upstream, cluster, clusters, listener, admin)


def tcp_config(upstream: int, *, filters=(), cluster=None, listener=None, admin: bool = False) -> str:
    """One listener `tcp` on port 0: the network `filters` given, then tcp_proxy to cluster `app`."""
    return _config(list(filters) + [{"tcp_proxy": {"cluster": "app"}}], upstream, cluster, (), listener, admin, "tcp")


def _config(chain, upstream, cluster, clusters, listener, admin, name="web") -> str:
    def endpoint(port):
        return {"endpoints": [{"host": "127.0.0.1", "port": port}]}

    config = {
        "listeners": [
            {
                "name": name,
                "address": {"host": "127.0.0.1", "port": 0},
                "filter_chains": [{"filters": chain}],
                **(listener or {}),
            }
        ],
        "clusters": [{"name": "app", **endpoint(upstream), **(cluster or {})}]
        + [{"name": more, **endpoint(port)} for more, port in clusters],
    }
    if admin:
        config["admin"] = {"address": {"host": "127.0.0.1", "port": 0}}
    return json.dumps(config)


def exchange(port: int, raw: bytes, timeout: float = 2.0) -> bytes:
    """Send `raw` in one write on a new connection; everything the proxy sent back until it closed or
    went quiet for `timeout`."""
    with connect(port, timeout) as sock:
        sock.sendall(raw)
        return recv_until(sock, 1 << 62, timeout)


# -- TLS and filter chains ----------------------------------------------------------------------------
def client_verifying_tls(require: bool = False) -> dict:
    """A DownstreamTlsContext: the test PKI's server certificate, client certificates verified against
    its CA (`require`: one must be presented)."""
    from fuzz.test_pki import ensure

    pki = ensure()
    tls = {
        "common_tls_context": {
            "tls_certificates": [
                {
                    "certificate_chain": {"filename": str(pki / "server.pem")},
                    "private_key": {"filename": str(pki / "server.key")},
                }
            ],
            "validation_context": {"trusted_ca": {"filename": str(pki / "ca.pem")}},
        }
    }
    return {"require_client_certificate": True, **tls} if require else tls


def mtls_config(upstream: int, filters=(), require: bool = True, admin: bool = False) -> str:
    """One listener `mtls` on port 0 terminating TLS (client_verifying_tls), the network `filters`
    given, then tcp_proxy to cluster `echo` at `upstream`."""
    chain = {"tls_context": client_verifying_tls(require), "filters": [*filters, {"tcp_proxy": {"cluster": "echo"}}]}
    listener = {"name": "mtls", "address": {"host": "127.0.0.1", "port": 0}, "filter_chains": [chain]}
    config = {
        "listeners": [listener],
        "clusters": [{"name": "echo", "endpoints": [{"host": "127.0.0.1", "port": upstream}]}],
    }
    if admin:
        config["admin"] = {"address": {"host": "127.0.0.1", "port": 0}}
    return json.dumps(config)


def mtls_rbac_config(upstream: int, principal_name: dict) -> str:
    """mtls_config (a client certificate asked for, not required) with network RBAC allowing only the
    `authenticated` principal whose `principal_name` (a StringMatcher) matches."""
    principal = {"authenticated": {"principal_name": principal_name}}
    rbac = {"rbac": {"action": "ALLOW", "policies": [{"name": "spiffe", "principals": [principal]}]}}
    return mtls_config(upstream, [rbac], require=False)


def tls_ping(port: int, certificate: bool) -> bytes:
    """ "ping" over TLS to `port` (presenting the test PKI's client certificate, or none); what came back."""
    import ssl

    from fuzz.test_pki import ensure

    pki = ensure()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki / "ca.pem")
    if certificate:
        ctx.load_cert_chain(pki / "client.pem", pki / "client.key")
    with connect(port) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"ping")
                return recv_until(tls, 4)
        except (ssl.SSLError, OSError):
            return b""


def tls_origin(body: bytes = b"secret"):
    """An HTTPS origin with the test PKI's server certificate (signed by ca.pem; SANs localhost,
    example.com, *.example.com, ...) answering one request 200 with `body`; its log gets
    ("request", target) per request read. A proxy that refuses the certificate ends the handshake."""
    import ssl

    from fuzz.test_pki import ensure

    pki = ensure()

    def serve(sock, log) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki / "server.pem", pki / "server.key")
        try:
            tls = ctx.wrap_socket(sock, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the proxy refused our certificate: the handshake ends here
        conn = h11.Connection(h11.SERVER)
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = tls.recv(65536)
                if not data:
                    return
                conn.receive_data(data)
            elif isinstance(event, h11.Request):
                log.append(("request", event.target.decode()))
            elif isinstance(event, h11.EndOfMessage):
                head = h11.Response(status_code=200, headers=[("content-length", str(len(body)))])
                tls.sendall(conn.send(head) + conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage()))
                return
            else:
                return

    return serve


def through_tls_cluster(tls_context: dict) -> tuple[int, bytes, list]:
    """One GET through a proxy whose cluster speaks TLS with `tls_context` to a tls_origin():
    (status, body, the requests the origin served)."""
    with Upstream(tls_origin()) as up:
        with Proxy(http_config(up.port, cluster={"tls_context": tls_context})) as proxy:
            status, _, body = http1_request(proxy.port("web"), "GET", "/data")
    return status, body, [entry for log in up.connections for entry in log if isinstance(entry, tuple)]


def second_connection_while_first_open(upstream, port: int) -> tuple[int, bytes]:
    """Two tcp_proxy clients of `port` in front of an echo `upstream`: the first is echoed and kept
    open while the second sends; (upstream connections seen, what the second client got back)."""
    with connect(port) as first:
        first.sendall(b"one")
        check(recv_until(first, 3) == b"one", "the first connection was not echoed")
        with connect(port) as second:
            second.sendall(b"two")
            answer = recv_until(second, 3, timeout=2.0)
        wait_for(lambda: len(upstream.connections) > 1, timeout=0.5)
        return len(upstream.connections), answer


def client_hello(name: str) -> bytes:
    """The first flight of a real TLS client (ssl with memory BIOs) asking for server name `name`."""
    import ssl

    context = ssl.create_default_context()
    tls = context.wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname=name)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def validate(config: dict) -> tuple[int, str]:
    """`python -m proxy --validate` of this tree on `config` (written as JSON, which YAML reads):
    (exit code, what it said)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        json.dump(config, f)
        f.flush()
        proc = subprocess.run(
            [sys.executable, "-m", "proxy", "--validate", f.name], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def routed_by_chain(listener: dict, chains: list, upstreams: dict) -> str:
    """A configuration with one listener on port 0 (`listener`: its name, listener filters) whose
    filter chains are `chains`, (cluster, filter_chain_match) pairs each ending in tcp_proxy to that
    cluster; `upstreams` maps each cluster to its port on 127.0.0.1."""
    filter_chains = [{"filter_chain_match": match, "filters": [{"tcp_proxy": {"cluster": c}}]} for c, match in chains]
    clusters = [{"name": c, "endpoints": [{"host": "127.0.0.1", "port": p}]} for c, p in upstreams.items()]
    listeners = [{"address": {"host": "127.0.0.1", "port": 0}, "filter_chains": filter_chains, **listener}]
    return json.dumps({"listeners": listeners, "clusters": clusters})
