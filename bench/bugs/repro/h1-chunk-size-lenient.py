"""HTTP/1.1 chunked framing: a chunk-size is 1*HEXDIG (RFC 9112 7.1); a request whose chunk-size line
holds anything else is refused with 400 and nothing reaches the upstream."""

from _live import Proxy, Upstream, check, exchange, http1_app, http_config, ok

BAD_SIZES = [b"0x5", b"+5", b"5 ", b" 5", b"0_5", b"-0"]

with Upstream(http1_app(lambda request: (200, [], b"stored"))) as up, Proxy(http_config(up.port)) as proxy:
    answers = {}
    for size in BAD_SIZES:
        raw = (
            b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\nhello\r\n0\r\n\r\n"
        )
        answers[size] = exchange(proxy.port("web"), raw).split(b"\r\n", 1)[0]
    reached = [r[:2] for r in up.requests]
accepted = [size for size, line in answers.items() if not line.startswith(b"HTTP/1.1 400")]
check(
    not accepted,
    f"chunk sizes that are not 1*HEXDIG were accepted: {accepted} "
    f"(status lines {[answers[s] for s in accepted]}; the upstream saw {reached})",
)
ok(f"every malformed chunk-size line got 400 ({len(BAD_SIZES)} forms), nothing reached the upstream")
