"""One way for an end-to-end test to say "the running proxy (`python -m proxy`) on this
configuration, in front of these upstreams": a configuration with one HTTP listener and its routes
(`http_config`, `cluster`), upstream servers on 127.0.0.1 (`upstreams`), the proxy process started
and stopped around the test (`proxy_on`). Everything listens on loopback and ends by itself."""

import json
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from conftest import LOOPBACK


class Upstream(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512


def cluster(name: str, port: int, extra: str = "") -> str:
    """A cluster of one endpoint on 127.0.0.1 as a YAML flow mapping; `extra`: more of its keys
    (`protocol: HTTP2`, ...)."""
    more = f", {extra}" if extra else ""
    return f"{{name: {name}, endpoints: [{{host: 127.0.0.1, port: {port}}}]{more}}}"


def http_config(
    routes: list[str], clusters: list[str], hcm_extra: str = "", admin: bool = False, listener_extra: str = ""
) -> str:
    """A listener `http_in` on 127.0.0.1 (any port, codec AUTO, one virtual host for every domain)
    whose routes are `routes` (YAML flow mappings: `{match: ..., route: ...}`), in front of
    `clusters` (see `cluster`); `hcm_extra`, `listener_extra`: more keys of the connection manager
    and of the listener (flow style); `admin`: an admin listener on any port."""
    host = f"{{name: all, domains: ['*'], routes: [{', '.join(routes)}]}}"
    hcm = f"{{codec: AUTO{', ' + hcm_extra if hcm_extra else ''}, route_config: {{virtual_hosts: [{host}]}}}}"
    text = (
        "listeners:\n"
        "  - name: http_in\n"
        "    address: {host: 127.0.0.1, port: 0}\n"
        + (f"    {listener_extra}\n" if listener_extra else "")
        + f"    filter_chains: [{{filters: [{{http_connection_manager: {hcm}}}]}}]\n"
        f"clusters: [{', '.join(clusters)}]\n"
    )
    return text + ("admin: {address: {host: 127.0.0.1, port: 0}}\n" if admin else "")


def web_config(
    upstream_port: int, *, route: str = "", hcm: str = "", max_connections: int = 1, buffer_limit: int = 1 << 20
) -> str:
    """The shape most tests need (`http_config`): every request to cluster `web` (`max_connections`)
    at 127.0.0.1:`upstream_port`, per-connection buffers of `buffer_limit` bytes, the admin on;
    `route`, `hcm`: more keys of the route action and of the connection manager (flow style)."""
    action = f"{{cluster: web{', ' + route if route else ''}}}"
    return http_config(
        [f"{{match: {{prefix: /}}, route: {action}}}"],
        [cluster("web", upstream_port, f"max_connections: {max_connections}")],
        hcm_extra=hcm,
        admin=True,
        listener_extra=f"per_connection_buffer_limit_bytes: {buffer_limit}",
    )


def logged_config(upstream_port: int, log, route: str = "") -> str:
    """Every request to cluster `up` at 127.0.0.1:`upstream_port` (`route`: more keys of the route
    action, flow style), the connection manager writing its access log to the file `log`."""
    action = f"{{cluster: up{', ' + route if route else ''}}}"
    return http_config(
        [f'{{match: {{prefix: "/"}}, route: {action}}}'],
        [cluster("up", upstream_port)],
        hcm_extra=f"access_log: {{path: {log}}}",
    )


def read_request_head(sock) -> bytes:
    """What an upstream handler reads up to the end of the request's head, or b"" when the proxy
    closed before it."""
    held = b""
    while b"\r\n\r\n" not in held:
        data = sock.recv(65536)
        if not data:
            return b""
        held += data
    return held


def access_log_records(log, n: int) -> list:
    """The records of the access log file `log` (JSON lines) once it holds at least `n`; fails after
    10 s with fewer."""
    lines: list = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= n:
            return [json.loads(line) for line in lines]
        time.sleep(0.05)
    raise AssertionError(f"{n} access log records expected, found {len(lines)}")


@contextmanager
def upstreams(*handlers: type[socketserver.BaseRequestHandler]) -> Iterator[list[Upstream]]:
    """One upstream server per handler class on 127.0.0.1 (any port), serving until the end."""
    servers = [Upstream((LOOPBACK, 0), handler) for handler in handlers]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield servers
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@contextmanager
def proxy_on(directory, config: str):
    """The proxy process on `config` (written to `directory`/proxy.yaml), ready, killed at the end."""
    from conftest import ProxyProcess

    path = directory / "proxy.yaml"
    path.write_text(config)
    proc = ProxyProcess(path)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.kill()
