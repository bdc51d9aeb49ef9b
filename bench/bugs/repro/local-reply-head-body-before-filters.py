"""A HEAD refused before the filters run (a header name with an underscore: 400) is answered like
any HEAD: no body (RFC 9110 9.3.2; an HTTP/2 client treats DATA on a HEAD response as malformed)."""

import h2.exceptions

from _live import H2Client, Proxy, Upstream, check, fail, http1_app, http_config, ok

with (
    Upstream(http1_app(lambda request: (200, [], b"served"))) as up,
    Proxy(http_config(up.port)) as proxy,
):
    client = H2Client(proxy.port("web"))
    sid = client.request("HEAD", "/", headers=[("x_forwarded_user", "alice")])
    try:
        answer = client.response(sid)
    except h2.exceptions.ProtocolError as exc:  # DATA on a HEAD response: h2 refuses the body
        fail(f"the 400 to a HEAD carried a body: {exc}")
    finally:
        client.close()
check(answer is not None, "the HEAD with an underscore header got no complete answer")
status, body = answer
check(status == 400, f"the HEAD with an underscore header got {status}, expected 400")
check(body == b"", f"the 400 to a HEAD carried a body: {body!r}")
ok("the 400 to the HEAD came without a body")
