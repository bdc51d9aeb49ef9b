"""A well-behaved HTTP/2 client that grows each stream's receive window as it opens it (httpx does: one
WINDOW_UPDATE for the connection, then one per request) is no WINDOW_UPDATE flood: the proxy's defence
(Envoy's max_inbound_window_update_frames_per_data_frame_sent, CVE-2019-9513) allows frames for the
streams opened as well as for the DATA it sent. Twelve requests answered without a body (204) on one
connection all succeed, with no GOAWAY."""

from _live import H2Client, Proxy, check, http_config, ok

ROUTES = [{"match": {"prefix": "/"}, "direct_response": {"status": 204}}]

with Proxy(http_config(9, codec="HTTP2", routes=ROUTES)) as proxy:
    client = H2Client(proxy.port("web"))
    client.conn.increment_flow_control_window(2**24)  # as httpx's connection start
    client.flush()
    outcomes = []
    for i in range(12):
        sid = client.request("GET", f"/item/{i}")
        client.conn.increment_flow_control_window(2**24, stream_id=sid)  # as httpx's _send_request_headers
        client.flush()
        answer = client.response(sid, timeout=3)
        outcomes.append(answer[0] if answer else None)
        if client.closed:
            break
    goaway = client.goaway
    client.close()
check(goaway is None, f"the proxy sent GOAWAY (error {goaway}) after {len(outcomes)} requests: {outcomes}")
check(outcomes == [204] * 12, f"twelve GETs got {outcomes}")
ok("twelve requests, each with its stream WINDOW_UPDATE, were answered on one connection")
