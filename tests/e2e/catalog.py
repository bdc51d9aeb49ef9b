"""The live regression catalog: hostile request streams and HTTP/2 abuse patterns, each with the
reaction the proxy must show. tests/test_e2e_catalog.py sends every entry's bytes in ONE TCP write
to `python -m proxy` (listener `entry.listener`, configured by LISTENERS) in front of a recording
upstream, then checks the entry's expectations:

  status     HTTP/1.1: the first response's status; HTTP/2: the :status on `stream`
  responses  HTTP/1.1: how many responses in all (1 = nothing after the rejected request is answered)
  closes     the proxy closes the connection after its answer (the reader waits for the close;
             otherwise it stops once `responses` responses, or HTTP/2 `stream`, are complete)
  rst        HTTP/2: the RST_STREAM error code on `stream`
  goaway     HTTP/2: the GOAWAY error code
  forwarded  False: not one byte reaches the upstream; True: something must; None: either
  upstream_has / upstream_lacks   byte strings the upstream's received bytes must / must not hold

and, for every entry, that the proxy process is still alive and its RSS grew by less than 64 MiB.

Adding an entry is one line in CATALOG. Tags in names: h1_/h2_ protocol; `i13dN` = issue 13 defect N.
"""

from dataclasses import dataclass

from e2e.wire import ENHANCE_YOUR_CALM, continuation_flood, get, h2, hpack_bomb, ping_flood, rapid_reset, \
    settings_flood
from fuzz.payloads import SMUGGLING
from test_h1_smuggling import CHUNK_CASES, HEAD_CASES


@dataclass(frozen=True)
class Entry:
    name: str
    send: bytes
    status: int | None = None
    responses: int | None = None
    closes: bool = False
    rst: int | None = None
    goaway: int | None = None
    forwarded: bool | None = False
    upstream_has: tuple = ()
    upstream_lacks: tuple = ()
    listener: str = "default"
    stream: int = 1


# Listener name -> extra http_connection_manager fields. Every listener routes exact "/admin" to a
# direct 403 and everything else to the recording upstream.
LISTENERS: dict[str, dict] = {
    "default": {},
}

# The smuggling classes of the sans-IO codec tests (test_h1_smuggling.py, also the h1_server
# harness's seeds) live there; here they go through the running proxy.
CHUNKED_HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

CATALOG: list[Entry] = [
    # Controls: what a well-behaved client gets (the catalog's checks can tell an answer from a refusal).
    Entry("h1_plain_get", b"GET /plain HTTP/1.1\r\nHost: h\r\n\r\n", status=200, responses=1, forwarded=True,
          upstream_has=(b"GET /plain HTTP/1.1\r\n",)),
    Entry("h1_exact_route_direct_403", b"GET /admin HTTP/1.1\r\nHost: h\r\n\r\n", status=403, responses=1),
    Entry("h2_plain_get", h2(get(1, b"/plain")), status=200, forwarded=True, upstream_has=(b"GET /plain HTTP/1.1\r\n",)),
    # HTTP/1.1 request smuggling (RFC 9112 6, 7): 400, close, nothing forwarded.
    *(Entry(f"h1_head_{name}", raw, status=400, responses=1, closes=True) for name, raw in HEAD_CASES.items()),
    *(Entry(f"h1_chunked_{name}", CHUNKED_HEAD + raw + SMUGGLED, status=400, responses=1, closes=True)
      for name, raw in CHUNK_CASES.items()),
    *(Entry(f"h1_payload_smuggling_{i}", b"POST /smuggle HTTP/1.1\r\nHost: x\r\n%s\r\n%s" % (head, body) + SMUGGLED,
            status=400, responses=1, closes=True) for i, (head, body) in enumerate(SMUGGLING)),
    # HTTP/2 floods: GOAWAY(ENHANCE_YOUR_CALM), memory bounded.
    Entry("h2_rapid_reset", rapid_reset(400), goaway=ENHANCE_YOUR_CALM, closes=True, forwarded=None),
    Entry("h2_continuation_flood", continuation_flood(2000), goaway=ENHANCE_YOUR_CALM, closes=True),
    Entry("h2_hpack_bomb", hpack_bomb(100), goaway=ENHANCE_YOUR_CALM, closes=True),
    Entry("h2_ping_flood", ping_flood(5000), goaway=ENHANCE_YOUR_CALM, closes=True),
    Entry("h2_settings_flood", settings_flood(5000), goaway=ENHANCE_YOUR_CALM, closes=True),
]
