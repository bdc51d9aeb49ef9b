"""Access log: one JSON line per request, shaped like an OpenTelemetry log record.

    {"timeUnixNano": "...", "severityText": "INFO", "body": "GET /a 200",
     "attributes": {"http.request.method": "GET", "url.path": "/a", "url.query": "x=1",
                    "server.address": "example.com", "server.port": 8080,
                    "network.protocol.name": "http", "network.protocol.version": "1.1",
                    "http.response.status_code": 200, "http.request.body.size": 0,
                    "http.response.body.size": 2, "client.address": "127.0.0.1", "client.port": 50000,
                    "proxy.authority": "example.com:8080", "proxy.duration_ms": 3,
                    "proxy.upstream.host": "127.0.0.1:9080", "proxy.upstream.cluster": "web",
                    "proxy.response_flags": "-", "proxy.route": "all/0", "proxy.stream.end": "response"}}

Over TLS (proxy/tls/info.py) the record adds "tls.protocol.version" ("1.3"), "tls.cipher",
"tls.next_protocol" (ALPN), "tls.client.server_name" (SNI), and for a verified client
certificate "tls.client.subject", "proxy.tls.peer.uri_sans" and "proxy.tls.peer.dns_sans".

Attribute names follow OpenTelemetry's HTTP semantic conventions where one exists; the rest are
under `proxy.`. The record is built by the core from dispatcher time only (no clock read); the
sink stamps `timeUnixNano` with the wall clock when it writes the line. A status of 0 means no
response head was sent (the stream was reset first); a stream reset after its head keeps that
head's status, with `proxy.stream.end` "reset".

Sinks are per server instance (ctx.shared_state): `stdout`, or a file path opened for append.
Tests put a MemorySink in place with `use_sink(ctx, spec, sink)`.
"""

import contextlib
import json
import sys
import time

from .log_writer import LineWriter


def build_record(
    *,
    method: bytes,
    path: bytes,
    authority: bytes,
    protocol: bytes,
    status: int,
    bytes_in: int,
    bytes_out: int,
    duration_ms: int,
    upstream_host: str,
    cluster: str,
    flags,
    remote_address,
    route: str,
    end: str,
    tls=None,
) -> dict:
    p, _, query = path.partition(b"?")
    host, port = _split_authority(authority.decode("latin-1"))
    attrs: dict[str, object] = {
        "http.request.method": method.decode("latin-1"),
        "url.path": p.decode("latin-1"),
    }
    if query:
        attrs["url.query"] = query.decode("latin-1")
    attrs["server.address"] = host
    if port is not None:
        attrs["server.port"] = port
    attrs.update(
        {
            "network.protocol.name": "http",
            "network.protocol.version": protocol.decode("latin-1"),
            "http.response.status_code": status,
            "http.request.body.size": bytes_in,
            "http.response.body.size": bytes_out,
        }
    )
    if remote_address:
        attrs["client.address"] = str(remote_address[0])
        attrs["client.port"] = int(remote_address[1])
    attrs.update(
        {
            "proxy.authority": authority.decode("latin-1"),
            "proxy.duration_ms": duration_ms,
            "proxy.upstream.host": upstream_host or "-",
            "proxy.upstream.cluster": cluster or "-",
            "proxy.response_flags": ",".join(dict.fromkeys(flags)) or "-",
            "proxy.route": route or "-",
            "proxy.stream.end": end,
        }
    )
    if tls is not None:
        attrs.update(
            {
                "tls.protocol.version": tls.version.removeprefix("TLSv"),
                "tls.cipher": tls.cipher,
                "tls.next_protocol": tls.alpn,
                "tls.client.server_name": tls.server_name,
            }
        )
        if tls.peer is not None:
            attrs.update(
                {
                    "tls.client.subject": tls.peer.subject,
                    "proxy.tls.peer.uri_sans": list(tls.peer.uri_sans),
                    "proxy.tls.peer.dns_sans": list(tls.peer.dns_sans),
                }
            )
    return {
        "severityText": "INFO" if status and status < 500 else "WARN",
        "body": f"{attrs['http.request.method']} {attrs['url.path']} {status}",
        "attributes": attrs,
    }


def _split_authority(authority: str):
    if authority.startswith("["):  # [v6]:port
        end = authority.find("]")
        host, rest = authority[: end + 1], authority[end + 1 :]
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    host, sep, port = authority.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    return authority, None


class MemorySink:
    def __init__(self) -> None:
        self.records: list[dict] = []
        self.lines: list[str] = []

    def write(self, record: dict) -> None:
        self.records.append(record)
        self.lines.append(json.dumps(record, sort_keys=True))


class CountingSink:
    """Keeps only a count: in-memory sessions exercise the logging path without output."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, record: dict) -> None:
        self.count += 1


class StreamSink:
    """Writes each record as one JSON line, stamped with the wall-clock time, through a LineWriter
    (proxy/http/log_writer.py): a thread writes, so a reader that stops reading never stalls the
    proxy, and a full queue drops records (counted) rather than growing.

    `lock` is held while lines are written: worker processes (proxy/workers.py) share one, since
    a pipe takes at most PIPE_BUF (4 KiB) bytes whole, so two processes writing longer lines to
    one stdout pipe interleave them (seen live: 31 of 320 lines torn)."""

    def __init__(self, stream, lock=None, reopen=None) -> None:
        self.writer = LineWriter(stream, lock if lock is not None else contextlib.nullcontext(), reopen=reopen)

    def write(self, record: dict) -> None:
        self.writer.put(json.dumps(dict(record, timeUnixNano=str(time.time_ns())), sort_keys=True) + "\n")

    def take_counts(self) -> tuple[int, int]:
        return self.writer.take_counts()


def open_sink(spec: str, lock=None):
    if spec == "stdout":
        return StreamSink(sys.stdout, lock)

    def reopen():
        return open(spec, "a", encoding="utf-8")  # closed with the process, or at the next reopen

    return StreamSink(reopen(), lock, reopen)


def sink_for(ctx, spec: str):
    opener = getattr(ctx, "open_access_log", None) or open_sink
    return ctx.shared_state(("access_log", spec), lambda: opener(spec))


def emit(ctx, spec: str, record: dict) -> None:
    """Write `record` to the instance's sink for `spec`. A log that cannot be opened or written
    (its reader gone: EPIPE; a full disk) loses the record, never the request: Envoy's file
    flusher counts filesystem.write_failed and serves on. Raising here closed the connection the
    stream ended on (seen live: direct responses lost, an HTTP/2 upstream's other streams 503).
    Records a full queue dropped count as access_log.dropped."""
    try:
        sink = sink_for(ctx, spec)
        sink.write(record)
    except (OSError, ValueError):  # ValueError: a path with a NUL byte, a stream already closed
        ctx.stats.inc("filesystem.write_failed")
        return
    take_counts = getattr(sink, "take_counts", None)  # StreamSink's writer counts what it lost
    if take_counts is not None:
        failed, dropped = take_counts()
        if failed:
            ctx.stats.inc("filesystem.write_failed", failed)
        if dropped:
            ctx.stats.inc("access_log.dropped", dropped)


def use_sink(ctx, spec: str, sink) -> None:
    """Make `sink` the instance's sink for `spec` (tests)."""
    ctx.shared[("access_log", spec)] = sink
