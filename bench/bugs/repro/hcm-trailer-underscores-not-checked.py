"""headers_with_underscores_action (REJECT_REQUEST by default) covers request trailers as it covers
request headers: a chunked request whose trailer is `x_user` gets a 400 and the field never reaches
the upstream, where CGI-style backends read `x_user` as `x-user`."""

from _live import Proxy, Upstream, check, connect, http1_app, http_config, ok, read_response

REQUEST = (
    b"POST /upload HTTP/1.1\r\nHost: repro\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n0\r\nx_user: admin\r\n\r\n"
)

with (
    Upstream(http1_app(lambda request: (200, [], b"stored"))) as up,
    Proxy(http_config(up.port)) as proxy,
):
    with connect(proxy.port("web")) as sock:
        sock.sendall(REQUEST)
        answer = read_response(sock, "POST")
    seen = [name for entry in up.requests for name, _ in entry[4] if "_" in name]
status = answer[0] if answer else None
check(not seen, f"the upstream received the trailer field(s) {seen} (the client got {status})")
check(status == 400, f"a request with the trailer x_user got {status} instead of 400")
ok("the trailer x_user was refused with a 400 and never reached the upstream")
