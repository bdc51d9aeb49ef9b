"""Route retry_policy: num_retries N allows N new attempts after a connect failure, so with
num_retries 1 a request whose first host refuses the connection is retried on the next host."""

from _live import Proxy, Upstream, check, free_port, http1_app, http1_request, http_config, ok


dead = free_port()  # nothing listens there: the connection is refused
with (
    Upstream(http1_app(lambda request: (200, [], b"served"))) as up,
    Proxy(
        http_config(
            up.port,
            route={"retry_policy": {"num_retries": 1}},
            cluster={
                "lb_policy": "ROUND_ROBIN",
                "endpoints": [{"host": "127.0.0.1", "port": dead}, {"host": "127.0.0.1", "port": up.port}],
            },
        )
    ) as proxy,
):
    status, _, body = http1_request(proxy.port("web"), "GET", "/")
check(
    status == 200,
    f"with num_retries 1, a request whose first host refused the connection got {status} "
    f"{body[:40]!r} instead of being retried on the second host",
)
ok("the connect failure on the first host was retried on the second (200)")
