"""An HTTP/2 upstream's graceful GOAWAY names the last stream it processes (RFC 9113 6.8): that stream still
completes, so its response reaches the client. Here the upstream answers the request right after a GOAWAY
naming the request's stream."""

from _live import Proxy, Upstream, check, http1_request, http_config, ok


def origin(sock, log) -> None:
    """An HTTP/2 origin that, for each request, first announces GOAWAY(NO_ERROR, last = that stream), then
    answers it."""
    import h2.config
    import h2.connection
    import h2.events
    from hyperframe.frame import GoAwayFrame

    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    while True:
        data = sock.recv(65536)
        if not data:
            return
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived) and ev.stream_ended:
                log.append(ev.stream_id)
                sock.sendall(conn.data_to_send() + GoAwayFrame(0, last_stream_id=ev.stream_id).serialize())
                conn.send_headers(ev.stream_id, [(b":status", b"200"), (b"content-length", b"8")])
                conn.send_data(ev.stream_id, b"finished", end_stream=True)
        sock.sendall(conn.data_to_send())


with Upstream(origin) as up, Proxy(http_config(up.port, cluster={"protocol": "HTTP2"})) as proxy:
    status, _, body = http1_request(proxy.port("web"), "GET", "/work")
check(
    status == 200 and body == b"finished",
    f"the upstream's GOAWAY named the request's stream as processed and answered it, yet the client got "
    f"{status} {body[:40]!r}",
)
ok("the stream a graceful GOAWAY named as the last processed completed with its response")
