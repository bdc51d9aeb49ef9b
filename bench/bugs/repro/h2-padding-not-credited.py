"""HTTP/2 padding counts against flow control (RFC 9113 6.1) and a receiver credits it back with
WINDOW_UPDATE as it does the data: a client that uploads in padded DATA frames can go on uploading,
well past its first connection window of 65,535 bytes."""

from _live import H2Client, Proxy, Upstream, check, http1_app, http_config, ok

FRAMES, PAD, UPLOADS = 300, 200, 4  # each upload takes 300 * 202 bytes of window: 60,600
with (
    Upstream(http1_app(lambda request: (200, [], b"got %d" % len(request[3])))) as up,
    Proxy(http_config(up.port)) as proxy,
):
    client = H2Client(proxy.port("web"))
    answers, stuck = [], None
    for upload in range(UPLOADS):
        sid = client.request("POST", f"/upload/{upload}", body=b"", headers=[("content-length", str(FRAMES))])
        for i in range(FRAMES):
            room = lambda: min(client.conn.local_flow_control_window(sid), client.conn.outbound_flow_control_window)  # noqa: E731, B023
            if not client.wait(lambda: room() >= PAD + 2, timeout=3.0):
                stuck = (upload, i, client.conn.outbound_flow_control_window)
                break
            client.conn.send_data(sid, b"x", end_stream=i == FRAMES - 1, pad_length=PAD)
            client.flush()
        if stuck:
            break
        answers.append(client.response(sid))
    client.close()
check(
    stuck is None,
    "padded uploads stalled: upload %d, frame %d, with the client's connection window at %d: "
    "the padding was never credited back" % stuck
    if stuck
    else "",
)
check(all(a is not None and a[0] == 200 for a in answers), f"the padded uploads got {answers}")
ok(f"{UPLOADS} padded uploads of {FRAMES} frames each went through ({UPLOADS * FRAMES * (PAD + 2)} bytes of window)")
