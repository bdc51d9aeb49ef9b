"""A minimal admin endpoint on its own listener: plain HTTP/1.1 over h11.

    GET /ready                 200 "LIVE" while serving, 503 "DRAINING" once shutdown began
    GET /stats                 counters and gauges, one `name: value` per line, sorted
    GET /stats?format=json     {"stats": [{"name": ..., "value": ...}, ...]} (Envoy's shape)
    GET /stats?filter=REGEX    only the stats whose names REGEX matches anywhere (Envoy's partial
                               match: ^...$ for the whole name), matched by RE2 as in Envoy (linear
                               time); 400 with RE2's reason for a pattern it refuses
    GET /stats?usedonly        only the stats updated at least once (Envoy's: counters incremented,
                               gauges set); combines with filter= and format=
    GET /config_dump           the configuration as JSON (protobuf json_format), secrets redacted
    GET /clusters              per cluster: policy, limits, endpoints and connection counts
                               (`?format=json` for JSON)

`AdminHandler.respond(method, target)` is the whole behaviour, with no I/O; `AdminProtocol`
only moves h11 events. The admin does not go through the proxy's filter chains. A handler may
also answer with an awaitable (the parent of `--concurrency N` asks its workers first).
"""

import asyncio
import functools
import http
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

import h11

from .config.schema import Bootstrap
from .http.h1 import RequestGate
from .safe_regex import RegexRefused, compile_re2

log = logging.getLogger("proxy.admin")

TEXT = "text/plain; charset=utf-8"

Answer = tuple[int, str, bytes]  # status, content type, body


FILTER_MAX_MEM = 1 << 20  # RE2 refuses to compile a filter= whose program would need more

# Secrets a configuration dump never shows (Envoy marks them udpa.annotations.sensitive and its
# /config_dump applies MessageUtil::redact): every string under them reads "[redacted]".
SENSITIVE_FIELDS = frozenset({"private_key"})
REDACTED = "[redacted]"


def redact(message, sensitive: bool = False) -> None:
    """Replace, in place, every string value under a sensitive field of `message` by REDACTED."""
    for field, value in message.ListFields():
        inside = sensitive or field.name in SENSITIVE_FIELDS
        if field.message_type is not None:
            if field.message_type.GetOptions().map_entry:  # a map: its message values, if any
                items = value.values() if field.message_type.fields_by_name["value"].message_type else []
            else:
                items = value if field.is_repeated else [value]
            for item in items:
                redact(item, inside)
        elif inside and field.type in (field.TYPE_STRING, field.TYPE_BYTES):
            redacted = REDACTED if field.type == field.TYPE_STRING else REDACTED.encode()
            if field.is_repeated:
                value[:] = [redacted] * len(value)
            else:
                setattr(message, field.name, redacted)


class Responder(Protocol):
    """What AdminProtocol serves: AdminHandler, or the workers' parent (proxy/workers.py), whose
    answers may have to wait for the workers."""

    def respond(self, method: str, target: str) -> Answer | Awaitable[Answer]: ...


JSON = "application/json"


def request_path(target: str) -> tuple[str, str] | None:
    """(path, query) of a request target, or None when no URL parser reads it (http://[::1/).
    Origin-form is taken as it is (RFC 9112 3.2.1: //x/stats is the path //x/stats); absolute-form
    (3.2.2) and '*' are parsed."""
    path, _, query = target.partition("?")
    if path.startswith("/"):
        return path, query
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    return parts.path, parts.query


class AdminHandler:
    """Maps a request line to (status, content type, body). `server` is a proxy.server.Server."""

    def __init__(self, server) -> None:
        self.server = server
        self.routes: dict[str, Callable[..., Answer]] = {
            "/": self._index,
            "/ready": self._ready,
            "/stats": self._stats,
            "/config_dump": self._config_dump,
            "/clusters": self._clusters,
        }

    def respond(self, method: str, target: str) -> tuple[int, str, bytes]:
        parsed = request_path(target)
        if parsed is None:
            return 400, TEXT, b"bad request target\n"
        path, query_text = parsed
        route = self.routes.get(path)
        if route is None:
            return 404, TEXT, f"no admin endpoint {path!r}; see /\n".encode()
        if method not in ("GET", "HEAD"):
            return 405, TEXT, b"admin endpoints answer GET only\n"
        query = parse_qs(query_text)
        fmt = query.get("format", ["text"])[-1]
        if fmt not in ("text", "json"):
            return 400, TEXT, f"unknown format {fmt!r}: use text or json\n".encode()
        if path == "/stats":  # `?usedonly` has no value: kept here, format= still reads as before
            return self._stats(fmt, parse_qs(query_text, keep_blank_values=True))
        return route(fmt)

    def _index(self, fmt):
        return 200, TEXT, ("admin endpoints:\n" + "".join(f"  {p}\n" for p in sorted(self.routes) if p != "/")).encode()

    def _ready(self, fmt):
        if self.server.started and not self.server.draining:
            return 200, TEXT, b"LIVE\n"
        return 503, TEXT, b"DRAINING\n" if self.server.draining else b"PRE_INITIALIZING\n"

    def _stats(self, fmt, query):
        stats = self.server.ctx.stats
        try:
            # RE2, as Envoy: `re` backtracks for hours on ([a-z_.]+)*! and the admin shares the event
            # loop with the data plane
            pattern = compile_re2(query["filter"][-1], max_mem=FILTER_MAX_MEM) if "filter" in query else None
        except RegexRefused as exc:
            return 400, TEXT, f"filter= is {exc}\n".encode()
        # usedonly: our counters only grow, so one incremented is nonzero; a gauge exists once set.
        used = "usedonly" in query
        # A stable view: counters and gauges share one namespace here, as in Envoy's output.
        values = {n: v for n, v in stats.counters.items() if v or not used}
        values.update(stats.gauges)
        values["server.buffered_bytes"] = self.server.buffered_bytes()
        items = sorted((n, v) for n, v in values.items() if pattern is None or pattern.search(n))
        if fmt == "json":
            body = json.dumps({"stats": [{"name": n, "value": v} for n, v in items]}, indent=1)
            return 200, JSON, body.encode() + b"\n"
        return 200, TEXT, "".join(f"{n}: {v}\n" for n, v in items).encode()

    def _config_dump(self, fmt):
        from google.protobuf import json_format

        source = getattr(self.server.built, "source", None)
        if source is None:
            return 404, TEXT, b"this server was not built from a configuration file\n"
        bootstrap = Bootstrap.FromString(source)
        redact(bootstrap)
        body = json_format.MessageToJson(bootstrap, preserving_proto_field_name=True, indent=1)
        return 200, JSON, body.encode() + b"\n"

    def _clusters(self, fmt):
        clusters = getattr(self.server.built, "clusters", {}) or {}
        stats = self.server.ctx.stats
        out = []
        for name, c in sorted(clusters.items()):
            prefix = f"cluster.{name}."
            out.append(
                {
                    "name": name,
                    "lb_policy": c.lb_policy,
                    "connect_timeout_ms": c.connect_timeout_ms,
                    "max_connections": c.max_connections,
                    "upstream_cx_total": stats.counter(prefix + "upstream_cx_total"),
                    "upstream_cx_active": stats.gauge(prefix + "upstream_cx_active"),
                    "upstream_cx_connect_fail": stats.counter(prefix + "upstream_cx_connect_fail"),
                    "hosts": [f"{h.host}:{h.port}" for h in c.hosts],
                }
            )
        if fmt == "json":
            return 200, JSON, json.dumps({"clusters": out}, indent=1).encode() + b"\n"
        lines = []
        for c in out:
            for key, value in c.items():
                if key == "name":
                    continue
                if key == "hosts":
                    lines += [f"{c['name']}::{h}::endpoint" for h in value]
                else:
                    lines.append(f"{c['name']}::{key}::{value}")
        return 200, TEXT, "".join(line + "\n" for line in lines).encode()


# Envoy's admin is an HTTP connection manager with the defaults: a request whose head or body stops
# arriving, or whose response its client stops taking, is ended after the stream idle timeout
# (stream_idle_timeout, 5 min; a 408 when nothing was answered yet).
STREAM_IDLE_TIMEOUT_S = 300.0
ERROR_QUOTE = 200  # characters of h11's complaint a 400 repeats
REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class AdminProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive over h11; one response per request, in order. h11 reads only what the
    listeners' HTTP/1.1 codec would accept (RequestGate): a request it refuses gets its 400 (431,
    505) and the close, as Envoy's admin, an HCM on that codec, answers it.

    One request is answered per turn of the event loop, and none while the client is not taking
    what was written (the transport's buffer above its high watermark: reading pauses too), so a
    client pipelining requests it never reads holds about one buffer of answers and the data plane
    sharing the loop keeps running."""

    def __init__(self, handler: Responder) -> None:
        self.handler = handler
        self.h11 = h11.Connection(h11.SERVER)
        self.gate = RequestGate()  # what the client sent that h11 has not read yet
        self._client_ended = False  # its end of stream, for h11 once the gate has passed on the rest
        self.transport: asyncio.Transport | None = None
        self._request: h11.Request | None = None
        self._waiting: asyncio.Future[Answer] | None = (
            None  # an answer still being computed: later requests wait for it
        )
        self._backed_up = False  # the client is not taking our answers (pause_writing)
        self._turn: asyncio.Handle | None = None  # the next request's turn, when one is due
        self._idle: asyncio.TimerHandle | None = None  # the stream idle timer, while a stream waits

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        for handle in (self._turn, self._idle):
            if handle is not None:
                handle.cancel()
        self._turn = self._idle = None

    def data_received(self, data) -> None:
        self.gate.add(data)
        self._progress()
        self._schedule()

    def eof_received(self):
        # Keep the transport: a client may half-close after pipelining requests (RFC 9112 9.6), and
        # each complete one is still answered; h11 then reads ConnectionClosed and _process closes.
        self._client_ended = True
        self._schedule()
        return True

    def pause_writing(self) -> None:
        self._backed_up = True
        self._open_transport().pause_reading()
        self._progress()

    def resume_writing(self) -> None:
        self._backed_up = False
        transport = self._open_transport()
        if not transport.is_closing():
            transport.resume_reading()
        self._progress()
        self._schedule()

    def _schedule(self) -> None:
        """Give the next request its turn on the loop (not now: one request per turn)."""
        if self._turn is None and self._waiting is None and not self._backed_up:
            self._turn = asyncio.get_running_loop().call_soon(self._take_turn)

    def _take_turn(self) -> None:
        self._turn = None
        if self._waiting is None and not self._backed_up:
            self._process()

    def _progress(self) -> None:
        """Bytes moved: (re)arm the stream idle timer while a request is arriving or an answer is not
        taken, disarm it on an idle connection."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        busy = self._backed_up or self._waiting is not None or self.h11.their_state is not h11.IDLE or self.gate.holding
        if busy or self.h11.trailing_data[0]:
            self._idle = asyncio.get_running_loop().call_later(STREAM_IDLE_TIMEOUT_S, self._idle_timeout)

    def _idle_timeout(self) -> None:
        self._idle = None
        transport = self._open_transport()
        if transport.is_closing():
            return
        if not self._backed_up and self._waiting is None and self.h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            transport.write(REQUEST_TIMEOUT)  # written raw: h11 answers only a head it has whole
        transport.close()

    def _process(self) -> None:
        """Read events up to one complete request and answer it; the next one waits for its turn."""
        while self.transport is not None and not self.transport.is_closing():
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                self._send_error(exc.error_status_hint, str(exc))
                return
            if event is h11.NEED_DATA and self._read_on():
                continue
            if event is h11.NEED_DATA and self.gate.refused is not None:
                self._send_error(self.gate.refused.status, self.gate.refused.reason)
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                self._progress()
                return
            if isinstance(event, h11.ConnectionClosed):
                self.transport.close()
                return
            if isinstance(event, h11.Request):
                self._request = event
            elif isinstance(event, h11.EndOfMessage):
                req, self._request = self._request, None
                assert req is not None, "h11 ends only a message it started"
                try:
                    answer = self.handler.respond(
                        req.method.decode("ascii", "replace"), req.target.decode("ascii", "replace")
                    )
                except Exception:
                    log.exception("admin handler failed")
                    answer = 500, TEXT, b"internal error\n"
                if inspect.isawaitable(answer):
                    self._waiting = asyncio.ensure_future(answer)
                    self._waiting.add_done_callback(functools.partial(self._answered, req))
                    self._progress()
                    return
                if self._reply(req, answer):
                    self._progress()
                    self._schedule()
                return

    def _read_on(self) -> bool:
        """Hand h11 the next bytes the gate checked, or the client's end once nothing else is left
        (after a refusal h11 is not told: the refusal's answer goes first). True when it got some."""
        checked = self.gate.take()
        if checked:
            self.h11.receive_data(checked)
            return True
        if not self._client_ended or self.gate.refused is not None:
            return False
        self._client_ended = False
        held = self.gate.rest()
        if held:
            self.h11.receive_data(held)
        self.h11.receive_data(b"")  # h11 reads b"" as the end of stream
        return True

    def _answered(self, req, fut) -> None:
        self._waiting = None
        if fut.cancelled() or self.transport is None or self.transport.is_closing():
            return
        try:
            answer = fut.result()
        except Exception:
            log.exception("admin handler failed")
            answer = 500, TEXT, b"internal error\n"
        if self._reply(req, answer):
            self._progress()
            self._schedule()

    def _reply(self, req, answer) -> bool:
        """Send one response; False when the connection is closed after it."""
        status, ctype, body = answer
        self._send(status, ctype, b"" if req.method == b"HEAD" else body, len(body))
        if self.h11.our_state is h11.MUST_CLOSE:
            self._open_transport().close()
            return False
        self.h11.start_next_cycle()
        return True

    def _send(self, status: int, ctype: str, body: bytes, length: int) -> None:
        headers = [("content-type", ctype), ("content-length", str(length))]
        reason = http.HTTPStatus(status).phrase.encode()
        data = self.h11.send(h11.Response(status_code=status, headers=headers, reason=reason))
        data += self.h11.send(h11.Data(data=body)) if body else b""
        data += self.h11.send(h11.EndOfMessage())
        self._open_transport().write(data)

    def _send_error(self, status: int, message: str) -> None:
        if self.h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            # h11's message quotes the offending bytes: a line of them says enough.
            reason = message if len(message) <= ERROR_QUOTE else message[:ERROR_QUOTE] + "..."
            body = f"bad request: {reason}\n".encode()
            try:
                self._send(status, TEXT, body, len(body))
            except h11.LocalProtocolError:
                pass
        self._open_transport().close()

    def _open_transport(self) -> asyncio.Transport:
        """Answers are only made for requests read from a connection still open."""
        assert self.transport is not None, "an answer before connection_made"
        return self.transport
