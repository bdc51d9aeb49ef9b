"""One session's peers and their records: a peer per socket, the Exchanges, the links between them.

The session calls `downstream(sock)` for each client connection, `observe(now)` after every action
(each peer reads what is new on its socket, both ways) and `finish()` once at the end (the
oracles of fuzz/peers/judge.py run over the records). Payload templates reach the log through
`sock.fuzz_peers` to tag requests (`new_id`) and to send HTTP/2 through a strict peer.
"""

from ..oracles import InvariantViolation
from . import judge
from .downstream import H1Client, H2Client, is_h2
from .forwarding_model import Model, expected_request, normal_target
from .h2_wire import PREFACE
from .record import ID_HEADER, Exchange, UpstreamSeen
from .upstream import H1Server, H2Server


def hcm_config(sock):
    """The configuration of the HTTP connection manager serving a downstream connection, or None
    when no HCM serves it (tcp_proxy relays bytes: no HTTP peer to judge)."""
    conn = sock.conn
    if conn is None:
        return None
    for active in conn.filter_manager.read_filters:
        if type(active.filter).__name__ == "HttpConnectionManager":
            return active.filter.config
    return None


def http_codec(sock) -> str | None:
    """ "AUTO", "HTTP1" or "HTTP2": what the connection's HCM speaks; None without one. Over TLS an
    AUTO codec speaks what ALPN chose (proxy/http/codec.py ALPN_CODECS), not what the bytes say."""
    codec = getattr(hcm_config(sock), "codec", None)
    ssl = getattr(sock.conn, "ssl", None)
    if codec == "AUTO" and ssl is not None:
        from proxy.http.codec import ALPN_CODECS

        return ALPN_CODECS.get(ssl.alpn, codec)
    return codec


def pool_protocol(conn) -> str | None:
    """ "http1" / "http2" for an upstream connection an HTTP pool opened, else None (tcp_proxy's)."""
    for cb in conn._callbacks:
        if type(cb).__name__ == "PoolConnection":
            return cb.protocol
    return None


def _resend(peer, settings: dict, withhold: bool) -> None:
    """An HTTP/2 peer already speaking sends a SETTINGS frame and starts or stops withholding credit
    (the SETTINGS first: a window they raise needs no WINDOW_UPDATE)."""
    if settings:
        peer.advertise(settings)
    if not withhold:
        peer.release_credit()
    peer.withhold = withhold
    out = peer.flush()
    if out:
        peer.sock.peer_send(out)


def protocol_bytes(sock, n: int) -> bytes:
    """The first `n` bytes a client sent after a PROXY header it sent raw (tls_peer.TlsSocket.send_raw):
    those tell HTTP/1.1 from HTTP/2."""
    start = getattr(sock, "raw_sent", 0)
    return bytes(sock.sent[start : start + n])


class Peers:
    def __init__(self, dispatcher, network) -> None:
        self.dispatcher = dispatcher
        self.network = network
        self.exchanges: list[Exchange] = []
        self.by_id: dict[str, Exchange] = {}
        self.unlinked: list[UpstreamSeen] = []
        self.clients: list = []  # per downstream connection: a Client, or None until it speaks
        self.servers: list = []  # per upstream connection (Session.network.opened order)
        self._socks: list = []
        self._idless: list[Exchange] = []  # downstream requests without an id, not linked yet
        self._idless_links: list[tuple[Exchange, UpstreamSeen]] = []  # linked by request line alone
        self._ids: list[int] = []
        self.upstream_settings: dict | None = None  # SETTINGS the next HTTP/2 upstreams advertise
        self.client_settings: dict[int, dict] = {}  # per downstream connection, before it speaks HTTP/2
        self.withholding: set = set()  # "upstream" and client indexes whose peers withhold credit
        self._models: dict = {}

    def now(self) -> int:
        return self.dispatcher.now_ms()

    # -- peers ----------------------------------------------------------------------------------
    def downstream(self, sock) -> None:
        sock.fuzz_peers = (self, len(self._socks))
        self._socks.append(sock)
        self.clients.append(None)
        self._ids.append(0)

    def new_id(self, index: int) -> bytes:
        self._ids[index] += 1
        return b"%d-%d" % (index, self._ids[index])

    def h2_client(self, index: int) -> H2Client | None:
        """The strict HTTP/2 client of connection `index`, made on first use; None when the
        connection already spoke something else."""
        client, sock = self.clients[index], self._socks[index]
        if client is None and not protocol_bytes(sock, 1) and http_codec(sock) in ("AUTO", "HTTP2"):
            client = self.clients[index] = H2Client(self, index, self._socks[index], self.client_settings.get(index))
            client.withhold = index in self.withholding
        return client if isinstance(client, H2Client) else None

    def h2_server(self, sock) -> H2Server | None:
        for server in self.servers:
            if server and server.sock is sock:
                return server if isinstance(server, H2Server) else None
        return None

    def observe(self) -> None:
        now = self.now()
        for i, sock in enumerate(self._socks):
            client = self.clients[i]
            first = protocol_bytes(sock, len(PREFACE)) if client is None else b""
            if first:
                if is_h2(first) or PREFACE.startswith(first) or http_codec(sock) not in ("AUTO", "HTTP1"):
                    continue  # raw bytes that look like HTTP/2, or no HTTP/1.1 server: nothing to judge
                client = self.clients[i] = H1Client(self, i, sock)
            if client is not None:
                client.observe(now)
        opened = self.network.opened
        for i, conn in enumerate(opened):  # grows when a peer's bytes make the proxy open a connection
            if i == len(self.servers):
                self.servers.append(None)
            server = self.servers[i]
            if server is None and conn.io.received:
                protocol = pool_protocol(conn)
                if protocol is None:
                    self.servers[i] = False  # tcp_proxy's upstream: bytes relayed, not HTTP to judge
                    continue
                if protocol == "http2":
                    server = h2_server = H2Server(self, i, conn, self.upstream_settings)
                    h2_server.withhold = "upstream" in self.withholding
                else:
                    server = H1Server(self, i, conn)
                self.servers[i] = server
            if server:
                server.observe(now)

    def choose_settings(self, client: bool, target: int, settings: dict, withhold: bool = False) -> None:
        """A client's SETTINGS (before it speaks HTTP/2: its first ones; after: a SETTINGS frame),
        or the upstreams': those opened from now on, and a SETTINGS frame from one already open.
        `withhold`: that peer reads but gives no window back until settling (h2_peer.withholds_credit)."""
        if client:
            if not self._socks:
                return
            index = target % len(self._socks)
            peer = self.clients[index]
            self.withholding.discard(index)
            if withhold:
                self.withholding.add(index)
            if peer is None:
                self.client_settings[index] = settings
            elif isinstance(peer, H2Client):
                _resend(peer, settings, withhold)
            return
        self.upstream_settings = settings
        self.withholding.discard("upstream")
        if withhold:
            self.withholding.add("upstream")
        servers = [s for s in self.servers if isinstance(s, H2Server)]
        if servers:
            _resend(servers[target % len(servers)], settings, withhold)

    def raise_window(self, client: bool, target: int, window: dict) -> None:
        """A client (or the upstreams) announces `window`: an INITIAL_WINDOW_SIZE, the connection window
        raised with it (H2Peer.advertise), perhaps a HEADER_TABLE_SIZE; its other SETTINGS and whether
        it withholds credit stay: before the peer speaks, in the SETTINGS it will send; after, in a
        SETTINGS frame."""
        if client:
            if not self._socks:
                return
            index = target % len(self._socks)
            peer = self.clients[index]
            if peer is None:
                self.client_settings[index] = {**self.client_settings.get(index, {}), **window}
            elif isinstance(peer, H2Client):
                _resend(peer, window, peer.withhold)
            return
        self.upstream_settings = {**(self.upstream_settings or {}), **window}
        servers = [s for s in self.servers if isinstance(s, H2Server)]
        if servers:
            server = servers[target % len(servers)]
            _resend(server, window, server.withhold)

    def release_credit(self, open_windows: bool = False) -> bool:
        """Settling: every HTTP/2 peer that withheld credit gives it back, and with `open_windows`
        (an exchange still moving after many rounds) every one opens its small windows
        (H2Peer.open_for_settling); True when any sent frames."""
        sent = False
        for peer in self.clients + self.servers:
            if isinstance(peer, (H2Client, H2Server)) and not peer.tainted and (peer.withhold or open_windows):
                peer.release_credit()
                if open_windows:
                    peer.open_for_settling()
                out = peer.flush()
                if out:
                    peer.sock.peer_send(out)
                    sent = True
        return sent

    def finish(self) -> None:
        """The last look, then the oracles over the records (fuzz/peers/judge.py)."""
        self.observe()
        for client in self.clients:
            if isinstance(client, H2Client) and not client.tainted:
                client.monitor.check_refusals()
        self._relink_idless()
        judge.check(self)

    def model_for(self, index: int) -> Model:
        """The forwarding model of the HCM serving downstream connection `index`."""
        config = hcm_config(self._socks[index])
        model = self._models.get(id(config))
        if model is None:
            model = self._models[id(config)] = Model(config)
        return model

    # -- records --------------------------------------------------------------------------------
    def add(self, ex: Exchange, has_id: bool) -> None:
        self.exchanges.append(ex)
        if has_id and ex.id not in self.by_id:
            self.by_id[ex.id] = ex
        elif not has_id:
            self._idless.append(ex)

    def link(self, up: UpstreamSeen) -> None:
        rid = up.request.header(ID_HEADER)
        ex = self.by_id.get(rid.decode("latin-1")) if rid is not None else None
        if ex is None and rid is None:
            ex = next((e for e in self._idless if self._same_request(e, up.request)), None)
            if ex is not None:
                self._idless.remove(ex)
                self._idless_links.append((ex, up))
        if ex is None:
            self.unlinked.append(up)
        else:
            ex.upstreams.append(up)

    def _relink_idless(self) -> None:
        """Id-less links were chosen by request line when the upstream's head arrived; with the
        requests whole, those with the same line but other fields or bodies are told apart: each
        upstream request goes to the oldest candidate the forwarding model says it means, else to the
        oldest candidate (then judged: peer_forwarded_headers_changed, _body_changed, ...)."""
        if not self._idless_links:
            return
        order = {id(e): i for i, e in enumerate(self.exchanges)}
        linked = {id(ex): ex for ex, _ in self._idless_links}.values()
        free = sorted(linked, key=lambda e: order[id(e)]) + self._idless
        for ex, up in self._idless_links:
            ex.upstreams[:] = [u for u in ex.upstreams if u is not up]
        links, self._idless_links = self._idless_links, []
        for first, up in links:  # identity throughout: records of equal requests compare equal
            candidates = [e for e in free if self._same_request(e, up.request)] or [first]
            ex = next((e for e in candidates if self._means(e, up)), candidates[0])
            free = [e for e in free if e is not ex]
            ex.upstreams.append(up)
            self._idless_links.append((ex, up))
        self._idless = [e for e in self._idless if any(e is f for f in free)]

    def link_is_a_guess(self, ex: Exchange) -> bool:
        """The exchange's upstream request was matched to it by request line alone (no id), and
        another id-less exchange has the same line: which of them that upstream saw is a guess."""
        ups = [up for e, up in self._idless_links if e is ex]
        idless = [e for e, _ in self._idless_links] + self._idless
        return any(e is not ex and self._same_request(e, up.request) for up in ups for e in idless)

    def _means(self, ex: Exchange, up: UpstreamSeen) -> bool:
        """The upstream request is what the forwarding model expects of this client request."""
        try:
            judge.check_meaning_of(ex.request, up.request, self.model_for(ex.downstream), "")
        except InvariantViolation:
            return False
        return True

    def _same_request(self, ex: Exchange, seen) -> bool:
        """An id-less client request this upstream request can be: same method, and the target and
        authority the forwarding model expects (identical requests are interchangeable: the oldest
        one is taken)."""
        if ex.request.method != seen.method:
            return False
        want = expected_request(ex.request, self.model_for(ex.downstream))
        return (
            want.target is None
            or normal_target(want.target, self.model_for(ex.downstream))
            == normal_target(seen.target, self.model_for(ex.downstream))
        ) and (not ex.request.authority or want.authority == seen.authority)

    @property
    def h1_connections(self) -> int:
        """The client connections an HTTP/1.1 codec may have read: those that sent bytes (a TLS
        handshake on a clear-text listener included; an HTTP/2 client's too, which a PROXY header
        or a listener's sniffing may hand to one)."""
        return sum(1 for sock in self._socks if sock.sent or getattr(sock, "wire_sent", b""))

    @property
    def all_understood(self) -> bool:
        """Every byte every client sent was read by its parser (so every request is an Exchange)."""
        return all(
            c is not None and c.understood and not getattr(c, "tainted", False)
            for c, sock in zip(self.clients, self._socks)
            if c is not None or sock.sent
        )
