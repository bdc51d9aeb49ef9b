"""HTTP/2 <-> HTTP/1.1: CR, LF and NUL are never valid in a field value (RFC 9113 8.2.1). A request
trailer from an HTTP/2 client or a response field from an HTTP/2 upstream that carries them is
refused, and never reaches the HTTP/1.1 side, where it would start a field of its own (injection)."""

import time

from _live import H2Client, Proxy, Upstream, check, connect, h2_app, http1_app, ok, read_response, request_bytes

CONFIG = """
listeners:
  - name: h2_in
    address: {{host: 127.0.0.1, port: 0}}
    filter_chains:
      - filters:
          - http_connection_manager:
              codec: HTTP2
              route_config:
                virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes: [{{match: {{prefix: "/"}}, route: {{cluster: h1_app}}}}]
  - name: h1_in
    address: {{host: 127.0.0.1, port: 0}}
    filter_chains:
      - filters:
          - http_connection_manager:
              codec: HTTP1
              route_config:
                virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes: [{{match: {{prefix: "/"}}, route: {{cluster: h2_app}}}}]
clusters:
  - name: h1_app
    endpoints: [{{host: 127.0.0.1, port: {h1_app}}}]
  - name: h2_app
    protocol: HTTP2
    endpoints: [{{host: 127.0.0.1, port: {h2_app}}}]
"""
INJECTED = [(b"x-note", b"fine\r\nx-injected: yes")]

with (
    Upstream(http1_app(lambda request: (200, [], b"ok"))) as h1_up,
    Upstream(h2_app(lambda path: (200, b"ok", INJECTED), validate=False)) as h2_up,
    Proxy(CONFIG.format(h1_app=h1_up.port, h2_app=h2_up.port)) as proxy,
):
    # 1. HTTP/2 client -> HTTP/1.1 upstream: CR LF in a request trailer.
    client = H2Client(proxy.port("h2_in"), validate=False)
    sid = client.request("POST", "/upload", body=b"")
    time.sleep(0.2)  # the upstream request has started (chunked)
    client.conn.send_data(sid, b"abc")
    client.conn.send_headers(sid, INJECTED, end_stream=True)
    client.flush()
    client.wait(lambda: client.closed or client.streams[sid]["ended"] or client.streams[sid]["reset"] is not None, 2)
    client.close()
    time.sleep(0.3)
    upstream_fields = [n for request in h1_up.requests for n, _ in request[2] + request[4]]
    # 2. HTTP/2 upstream -> HTTP/1.1 client: CR LF in a response field.
    with connect(proxy.port("h1_in")) as sock:
        sock.sendall(request_bytes("GET", "/page"))
        answer = read_response(sock)
    client_fields = [n for n, _ in answer[1]] if answer else []
check(
    "x-injected" not in upstream_fields,
    "a CR LF inside an HTTP/2 request trailer reached the HTTP/1.1 upstream "
    f"as a field of its own: it parsed {upstream_fields}",
)
check(
    "x-injected" not in client_fields,
    "a CR LF inside an HTTP/2 upstream's response field reached the HTTP/1.1 "
    f"client as a field of its own: it parsed {client_fields}",
)
ok("CR LF in HTTP/2 field values never became HTTP/1.1 fields, either direction")
