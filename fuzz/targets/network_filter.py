"""Envoy's "uber" network filter fuzzer: any registered network filter, a fuzzed config, actions.

Input layout:
    byte 0        which registered network filter (proxy.network.registry, sorted by name)
    bytes 1-2     length L of the filter's configuration
    L bytes       the configuration, as binary protobuf of that filter's message
    1 byte        write-probe mode: bit i set drops every write chunk whose index is i mod 8
    rest          session actions (fuzz.session.decode_actions)

The filter goes into a listener's chain, followed by tcp_proxy when it is not terminal, and the
same chain terminating TLS on a second listener (connect actions with an odd choice); clusters it
names are created. Invalid configurations return early (as in Envoy). A probe
write filter, first in write order, drops chunks as the mode says and checks that exactly
the chunks it let through reach the wire: StopIteration on the write path must drop.
RBAC, local rate limit and fault are checked against the reference models of fuzz/models
(fuzz.models.network_oracle: the decision per connection, delay and throttle bounds, counters);
connections come from the policies' source-prefix edges and to their ports too.
Registering a new filter is all it takes to fuzz it here.
"""

from google.protobuf.message import Message

from proxy.build import BuildError, BuiltConfig, build
from proxy.config import ConfigError, schema
from proxy.config.semantic import check_semantics
from proxy.config.validate import check_rules
from proxy.network.filter import CONTINUE, STOP_ITERATION, WriteFilter
from proxy.network.registry import registered_network_filters

from fuzz import oracles, session, test_pki
from fuzz.memo import Memo
from fuzz.models import network_oracle
from fuzz.models.draws import ScriptedRandom
from fuzz.models.network_oracle import NetworkFilterModel
from fuzz.models.weighted import WeightedChoice
from fuzz.targets.describe import config_text
from fuzz.tls_peer import TlsSocket, speaks_tls

TERMINAL = {"tcp_proxy", "http_connection_manager"}
# Fields that name a cluster: (message name, field name). Data, not code per filter.
CLUSTER_REFERENCES = {("TcpProxy", "cluster"), ("ClusterWeight", "name"), ("RouteAction", "cluster")}
BUFFER_LIMIT = 1024
TLS_PORT = 10443
_CACHE = Memo(256)  # (name, blob) -> (built, the filter's config message)


class Invalid(Exception):
    """The input's configuration is not valid: an expected, early return."""


def filter_names() -> list[str]:
    return [n for n in registered_network_filters() if n in schema.NetworkFilter.DESCRIPTOR.fields_by_name]


def _cluster_names(message, out: set) -> set:
    for field, value in message.ListFields():
        if field.type == field.TYPE_MESSAGE:
            for item in value if field.is_repeated else [value]:
                if hasattr(item, "ListFields"):
                    _cluster_names(item, out)
        elif (message.DESCRIPTOR.name, field.name) in CLUSTER_REFERENCES and isinstance(value, str):
            out.add(value)
    return out


def cluster_endpoints(names) -> dict:
    """{(host, port): cluster name}: the one endpoint bootstrap_for gives each cluster of `names`."""
    return {("127.0.0.1", 9000 + i): cluster for i, cluster in enumerate(sorted(names))}


def bootstrap_for(name: str, blob: bytes):
    """A Bootstrap with one listener running filter `name` configured from `blob`."""
    field = schema.NetworkFilter.DESCRIPTOR.fields_by_name[name]
    config = schema.message_class(field.message_type)()
    try:
        config.ParseFromString(blob)
    except Exception as exc:  # protobuf's DecodeError and friends: the blob is not a message
        raise Invalid(str(exc)) from None
    boot = schema.Bootstrap()
    listener = boot.listeners.add(name="l0")
    listener.address.host, listener.address.port = "127.0.0.1", 10000
    # The smallest limit the schema allows: one payload (session.MAX_PAYLOAD) crosses the high
    # watermark, so flow-control boundaries are within a few actions.
    listener.per_connection_buffer_limit_bytes = BUFFER_LIMIT
    chain = listener.filter_chains.add()
    getattr(chain.filters.add(), name).CopyFrom(config)
    names = _cluster_names(config, set())
    if name not in TERMINAL:
        chain.filters.add().tcp_proxy.cluster = "c0"
        names.add("c0")
    # The same chain behind TLS on a second listener (connect actions with an odd choice; a
    # connect_tls client handshakes, with the test CA's client certificate or none): the filters
    # then see the connection once the handshake is done, and RBAC principals have a peer to match.
    secure = boot.listeners.add()
    secure.CopyFrom(listener)
    secure.name, secure.address.port = "l0_tls", TLS_PORT
    tls = secure.filter_chains[0].tls_context.common_tls_context
    test_pki.fill_server_certificate(tls.tls_certificates.add())
    tls.validation_context.trusted_ca.filename = test_pki.ca_paths()[0]
    tls.alpn_protocols.extend(["h2", "http/1.1"])
    for (host, port), cluster in cluster_endpoints(names).items():
        c = boot.clusters.add(name=cluster)
        c.endpoints.add(host=host, port=port)
        c.per_connection_buffer_limit_bytes = BUFFER_LIMIT
    return boot


def built_for(name: str, blob: bytes) -> tuple[BuiltConfig, Message]:
    """(built Bootstrap, the filter's configuration message), cached; raises Invalid."""
    key = (name, blob)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    boot = bootstrap_for(name, blob)
    if check_rules(boot) or check_semantics(boot):
        raise Invalid("configuration does not validate")
    built = build(boot)  # a BuildError on a validated configuration is a validation gap: a crash
    # The filter's configuration message too, for the models: (built, message).
    return _CACHE.put(key, (built, getattr(boot.listeners[0].filter_chains[0].filters[0], name)))


class WriteProbe(WriteFilter):
    """Drops write chunks by index as `mode` says; remembers what it let through. Once it dropped
    one, its client's socket is `reads_altered`: the HTTP peers do not judge what that client read."""

    def __init__(self, mode: int, sock=None) -> None:
        self.mode = mode
        self.sock = sock
        self.index = 0
        self.passed = bytearray()
        self.matched = 0  # bytes of the client's append-only record already found equal to `passed`

    def on_write(self, data, end_stream):
        drop = (self.mode >> (self.index % 8)) & 1
        self.index += 1
        if drop:
            if self.sock is not None:
                self.sock.reads_altered = True
            return STOP_ITERATION
        self.passed += data.bytes()
        return CONTINUE


def check_probe(sock, probe: WriteProbe) -> None:
    conn = sock.conn
    if conn is None or not conn.is_open:
        return
    # What reached the client's side of the wire: on the clear-text listener the wire itself (a client
    # that speaks TLS to it decrypts nothing of it); on the TLS listener the plaintext the client
    # decrypted, which lags what the probe let through while records are in the transport or on the
    # wire, not yet read whole by the client: then only a prefix.
    tls = speaks_tls(conn)
    record = sock.received if tls else sock.wire_received
    pending = b"" if tls else conn.write_buffer.bytes()
    passed = probe.passed
    # The client's record and `passed` only grow: the part of the record matched at an earlier
    # check is not compared again (a session's checks run after every action), the rest is.
    seen, matched = len(record), probe.matched
    out = seen + len(pending)
    # A write filter after the probe may hold what it let through (fault's throttle): then only a prefix is out.
    lagging = tls or conn.filter_manager.holds_writes()
    if (
        out > len(passed)
        or (out < len(passed) and not lagging)
        or record[matched:] != passed[matched:seen]
        or pending != passed[seen:out]
    ):
        raise oracles.InvariantViolation(
            "write_stop_iteration_ignored",
            f"{out} bytes written or on the wire, the first write filter let {len(passed)} through",
        )
    probe.matched = seen


class _ProbedSession(session.Session):
    """A session whose every check also judges the write probes and the filter's model (set by run),
    besides the session's own models (routes, HTTP filters, path options: fuzz.models.session_oracle)."""

    probes: list[tuple[TlsSocket, WriteProbe]]
    filter_model: NetworkFilterModel
    weighted: WeightedChoice | None = None

    def check(self) -> None:
        # The filter's own model first: it knows this filter in more detail (TLS handshakes, fault
        # bounds, idle timeouts) than the session model, which judges the same connections too.
        self.filter_model.check(len(self.network.opened))
        if self.weighted is not None:
            self.weighted.check(self.network.opened)
        super().check()
        for sock, probe in self.probes:
            check_probe(sock, probe)


def _decode_head(reader) -> tuple[str, bytes, int]:
    """(filter name, configuration blob, probe mode): what precedes the actions."""
    names = filter_names()
    name = names[reader.int(1, len(names))]
    blob = reader.bytes(reader.int(2, 4096))
    return name, blob, reader.int(1, 256)


def run(data: bytes) -> None:
    reader = session.Reader(data)
    name, blob, mode = _decode_head(reader)
    try:
        built, config = built_for(name, blob)
    except Invalid:
        return
    probes: list[tuple[TlsSocket, WriteProbe]] = []
    model = None

    def add_probe(conn):
        model.accepted(conn)
        probe = WriteProbe(mode, conn.io)
        conn.add_write_filter(probe)
        probes.append((conn.io, probe))

    s = _ProbedSession(
        built,
        read_size=session.READ_SIZES[mode % len(session.READ_SIZES)],
        on_connection=add_probe,
        check_bytes=(mode == 0),
        sources=network_oracle.sources(name, config, session.SOURCES),
        extra_ports=network_oracle.ports(name, config),
        models=True,  # routes, path options, HTTP filters, chains and network policies (fuzz.models.session_oracle)
    )
    model = NetworkFilterModel(name, config, s.dispatcher.now_ms, s.ctx.stats.counters)
    s.probes, s.filter_model = probes, model
    if name == "tcp_proxy" and config.WhichOneof("cluster_specifier") == "weighted_clusters":
        # The weighted choice draws from scripted draws (the probe mode byte moves them), so the model
        # knows which cluster each connection was owed. Other filters keep the seeded source their
        # seeds were written against (an HTTP route's runtime fraction draws from it too).
        draws = ScriptedRandom(mode, s.dispatcher.now_ms)
        s.ctx.random = draws  # type: ignore[assignment]
        entries = [(c.name, c.weight) for c in config.weighted_clusters.clusters]
        s.weighted = WeightedChoice(entries, cluster_endpoints(_cluster_names(config, set())), draws)
    s.run(session.decode_actions(reader))


def describe(data: bytes) -> str:
    """An input as run reads it: the filter, its configuration, the probe mode, the actions."""
    reader = session.Reader(data)
    name, blob, mode = _decode_head(reader)
    head = [f"filter {name}, write-probe mode {mode:08b}", "config: " + config_text(schema.NetworkFilter, name, blob)]
    return "\n".join(head + session.describe_actions(session.decode_actions(reader)))


def seed(name: str, config, mode: int, actions) -> bytes:
    """An input for filter `name` with `config` (a message), probe `mode` and `actions`."""
    blob = config.SerializeToString()
    index = filter_names().index(name)
    return bytes([index]) + len(blob).to_bytes(2, "big") + blob + bytes([mode]) + session.encode_actions(actions)[2:]


__all__ = ["run", "describe", "seed", "filter_names", "Invalid", "ConfigError", "BuildError"]


def write_seeds(out) -> int:
    """Seeds: each filter with the configurations of examples/ and hand-picked ones, several
    probe modes, and TCP exchanges from fuzz.session_seeds (the first four, the one that drains
    backed-up buffers to their watermarks, and the one whose client's side ends first)."""
    from pathlib import Path
    from fuzz.session_seeds import TCP
    from fuzz.targets.examples import example_network_filters

    configs: dict = {n: [] for n in filter_names()}
    for f in example_network_filters():
        kind = f.WhichOneof("filter")
        if kind in configs:
            configs[kind].append(getattr(f, kind))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for name, messages in configs.items():
        for i, config in enumerate(messages[:3]):
            for mode in (0, 0b10, 0b11111111):
                for script_name, script in list(TCP.items())[:4] + [
                    (later, TCP[later])
                    for later in ("backpressure_boundaries", "client_ends_first_upstream_reads_late")
                ]:
                    (out / f"{name}-{i}-m{mode}-{script_name}").write_bytes(seed(name, config, mode, script))
                    count += 1
    for seed_name, data in model_seeds().items():
        (out / f"model-{seed_name}").write_bytes(data)
        count += 1
    for seed_name, data in http_seeds().items():
        (out / f"http-{seed_name}").write_bytes(data)
        count += 1
    return count


def http_seeds() -> dict:
    """Every distinct http_connection_manager of examples/ with every HTTP script of the session
    seeds (fuzz.session_seeds.HTTP): requests the connection manager's options, HTTP filters and
    routes decide on (path options and hostile targets, drains, HTTP/2), judged by the session's
    peers and models. The TCP scripts above carry no request a route or path option acts on."""
    from fuzz.session import Action as A
    from fuzz.session_seeds import HTTP, retarget
    from fuzz.targets.examples import example_connection_managers

    out, seen = {}, []
    for config in example_connection_managers():
        blob = config.SerializeToString(deterministic=True)
        if blob in seen:
            continue
        seen.append(blob)
        for script_name, script in HTTP.items():
            out[f"{len(seen) - 1}-{script_name}"] = seed("http_connection_manager", config, 0, script)
        # Over TLS with the test client certificate (HTTP RBAC's authenticated principal), h1 and h2 by ALPN.
        for script_name, mode in (("h1_get", 0b00001101), ("h2_get", 0b00001011)):
            script = [A("connect_tls", value=1, payload=bytes([mode]))] + retarget(HTTP[script_name])
            out[f"{len(seen) - 1}-tls-{script_name}"] = seed("http_connection_manager", config, 0, script)
    return out


def _tls_clients():
    """Clients of the TLS listener (connect_tls, choice 1; fuzz/tls_session.py mode bits): with the
    test CA's client certificate, with one no configured CA trusts, with none; each sends a line the
    upstream answers."""
    from fuzz.session import Action as A

    script = []
    for i, mode in enumerate((0b00001001, 0b00010001, 0b00000001), start=1):
        script += [
            A("connect_tls", value=1, payload=bytes([mode])),
            A("send", i, payload=b"hello"),
            A("upstream_connect"),
            A("upstream_read", i - 1),
            A("upstream_send", i - 1, payload=b"back"),
            A("read", i),
        ]
    return script


TLS_CLIENTS = _tls_clients()


def _tls_clients_server_first():
    """The same three TLS clients, each quiet after its handshake until the upstream has spoken (a
    server-first protocol: SMTP, MySQL, SSH greet first): RBAC must decide at the handshake's end,
    so a denied client never reads the greeting, rather than when the client's first byte comes."""
    from fuzz.session import Action as A

    script = []
    for i, mode in enumerate((0b00001001, 0b00010001, 0b00000001), start=1):
        script += [
            A("connect_tls", value=1, payload=bytes([mode])),
            A("upstream_connect"),
            A("upstream_send", i - 1, payload=b"220 greeting\r\n"),
            A("read", i),
            A("send", i, payload=b"QUIT\r\n"),
            A("upstream_read", i - 1),
        ]
    return script


TLS_CLIENTS_SERVER_FIRST = _tls_clients_server_first()


def principal_policies(rbac_config) -> dict:
    """RBAC configurations that decide on the client certificate (proxy/tools/certs.py: URI SAN
    spiffe://proxyfuzz.test/client, DNS SAN client.proxyfuzz.test, subject O=proxyfuzz,CN=client),
    each StringMatcher kind with a value in other letter case and ignore_case, in both actions:
    Envoy's StringMatcher ignore_case makes the comparison case-insensitive on both sides."""
    kinds = {
        "exact": "SPIFFE://ProxyFuzz.Test/client",
        "prefix": "Client.ProxyFuzz.",
        "suffix": "CN=Client",
        "contains": "/CLIENT",
    }
    out = {}
    for action in (0, 1):
        for kind, value in kinds.items():
            config = rbac_config(action=action, stat_prefix="mtls")
            matcher = config.policies.add(name=kind).principals.add().authenticated.principal_name
            setattr(matcher, kind, value)
            matcher.ignore_case = True
            out[f"{kind}-{'allow' if action == 0 else 'deny'}"] = config
    any_peer = rbac_config(action=0)
    any_peer.policies.add(name="any-peer").principals.add().authenticated.SetInParent()
    out["authenticated-allow"] = any_peer
    return out


def model_seeds() -> dict:
    """Inputs on the models' boundaries: connections from every edge of the RBAC policies' source
    prefixes to every port they name, a token bucket drained and refilled at its fill time, a fault
    delay observed a millisecond before it ends and a throttle over several seconds, both ways (and
    flooded by the upstream, and after quiet seconds), a
    tcp_proxy idle timeout around quiet periods and around a slow download, a tcp_proxy side that ends
    its direction then resets, tcp_proxy weighted
    clusters over draws on both sides of their boundary."""
    from fuzz.session import Action as A

    cls = {
        n: schema.message_class(schema.NetworkFilter.DESCRIPTOR.fields_by_name[n].message_type) for n in filter_names()
    }
    out = {}
    connects = [A("connect", value=8 * k, target=v) for k in range(1, 14) for v in (0, 1)]
    allow = cls["rbac"](action=0, stat_prefix="edges")
    allow.policies.add(name="inner", source_prefixes=["10.1.2.0/24", "2001:db8::/33"], destination_ports=[10010])
    deny = cls["rbac"](action=1, shadow=False)
    deny.policies.add(name="lan", source_prefixes=["192.168.0.0/23", "172.16.0.0/12"])
    shadow = cls["rbac"](action=0, shadow=True)
    shadow.policies.add(name="one", source_prefixes=["10.1.2.3/32"])
    mtls = cls["rbac"](action=1)  # a plaintext client is never an authenticated principal
    mtls.policies.add(name="mtls", source_prefixes=["10.1.2.0/24"]).principals.add().authenticated.SetInParent()
    for label, config in (("allow", allow), ("deny", deny), ("shadow", shadow), ("mtls", mtls)):
        out[f"rbac-edges-{label}"] = seed("rbac", config, 0, connects[:15])
        out[f"rbac-edges-{label}-2"] = seed("rbac", config, 0, connects[15:])
    for label, config in principal_policies(cls["rbac"]).items():
        out[f"rbac-principals-{label}"] = seed("rbac", config, 0, TLS_CLIENTS)
        out[f"rbac-principals-server-first-{label}"] = seed("rbac", config, 0, TLS_CLIENTS_SERVER_FIRST)
    bucket = cls["local_ratelimit"](max_tokens=2, tokens_per_fill=1, fill_interval_ms=1000, stat_prefix="b")
    out["ratelimit-refill"] = seed(
        "local_ratelimit",
        bucket,
        0,
        [
            A("connect"),
            A("connect"),
            A("advance", value=1000),
            A("connect"),
            A("connect"),
            A("advance", value=100),
            A("connect"),
            A("advance", value=1000),
            A("connect"),
            A("connect"),
            A("advance", value=5000),
            A("connect"),
        ],
    )
    tenth = A("advance", value=100)  # of the fill interval
    # Made by the session's first connection, full again after a fill, then emptied partway through a
    # fill period: fills keep their fixed period from the bucket's start (fuzz/models/ratelimit.py),
    # so the next lands at the period's end, not a whole interval after the take.
    out["ratelimit-takes-mid-period"] = seed(
        "local_ratelimit",
        bucket,
        0,
        [A("advance", value=1000)]
        + [tenth] * 4
        + [A("connect"), A("connect")]
        + [tenth] * 6
        + [A("connect")]
        + [tenth] * 4
        + [A("connect"), A("advance", value=1000), A("connect")],
    )
    # Weighted clusters 3 : 1, eight connections: the scripted draws cross both intervals.
    weighted = cls["tcp_proxy"](stat_prefix="split")
    weighted.weighted_clusters.clusters.add(name="primary", weight=3)
    weighted.weighted_clusters.clusters.add(name="canary", weight=1)
    out["tcp-proxy-weighted-clusters"] = seed("tcp_proxy", weighted, 0, [A("connect")] * 8)
    # Emptied, then left alone for several fill intervals: every fill lands, none needs a connection to
    # wake it (the bucket is full again after max_tokens intervals).
    idle = cls["local_ratelimit"](max_tokens=3, tokens_per_fill=1, fill_interval_ms=1000, stat_prefix="idle")
    out["ratelimit-refills-while-idle"] = seed(
        "local_ratelimit",
        idle,
        0,
        [A("connect"), A("connect"), A("connect")]
        + [A("advance", value=1000)] * 3
        + [A("connect"), A("connect"), A("connect"), A("connect")],
    )
    # Each listener's chain has its own bucket: two tokens on each, taken from both listeners in turn.
    two = cls["local_ratelimit"](max_tokens=2, tokens_per_fill=1, fill_interval_ms=1000, stat_prefix="two")
    out["ratelimit-two-listeners"] = seed(
        "local_ratelimit", two, 0, [A("connect", value=v % 2) for v in range(1, 7)] + [A("advance", value=1000)]
    )
    slow = cls["fault"](delay_ms=250, throttle_bytes_per_sec=100)
    steps = [A("advance", value=v) for v in (100, 100, 10, 10, 10, 10) + (1,) * 9]  # to 249 ms
    flow = [A("send", payload=b"q" * 700), A("upstream_connect"), A("upstream_read")]
    later = [
        A("advance", value=1000),
        A("upstream_read"),
        A("read"),
        A("advance", value=1000),
        A("upstream_read"),
        A("read"),
        A("advance", value=5000),
        A("upstream_read"),
        A("read"),
    ]
    out["fault-delay-edge"] = seed("fault", slow, 0, flow + steps + flow + [A("advance", value=1)] + flow + later)
    # "in each direction": upstream bytes over the budget, read by the client window by window.
    throttle = cls["fault"](throttle_bytes_per_sec=100)
    out["fault-throttle-upstream"] = seed(
        "fault",
        throttle,
        0,
        [
            A("send", payload=b"q"),
            A("upstream_connect"),
            A("upstream_read"),
            A("upstream_send", payload=b"r" * 900),
            A("read"),
            A("advance", value=1000),
            A("read"),
            A("advance", value=1000),
            A("read"),
            A("advance", value=5000),
            A("advance", value=5000),
            A("read"),
        ],
    )
    # Each side half-closes behind bytes the throttle holds, and its peer waits for that end (a client
    # that says "that was all" with its FIN, an upstream that answers once it read to the end): the
    # end of stream goes on with the last held byte.
    windows = [A("advance", value=1000), A("upstream_read"), A("read")] * 3
    out["fault-throttle-client-half-closes"] = seed(
        "fault",
        throttle,
        0,
        [A("send", payload=b"q" * 300), A("close"), A("upstream_connect"), A("upstream_read")] + windows,
    )
    out["fault-throttle-upstream-half-closes"] = seed(
        "fault",
        throttle,
        0,
        [A("send", payload=b"q"), A("upstream_connect"), A("upstream_read"), A("upstream_send", payload=b"r" * 300)]
        + [A("upstream_close"), A("read")]
        + windows,
    )
    # Three 4 KiB upstream sends into a 1000 B/s throttle: what it holds back carries the client's
    # write watermarks, so tcp_proxy stops reading the upstream long before all 12 KiB are in.
    flood = [A("send", payload=b"q"), A("upstream_connect"), A("upstream_read")]
    flood += [A("upstream_send", payload=b"f" * 4096)] * 3 + [A("advance", value=1000), A("read")] * 3
    out["fault-throttle-upstream-floods"] = seed("fault", throttle, 0, flood)
    # Windows count from each connection's own accept (bootstrap.proto Fault), not the server's start:
    # a second connection accepted 700 ms in is read at every 100 ms across the server's next whole
    # second and its own, both ways.
    late = [A("advance", value=100)] * 7 + [A("connect"), A("send", 1, payload=b"q" * 900), A("upstream_connect", 1)]
    late += [A("upstream_read", 1), A("upstream_send", 1, payload=b"r" * 900)]
    late += [step for _ in range(12) for step in (A("advance", value=100), A("read", 1), A("upstream_read", 1))]
    out["fault-throttle-late-accept"] = seed("fault", throttle, 0, late)
    # Quiet seconds are not saved up (bootstrap.proto Fault: "at most this many bytes per second"): a
    # byte each way at the accept, five quiet seconds, then 900 bytes each way, read window by window.
    quiet = [A("send", payload=b"q"), A("upstream_connect"), A("upstream_read"), A("upstream_send", payload=b"r")]
    quiet += [A("read"), A("advance", value=5000), A("send", payload=b"s" * 900), A("upstream_read")]
    quiet += [A("upstream_send", payload=b"t" * 900), A("read")]
    quiet += [step for _ in range(3) for step in (A("advance", value=1000), A("upstream_read"), A("read"))]
    out["fault-throttle-after-quiet-seconds"] = seed("fault", throttle, 0, quiet)
    # One side ends its direction (a FIN), then resets; the other side never half-closed. tcp_proxy must
    # close that other side too (Envoy closes one on any close of the other), whatever had ended first.
    plain = cls["tcp_proxy"](cluster="c0")
    begun = [A("send", payload=b"hello"), A("upstream_connect"), A("upstream_read")]
    out["tcp-proxy-upstream-ends-then-resets"] = seed(
        "tcp_proxy",
        plain,
        0,
        begun
        + [A("upstream_send", payload=b"bye"), A("upstream_close"), A("send", payload=b"more")]
        + [A("upstream_reset"), A("read")],
    )
    out["tcp-proxy-client-ends-then-resets"] = seed(
        "tcp_proxy", plain, 0, begun + [A("close"), A("upstream_read"), A("reset"), A("upstream_read")]
    )
    idle = cls["tcp_proxy"](cluster="c0", idle_timeout_ms=1000)
    tenths = [A("advance", value=100)] * 9
    out["tcp-proxy-idle"] = seed(
        "tcp_proxy",
        idle,
        0,
        [A("upstream_connect"), A("send", payload=b"a"), A("upstream_read")]
        + tenths
        + [A("upstream_send", payload=b"b"), A("read")]
        + tenths
        + [A("advance", value=100), A("advance", value=1000)],
    )
    # A download the client takes slowly: the upstream has sent it all, nothing is read on either
    # side, and bytes go out to the client every 500 ms, for 6 s: "no bytes sent or received" never
    # lasts the idle timeout until the client has it all (Envoy's tcp_proxy idle_timeout).
    download = [A("upstream_connect"), A("send", payload=b"get"), A("upstream_read")]
    # 12 KiB in actions of 4 KiB (the most one carries), 1 KiB a read: the seed fits max_len (17,408).
    download += [A("upstream_send", payload=b"d" * 4096)] * 3
    download += [step for _ in range(12) for step in [A("read", value=1024)] + [A("advance", value=100)] * 5]
    out["tcp-proxy-idle-slow-download"] = seed(
        "tcp_proxy", idle, 0, download + [A("read"), A("advance", value=1000), A("advance", value=1000)]
    )
    return out


if __name__ == "__main__":
    import sys

    print(f"wrote {write_seeds(sys.argv[1] if len(sys.argv) > 1 else 'corpus/network_filter')} seeds")
