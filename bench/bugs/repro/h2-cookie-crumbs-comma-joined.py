"""RFC 9113 8.2.3: an HTTP/2 client may split its cookie into several `cookie` fields; going to an
HTTP/1.1 upstream they are joined with "; " (the cookie separator), never with ", "."""

from _live import H2Client, Proxy, Upstream, check, http1_app, http_config, ok

with (
    Upstream(http1_app(lambda request: (200, [], b"hi"))) as up,
    Proxy(http_config(up.port)) as proxy,
):
    client = H2Client(proxy.port("web"))
    sid = client.request("GET", "/", headers=[("cookie", "session=abc"), ("cookie", "theme=dark")])
    answer = client.response(sid)
    client.close()
    cookies = [v for _, _, headers, *_ in up.requests for n, v in headers if n == "cookie"]
check(answer is not None and answer[0] == 200, f"the request got {answer}")
check(
    cookies == ["session=abc; theme=dark"],
    f"two HTTP/2 cookie fields reached the HTTP/1.1 upstream as {cookies}: a server reads one cookie "
    "'session' with the value 'abc, theme=dark'",
)
ok("the cookie crumbs reached the upstream joined with '; '")
