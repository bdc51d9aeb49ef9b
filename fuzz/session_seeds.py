"""Seed corpus of the session harness, written as readable scripts.

    python -m fuzz.session_seeds [--out corpus/session]

Each seed is an exchange a real client and upstream would have (a TCP echo with half
close, a slow reader, a failed upstream, HTTP/1.1 requests and pipelines, HTTP/2
streams, smuggling attempts, rapid resets, buffers backed up and drained to their watermarks),
encoded with fuzz.session.encode_actions for every configuration of the pool it applies to
(TCP or HTTP scripts by the chain the session's first connection reaches). Every other filter
chain a connect action can reach gets two seeds of its own: a tour (send, time passes, the
upstream answers) and a flow-control script, on a second connection.
"""

import argparse
import hashlib
from dataclasses import replace
from pathlib import Path

from fuzz.session import DRAIN_LEVELS, Action as A, ConfigPool, connect_address, encode_actions

LEVEL = {name: i for i, (name, _) in enumerate(DRAIN_LEVELS)}

TCP = {
    "echo_half_close": [
        A("upstream_connect"),
        A("send", payload=b"ping\n" * 20, end_stream=True),
        A("upstream_read"),
        A("upstream_send", payload=b"PONG\n" * 20, end_stream=True),
        A("read"),
    ],
    "slow_reader": [
        A("upstream_connect"),
        A("upstream_send", payload=b"x" * 4096),
        A("read", value=7),
        A("upstream_send", payload=b"y" * 4096),
        A("read", value=100),
        A("advance", value=1_000),
        A("read"),
    ],
    "upstream_refused": [A("upstream_fail"), A("send", payload=b"lost"), A("read")],
    "idle_timeout": [A("upstream_connect"), A("send", payload=b"a"), A("upstream_read"), A("advance", value=120_000)],
    "client_reset": [A("upstream_connect"), A("send", payload=b"abc"), A("reset"), A("upstream_read")],
    "many_clients": [
        A("connect", value=8),
        A("connect", value=16),
        A("upstream_connect", 0),
        A("upstream_connect", 1),
        A("send", 1, payload=b"one"),
        A("send", 2, payload=b"two", end_stream=True),
        A("upstream_read", 1),
        A("upstream_read", 0),
    ],
    "delayed_first_byte": [
        A("send", payload=b"early"),
        A("advance", value=100),
        A("advance", value=1_000),
        A("upstream_connect"),
        A("upstream_read"),
    ],
    # Both directions backed up past the high watermark (small buffer limits), then drained by
    # a slow peer to each flow-control boundary in turn and refilled.
    "backpressure_boundaries": [
        A("upstream_connect"),
        A("upstream_send", payload=b"u" * 4096),
        A("read_to", value=LEVEL["high"]),
        A("read_to", value=LEVEL["low+1"]),
        A("read_to", value=LEVEL["low"]),
        A("upstream_send", payload=b"v" * 4096),
        A("read_to", value=LEVEL["low-1"]),
        A("send", payload=b"d" * 4096),
        A("send", payload=b"e" * 4096),
        A("upstream_read_to", value=LEVEL["high"]),
        A("upstream_read_to", value=LEVEL["low+1"]),
        A("upstream_read_to", value=LEVEL["low"]),
        A("upstream_read_to", value=LEVEL["low-1"]),
        A("read"),
        A("upstream_read"),
    ],
    # The client uploads and half-closes before the upstream reads; the upstream answers and ends its
    # side; the client reads it all (its connection closes, both ways done); the upstream reads last.
    "client_ends_first_upstream_reads_late": [
        A("upstream_connect"),
        A("send", payload=b"upload\n" * 500, end_stream=True),
        A("upstream_send", payload=b"done\n", end_stream=True),
        A("read"),
        A("upstream_read"),
    ],
}


def exchange(request: A, answer: A) -> list:
    """One HTTP exchange in the order real peers make it: the request, the upstream connects and reads
    it, answers, and the client reads."""
    return [request, A("upstream_connect"), A("upstream_read"), answer, A("read")]


def three_clients(upstream_settings: int, *requests: bytes) -> list:
    """Upstreams advertising `upstream_settings` (fuzz.peers.h2_peer.settings_from_byte); a first client's
    HTTP/1.1 request (template seed `requests[0]`) reaches its upstream, which reads it, then two more
    clients send theirs and a second upstream connection (if one is asked for) connects and reads."""
    first, *more = requests
    script = [A("upstream_settings", value=upstream_settings), A("send_http", value=0, payload=first)]
    script += [A("upstream_connect"), A("upstream_read")]
    for i, request in enumerate(more, 1):
        script += [A("connect"), A("send_http", i, value=0, payload=request)]
    return script + [A("upstream_connect"), A("upstream_read")]


def one_connection_each(*requests: A) -> list:
    """Each request on a connection of its own (the session's first, then one connect each), one
    upstream answer, and every client reads."""
    actions: list = []
    for i, request in enumerate(requests):
        actions += [A("connect")] if i else []
        actions.append(replace(request, target=i))
    answer = [A("upstream_connect"), A("upstream_read"), A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok")]
    return actions + answer + [A("read", i) for i in range(len(requests))]


def requests_in_turn(seed: bytes, n: int = 4) -> list:
    """A client's n requests one after another on its connection (each read, answered and taken before
    the next), the upstreams up: a ROUND_ROBIN cluster's requests take turns over its hosts, one
    connection each (fuzz.models.lb check_round_robin_requests); upstream i % (connections) serves."""
    script = [A("upstream_accept_next", value=n - 1)]
    for i in range(n):
        script += [A("send_request", payload=seed), A("upstream_read", i), A("upstream_respond", i), A("read")]
    return script


def turns_script(built):
    """requests_in_turn with the first request template seed (route: byte 1, host: byte 2, route
    fields: bit 4 of byte 4) that takes the configuration's requests to a ROUND_ROBIN cluster the
    model judges, or None: the same zero seed for every configuration reached one in 24."""
    from fuzz.models import lb
    from fuzz.models.session_oracle import bootstrap_of
    from fuzz.session import Session

    boot = bootstrap_of(built)
    if not any(c.lb_policy == lb.ROUND_ROBIN and len(c.endpoints) > 1 for c in boot.clusters):
        return None
    for route in range(16):
        for host in range(4):
            for fields in (0, 0x10):
                script = requests_in_turn(bytes([0, route, host, 0, fields, 0, 0, 0]))
                s = Session(built).run([A("connect")] + script)
                if lb.judged_requests(boot, s.ctx.stats.counters, s.requests_seen(), s.tcp_choices()):
                    return script
    return None


HTTP = {
    "h1_get": [
        A("send_http", value=0, payload=b"\x00\x00\x00\x00\x01"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x10\x00\x00hello world"),
        A("read"),
    ],
    # The server drains while an HTTP/2 request is forwarded and not yet answered: the answer still
    # reaches the client, then the connection closes (fuzz/session.py _drain; HTTP/1.1: below).
    "h2_drain_in_flight": [
        A("send_http", value=3, payload=b"\x01\x00\x00\x05\x00\x00\x00\x00hello"),
        A("upstream_connect"),
        A("upstream_read"),
        A("drain"),
        A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"),
        A("read"),
    ],
    "h1_post_chunked": [
        A("send_http", value=0, payload=b"\x01\x01\x01\x20\x00\x00\x00\x00" + b"body" * 8),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x05\x01\x00abcdef"),
        A("read"),
    ],
    # The upstream breaks off a chunked response after its head and one chunk: the client must not
    # read it as complete (fuzz/peers/cut_short.py).
    "upstream_breaks_off_chunked_body": [
        A("send_http", value=0, payload=b"\x00\x00\x00\x00\x01"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_send", payload=b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
        A("upstream_close"),
        A("read"),
    ],
    # The server drains while a request's head is half read: the request is still answered (with
    # connection: close), as Envoy's HTTP/1 stream exists from its first byte (fuzz/session.py _drain).
    "drain_while_a_head_arrives": [
        A("send", payload=b"GET / HTTP/1.1\r\nHo"),
        A("drain"),
        A("send", payload=b"st: a\r\n\r\n"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x10\x00\x00hello world"),
        A("read"),
    ],
    "h1_pipeline": [
        A("send_http", value=1, payload=b"\x03\x00\x01\x00\x00"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"),
        A("read"),
        A("upstream_http", value=0, payload=b"\x03"),
        A("read"),
    ],
    "h1_smuggling_cl_te": [A("send_http", value=2, payload=b"\x00"), A("upstream_connect"), A("read")],
    "h1_smuggling_chunk_hex": [A("send_http", value=2, payload=b"\x07"), A("upstream_connect"), A("read")],
    "h1_timeout": [
        A("send", payload=b"GET / HTTP/1.1\r\nHost: x\r\n"),
        A("advance", value=30_000),
        A("advance", value=120_000),
        A("read"),
    ],
    "h2_get": [
        A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x00"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x04\x00\x00ok"),
        A("upstream_http", value=1, payload=b"\x00\x03abc"),
        A("read"),
    ],
    "h2_rapid_reset": [A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x01")] * 12 + [A("read")],
    "h2_ping_flood": [A("send_http", value=4, payload=b"\x00pingpong")] * 12 + [A("read")],
    "h1_large_response_slow_reader": [
        A("send_http", value=0, payload=b"\x00"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_send", payload=b"HTTP/1.1 200 OK\r\nContent-Length: 8000\r\n\r\n" + b"r" * 4000),
        A("read_to", value=LEVEL["high"]),
        A("read_to", value=LEVEL["low"]),
        A("upstream_send", payload=b"s" * 4000),
        A("read_to", value=LEVEL["low-1"]),
        A("read"),
    ],
    "upstream_reset_mid_response": [
        A("send_http", value=0, payload=b"\x00"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_send", payload=b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
        A("upstream_reset"),
        A("read"),
    ],
    # A body with no length runs to the upstream's close (RFC 9112 6.3): the close completes it
    # (fuzz/delivery.py judges that it reaches the client; the proxy once read the close as a reset).
    "upstream_body_until_close": [
        A("send_http", value=0, payload=b"\x00"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_send", payload=b"HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nbody until the close"),
        A("upstream_close"),
        A("read"),
    ],
    # A refused request (400 and a close) to a client that never reads, then time passes: the
    # connection must close within Envoy's delayed_close_timeout (fuzz/closing.py judges it).
    "closing_client_never_reads": [
        A("send", payload=b"GET /a\\b HTTP/1.1\r\nHost: h\r\n\r\n"),
        A("advance", value=5000),
    ],
    # A whole response larger than a small buffer limit in one upstream read, the client not reading
    # yet (its write buffer goes over the high watermark as the exchange ends), then a second request
    # on the pooled connection (issue 13 defect 9's shape: liveness judges the pooled connection).
    "response_over_limit_then_reuse": [
        A("send_http", value=0, payload=b"\x00"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_send", payload=b"HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n" + b"r" * 3000),
        A("read"),
        A("send_http", value=0, payload=b"\x00"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"),
        A("read"),
    ],
    # Strict HTTP/2 peers with small SETTINGS (fuzz.peers.h2_peer.settings_from_byte): the client
    # 0x8D (MAX_CONCURRENT_STREAMS 1, INITIAL_WINDOW_SIZE 16, MAX_HEADER_LIST_SIZE 4096), the
    # upstreams 0x45 (MAX_CONCURRENT_STREAMS 1, INITIAL_WINDOW_SIZE 0, MAX_FRAME_SIZE 16385); two
    # uploads, answered by an HTTP/1.1 or (next script) an HTTP/2 upstream.
    "h2_small_settings_h1_upstream": [
        A("settings", value=0x8D),
        A("upstream_settings", value=0x45),
        A("send_http", value=3, payload=b"\x01\x01\x00\x20\x00\x00" + b"u" * 32),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x30\x00\x00" + b"d" * 48),
        A("read"),
        A("read"),
        A("send_http", value=3, payload=b"\x02\x02\x01\x20\x00\x00" + b"v" * 32),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x30\x00\x00" + b"e" * 48),
        A("read"),
        A("read"),
    ],
    "h2_small_settings_h2_upstream": [
        A("settings", value=0x8D),
        A("upstream_settings", value=0x45),
        A("send_http", value=3, payload=b"\x01\x01\x00\x20\x00\x00" + b"u" * 32),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_read"),
        A("upstream_http", value=1, payload=b"\x00\x30" + b"d" * 48),
        A("read"),
        A("read"),
        A("send_http", value=3, payload=b"\x02\x02\x01\x20\x00\x00" + b"v" * 32),
        A("upstream_read"),
        A("upstream_read"),
        A("upstream_http", value=1, payload=b"\x00\x30" + b"e" * 48),
        A("read"),
        A("read"),
    ],
    # A keep-alive client that does not read: a 4 KiB answer, whole in one read, leaves its write
    # buffer past the high watermark (limits up to ~4 KB), then it asks again and the second answer,
    # 1 MiB, must wait upstream too: a stream born while the client is backed up starts paused
    # (fuzz/held.py; Envoy's newStream).
    "backed_up_client_asks_again": [
        A("send_http", value=0, payload=b"\x00"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x00\x3c\x01" + b"K" * 16),
        A("send_http", value=0, payload=b"\x00"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x00\x3c\x09" + b"L" * 16),
        A("read"),
    ],
    # A client that reads but gives no HTTP/2 window back (settings 0x18: h2's default window, credit
    # withheld until the session settles: h2_peer.withholds_credit) opens three streams; each upstream
    # answers a 1 MiB body (fuzz/payloads.py LARGE_BODY_BITS, byte 3 = 9): the client's 64 KiB
    # connection window runs out and the rest waits in the proxy, which must bound it by the buffer
    # limit per connection (fuzz/held.py; the slow-read class of CVE-2019-9517).
    "h2_stalled_streams_large_bodies": [A("settings", value=0x18)]
    + [A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x00")] * 3
    + [A("upstream_connect", i) for i in range(3)]
    + [A("upstream_read", i) for i in range(3)]
    + [A("upstream_http", i, value=0, payload=b"\x00\x00\x3c\x09" + b"L" * 16) for i in range(3)]
    + [A("read"), A("read")],
    # The same with windows past h2's default (fuzz.peers.h2_peer.LARGE_WINDOWS): a client granting
    # 2^31-1 (and the largest HPACK table: 0x80) and upstreams granting 1 MiB, so the peers' limits
    # bound nothing and the proxy's own must keep what it holds for a client that reads one chunk
    # (fuzz/held.py; h2_wire_hpack_table_too_large).
    "h2_large_windows_slow_reader": [A("window", value=0x82), A("upstream_window", value=1)]
    + [A("send_http", value=3, payload=b"\x00\x00\x00\x05\x0e\x00" + b"U" * 16)] * 2
    + [A("upstream_connect", i) for i in range(2)]
    + [A("upstream_read", i) for i in range(2)]
    + [A("upstream_http", i, value=0, payload=b"\x00\x00\x3c\x09" + b"W" * 16) for i in range(2)]
    + [A("read")],
    # A chunked response ending in a trailer field (fuzz/payloads.py TRAILER_BIT), as gRPC status and
    # digests travel: it reaches every client whose framing carries trailers (judge: trailers_dropped).
    "upstream_response_trailers": exchange(
        A("send_http", value=0, payload=b"\x00"), A("upstream_http", value=0, payload=b"\x00\x05\x41\x07hello")
    ),
    # An HTTP/1.0 client (raw bytes: the templates speak HTTP/1.1) answered from a chunked upstream
    # response: the proxy must frame it by its close, with no Transfer-Encoding (RFC 9112 6.1, 6.3).
    "http10_close_delimited": exchange(
        A("send", payload=b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"),
        A("upstream_http", value=0, payload=b"\x00\x05\x01\x00hello"),
    ),
    # The same client, its upstream's chunked response broken off after one chunk: the proxy frames
    # the body by its close, so over TLS that close must come without a close_notify (RFC 9112 9.8;
    # fuzz/peers/cut_short.py check_tls_end, reached on the configurations whose first chain is TLS).
    "http10_upstream_breaks_off": [
        A("send", payload=b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_send", payload=b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
        A("read"),
        A("upstream_close"),
        A("read"),
    ],
    # A response to a `Connection: close` request, read 400 bytes every 200 ms: each read restarts the
    # delayed close timeout, so the client gets all of it, 3 s after the close began (fuzz/closing.py
    # judges a close by that timeout while the client was still taking bytes).
    "closing_response_slow_reader": [
        A("send_http", value=0, payload=b"\x00\x00\x00\x00\x02"),  # a routed GET with Connection: close
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_send", payload=b"HTTP/1.1 200 OK\r\nContent-Length: 6000\r\n\r\n" + b"s" * 3000),
        A("upstream_send", payload=b"s" * 3000),  # (a payload holds at most MAX_PAYLOAD bytes)
    ]
    + [A("read", value=400), A("advance", value=100), A("advance", value=100)] * 15,
    # A chunked request ending in a trailer field (fuzz/payloads.py REQUEST_TRAILER_BIT): it reaches an
    # upstream whose framing carries trailers (judge: peer_forwarded_trailers_dropped).
    "request_trailers": exchange(
        A("send_http", value=0, payload=b"\x00\x00\x00\x05\x20\x00\x00\x00hello"),
        A("upstream_http", value=0, payload=b"\x00\x02ok"),
    ),
    # An HTTP/2 client that has read the proxy's SETTINGS uploads 32 KiB in DATA frames as large as the
    # proxy advertised (fuzz/payloads.py LARGE_UPLOAD_BITS): where max_frame_size is over 16384, the
    # proxy must take frames up to it (RFC 9113 4.2; h2_wire_unearned_frame_size_error).
    "h2_large_frames_upload": [
        A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x00"),
        A("read"),
        A("send_http", value=3, payload=b"\x01\x00\x00\x04\x0f\x00" + b"U" * 16),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"),
        A("read"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"),
        A("read"),
    ],
    # An HTTP/2 upload streamed over several actions, without content-length (forwarded chunked to an
    # HTTP/1.1 upstream): 3 bytes, an empty DATA frame once the upstream request started, then the end
    # (fuzz/payloads.py STREAMING_BIT, h2_control kind 3).
    "h2_streamed_upload": [
        A("send_http", value=3, payload=b"\x01\x00\x00\x03\x40\x00abc"),
        A("upstream_connect"),
        A("upstream_read"),
        A("send_http", value=4, payload=b"\x03\x00"),
        A("upstream_read"),
        A("send_http", value=4, payload=b"\x07\x04tail"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"),
        A("read"),
    ],
    # HTTP/2 uploads in padded DATA frames (RFC 9113 6.1; fuzz/payloads.py PADS): 13 bytes padded with
    # 200 (byte 3 = 213), then a streamed one whose last frame carries 200 bytes of padding (h2_control
    # byte 0 = 0x2F). Padding is flow controlled: the proxy credits it back as it does the data.
    "h2_padded_upload": [
        A("send_http", value=3, payload=b"\x01\x00\x00\xd5\x00\x00" + b"P" * 13),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"),
        A("read"),
        A("send_http", value=3, payload=b"\x01\x00\x00\x03\x40\x00abc"),
        A("upstream_read"),
        A("send_http", value=4, payload=b"\x2f\x04tail"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"),
        A("read"),
    ],
    # A client opens with a zero window and withholds credit (settings 0x1C), reads the response head
    # while its body waits in the proxy, then raises INITIAL_WINDOW_SIZE by SETTINGS (0x14: 65535, credit
    # given): RFC 9113 6.9.2, the window of every open stream grows and the body must go on without a
    # WINDOW_UPDATE (curl/curl#11450's class).
    "h2_window_raised_by_settings": [
        A("settings", value=0x1C),
        A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x00"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x30\x00\x00" + b"w" * 48),
        A("read"),
        A("settings", value=0x14),
        A("read"),
        A("read"),
    ],
    # Uploads (a body with content-length, a chunked one) whose upstream reads them and stays silent past
    # the route timeout (Envoy's default 15 s) before it answers: the proxy must have answered 504 first.
    # Every upstream connection attempt refused (at most num_retries 5 allows 6): the request is
    # retried as its route's retry policy says, then answered 503 (fuzz.models.retry).
    "upstream_connect_failures_retried": [
        A("send_http", value=0, payload=b"\x00\x02\x00\x00\x10"),  # with the fields a route matches on
        *[A("upstream_fail")] * 6,
        A("read"),
    ],
    "upstream_silent_past_route_timeout": [
        A("send_http", value=0, payload=b"\x01\x00\x00\x05\x01\x00\x00\x00hello"),
        A("upstream_connect"),
        A("upstream_read"),
        A("advance", value=30_000),
        A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"),
        A("read"),
        A("send_http", value=0, payload=b"\x01\x00\x00\x05\x00\x00\x00\x00hello"),
        A("upstream_connect"),
        A("upstream_read"),
        A("advance", value=120_000),
        A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"),
        A("read"),
    ],
    # The upstream sends its head and half a body, then the rest 30 s later: the route timeout (15 s by
    # default) spans the whole response (Envoy's RouteAction.timeout), so the client must not get it
    # complete (found black-box: the timer stopped at the head; model_route_timeout_late).
    "upstream_body_stalls_past_route_timeout": [
        A("send_http", value=0, payload=b"\x00"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_send", payload=b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"),
        A("read"),
        A("advance", value=30_000),
        A("upstream_send", payload=b"world"),
        A("read"),
    ],
    # Three clients on an upstream that allows 2 streams (upstream settings 0x02): where the cluster is
    # HTTP/2 with few connections the third request queues, and the first answer must let it go while
    # the second stream stays open (fuzz.liveness.check_pool_queues).
    "h2_upstream_slot_freed": three_clients(0x02, b"\x00", b"\x00", b"\x00")
    + [
        A("upstream_http", value=1, payload=b"\x00\x02ok"),
        A("upstream_read"),
        A("read", 0),
    ],
    # Two clients' requests queue while the upstream connection is still connecting (an HTTP/2 cluster
    # counts it as room for many streams); its SETTINGS then allow one stream (upstream settings 0x01):
    # the second request needs a connection of its own (Envoy's pool on onSettings), else it waits for
    # the first to end (fuzz.liveness.check_pool_queues).
    "h2_upstream_settings_leave_no_room": [
        A("upstream_settings", value=0x01),
        A("send_http", value=0, payload=b"\x00"),
        A("connect"),
        A("send_http", 1, value=0, payload=b"\x00"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_connect"),
        A("upstream_read"),
        A("read", 0),
        A("read", 1),
    ],
    # Hostile shapes (fuzz/hostile.py), one connection each: h1 targets /admin#frag, /a\b, /a/../admin,
    # Host u@evil, Transfer_Encoding; h2 trailers content-length and an invalid name, :authority h/evil.
    "hostile_shapes": [
        A("send_http", 0, value=0, payload=b"\x00\x00\x00\x00\x00\x00\x00\x01"),
        A("connect"),
        A("send_http", 1, value=0, payload=b"\x00\x00\x00\x00\x00\x00\x00\x02"),
        A("connect"),
        A("send_http", 2, value=0, payload=b"\x00\x00\x00\x00\x00\x00\x00\x04"),
        A("connect"),
        A("send_http", 3, value=0, payload=b"\x00\x00\x00\x00\x00\x00\x00\x0d"),
        A("connect"),
        A("send_http", 4, value=0, payload=b"\x00\x00\x00\x00\x00\x00\x00\x12"),
        A("connect"),
        A("send_http", 5, value=3, payload=b"\x01\x00\x00\x08\x00\x2e" + b"t" * 8),
        A("send_http", 5, value=3, payload=b"\x01\x00\x00\x08\x00\x32" + b"t" * 8),
        A("send_http", 5, value=3, payload=b"\x00\x00\x00\x00\x00\x18"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"),
        A("read", 0),
        A("read", 1),
        A("read", 2),
        A("read", 3),
        A("read", 4),
        A("read", 5),
    ],
}

# h1_get with the server's drain between the upstream reading the request and answering it.
HTTP["drain_h1_in_flight"] = HTTP["h1_get"][:3] + [A("drain")] + HTTP["h1_get"][3:]

# The path options' shapes (fuzz/hostile.py), one connection each: /a%2Fb (escaped slash),
# //double//../slash (empty segments before a dot segment), /%61dmin (an escaped unreserved character);
# the session model predicts the 400, 307 or the route of the rewritten path (fuzz/models/paths.py).
HTTP["hostile_paths"] = one_connection_each(
    A("send_http", value=0, payload=b"\x00\x00\x00\x00\x00\x00\x00\x05"),
    A("send_http", value=0, payload=b"\x00\x00\x00\x00\x00\x00\x00\x06"),
    A("send_http", value=0, payload=b"\x00\x00\x00\x00\x00\x00\x00\x07"),
)

# The late shapes (fuzz/hostile.py LATE), one connection each: Host ":80" and an ftp:// target over
# HTTP/1.1, :authority ":80" and :scheme ftp over HTTP/2; refused on both codecs (RFC 9110 4.2.1; the
# proxy serves http(s) only), judged by the peers (peer_forwarded_authority, peer_forwarded_scheme).
HTTP["hostile_late_shapes"] = one_connection_each(
    A("send_http", value=0, payload=b"\x00\x00\x00\x00\x00\x00\x00\x1f"),
    A("send_http", value=0, payload=b"\x00\x00\x00\x00\x00\x00\x00\x20"),
    A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x3e"),
    A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x40"),
)

# A query holding a URL with "//" and a dot segment (fuzz/hostile.py LATE), over HTTP/1.1 and HTTP/2:
# the path options (normalize_path, merge_slashes) rewrite the path only, the peers compare the query.
HTTP["hostile_query"] = one_connection_each(
    A("send_http", value=0, payload=b"\x00\x00\x00\x00\x00\x00\x00\x21"),
    A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x42"),
)

# The late shapes after those (fuzz/hostile.py LATE), over HTTP/1.1 and HTTP/2, one connection each:
# a path traversal spelled with percent-encoded dots (normalize_path must resolve it before RBAC and
# routing, and the upstream gets no dot segment: fuzz/models/paths.py), and a 6 KiB query, a target
# alone larger than a small max_request_headers_kb (431, never forwarded).
HTTP["hostile_encoded_dot_segments"] = one_connection_each(
    A("send_http", value=0, payload=b"\x00\x00\x00\x00\x00\x00\x00\x22"),
    A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x44"),
)
HTTP["long_target"] = one_connection_each(
    A("send_http", value=0, payload=b"\x00\x00\x00\x00\x00\x00\x00\x23"),
    A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x46"),
)

# A HEAD answered by an origin that sends no Content-Length (the head a GET would get, its body left
# out: fuzz/payloads.py h1_response_until_close with no body, keep-alive), then a GET on the same
# connection: nothing may follow the HEAD response's head (RFC 9110 9.3.2), whatever framing the proxy
# gives it, and the GET's response must read clean (the strict client's parser knows each method).
HTTP["head_without_length_then_get"] = [
    A("send_http", value=0, payload=b"\x03"),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_http", value=2, payload=b"\x00\x00\x00"),
    A("read"),
    A("send_http", value=0, payload=b"\x00"),
    A("upstream_read"),
    A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"),
    A("read"),
]

# The upstream ends first: the client sent its request and half-closed, the upstream answers and closes
# before the client reads; everything it sent must still reach the client (tcp_proxy flushes).
TCP["upstream_closes_before_the_client_reads"] = [
    A("upstream_connect"),
    A("send", payload=b"ping\n", end_stream=True),
    A("upstream_read"),
    A("upstream_send", payload=b"reply\n" * 500, end_stream=True),
    A("read"),
]
# A black-holed upstream: TCP connects, nothing ever answers (a TLS cluster's handshake never ends),
# so the connect timeout (or the route timeout) must end the request (fuzz/models/timeouts.py).
HTTP["upstream_black_hole"] = [
    A("send_http", value=0, payload=b"\x00\x00\x00\x00\x01"),
    A("upstream_connect_silent"),
    A("advance", value=1_000),
    A("advance", value=5_000),
    A("read"),
]
# A chunked upload ended by a trailer field (checksums, gRPC-style status) whose upstream reads it and
# never answers: the request is complete however it ended, so request_timeout_ms answers 504, never a
# 408 (RFC 9110 15.5.9: 408 is for a request not received whole; fuzz/models/timeouts.py).
HTTP["h1_trailer_upload_upstream_silent"] = [
    A("send_http", value=0, payload=b"\x01\x00\x00\x05\x20\x00\x00\x00hello"),
    A("upstream_connect"),
    A("upstream_read"),
    A("advance", value=1_000),
    A("advance", value=1_000),
    A("read"),
]
# An HTTP/2 upstream shuts down gracefully with a request in flight and still answers it (RFC 9113 6.8);
# on HTTP/1.1 upstreams the GOAWAY does nothing.
HTTP["h2_upstream_goaway_in_flight"] = [
    A("send_http", value=0, payload=b"\x00\x00\x00\x00\x01"),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_goaway"),
    A("upstream_http", value=1, payload=b"\x00\x05hello"),
    A("read"),
]

# An upload that trickles: a byte every 2 minutes, then one 60 s later, 5 minutes in all, as long as the
# default 5-minute stream idle timeout but never quiet that long; the upload is activity (fuzz/models/timeouts.py). The
# client reads between its writes, as one that waits for an early answer does.
HTTP["h1_trickled_upload"] = [
    A("send", payload=b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\n"),
    A("upstream_connect"),
    A("advance", value=120_000),
    A("read"),
    A("send", payload=b"a"),
    A("advance", value=120_000),
    A("read"),
    A("send", payload=b"b"),
    A("advance", value=30_000),
    A("read"),
    A("advance", value=30_000),
    A("read"),
    A("send", payload=b"c"),
    A("upstream_read"),
    A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"),
    A("read"),
]


def _answered_before_upload_ends(upstream_kind: int) -> list:
    """An HTTP/2 client streams an upload (fuzz/payloads.py STREAMING_BIT) and its upstream answers in
    full before the upload ends (RFC 9113 8.1: a server may answer early): the response reaches the
    client, the upload's rest is abandoned upstream (Envoy's router resets it: liveness
    stall_upstream_exchange_orphaned), then the client ends the upload and asks again on the same
    client. One script per upstream protocol (0: HTTP/1.1, 1: HTTP/2): the other one's bytes would end
    the connection and hide the exchange left open. The HTTP/1.1 upstream connection cannot abandon an
    upload and go on, so the next request is answered on a new one (upstream 1)."""
    answer = A("upstream_http", value=upstream_kind, payload=b"\x00\x02ok" if upstream_kind else b"\x00\x02\x00\x00ok")
    again = exchange(A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x00"), answer)
    if not upstream_kind:
        again = [a if a.op not in ("upstream_read", "upstream_http") else replace(a, target=1) for a in again]
    return (
        exchange(A("send_http", value=3, payload=b"\x01\x00\x00\x03\x40\x00abc"), answer)
        + [A("send_http", value=4, payload=b"\x07\x04tail"), A("upstream_read"), A("read")]
        + again
    )


HTTP["h2_answered_before_upload_ends_h1_upstream"] = _answered_before_upload_ends(0)
HTTP["h2_answered_before_upload_ends_h2_upstream"] = _answered_before_upload_ends(1)

# Requests whose field section is over an HTTP/2 upstream's SETTINGS_MAX_HEADER_LIST_SIZE (upstream settings
# 0x80: 4096; fuzz/payloads.py LARGE_FIELD_BIT: a 4 KiB cookie, then a 4 KiB trailer): RFC 9113 6.5.2,
# the proxy must not send them (h2_wire_header_list_too_large) and must still answer each (431;
# stall_request_without_outcome). A first request is in flight so that the upstream's SETTINGS are known
# when the large ones come (before them the limit is unknown: RFC 9113 6.5.2 lets the request go).
HTTP["request_section_too_large_for_upstream"] = three_clients(
    0x80, b"\x00\x00\x00\x00\x10", b"\x00\x00\x00\x00\x50\xc0\x01", b"\x01\x00\x00\x05\x70\xc0\x02\x00hello"
) + [
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_http", value=1, payload=b"\x00\x02ok"),  # HTTP/2 first: the upstreams this script is for
    A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"),
    A("read", 0),
    A("read", 1),
    A("read", 2),
]


# An HTTP/2 client that accepts 4096 bytes of fields (settings 0x80: SETTINGS_MAX_HEADER_LIST_SIZE) and an
# HTTP/1.1 upstream answering with a 4 KiB Set-Cookie, then with a 4 KiB trailer (fuzz/payloads.py
# LARGE_RESPONSE_FIELD_BIT): RFC 9113 6.5.2, the proxy must not send either (h2_wire_header_list_too_large);
# the head is replaced by a 502, the trailers end the stream with a reset (fuzz/delivery.py leaves those out).
# The first upstream connection ends with the 502 (the response was abandoned): the second answers.
HTTP["h2_response_section_too_large_for_client"] = (
    [A("settings", value=0x80)]
    + exchange(A("send_http", value=3, payload=b"\x00" * 6), A("upstream_http", value=0, payload=b"\x00\x02\x80\x00ok"))
    + [A("send_http", value=3, payload=b"\x00" * 6), A("upstream_connect"), A("upstream_read", 1)]
    + [A("upstream_http", 1, value=0, payload=b"\x00\x05\xc1\x07hello"), A("read")]
)

# An upstream that answers 100 Continue before its final response (byte 0 = 6 of the HTTP/1.1 response
# template), to an HTTP/1.1 upload with Expect: 100-continue and to an HTTP/2 one: the 1xx is the
# upstream's own (the manager answers the client's expectation itself), and the client gets the final
# response once (HttpFilterContractError, the peers' judge). No committed input had an upstream send a 1xx.
CONTINUE, OK = A("upstream_http", value=0, payload=b"\x06"), A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok")
HTTP["upstream_100_continue"] = (
    exchange(A("send_http", value=0, payload=b"\x01\x00\x00\x05\x19\x00\x00\x00hello"), CONTINUE)
    + [OK, A("read"), A("connect"), A("send_http", 1, value=3, payload=b"\x01\x00\x00\x05\x00\x00hello")]
    + [A("upstream_read"), CONTINUE, OK, A("read", 1)]
)

# The read sizes (fuzz.session.READ_SIZES indexes) a script is written with, when not 16 KiB and 7 bytes:
# megabytes in 7-byte reads would make a seed take seconds.
SCRIPT_READ_SIZES = {
    "h2_stalled_streams_large_bodies": (0,),
    "h2_large_windows_slow_reader": (0,),
    "backed_up_client_asks_again": (0,),
    "hostile_paths": (0,),
    "closing_response_slow_reader": (0,),
    "h2_answered_before_upload_ends_h1_upstream": (0,),
    "h2_answered_before_upload_ends_h2_upstream": (0,),
    "hostile_encoded_dot_segments": (0,),
    "long_target": (0,),
    "head_without_length_then_get": (0,),
}


# One tour of a filter chain the session's first (implicit) connection does not reach: its own
# connection sends, time passes (delays and throttles end, filters resume iteration), the
# upstream answers; then the chain's flow control (a second script). Targets are 1: the
# tour's connection and, with it, its upstream.
CHAIN_TOUR = {
    False: [
        A("send", payload=b"early"),
        A("advance", value=100),
        A("advance", value=1_000),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_send", payload=b"late"),
        A("read"),
        A("advance", value=5_000),
        A("read"),
    ],
    True: [
        A("send_http", value=0, payload=b"\x00"),
        A("advance", value=100),
        A("advance", value=1_000),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"),
        A("read"),
        A("advance", value=5_000),
        A("read"),
    ],
}
CHAIN_FLOW = {False: TCP["backpressure_boundaries"], True: HTTP["h1_large_response_slow_reader"]}
MAX_TOUR_CONNECT = 256


def _chain_of(built, choice, variant):
    listener, local, source, server_name = connect_address(built, choice, variant)
    return listener.select_filter_chain(local, (source, 40000), server_name)


def _is_http(chain) -> bool:
    return "http_connection_manager" in chain.filter_names


# connect_tls modes that reach chains a plain connect cannot (fuzz/tls_session.py): TLS with SNI and
# ALPN h2 + http/1.1, and with the test CA's client certificate; behind a PROXY v1 header; clear
# text behind a PROXY header.
TLS_TOUR_MODES = (0b00100111, 0b00101111, 0b01100111, 0b01000000)


def _tls_connect(chain, variant, choice, h2: bool = False):
    """The connect action a script on `chain` starts with: TLS for a chain that terminates it, with
    the client certificate, SNI and the ALPN of the script's protocol (h2 or http/1.1)."""
    if chain.tls is None:
        return A("connect", variant, value=choice)
    return A("connect_tls", variant, value=choice, payload=bytes([0b00101001 | (0b010 if h2 else 0b100)]))


def _reached_by(built, connect):
    """The chain a connect_tls action reaches on a listener with listener filters (run, not
    computed: the filters decide on the bytes), or None."""
    from fuzz.session import Session

    s = Session(built)
    s.apply(connect)
    s.dispatcher.run_posted()
    s.check()
    conn = s.downstream[-1].conn if s.downstream else None
    name = conn.stream_info.get("filter_chain") if conn is not None else None
    listener = built.listeners[connect.value % len(built.listeners)]
    if name == "default_filter_chain":
        return listener.default_filter_chain
    return listener.filter_chains[int(name[14:-1])] if name else None


def chain_tours(built):
    """(connect action, chain is HTTP) for every filter chain of every listener that a connect
    action can reach, except the one the implicit first connection reaches."""
    if not built.listeners:
        return []
    seen = {id(_chain_of(built, 0, 0))}
    tours = []
    for choice in range(MAX_TOUR_CONNECT):
        for variant in range(MAX_TOUR_CONNECT):
            if built.listeners[choice % len(built.listeners)].listener_filters:
                continue
            chain = _chain_of(built, choice, variant)
            if chain is None or id(chain) in seen:
                continue
            seen.add(id(chain))
            tours.append((_tls_connect(chain, variant, choice), _is_http(chain)))
    for choice, listener in enumerate(built.listeners[:8]):
        if not listener.listener_filters:
            continue
        for variant in range(32):
            for mode in TLS_TOUR_MODES:
                connect = A("connect_tls", variant, value=choice, payload=bytes([mode]))
                chain = _reached_by(built, connect)
                if chain is not None and id(chain) not in seen:
                    seen.add(id(chain))
                    tours.append((connect, _is_http(chain)))
    return tours


CN_ONLY_CERTIFICATE = 0b00011000  # connect_tls mode bits 3-4: the cn-client certificate


def cn_client_tours(built):
    """Connect actions presenting the cn-client certificate (client.proxyfuzz.test only as its
    subject CN) to each chain reached by TLS whose match_subject_alt_names lists client.proxyfuzz.test
    and that trusts the certificate's CA (the proxy refuses it for its SANs alone): Envoy matches SANs
    only, so each such client must be refused (tls_downstream_client_auth)."""
    from fuzz.session import Session
    from proxy.tools.certs import CLIENT_DNS

    first = _chain_of(built, 0, 0) if built.listeners else None
    connects = [_tls_connect(first, 0, 0)] if first is not None else []
    connects += [connect for connect, _ in chain_tours(built)]
    out = []
    for connect in connects:
        if connect.op != "connect_tls" or not connect.payload[0] & 1:
            continue
        cn_only = replace(connect, payload=bytes([connect.payload[0] & ~0b00011000 | CN_ONLY_CERTIFICATE]))
        chain = _reached_by(built, cn_only)
        if chain is None or chain.tls is None or CLIENT_DNS not in chain.tls.match_sans:
            continue
        refused = Session(built).run([cn_only]).downstream[-1].conn.stream_info.get("failure")
        if refused == "tls_fail_verify_san":  # not for its CA (a chain trusting the other CA)
            out.append(cn_only)
    return out


def retarget(script, to: int = 1):
    """The script acting on connection `to` (and its upstream) instead of connection 0."""
    return [a if a.op in ("connect", "advance") else replace(a, target=a.target + to) for a in script]


def write_seeds(out: Path, pool: ConfigPool, only: set | None = None) -> int:
    """Every seed, or with `only` the seeds of those script names alone (new scripts, without
    rewriting the rest)."""
    out.mkdir(parents=True, exist_ok=True)
    count = 0

    def write(data, stem):
        digest = hashlib.sha1(data).hexdigest()[:12]
        (out / f"{stem}-{digest}").write_bytes(data)

    for index, name in enumerate(pool.names):
        built = pool.built[index]
        first = _chain_of(built, 0, 0) if built.listeners else None
        if first is not None:
            http = _is_http(first)
        else:  # the first connection is refused: the scripts of the configuration's kind
            http = any(_is_http(chain) for listener in built.listeners for chain in listener.filter_chains)
        for script_name, script in (HTTP if http else TCP).items():
            if only is not None and script_name not in only:
                continue
            if first is not None and first.tls is not None:  # the implicit connect is clear text: add a TLS one
                script = [_tls_connect(first, 0, 0, h2=script_name.startswith("h2"))] + retarget(script)
            for read_size in SCRIPT_READ_SIZES.get(script_name, (0, 2)):
                write(
                    encode_actions(script, config=index, read_size=read_size),
                    f"{Path(name).stem}-{script_name}-r{read_size}",
                )
                count += 1
        turns = turns_script(built) if http and (only is None or "requests_take_turns" in only) else None
        if turns is not None:
            write(encode_actions(turns, config=index), f"{Path(name).stem}-requests_take_turns-r0")
            count += 1
        if only is None or "cn_client_refused" in only:
            for n, connect in enumerate(cn_client_tours(built)):
                script = [connect, A("send", 1, payload=b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"), A("read", 1)]
                write(encode_actions(script, config=index), f"{Path(name).stem}-cn_client_refused{n + 1}-r0")
                count += 1
        if only is not None:
            continue
        for n, (connect, chain_http) in enumerate(chain_tours(built)):
            for kind, script in (("tour", CHAIN_TOUR[chain_http]), ("flow", CHAIN_FLOW[chain_http])):
                write(
                    encode_actions([connect] + retarget(script), config=index),
                    f"{Path(name).stem}-chain{n + 1}-{kind}-r0",
                )
                count += 1
        for n, script in enumerate(edge_scripts(built)):
            write(encode_actions(script, config=index), f"{Path(name).stem}-edges{n + 1}-r0")
            count += 1
    return count


def edge_scripts(built):
    """Clients from every edge of the configuration's source prefixes (fuzz.models.session_oracle's
    edge_sources, reached by connect values 8k + listener) to every listener, each sending one
    request or a few bytes: the RBAC and filter chain models judge each connection."""
    from fuzz.models.session_oracle import edge_sources
    from fuzz.session import MAX_CONNECTIONS, SOURCES

    sources = edge_sources(built, SOURCES)
    connects = [
        A("connect", value=8 * k + j)
        for k in range(len(SOURCES), min(len(sources), 32))
        for j in range(min(len(built.listeners), 8))
    ]
    per_script = MAX_CONNECTIONS - 1
    scripts = []
    for start in range(0, len(connects), per_script):
        script = []
        for i, connect in enumerate(connects[start : start + per_script]):
            script += [connect, A("send_http", i + 1, value=0, payload=b"\x00"), A("send", i + 1, payload=b"x")]
        scripts.append(script + [A("upstream_connect"), A("upstream_read"), A("read")])
    return scripts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.session_seeds", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "corpus" / "session"))
    parser.add_argument("--only", nargs="+", metavar="SCRIPT", help="write the seeds of these scripts alone")
    args = parser.parse_args(argv)
    n = write_seeds(Path(args.out), ConfigPool.default(), set(args.only) if args.only else None)
    print(f"wrote {n} seeds to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
