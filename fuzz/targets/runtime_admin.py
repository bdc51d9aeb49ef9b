"""The runtime harness's admin client and what it judges (proxy/admin.py as a user sees it).

A user of the admin endpoint relies on: every complete request answered exactly once, in order
(pipelined or not); the status its documented contract gives (proxy/admin.py's docstring, Envoy's
admin); JSON where JSON is asked for; /stats in text and JSON saying the same; /config_dump the
configuration itself, with every string under a `private_key` reading "[redacted]" (Envoy's
sensitive fields) and never the key; /clusters naming the configured clusters and endpoints, with
their configured settings, and counts that are the statistics of those names in /stats of the same
moment (Envoy's /clusters and /stats read one store).
"""

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import h11
from google.protobuf import json_format

from proxy.config import schema

from fuzz.oracles import InvariantViolation
from fuzz.targets import reference

ENDPOINTS = ("/", "/ready", "/stats", "/config_dump", "/clusters")
JSON_TYPE = "application/json"
REDACTED = "[redacted]"

# What an admin op sends: (method, target), or raw bytes no valid request reads as.
REQUESTS: tuple = (
    ("GET", "/ready"),
    ("GET", "/stats"),
    ("GET", "/stats?format=json"),
    ("GET", "/config_dump"),
    ("GET", "/clusters"),
    ("GET", "/clusters?format=json"),
    ("HEAD", "/stats"),
    ("GET", "/"),
    ("GET", "/nowhere"),
    ("POST", "/stats"),
    ("GET", "/stats?format=xml"),
    ("GET", "/stats?format=xml&format=json"),
    ("GET", "/ready?format=json"),
    ("DELETE", "/config_dump"),
    ("GET", "/stats?filter=x&format=text"),
    ("GET", "/STATS"),
    ("GET", "/clusters", "Connection: close"),  # answered, then the admin closes
    ("GET", "/stats", "HTTP/1.0"),  # HTTP/1.0 without keep-alive: answered, then closed
    b"GET /stats HTTP/1.1\r\n\r\n",  # no Host: h11 refuses it (400), then the admin closes
    b"GET /stats HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",  # a malformed length: 400
    b"GET /stats HTTP/1.1\r\nHost: a\r\n",  # a head never finished: 408 at the stream idle timeout
)


UNFINISHED = REQUESTS[-1]


def ends_connection(kind: int) -> bool:
    """A well-formed request after which the admin closes (HTTP/1.0, Connection: close)."""
    entry = REQUESTS[kind % len(REQUESTS)]
    return not isinstance(entry, bytes) and len(entry) > 2


def request_bytes(kind: int) -> bytes:
    entry = REQUESTS[kind % len(REQUESTS)]
    if isinstance(entry, bytes):
        return entry
    method, target = entry[:2]
    option = entry[2] if len(entry) > 2 else ""
    body = b"x" if method == "POST" else b""
    length = b"Content-Length: 1\r\n" if body else b""
    version = "HTTP/1.0" if option == "HTTP/1.0" else "HTTP/1.1"
    close = "Connection: close\r\n" if option == "Connection: close" else ""
    head = f"{method} {target} {version}\r\nHost: admin\r\n{close}"
    return head.encode() + length + b"\r\n" + body


def expected(kind: int, draining: bool) -> tuple[int, bool] | None:
    """(status, JSON body?) the contract gives the request; None for a malformed or unfinished one
    (a 400, or a 408 at the stream idle timeout; then the connection closes)."""
    entry = REQUESTS[kind % len(REQUESTS)]
    if isinstance(entry, bytes):
        return None
    method, target = entry[:2]
    parts = urlsplit(target)
    if parts.path not in ENDPOINTS:
        return 404, False
    if method not in ("GET", "HEAD"):
        return 405, False
    fmt = parse_qs(parts.query).get("format", ["text"])[-1]
    if fmt not in ("text", "json"):
        return 400, False
    if parts.path == "/ready":
        return (503 if draining else 200), False
    return 200, parts.path == "/config_dump" or (fmt == "json" and parts.path in ("/stats", "/clusters"))


class AdminClient:
    """One admin connection: what it sent, and the responses it reads back in order."""

    def __init__(self, peer) -> None:
        self.peer = peer
        self.kinds: list[int] = []  # requests sent, in order
        self.draining: list[bool] = []  # whether the server drained before each was sent
        self.epochs: list[int] = []  # data-plane actions done before each was sent
        self.malformed_at: int | None = None  # the first request after which the admin closes
        self.raw = False  # raw bytes were sent: requests are no longer known one by one

    def send(self, value: int, draining: bool, end: bool, epoch: int = 0) -> None:
        """Request REQUESTS[value % len], 1 to 4 times in one write (value // 32 % 4: a pipelined
        burst, arriving together, with the end of stream behind it when `end`)."""
        if self.peer is None or self.peer.closed:
            return
        kind = value % len(REQUESTS)
        count = 1 + (value // 32) % 4
        for _ in range(count):
            if self.malformed_at is None and (expected(kind, draining) is None or ends_connection(kind)):
                self.malformed_at = len(self.kinds)
            self.kinds.append(kind)
            self.draining.append(draining)
            self.epochs.append(epoch)
        self.peer.send(request_bytes(kind) * count, end)

    def send_raw(self, data: bytes, end: bool) -> None:
        if self.peer is None or self.peer.closed:
            return
        self.raw = True
        self.peer.send(data, end)

    def responses(self) -> list:
        """(request kind, status, headers, body) for each response read, in order."""
        if self.peer is None:
            return []
        conn = h11.Connection(h11.CLIENT)
        if self.peer.received:  # h11 reads b"" as the end of stream
            conn.receive_data(bytes(self.peer.received))
        if self.peer.saw_end:
            conn.receive_data(b"")
        out: list = []
        for kind in self.kinds:
            entry = REQUESTS[kind % len(REQUESTS)]
            method = "GET" if isinstance(entry, bytes) else entry[0]
            conn.send(h11.Request(method=method, target="/", headers=[("host", "admin")]))
            conn.send(h11.EndOfMessage())
            head, body = None, bytearray()
            while True:
                try:
                    event = conn.next_event()
                except h11.RemoteProtocolError as exc:
                    if self.peer.saw_end and head is None and not conn.trailing_data[0]:
                        return out  # the admin closed before this request: judged by the count

                    raise InvariantViolation(
                        "admin_response_malformed",
                        f"response {len(out)} does not parse as HTTP/1.1: {exc}",
                        judged="proxy.admin.AdminProtocol",
                    ) from None
                if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                    return out
                if isinstance(event, h11.Response):
                    head = event
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
            assert head is not None, "h11 ends only a response it started"
            headers = {k.decode().lower(): v.decode() for k, v in head.headers}
            out.append((kind, head.status_code, headers, bytes(body)))
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return out
            conn.start_next_cycle()
        return out


def _fail(name: str, detail: str, judged: str = "proxy.admin.AdminHandler") -> None:
    raise InvariantViolation(name, detail, judged=judged)


def check_answers(client: AdminClient, built, finished: bool, judge_values: bool, stopped: bool = False) -> None:
    """Judge what one admin connection read. `finished`: its client read everything and the run
    is over, so every complete request sent must have its answer. `stopped`: the server began to
    stop during the run, so /ready may answer 503 to a request sent before (answered after)."""
    if client.raw:
        check_raw_answers(client)
        return
    got = client.responses()
    if len(got) > len(client.kinds):
        _fail(
            "admin_extra_response", f"{len(got)} responses to {len(client.kinds)} requests", "proxy.admin.AdminProtocol"
        )
    stats_seen: dict[str, tuple] = {}  # format: (epoch of its request, the stats[, the names asked])
    views: dict[str, tuple[int, Any]] = {}  # "stats", "clusters": (epoch, the latest answer)
    for i, (kind, status, headers, body) in enumerate(got):
        want = expected(kind, client.draining[i])
        if want is None:
            if status not in (400, 408):
                _fail("admin_status", f"request {i} (malformed or unfinished) answered {status}, not 400 or 408")
            continue
        status_wanted, is_json = want
        on_ready = urlsplit(REQUESTS[kind][1]).path == "/ready"
        if status != status_wanted and not (stopped and on_ready and status == 503 and status_wanted == 200):
            _fail("admin_status", f"request {i} {REQUESTS[kind]} answered {status}, the contract says {status_wanted}")
        method = REQUESTS[kind][0]
        if method == "HEAD":
            if body:
                _fail("admin_head_body", f"HEAD request {i} answered with a {len(body)}-byte body")
            continue
        if int(headers.get("content-length", len(body))) != len(body):
            _fail("admin_length", f"response {i}: content-length {headers.get('content-length')}, body {len(body)}")
        if status != 200:
            continue
        if is_json:
            if not headers.get("content-type", "").startswith(JSON_TYPE):
                _fail("admin_json_content_type", f"response {i} to {REQUESTS[kind]}: {headers.get('content-type')}")
            try:
                doc = json.loads(body)
            except ValueError as exc:
                _fail("admin_json_invalid", f"response {i} to {REQUESTS[kind]} is not JSON: {exc}")
            path = urlsplit(REQUESTS[kind][1]).path
            if path == "/config_dump":
                check_config_dump(doc, built, body)
            elif path == "/clusters":
                check_clusters(doc, built)
                views["clusters"] = (client.epochs[i], doc["clusters"])
            elif path == "/stats":
                stats_seen["json"] = (client.epochs[i], {s["name"]: s["value"] for s in doc["stats"]})
                views["stats"] = stats_seen["json"]
        elif REQUESTS[kind][1].startswith("/stats"):
            text = parse_text_stats(body)
            wanted = names_asked(REQUESTS[kind][1])
            unasked = sorted(n for n in text if not wanted(n))
            if unasked:
                _fail(
                    "admin_stats_filter",
                    f"response {i} to {REQUESTS[kind]} lists {unasked[:5]}, which its filter= does not match",
                    "proxy.admin.AdminHandler",
                )
            stats_seen["text"] = (client.epochs[i], text, wanted)
            if "filter" not in REQUESTS[kind][1]:
                views["stats"] = stats_seen["text"][:2]
        elif REQUESTS[kind][1].startswith("/clusters"):
            views["clusters"] = (client.epochs[i], parse_text_clusters(body))
        if judge_values and len(views) == 2 and views["stats"][0] == views["clusters"][0]:
            check_clusters_agree(views.pop("clusters")[1], views["stats"][1], built)
        # Answers to requests sent with no data-plane action between describe one state of the stats.
        if judge_values and len(stats_seen) == 2 and stats_seen["text"][0] == stats_seen["json"][0]:
            _, text, wanted = stats_seen.pop("text")
            check_stats_agree(text, stats_seen.pop("json")[1], wanted)
    if not finished:
        return
    cut = client.malformed_at
    # A malformed request is answered (400); an unfinished one only at the stream idle timeout.
    complete = len(client.kinds) if cut is None else cut + (REQUESTS[client.kinds[cut]] != UNFINISHED)
    if len(got) < complete and not client.peer.did_reset:
        _fail(
            "admin_request_unanswered",
            f"{complete} complete requests sent, {len(got)} answered; the client read everything",
            "proxy.admin.AdminProtocol",
        )


def leaves_a_request_unfinished(sent: bytes) -> bool:
    """Whether a client that sent `sent` left the admin a request it cannot answer yet: part of a
    head or body, or bytes no HTTP/1.1 server reads (those get a 400 and the close at once). Complete
    requests are answered as a server would, so pipelined ones before the rest do not count."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(sent)
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:
            return True
        if event is h11.NEED_DATA:
            return conn.their_state is not h11.IDLE or bool(conn.trailing_data[0])
        if event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
            return False
        if isinstance(event, h11.EndOfMessage):
            conn.send(h11.Response(status_code=200, headers=[("content-length", "0")]))
            conn.send(h11.EndOfMessage())
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return False  # the admin closes after this answer (HTTP/1.0, Connection: close)
            conn.start_next_cycle()


def check_raw_answers(client: AdminClient) -> None:
    """Whatever a client sends, no answer says the admin itself failed (a 500: AdminProtocol caught
    an exception from the handler, and logged its traceback)."""
    check_refused_framing(client)
    data = bytes(client.peer.received)
    at = 0
    while (start := data.find(b"HTTP/1.1 ", at)) >= 0:
        status = data[start + 9 : start + 12]
        if status == b"500":
            _fail("admin_internal_error", "the admin answered 500: its handler raised on a request a client sent")
        at = start + 12


def parse_text_stats(body: bytes) -> dict:
    out = {}
    for line in body.decode().splitlines():
        name, sep, value = line.rpartition(": ")
        if not sep:
            _fail("admin_stats_text", f"line {line!r} is not 'name: value'")
        out[name] = int(value)
    return out


def names_asked(target: str):
    """Which stat names a /stats target asks for (Envoy's admin: `filter=` is a regular expression
    matched anywhere in the name; none, every name)."""
    pattern = parse_qs(urlsplit(target).query).get("filter")
    return (lambda name: True) if pattern is None else (lambda name: re.search(pattern[-1], name) is not None)


def check_stats_agree(text: dict, as_json: dict, wanted=lambda name: True) -> None:
    """/stats (maybe filtered: `wanted`) and /stats?format=json answered back to back, the data
    plane idle between: the text lists every stat of the JSON it asked for, with the same value."""
    as_json = {n: v for n, v in as_json.items() if wanted(n)}
    if text != as_json:
        differ = sorted(n for n in set(text) | set(as_json) if text.get(n) != as_json.get(n))
        _fail("admin_stats_formats_differ", f"text and JSON disagree on {differ[:5]}")


def _redacted_strings(node, inside: bool, path: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _redacted_strings(value, inside or key == "private_key", f"{path}.{key}")
    elif isinstance(node, list):
        for k, value in enumerate(node):
            _redacted_strings(value, inside, f"{path}[{k}]")
    elif inside and isinstance(node, str) and node != REDACTED:
        _fail("admin_secret_in_config_dump", f"{path} reads {node[:40]!r}, not {REDACTED!r}")


def _redact_expected(message, inside: bool = False) -> None:
    """The configuration as the dump must show it: every string under a private_key redacted."""
    for field, value in message.ListFields():
        under = inside or field.name == "private_key"
        if field.message_type is not None:
            if field.message_type.GetOptions().map_entry:
                continue
            for item in value if field.is_repeated else [value]:
                _redact_expected(item, under)
        elif under and field.type == field.TYPE_STRING:
            if field.is_repeated:
                value[:] = [REDACTED] * len(value)
            else:
                setattr(message, field.name, REDACTED)


_DUMPS_JUDGED: set = set()  # (configuration, dump) pairs found right: a dump depends on nothing else


def check_config_dump(doc, built, body: bytes = b"") -> None:
    key = (built.source, body)
    if body and key in _DUMPS_JUDGED:
        return
    _judge_config_dump(doc, built)
    if body and len(_DUMPS_JUDGED) < 256:
        _DUMPS_JUDGED.add(key)


def _judge_config_dump(doc, built) -> None:
    _redacted_strings(doc, False, "")
    want = schema.Bootstrap.FromString(built.source)
    _redact_expected(want)
    got = schema.Bootstrap()
    try:
        json_format.ParseDict(doc, got)
    except json_format.ParseError as exc:
        _fail("admin_config_dump_not_the_config", f"the dump does not parse as a Bootstrap: {exc}")
    if got != want:
        _fail("admin_config_dump_not_the_config", "the dump differs from the configuration (secrets redacted)")


def parse_text_clusters(body: bytes) -> list:
    """/clusters in text (`NAME::KEY::VALUE`, `NAME::HOST:PORT::endpoint`) as the JSON answer's list."""
    by_name: dict[str, dict] = {}
    for line in body.decode().splitlines():
        name, _, rest = line.partition("::")  # cluster names hold no colon; hosts may (IPv6)
        key, sep, value = rest.rpartition("::")
        if not sep:
            _fail("admin_clusters_text", f"line {line!r} is not NAME::KEY::VALUE")
        entry = by_name.setdefault(name, {"name": name, "hosts": []})
        if value == "endpoint":
            entry["hosts"].append(key)
        else:
            entry[key] = int(value) if value.lstrip("-").isdigit() else value
    return list(by_name.values())


CLUSTER_COUNTS = ("upstream_cx_total", "upstream_cx_active", "upstream_cx_connect_fail")


def check_clusters_agree(clusters: list, stats: dict, built) -> None:
    """/clusters answered with no data-plane action since a /stats answer: each cluster shows its
    configured settings, and each count it shows is the /stats value of that name (0 when absent)."""
    configured = getattr(built, "clusters", {}) or {}
    for c in clusters:
        name = c.get("name")
        want = configured.get(name)
        if want is None:
            continue  # check_clusters judges the names
        for key in ("lb_policy", "connect_timeout_ms", "max_connections"):
            if key in c and c[key] != getattr(want, key):
                _fail(
                    "admin_clusters_not_the_config",
                    f"/clusters: {name} {key} {c[key]!r}, configured {getattr(want, key)!r}",
                )
        for key in CLUSTER_COUNTS:
            if key in c and c[key] != stats.get(f"cluster.{name}.{key}", 0):
                _fail(
                    "admin_clusters_differ_from_stats",
                    f"/clusters: {name} {key} {c[key]}, /stats of the same moment cluster.{name}.{key} "
                    f"{stats.get(f'cluster.{name}.{key}', 0)}",
                )


def check_clusters(doc, built) -> None:
    clusters = getattr(built, "clusters", {}) or {}
    got = {c["name"]: sorted(c["hosts"]) for c in doc["clusters"]}
    want = {name: sorted(f"{h.host}:{h.port}" for h in c.hosts) for name, c in clusters.items()}
    if got != want:
        _fail("admin_clusters_not_the_config", f"/clusters shows {sorted(got)[:5]}, configured {sorted(want)[:5]}")


def check_refused_framing(client: AdminClient) -> None:
    """Envoy's admin is an HTTP connection manager on its listeners' HTTP/1.1 codec, so it reads no
    request that codec refuses: once the strict RFC 9112 reference (fuzz/targets/reference.py, no
    leniency a proxy gets smuggled by) rejects a request a client sent, the admin answers the
    requests before it and, for that one, at most its refusal (a 4xx or 5xx); never a request
    behind it, which a front proxy framing the bytes otherwise would have sent as its own."""
    sent = reference.parse_requests(bytes(client.peer.sent), eof=False)
    rejected = next((i for i, m in enumerate(sent) if m.state == "rejected"), None)
    if rejected is None:
        return
    statuses = _statuses(bytes(client.peer.received), [m.start[0].decode("latin-1") for m in sent[:rejected]])
    if len(statuses) > rejected + 1 or (len(statuses) == rejected + 1 and statuses[rejected] < 400):
        _fail(
            "admin_reads_a_request_the_listeners_refuse",
            f"request {rejected} breaks RFC 9112 ({sent[rejected].reason}); the admin answered "
            f"{statuses[rejected:]} from there on",
            "proxy.admin.AdminProtocol",
        )


def _statuses(received: bytes, methods: list[str]) -> list[int]:
    """The status of each response in `received`, read in order (a response to HEAD has no body;
    the requests past `methods` are taken as GET)."""
    conn = h11.Connection(h11.CLIENT)
    conn.receive_data(received)
    out: list[int] = []
    while True:
        method = methods[len(out)] if len(out) < len(methods) else "GET"
        try:
            conn.send(h11.Request(method=method, target="/", headers=[("host", "admin")]))
            conn.send(h11.EndOfMessage())
            while not isinstance(event := conn.next_event(), h11.EndOfMessage):
                if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                    return out
                if isinstance(event, h11.Response):
                    out.append(event.status_code)
            conn.start_next_cycle()
        except (h11.RemoteProtocolError, h11.LocalProtocolError):
            return out
