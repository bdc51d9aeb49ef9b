"""HTTP/2 header blocks may be split over CONTINUATION frames; the flood defence counts them per block
(16 at most). Twenty requests whose 20 KB header blocks (a value HPACK's Huffman code does not shrink) need one
CONTINUATION frame each are all answered."""

from _live import H2Client, Proxy, check, http_config, ok

ROUTES = [{"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": "ok"}}]

with Proxy(http_config(1, routes=ROUTES)) as proxy:
    client = H2Client(proxy.port("web"))
    answered = 0
    for i in range(20):
        sid = client.request("GET", f"/{i}", headers=[("x-token", f"{i:02d}" + "~" * 20000)])
        response = client.response(sid, timeout=3.0)
        if response is None or response[0] != 200:
            break
        answered += 1
    goaway = client.goaway
    client.close()
check(
    answered == 20,
    f"only {answered} of 20 requests with one CONTINUATION frame each were answered (GOAWAY error code {goaway})",
)
ok("20 header blocks with one CONTINUATION frame each were all served")
