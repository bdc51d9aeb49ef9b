"""HTTP fault abort_percent P aborts P percent of requests: with 99, about one request in a hundred
still reaches the upstream."""

from _live import Proxy, Responses, Upstream, check, connect, http1_app, http_config, ok, request_bytes

N = 1000  # a clean proxy lets none through with probability 0.99**1000 (4e-5)
with (
    Upstream(http1_app(lambda request: (200, [], b"served"))) as up,
    Proxy(http_config(up.port, filters=[{"fault": {"abort_status": 503, "abort_percent": 99}}])) as proxy,
):
    statuses = []
    sock = connect(proxy.port("web"))
    responses = Responses(sock)
    for _ in range(N):
        sock.sendall(request_bytes("GET", "/"))
        answer = responses.next()
        if answer is None:  # the connection went away: a new one
            sock.close()
            sock = connect(proxy.port("web"))
            responses = Responses(sock)
            continue
        statuses.append(answer[0])
    sock.close()
passed = statuses.count(200)
check(len(statuses) >= N * 0.9, f"only {len(statuses)} of {N} requests were answered")
check(passed > 0, f"abort_percent 99 aborted all {len(statuses)} requests; about 1% should pass")
ok(f"abort_percent 99: {passed} of {len(statuses)} requests passed")
