"""A client that resets its connection before the proxy has taken it from the accept queue.

Linux forgets the peer of a reset socket: getpeername(2) fails with ENOTCONN, so asyncio's
transport had no `peername` and the listener's filter chain match raised a TypeError on the
missing address. Each connect-and-RST (a port scanner, a health checker with SO_LINGER 0, a
client timing out under load) printed a traceback at ERROR and counted `server.unhandled_errors`;
live, 99 of 100 immediate resets did, on HTTP, TLS and tcp_proxy listeners and with --concurrency.
Envoy takes the peer's address from accept(2), which has it; so does the proxy now, and such a
connection is an ordinary one that ends at once (counted on the listener and its filters alike).
"""

import json
import socket
import struct
import time
import urllib.request

import pytest

from conftest import LOOPBACK, free_port

CONFIG = """\
admin: {{address: {{host: 127.0.0.1, port: {admin}}}}}
listeners:
  - name: web
    address: {{host: 127.0.0.1, port: {port}}}
    filter_chains:
      - filters:
          - http_connection_manager:
              route_config:
                virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                      - match: {{prefix: /}}
                        direct_response: {{status: 200, body: "up\\n"}}
"""

RESETS = 30


def _connect_and_reset(address) -> None:
    s = socket.create_connection(address)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
    s.close()


def _counters(admin: int) -> dict:
    with urllib.request.urlopen(f"http://{LOOPBACK}:{admin}/stats?format=json", timeout=5) as response:
        return {entry["name"]: entry["value"] for entry in json.load(response)["stats"]}


@pytest.mark.parametrize("concurrency", ["1", "2"])
def test_a_connection_reset_before_it_is_accepted_is_no_error(proxy_process, tmp_path, concurrency):
    admin, port = free_port(), free_port()
    path = tmp_path / "proxy.yaml"
    path.write_text(CONFIG.format(admin=admin, port=port))
    proxy = proxy_process(path, "--concurrency", concurrency)
    proxy.wait_ready()
    for _ in range(RESETS):
        _connect_and_reset((LOOPBACK, port))
    with socket.create_connection((LOOPBACK, port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 200 ")
    deadline = time.monotonic() + 5
    while (counters := _counters(admin)).get("listener.web.downstream_cx_active", 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    err = "".join(proxy.stderr_lines)
    assert "Traceback" not in err, err[:3000]
    assert counters.get("server.unhandled_errors", 0) == 0
    # Every connection the listener took reached its filter chain, the resets included (live: 31 and
    # 31; before, 31 and 1).
    assert counters["http.downstream_cx_total"] == counters["listener.web.downstream_cx_total"] > 1
