"""408 Request Timeout says the server did not receive a complete request in time, and invites the
client to repeat it (RFC 9110 15.5.9: "the client MAY repeat that request"; browsers and HTTP client
libraries retry a 408 on their own). When the whole request arrived and went upstream, and it is
the response that is late, the answer is a 504 (Envoy's request timeout and route timeout): a 408
there makes clients send a non-idempotent request the upstream already has a second time. Here
request_timeout_ms 300 and an upstream that reads a complete POST and never answers."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok, wait_for

with (
    Upstream(http1_app(lambda request: None)) as up,
    Proxy(http_config(up.port, hcm={"request_timeout_ms": 300})) as proxy,
):
    status, _, body = http1_request(proxy.port("web"), "POST", "/charge", body=b"amount=10")
    wait_for(lambda: len(up.requests) == 1)
    got = [request[3] for request in up.requests]
check(got == [b"amount=10"], f"the upstream did not get the whole POST: {got}")
check(
    status == 504,
    f"the upstream had the whole POST and never answered; the request timeout answered {status} ({body!r}): "
    "a 408 tells the client its request was not received and may be sent again",
)
ok("a request timeout after the whole request went upstream is a 504")
