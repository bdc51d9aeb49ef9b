"""RFC 9113 8.3.2: an HTTP/2 response's :status is exactly three digits; a response with any other
:status is malformed (8.1.1) and is not forwarded: the proxy answers 503 (UPE), as Envoy does. Python's
int() reads "0200", "+200", "2_00" and "00200" as 200: each must still be refused, not passed on."""

from _live import Proxy, Upstream, check, http1_request, http_config, ok

STATUSES = [b"0200", b"+200", b"2_00", b"00200"]


def raw_status(sock, log) -> None:
    """An HTTP/2 origin that answers request /N with STATUSES[N] as its :status."""
    import h2.config
    import h2.connection
    import h2.events

    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding=None, validate_outbound_headers=False)
    )
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    while True:
        data = sock.recv(65536)
        if not data:
            return
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                status = STATUSES[int(dict(ev.headers)[b":path"][1:])]
                conn.send_headers(ev.stream_id, [(b":status", status), (b"content-length", b"2")])
                conn.send_data(ev.stream_id, b"hi", end_stream=True)
        sock.sendall(conn.data_to_send())


with Upstream(raw_status) as up, Proxy(http_config(up.port, cluster={"protocol": "HTTP2"})) as proxy:
    answers = {raw.decode(): http1_request(proxy.port("web"), "GET", f"/{i}")[0] for i, raw in enumerate(STATUSES)}
forwarded = {raw: status for raw, status in answers.items() if status != 503}
check(not forwarded, f"HTTP/2 responses whose :status is not three digits were forwarded as {forwarded}")
ok(f"every :status that is not three digits was refused with 503: {sorted(answers)}")
