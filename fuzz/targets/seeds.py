"""Writes the seed corpora of the codec harnesses: `python -m fuzz.targets.seeds [NAME...]`.

Seeds are real traffic and known cases: requests shaped like curl's and browsers', responses of
common servers, the smuggling cases of tests/proxy/http/test_h1_smuggling.py (ANCHORS.md's classes), HTTP/2
client captures made with the `h2` library, and action scripts for the structured harnesses.
Files are named by content (sha1), so re-running is idempotent and never removes crash seeds.
"""

import hashlib
import importlib.util
import sys
from pathlib import Path

from fuzz.harness import REPO_ROOT

CURL = b"User-Agent: curl/8.5.0\r\nAccept: */*\r\n"
BROWSER = (
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n"
    b"Connection: keep-alive\r\nUpgrade-Insecure-Requests: 1\r\n"
)

REQUESTS = {
    "curl_get": b"GET / HTTP/1.1\r\nHost: example.com\r\n" + CURL + b"\r\n",
    "curl_get_query": b"GET /search?q=proxy&lang=en HTTP/1.1\r\nHost: example.com:8080\r\n" + CURL + b"\r\n",
    "curl_head": b"HEAD /index.html HTTP/1.1\r\nHost: example.com\r\n" + CURL + b"\r\n",
    "curl_post_form": b"POST /login HTTP/1.1\r\nHost: example.com\r\n"
    + CURL
    + b"Content-Length: 27\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n"
    b"user=alice&password=secret1",
    "curl_put_expect": b"PUT /upload/f.bin HTTP/1.1\r\nHost: example.com\r\n"
    + CURL
    + b"Content-Length: 4\r\nExpect: 100-continue\r\n\r\n\x00\x01\x02\x03",
    "chunk_ext_quoted_separators": b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b'3;a="b;c=d";e\r\nabc\r\n0\r\n\r\n',
    # curl --http2 on http:// offers h2c; the proxy answers in HTTP/1.1 and keeps the connection.
    "curl_h2c_upgrade_offer_pipelined": b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
    b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
    "curl_chunked_upload": b"POST /stream HTTP/1.1\r\nHost: example.com\r\n"
    + CURL
    + b"Transfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n"
    b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n",
    "curl_http10": b"GET /old HTTP/1.0\r\nHost: example.com\r\n" + CURL + b"\r\n",
    "curl_absolute_form": b"GET http://example.com/proxy/path?x=1 HTTP/1.1\r\nHost: example.com\r\n"
    + CURL
    + b"Proxy-Connection: Keep-Alive\r\n\r\n",
    "options_asterisk": b"OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "browser_get": b"GET /a/b.html HTTP/1.1\r\nHost: www.example.org\r\n" + BROWSER + b"\r\n",
    "pipelined_three": b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n"
    b"abcGET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "keepalive_then_close": b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, x-hop\r\nX-Hop: 1\r\n"
    b"TE: trailers\r\n\r\nDELETE /r HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "leading_crlf": b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "obs_text_value": b"GET / HTTP/1.1\r\nHost: x\r\nX-Name: caf\xc3\xa9\r\n\r\n",
    "truncated_body": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
    "upgrade_websocket": b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
}

RESPONSES = {
    "nginx_ok": b"HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
    b"Content-Type: text/html\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\n<html></html>",
    "chunked_trailers": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
    b'4\r\nwiki\r\n5;e="v"\r\npedia\r\n0\r\nX-Sum: 9\r\n\r\n',
    "continue_then_ok": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "early_hints": b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    "not_modified": b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nContent-Length: 99\r\n\r\n',
    "http10_until_close": b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbody until the connection closes",
    # Responses that end their connection although their body has a length (RFC 9112 9.6, 9.3): an
    # origin with keep-alive off, and an HTTP/1.0 one; the client must not send another request there.
    "closing_ok": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    "http10_with_length": b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "no_reason": b"HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n",
    "redirect": b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://example.com/\r\nContent-Length: 0\r\n\r\n",
    "truncated": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part",
    # A 204 has no body (RFC 9110 8.6): a length there frames the next response out of its bytes.
    "no_content_with_length": b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"
    b"helloHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "no_content_chunked": b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "no_content_zero_length": b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
    # RFC 9110 6.5.1 keeps these out of trailers: a recipient drops them, the response still counts.
    "trailers_not_allowed": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
    b"Content-Length: 5\r\nSet-Cookie: a=b\r\nConnection: close\r\nX-Sum: 7\r\n\r\n",
}


def _smuggling_cases():
    """The cases of tests/proxy/http/test_h1_smuggling.py (read from the test module, not copied)."""
    path = REPO_ROOT / "tests" / "proxy" / "http" / "test_h1_smuggling.py"
    spec = importlib.util.spec_from_file_location("_smuggling_cases", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    chunked = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    heads = {f"smuggle_{k}": v for k, v in module.HEAD_CASES.items()}
    chunks = {
        f"smuggle_chunk_{k}": chunked + v + b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        for k, v in module.CHUNK_CASES.items()
    }
    responses = {f"smuggle_{k}": v for k, v in module.RESPONSE_CASES.items()}
    return {**heads, **chunks}, responses


def h1_server() -> dict[str, bytes]:
    return {**REQUESTS, **_smuggling_cases()[0]}


def h1_client() -> dict[str, bytes]:
    return {**RESPONSES, **_smuggling_cases()[1]}


def _h2_client(build) -> bytes:
    """What an h2 library client sends for one scripted exchange (a capture without a socket)."""
    import h2.config
    import h2.connection

    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    conn.initiate_connection()
    build(conn)
    return conn.data_to_send()


def _req(path=b"/", method=b"GET", extra=()):
    return [
        (b":method", method),
        (b":scheme", b"https"),
        (b":authority", b"example.com"),
        (b":path", path),
        (b"user-agent", b"curl/8.5.0"),
        (b"accept", b"*/*"),
        *extra,
    ]


def h2_captures() -> dict[str, bytes]:
    def get(c):
        c.send_headers(1, _req(), end_stream=True)

    def post(c):
        c.send_headers(1, _req(b"/up", b"POST", [(b"content-type", b"text/plain"), (b"content-length", b"11")]))
        c.send_data(1, b"hello world", end_stream=True)

    def trailers(c):
        c.send_headers(1, _req(b"/grpc", b"POST", [(b"te", b"trailers"), (b"content-type", b"application/grpc")]))
        c.send_data(1, b"\0\0\0\0\x05hello")
        c.send_headers(1, [(b"grpc-status", b"0")], end_stream=True)

    def several(c):
        for sid in (1, 3, 5):
            c.send_headers(sid, _req(b"/%d" % sid), end_stream=sid != 3)
        c.reset_stream(3)
        c.ping(b"12345678")
        c.increment_flow_control_window(1 << 20)

    def cookies(c):
        c.send_headers(1, _req(extra=[(b"cookie", b"a=1"), (b"cookie", b"b=2; c=3")]), end_stream=True)

    def continuation(c):
        c.send_headers(1, _req(extra=[(b"x-big-%d" % i, b"v" * 200) for i in range(100)]), end_stream=True)

    def smuggle_te(c):
        c.send_headers(1, _req(b"/", b"POST", [(b"content-length", b"5")]))
        c.send_data(1, b"hello0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n", end_stream=True)

    return {
        f"h2_{f.__name__}": _h2_client(f) for f in (get, post, trailers, several, cookies, continuation, smuggle_te)
    }


def h2_action_scripts(n: int = 24) -> dict[str, bytes]:
    """Action scripts found by a seeded random search, one per distinct outcome (the event kinds the
    two codecs produced), biased to scripts where the server saw requests."""
    import random

    from fuzz.oracles import InvariantViolation
    from fuzz.targets import h2pair

    rng = random.Random(1337)
    chosen: dict[tuple, bytes] = {}
    for _ in range(4000):
        data = rng.randbytes(rng.randint(16, 600))
        if data.startswith(b"PRI"):
            continue
        try:
            pair = h2pair.run(data)
        except InvariantViolation:
            continue  # a finding, not a seed
        kinds = (
            tuple(sorted({type(e).__name__ for e in pair.server.events}))
            + ("|",)
            + tuple(sorted({type(e).__name__ for e in pair.client.events}))
        )
        if "RequestHeaders" in kinds and kinds not in chosen:
            chosen[kinds] = data
        if len(chosen) >= n:
            break
    return {f"h2_actions_{i}": d for i, d in enumerate(chosen.values())}


def h2_codec() -> dict[str, bytes]:
    return {**h2_captures(), **h2_action_scripts()}


def http_translate() -> dict[str, bytes]:
    """Real h1 requests, h2 captures and structured h2 scripts (0x00 + FuzzedDataProvider bytes)."""
    import random

    rng = random.Random(4242)
    structured = {f"structured_h2_{i}": b"\0" + rng.randbytes(rng.randint(20, 200)) for i in range(12)}
    return {**h1_server(), **h2_captures(), **structured}


GENERATORS = {"h1_server": h1_server, "h1_client": h1_client, "h2_codec": h2_codec, "http_translate": http_translate}


def write(name: str, corpus: Path = REPO_ROOT / "corpus") -> int:
    out = corpus / name
    out.mkdir(parents=True, exist_ok=True)
    seeds = GENERATORS[name]()
    for data in seeds.values():
        (out / hashlib.sha1(data).hexdigest()).write_bytes(data)
    return len(seeds)


def main(argv: list[str]) -> int:
    names = argv or sorted(GENERATORS)
    unknown = [n for n in names if n not in GENERATORS]
    if unknown:
        print(f"unknown corpus {', '.join(unknown)}: expected one of {', '.join(sorted(GENERATORS))}", file=sys.stderr)
        return 2
    for name in names:
        print(f"corpus/{name}: {write(name)} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
