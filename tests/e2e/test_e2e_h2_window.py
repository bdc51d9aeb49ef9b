"""The HTTP/2 flow-control window a client gets from the running proxy (`python -m proxy`), read by a
real HTTP/2 client (the h2 package over a socket): with http2_protocol_options.initial_window_size
1 MiB, one stream may have 1 MiB in flight. The proxy advertised the setting but left the connection
window at RFC 9113's initial 65535, so every upload waited for a WINDOW_UPDATE after each 64 KiB
whatever the configuration said (on a 50 ms path: at most 1.3 MB/s per connection)."""

import socket

import h2.config
import h2.connection

WINDOW = 1 << 20
CONFIG = f"""
listeners:
  - name: h2_in
    address: {{host: 127.0.0.1, port: 0}}
    filter_chains:
      - filters:
          - http_connection_manager:
              codec: HTTP2
              http2_protocol_options: {{initial_window_size: {WINDOW}}}
              route_config:
                virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                      - match: {{prefix: "/"}}
                        direct_response: {{status: 200, body: "ok"}}
"""


def test_one_stream_may_send_the_whole_configured_window(proxy_process, tmp_path):
    path = tmp_path / "proxy.yaml"
    path.write_text(CONFIG)
    proxy = proxy_process(path)
    proxy.wait_ready()
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    with socket.create_connection(proxy.listener_address("h2_in"), timeout=1) as sock:
        sock.sendall(client.data_to_send())
        # Read until the proxy's SETTINGS and connection window arrived (a second of quiet ends it).
        while client.remote_settings.initial_window_size != WINDOW or client.outbound_flow_control_window < WINDOW:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            assert data, "the proxy closed the connection"
            client.receive_data(data)
            sock.sendall(client.data_to_send())
        stream = client.get_next_available_stream_id()
        client.send_headers(stream, [(":method", "POST"), (":scheme", "http"), (":authority", "x"), (":path", "/")])
        assert client.remote_settings.initial_window_size == WINDOW
        assert client.local_flow_control_window(stream) == WINDOW  # 65535 before
