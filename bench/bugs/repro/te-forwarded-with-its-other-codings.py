"""TE is hop-by-hop (RFC 9110 7.6.1, 10.1.4): what a client says it accepts is for the proxy, not for
the upstream. The one member a proxy passes on is `trailers`, and over HTTP/2 it is the only value
allowed at all (RFC 9113 8.2.2: any other TE makes the request malformed); Envoy's TE sanitizing keeps
`trailers` alone. Here an HTTP/1.1 client sends `TE: trailers, deflate` (what gRPC-web and curl
--tr-encoding clients send) through a proxy whose cluster speaks HTTP/2: the strict origin must get
`te: trailers` and answer 200."""

from _live import Proxy, Upstream, check, h2_app, http1_request, http_config, ok

with (
    Upstream(h2_app(lambda path: (200, b"answered"))) as up,
    Proxy(http_config(up.port, cluster={"protocol": "HTTP2"})) as proxy,
):
    status, _, body = http1_request(proxy.port("web"), "GET", "/te", headers=[("TE", "trailers, deflate")])
errors = [entry for log in up.connections for entry in log if "error" in str(entry)]
check(
    status == 200 and body == b"answered",
    f"a request with `TE: trailers, deflate` got {status} {body[:40]!r} through an HTTP/2 cluster (the origin: "
    f"{errors[:1]}): the TE codings other than trailers went upstream, where HTTP/2 forbids them",
)
ok("the request's TE reached the HTTP/2 origin as `te: trailers` (200)")
