"""HTTP/2 rapid reset (CVE-2023-44487) is judged on the client's recent streams: a long-lived client that
cancels one stream in four (never more than 25 of any 100 in a row) is served for as long as it likes,
even after more than 50 cancels in all."""

from _live import H2Client, Proxy, Upstream, check, http1_app, http_config, ok

CYCLES = 70  # 70 cancels in all, one in every four streams

with Upstream(http1_app(lambda request: (200, [], b"ok"))) as up, Proxy(http_config(up.port, codec="HTTP2")) as proxy:
    client = H2Client(proxy.port("web"))
    answered = 0
    for i in range(CYCLES):
        cancelled = client.request("POST", f"/upload/{i}", body=b"")  # headers only: its body never comes
        client.conn.reset_stream(cancelled)
        client.flush()
        for j in range(3):
            answer = client.response(client.request("GET", f"/page/{i}/{j}"))
            if answer is None or answer[0] != 200:
                break
            answered += 1
        if client.closed:
            break
    goaway = client.goaway
    client.close()
check(
    goaway is None and answered == 3 * CYCLES,
    f"a client cancelling one stream in four was cut after {answered} answered requests "
    f"(GOAWAY error code {goaway}); no 100 consecutive streams held more than 25 resets",
)
ok(f"{CYCLES} cancels spread over {4 * CYCLES} streams never counted as a rapid reset")
