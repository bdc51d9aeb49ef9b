"""HTTP/1.1 Host: it must be uri-host [":" port] (RFC 9110 7.2); a Host holding "/", "?", "@" or spaces
is refused with 400 and not forwarded."""

from _live import Proxy, Upstream, check, exchange, http1_app, http_config, ok

HOSTS = [b"a/b?c", b"user@evil", b"good.example/../admin", b"a#b"]

with Upstream(http1_app(lambda request: (200, [], b"ok"))) as up, Proxy(http_config(up.port)) as proxy:
    answers = {
        host: exchange(proxy.port("web"), b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n").split(b"\r\n", 1)[0]
        for host in HOSTS
    }
    forwarded = [dict(r[2]).get("host") for r in up.requests]
accepted = [host for host, line in answers.items() if not line.startswith(b"HTTP/1.1 400")]
check(
    not accepted and not forwarded,
    f"Host values that are not an authority were accepted: {accepted}; the upstream saw Host {forwarded}",
)
ok(f"all {len(HOSTS)} malformed Host values got 400")
