"""Round robin balances requests, not connections: one keep-alive client's requests, one after the
other, reach both endpoints of a two-host cluster (Envoy keeps a connection pool per host)."""

from _live import Proxy, Responses, Upstream, check, connect, http1_app, http_config, ok, request_bytes

with (
    Upstream(http1_app(lambda request: (200, [], b"first"))) as a,
    Upstream(http1_app(lambda request: (200, [], b"second"))) as b,
    Proxy(
        http_config(
            a.port,
            cluster={
                "lb_policy": "ROUND_ROBIN",
                "endpoints": [{"host": "127.0.0.1", "port": a.port}, {"host": "127.0.0.1", "port": b.port}],
            },
        )
    ) as proxy,
):
    served = []
    with connect(proxy.port("web")) as sock:
        responses = Responses(sock)
        for _ in range(4):
            sock.sendall(request_bytes("GET", "/"))
            answer = responses.next()
            check(answer is not None and answer[0] == 200, f"a keep-alive GET got {answer!r}")
            served.append(answer[2].decode())
check(
    sorted(set(served)) == ["first", "second"],
    f"four requests in round robin over two hosts were all served by {sorted(set(served))}: {served}",
)
ok(f"round robin sent the keep-alive client's requests to both hosts: {served}")
