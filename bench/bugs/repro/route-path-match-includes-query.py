"""Route `path` match (Envoy's RouteMatch.path): the path must equal the request's path once the query
string is removed, so GET /api/users?id=3 takes the route for path /api/users."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

ROUTES = [{"match": {"path": "/api/users"}, "route": {"cluster": "app"}}]

with (
    Upstream(http1_app(lambda request: (200, [], b"users"))) as up,
    Proxy(http_config(up.port, routes=ROUTES)) as proxy,
):
    port = proxy.port("web")
    plain = http1_request(port, "GET", "/api/users")[0]
    with_query = http1_request(port, "GET", "/api/users?id=3")[0]
check(plain == 200, f"GET /api/users got {plain}")
check(with_query == 200, f"GET /api/users?id=3 got {with_query} from a route matching path /api/users")
ok("the exact path route matched with and without a query string")
