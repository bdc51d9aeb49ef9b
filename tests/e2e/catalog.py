"""The live regression catalog: hostile request streams and HTTP/2 abuse patterns, each with the
reaction the proxy must show. tests/e2e/test_e2e_catalog.py sends every entry's bytes in ONE TCP write
to `python -m proxy` (listener `entry.listener`, configured by LISTENERS) in front of a recording
upstream, then checks the entry's expectations:

  status     HTTP/1.1: the first response's status; HTTP/2: the :status on `stream`
  responses  HTTP/1.1: how many responses in all (1 = nothing after the rejected request is answered)
  statuses   HTTP/1.1: every response's status, in order (pipelined requests)
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

from e2e.wire import (
    ENHANCE_YOUR_CALM,
    GET,
    PROTOCOL_ERROR,
    continuation_flood,
    data,
    get,
    h2,
    headers,
    hpack_bomb,
    hx,
    ping_flood,
    post,
    priority_flood,
    rapid_reset,
    settings_flood,
    window_update_flood,
)
from fuzz.payloads import SMUGGLING
from tests.proxy.http.test_h1_smuggling import CHUNK_CASES, HEAD_CASES


@dataclass(frozen=True)
class Entry:
    name: str
    send: bytes
    status: int | None = None
    responses: int | None = None
    statuses: tuple | None = None
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
    "normalize": {
        "normalize_path": True,
        "merge_slashes": True,
        "path_with_escaped_slashes_action": "UNESCAPE_AND_REDIRECT",
    },
    "escaped_reject": {"path_with_escaped_slashes_action": "REJECT_REQUEST"},
    "escaped_forward": {"path_with_escaped_slashes_action": "UNESCAPE_AND_FORWARD"},
    "underscores_drop": {"common_http_protocol_options": {"headers_with_underscores_action": "DROP_HEADER"}},
    "underscores_allow": {"common_http_protocol_options": {"headers_with_underscores_action": "ALLOW"}},
}

# The bytes of issue 13, as filed (hex, one write each).
I13D1_H2_FRAGMENT = (
    "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a00000004000000000000000f010500000001828641016844082f61646d696e2378"
)
I13D2_H2_AUTHORITY = (
    "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a00000004000000000000000e01050000000182864106682f6576696c44022f78"
)
I13D4_H2_TRAILER = (
    "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a000000040000000000000009010400000001838641016844"
    "022f7800000500000000000168656c6c6f0000040105000000015c023530"
)
I13D10_H2_TRAILER_NAME = (
    "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a00002a04000000000000010000100000020000000100040000ffff000500"
    "004000000800000000000300000064000600010000000039010400000001838741882f91d35d055c87a74484626b2b277a8825b650c3"
    "cbb6b83f5383f963e74082497f864d833505b11f5f8b1d75d0620d263d4c4d656400000a000000000001000000000568656c6c6f0000"
    "0c01050000000140889acac8b21234198f8107"
)
I13D6_H1_UNDERSCORE = (
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer_Encoding: chunked\r\nContent-Length: 40\r\n\r\n"
    b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
)

# The smuggling classes of the sans-IO codec tests (test_h1_smuggling.py, also the h1_server
# harness's seeds) live there; here they go through the running proxy.
CHUNKED_HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

# Requests the HTTP/1.1 codec refuses as a whole-connection error: (name, bytes, the status it answers).
PIPELINED_BAD = [
    ("asterisk_get", b"GET * HTTP/1.1\r\nHost: h\r\n\r\nGET /second HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ("version_1_2", b"GET /second HTTP/1.2\r\nHost: h\r\n\r\n", 505),
    ("backslash", b"GET /a\\b HTTP/1.1\r\nHost: h\r\n\r\nGET /second HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ("connect", b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 501),
    ("bad_host", b"GET /second HTTP/1.1\r\nHost: h/evil\r\n\r\n", 400),
]

CATALOG: list[Entry] = [
    # Controls: what a well-behaved client gets (the catalog's checks can tell an answer from a refusal).
    Entry(
        "h1_plain_get",
        b"GET /plain HTTP/1.1\r\nHost: h\r\n\r\n",
        status=200,
        responses=1,
        forwarded=True,
        upstream_has=(b"GET /plain HTTP/1.1\r\n",),
    ),
    Entry("h1_exact_route_direct_403", b"GET /admin HTTP/1.1\r\nHost: h\r\n\r\n", status=403, responses=1),
    Entry(
        "h2_plain_get", h2(get(1, b"/plain")), status=200, forwarded=True, upstream_has=(b"GET /plain HTTP/1.1\r\n",)
    ),
    # RFC 9112 7.1.1: a chunk extension's quoted-string may hold ';' and '=' (the proxy refused it with a 400).
    Entry(
        "h1_chunk_extension_quoted_separators",
        CHUNKED_HEAD.replace(b"POST /", b"POST /ext") + b'3;a="b;c=d";e\r\nabc\r\n0\r\n\r\n',
        status=200,
        responses=1,
        forwarded=True,
        upstream_has=(b"POST /ext HTTP/1.1\r\n", b"abc"),
    ),
    # HTTP/1.1 request smuggling (RFC 9112 6, 7): 400, close, nothing forwarded.
    *(Entry(f"h1_head_{name}", raw, status=400, responses=1, closes=True) for name, raw in HEAD_CASES.items()),
    *(
        Entry(f"h1_chunked_{name}", CHUNKED_HEAD + raw + SMUGGLED, status=400, responses=1, closes=True)
        for name, raw in CHUNK_CASES.items()
    ),
    *(
        Entry(
            f"h1_payload_smuggling_{i}",
            b"POST /smuggle HTTP/1.1\r\nHost: x\r\n%s\r\n%s" % (head, body) + SMUGGLED,
            status=400,
            responses=1,
            closes=True,
        )
        for i, (head, body) in enumerate(SMUGGLING)
    ),
    # Issue 13 defect 1: a #fragment is no part of a request target (CVE-2021-32779: "/admin#x" passed the
    # exact route "/admin" and reached the upstream).
    Entry("h1_i13d1_fragment", b"GET /admin#x HTTP/1.1\r\nHost: h\r\n\r\n", status=400, responses=1, closes=True),
    Entry(
        "h1_i13d1_fragment_absolute_form",
        b"GET http://h/admin#x HTTP/1.1\r\nHost: h\r\n\r\n",
        status=400,
        responses=1,
        closes=True,
    ),
    Entry("h2_i13d1_fragment", hx(I13D1_H2_FRAGMENT), rst=PROTOCOL_ERROR),
    # Issue 13 defect 2: :authority is uri-host [":" port] (RFC 9113 8.3.1), as HTTP/1.1 Host is.
    Entry("h2_i13d2_authority_with_slash", hx(I13D2_H2_AUTHORITY), rst=PROTOCOL_ERROR),
    Entry(
        "h2_i13d2_authority_with_userinfo",
        h2(headers(1, GET[:2] + [(b":authority", b"u@evil"), (b":path", b"/x")])),
        rst=PROTOCOL_ERROR,
    ),
    Entry("h1_i13d2_host_with_slash", b"GET /x HTTP/1.1\r\nHost: h/evil\r\n\r\n", status=400, responses=1, closes=True),
    # RFC 3986 3.2.2: IP-literal = "[" ( IPv6address / IPvFuture ) "]"; any reg-name bytes in brackets passed.
    Entry(
        "h1_host_ip_literal_not_ipv6", b"GET /x HTTP/1.1\r\nHost: [zz]\r\n\r\n", status=400, responses=1, closes=True
    ),
    Entry(
        "h1_host_ip_literal_ipv4_in_brackets",
        b"GET /x HTTP/1.1\r\nHost: [1.2.3.4]:80\r\n\r\n",
        status=400,
        responses=1,
        closes=True,
    ),
    Entry(
        "h1_absolute_form_ip_literal_not_ipv6",
        b"GET http://[zz]/x HTTP/1.1\r\nHost: h\r\n\r\n",
        status=400,
        responses=1,
        closes=True,
    ),
    Entry(
        "h2_authority_ip_literal_not_ipv6",
        h2(headers(1, GET[:2] + [(b":authority", b"[zz]"), (b":path", b"/x")])),
        rst=PROTOCOL_ERROR,
    ),
    Entry(
        "h1_host_ipv6_literal_kept",
        b"GET /x HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
        status=200,
        responses=1,
        forwarded=True,
        upstream_has=(b"host: [::1]:80\r\n",),
    ),
    # Round 4 (black-box): RFC 9110 4.2.1, an http URI with an empty host is invalid; HTTP/2 refused
    # ":80" as :authority while HTTP/1.1 forwarded it as Host. An empty Host (RFC 9112 3.2) stays valid.
    Entry("h1_host_port_without_host", b"GET /x HTTP/1.1\r\nHost: :80\r\n\r\n", status=400, responses=1, closes=True),
    Entry(
        "h2_authority_port_without_host",
        h2(headers(1, GET[:2] + [(b":authority", b":80"), (b":path", b"/x")])),
        rst=PROTOCOL_ERROR,
    ),
    # Round 4: a scheme the proxy does not serve. HTTP/1.1 refused an ftp:// target; HTTP/2 forwarded
    # :scheme ftp upstream as an http request (Envoy: 400 invalid scheme; here the codec's refusal).
    Entry("h1_absolute_form_ftp", b"GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n", status=400, responses=1, closes=True),
    Entry(
        "h2_scheme_ftp",
        h2(headers(1, [(b":method", b"GET"), (b":scheme", b"ftp"), (b":authority", b"h"), (b":path", b"/x")])),
        rst=PROTOCOL_ERROR,
    ),
    Entry(
        "h2_scheme_https_upper_case_served",
        h2(headers(1, [(b":method", b"GET"), (b":scheme", b"HTTPS"), (b":authority", b"h"), (b":path", b"/s")])),
        status=200,
        forwarded=True,
        upstream_has=(b"GET /s HTTP/1.1\r\n",),
    ),
    # RFC 9110 7.6.1: a Connection option never names a field meant for every recipient; the framing and
    # routing fields the proxy read the message by stay (Connection: content-length dropped Content-Length).
    Entry(
        "h1_connection_names_content_length",
        b"POST /cl HTTP/1.1\r\nHost: h\r\nConnection: content-length, x\r\nContent-Length: 5\r\nX: 1\r\n\r\nhello",
        status=200,
        responses=1,
        forwarded=True,
        upstream_has=(b"content-length: 5\r\n", b"\r\n\r\nhello"),
        upstream_lacks=(b"x: 1",),
    ),
    Entry(
        "h1_connection_names_host",
        b"GET /h HTTP/1.1\r\nHost: h\r\nConnection: host\r\n\r\n",
        status=200,
        responses=1,
        forwarded=True,
        upstream_has=(b"host: h\r\n",),
    ),
    # Issue 13 defect 4: RFC 9110 6.5.1 fields in trailers make the message malformed on every codec.
    Entry(
        "h2_i13d4_content_length_trailer",
        hx(I13D4_H2_TRAILER),
        rst=PROTOCOL_ERROR,
        forwarded=None,
        upstream_lacks=(b"content-length: 50",),
    ),
    Entry(
        "h2_i13d4_authorization_trailer",
        h2(post(1, b"/t"), data(1, b"hi"), headers(1, [(b"authorization", b"x")])),
        rst=PROTOCOL_ERROR,
        forwarded=None,
        upstream_lacks=(b"authorization",),
    ),
    Entry(
        "h1_i13d4_authorization_trailer",
        CHUNKED_HEAD + b"2\r\nhi\r\n0\r\nAuthorization: x\r\n\r\n",
        status=400,
        responses=1,
        closes=True,
        forwarded=None,
        upstream_lacks=(b"uthorization",),
    ),
    # Issue 13 defect 10: trailer names are held to the rules of header names (RFC 9113 8.2.1).
    Entry(
        "h2_i13d10_trailer_name_not_token",
        hx(I13D10_H2_TRAILER_NAME),
        rst=PROTOCOL_ERROR,
        forwarded=None,
        upstream_lacks=(b"grpc-stasi/",),
    ),
    # Issue 13 defect 5: targets outside RFC 3986 are refused; Envoy's path options, with its defaults.
    Entry("h1_i13d5_backslash", b"GET /a\\b HTTP/1.1\r\nHost: h\r\n\r\n", status=400, responses=1, closes=True),
    Entry("h1_i13d5_bad_percent", b"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", status=400, responses=1, closes=True),
    Entry("h2_i13d5_backslash", h2(get(1, b"/a\\b")), rst=PROTOCOL_ERROR),
    Entry("h2_i13d5_bad_percent", h2(get(1, b"/%zz")), rst=PROTOCOL_ERROR),
    Entry(
        "h1_i13d5_browser_query_kept",
        b"GET /q?a[]=1|2 HTTP/1.1\r\nHost: h\r\n\r\n",
        status=200,
        forwarded=True,
        upstream_has=(b"GET /q?a[]=1|2 HTTP/1.1\r\n",),
    ),
    Entry(
        "h1_i13d5_escaped_slash_kept_by_default",
        b"GET /a%2Fb HTTP/1.1\r\nHost: h\r\n\r\n",
        status=200,
        forwarded=True,
        upstream_has=(b"GET /a%2Fb HTTP/1.1\r\n",),
    ),
    Entry(
        "h1_i13d5_dot_segments_routed_normalised",
        b"GET /x/%2e%2e/admin HTTP/1.1\r\nHost: h\r\n\r\n",
        status=403,
        listener="normalize",
    ),
    Entry(
        "h1_i13d5_normalised_and_merged_upstream",
        b"GET //a/./b/../plain//x HTTP/1.1\r\nHost: h\r\n\r\n",
        status=200,
        listener="normalize",
        forwarded=True,
        upstream_has=(b"GET /a/plain/x HTTP/1.1\r\n",),
    ),
    Entry(
        "h1_i13d5_escaped_slash_redirect", b"GET /a%2fb HTTP/1.1\r\nHost: h\r\n\r\n", status=307, listener="normalize"
    ),
    Entry("h2_i13d5_escaped_slash_redirect", h2(get(1, b"/a%5Cb")), status=307, listener="normalize"),
    Entry(
        "h1_i13d5_escaped_slash_reject",
        b"GET /a%2Fb HTTP/1.1\r\nHost: h\r\n\r\n",
        status=400,
        listener="escaped_reject",
    ),
    Entry(
        "h1_i13d5_escaped_slash_forward",
        b"GET /a%5cb%2F HTTP/1.1\r\nHost: h\r\n\r\n",
        status=200,
        listener="escaped_forward",
        forwarded=True,
        upstream_has=(b"GET /a/b/ HTTP/1.1\r\n",),
    ),
    # Issue 13 defect 6: header names with "_" (headers_with_underscores_action, default REJECT_REQUEST).
    Entry("h1_i13d6_underscore_beside_framing", I13D6_H1_UNDERSCORE, status=400, responses=1),
    Entry("h2_i13d6_underscore_header", h2(get(1, b"/u", (b"x_forwarded_for", b"10.0.0.1"))), status=400),
    Entry(
        "h2_i13d6_underscore_trailer",
        h2(post(1, b"/t"), data(1, b"hi"), headers(1, [(b"x_t", b"1")])),
        status=400,
        forwarded=None,
        upstream_lacks=(b"x_t",),
    ),
    Entry(
        "h1_i13d6_underscore_dropped",
        I13D6_H1_UNDERSCORE,
        status=200,
        responses=1,
        listener="underscores_drop",
        forwarded=True,
        upstream_has=(b"content-length: 40\r\n",),
        upstream_lacks=(b"ransfer_",),
    ),
    Entry(
        "h1_i13d6_underscore_allowed",
        b"GET /u HTTP/1.1\r\nHost: h\r\nX_A: 1\r\n\r\n",
        status=200,
        listener="underscores_allow",
        forwarded=True,
        upstream_has=(b"x_a: 1\r\n",),
    ),
    # A valid request, then in the same write one the HTTP/1.1 codec refuses: the first is answered, then
    # the 400 (505 for an unknown version), then the close (Envoy). The proxy reset the first and hung.
    *(
        Entry(
            f"h1_pipelined_valid_then_{name}",
            b"GET /first HTTP/1.1\r\nHost: h\r\n\r\n" + bad,
            status=200,
            statuses=(200, code),
            responses=2,
            closes=True,
            forwarded=True,
            upstream_has=(b"GET /first ",),
            upstream_lacks=(b"/second",),
        )
        for name, bad, code in PIPELINED_BAD
    ),
    # HTTP/2 floods: GOAWAY(ENHANCE_YOUR_CALM), memory bounded.
    Entry("h2_rapid_reset", rapid_reset(400), goaway=ENHANCE_YOUR_CALM, closes=True, forwarded=None),
    Entry("h2_continuation_flood", continuation_flood(2000), goaway=ENHANCE_YOUR_CALM, closes=True),
    Entry("h2_hpack_bomb", hpack_bomb(100), goaway=ENHANCE_YOUR_CALM, closes=True),
    Entry("h2_ping_flood", ping_flood(5000), goaway=ENHANCE_YOUR_CALM, closes=True),
    Entry("h2_settings_flood", settings_flood(5000), goaway=ENHANCE_YOUR_CALM, closes=True),
    # Issue 13 defect 8: floods that had no limit.
    Entry(
        "h2_i13d8_empty_data_flood",
        h2(post(1, b"/empty-data") + data(1, b"") * 50000),
        goaway=ENHANCE_YOUR_CALM,
        closes=True,
        forwarded=None,
    ),
    Entry(
        "h2_i13d8_rejected_request_flood",
        h2(*(get(sid, b"/rejected", (b"content-length", b"5")) for sid in range(1, 20000, 2))),
        goaway=ENHANCE_YOUR_CALM,
        closes=True,
    ),
    Entry(
        "h2_i13d8_refused_stream_flood",
        h2(*(get(sid, b"/refused") for sid in range(1, 20000, 2))),
        goaway=ENHANCE_YOUR_CALM,
        closes=True,
        forwarded=None,
    ),
    # DATA on a stream already reset, each answered by RST_STREAM (CVE-2019-9514): more control frames
    # queued than max_outbound_control_frames (1000) end the connection without a flush.
    Entry(
        "h2_i13d8_reset_flood", h2(get(1, b"/rejected", (b"content-length", b"5")) + data(1, b"x") * 20000), closes=True
    ),
    # Envoy's max_inbound_priority_frames_per_stream (100) and
    # max_inbound_window_update_frames_per_data_frame_sent (10): before, 100,000 of either cost the
    # proxy about half a second of CPU each and the connection went on.
    Entry("h2_priority_flood", priority_flood(5000), goaway=ENHANCE_YOUR_CALM, closes=True),
    Entry("h2_window_update_flood", window_update_flood(5000), goaway=ENHANCE_YOUR_CALM, closes=True),
    Entry(
        "h2_window_update_flood_beside_a_request",
        window_update_flood(5000, 1, get(1, b"/window-update-flood")),
        goaway=ENHANCE_YOUR_CALM,
        closes=True,
        forwarded=None,
    ),
]
