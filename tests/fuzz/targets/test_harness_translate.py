"""The http_translate harness: real traffic translates cleanly in every direction, and the
differential oracle fails on planted translation bugs (un-chunking without fixing the framing, a
lost header, a disabled downgrade check)."""

import importlib.util

import hpack
import pytest
from hyperframe.frame import HeadersFrame, SettingsFrame

from fuzz.harness import REPO_ROOT
from fuzz.oracles import InvariantViolation
from fuzz.targets import seeds, translate
from proxy.http import h2 as h2_codec
from proxy.http.codec import H2_PREFACE
from proxy.http.h1 import H1ClientCodec

H1 = seeds.h1_server()
H2 = seeds.h2_captures()


def raw_h2_request(block):
    """Client bytes for one request whose header block is encoded as given (no validation)."""
    headers = HeadersFrame(1, data=hpack.Encoder().encode(block))
    for flag in ("END_HEADERS", "END_STREAM"):
        headers.flags.add(flag)
    return H2_PREFACE + SettingsFrame(0).serialize() + headers.serialize()


@pytest.mark.parametrize("name", ["http_translate", "h2_codec"])
def test_harness_file_runs_tiny_empty_and_large_inputs(name):
    spec = importlib.util.spec_from_file_location(f"fuzz_{name}", REPO_ROOT / "harnesses" / f"fuzz_{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for data in (b"\x00", b"", bytes(range(256)) * 32, H2_PREFACE + b"\xff" * 8000):
        module.TestOneInput(data)


def test_h1_requests_reach_both_upstreams_unchanged():
    assert translate.translate("HTTP1", "HTTP1", H1["pipelined_three"]) == 3
    assert translate.translate("HTTP1", "HTTP2", H1["curl_chunked_upload"]) == 1
    assert translate.translate("HTTP1", "HTTP1", H1["curl_http10"]) == 1


def test_h2_captures_downgrade_to_h1():
    assert translate.translate("HTTP2", "HTTP1", H2["h2_several"]) == 2  # stream 3 was reset
    assert translate.translate("HTTP2", "HTTP1", H2["h2_trailers"]) == 1
    assert translate.translate("HTTP2", "HTTP1", H2["h2_smuggle_te"]) == 0  # DATA longer than content-length


def test_reparsers_agree_on_what_was_sent():
    from fuzz.peers import h1_parsers

    sent, wire = translate.forward("HTTP1", translate.accept("HTTP1", H1["curl_post_form"]))
    keys = [
        [translate.key(r) for r in parse()]
        for parse in (
            lambda: h1_parsers.h11_messages(wire, True),
            lambda: h1_parsers.stdlib_requests(wire),
            lambda: h1_parsers.llhttp_messages(wire, True),
            lambda: sent,
        )
    ]
    assert keys[0] == keys[1] == keys[2] == keys[3] and len(keys[0]) == 1


# ------------------------------------------------------------------------------ planted bugs
def test_planted_unchunking_without_fixing_framing_is_caught(monkeypatch):
    original = H1ClientCodec.data_to_send
    monkeypatch.setattr(
        H1ClientCodec, "data_to_send", lambda self: original(self).replace(b"transfer-encoding: chunked\r\n", b"")
    )
    with pytest.raises(InvariantViolation, match="translate_"):
        translate.check(H1["curl_chunked_upload"])


def test_planted_smuggled_second_request_is_a_count_mismatch(monkeypatch):
    original = H1ClientCodec.data_to_send
    monkeypatch.setattr(
        H1ClientCodec,
        "data_to_send",
        lambda self: original(self).replace(b"\r\n\r\n", b"\r\n\r\nGET /admin HTTP/1.1\r\nhost: x\r\n\r\n", 1),
    )
    with pytest.raises(InvariantViolation, match="translate_count_mismatch"):
        translate.translate("HTTP1", "HTTP1", H1["curl_get"])


def test_planted_lost_header_on_h1_to_h2_is_caught(monkeypatch):
    original = h2_codec._outbound
    monkeypatch.setattr(h2_codec, "_outbound", lambda hs: [(n, v) for n, v in original(hs) if n != b"accept"])
    with pytest.raises(InvariantViolation, match="translate_headers_mismatch"):
        translate.check(H1["curl_get"])


def test_planted_disabled_downgrade_check_is_caught(monkeypatch):
    data = raw_h2_request(
        [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"a"), (b":path", b"/a HTTP/1.1")]
    )
    assert translate.translate("HTTP2", "HTTP1", data) == 0  # the real codec refuses the space in :path
    monkeypatch.setattr(h2_codec, "check_h2_request_for_downgrade", lambda block: None)
    with pytest.raises(InvariantViolation, match="translate_"):
        translate.translate("HTTP2", "HTTP1", data)


# ------------------------------------------------------------------ codec bugs the harness found
# fuzz (http_translate, 120 s on a clean clone): an HTTP/2 request with content-length and trailers.
# HTTP/1.1 has no place for trailers after a body framed by Content-Length; the client codec drops them
# (as Envoy's HTTP/1 codec), and the reference of what reached the upstream drops them too.
TRAILERS_AFTER_LENGTH = REPO_ROOT / "corpus" / "http_translate" / "regress-h2-trailers-after-a-content-length-body"


def test_trailers_after_a_content_length_body_are_dropped_upstream():
    sent, wire = translate.forward("HTTP1", translate.accept("HTTP2", TRAILERS_AFTER_LENGTH.read_bytes()))
    assert wire.endswith(b"content-length: 4\r\n\r\nabcd") and [m.trailers for m in sent] == [[]]
    translate.check(TRAILERS_AFTER_LENGTH.read_bytes())


def test_planted_trailers_lost_from_a_chunked_request_are_still_caught(monkeypatch):
    original = H1ClientCodec._end_request
    monkeypatch.setattr(H1ClientCodec, "_end_request", lambda self, trailers: original(self, []))
    translate.check(TRAILERS_AFTER_LENGTH.read_bytes())  # nothing to lose there
    with pytest.raises(InvariantViolation, match="translate_trailers_mismatch"):
        translate.translate("HTTP2", "HTTP1", H2["h2_trailers"])


def test_planted_trailers_written_after_a_content_length_body_are_caught(monkeypatch):
    original = H1ClientCodec._end_request

    def chunked_or_not(self, trailers):  # the planted bug: trailers written whatever the framing
        was, self._chunked = self._chunked, True
        original(self, [(b"x-trailer", b"")])
        self._chunked = was

    monkeypatch.setattr(H1ClientCodec, "_end_request", chunked_or_not)
    with pytest.raises(InvariantViolation, match="translate_"):
        translate.check(TRAILERS_AFTER_LENGTH.read_bytes())


def test_issue13_trailer_name_seed_is_refused_and_found_again_when_planted(monkeypatch):
    """Issue 13 defect 10 (found by http_translate after 175 s): an HTTP/2 trailer name that is no
    token was accepted and then refused by the HTTP/1.1 client codec. The minimised input is a seed."""
    data = (REPO_ROOT / "corpus" / "http_translate" / "regress-issue13-d10-trailer-name-not-a-token").read_bytes()
    assert translate.translate("HTTP2", "HTTP1", data) == 0
    monkeypatch.setattr(h2_codec, "trailer_problem", lambda block: None)
    with pytest.raises(InvariantViolation, match="translate_unforwardable"):
        translate.check(data)


def test_h2_request_ended_by_headers_with_content_length_is_refused():
    data = raw_h2_request(
        [
            (b":method", b"PUT"),
            (b":scheme", b"http"),
            (b":authority", b"a"),
            (b":path", b"/"),
            (b"content-length", b"10"),
            (b"content-length", b"10"),
        ]
    )
    assert translate.translate("HTTP2", "HTTP1", data) == 0


def test_h2_duplicate_equal_content_length_goes_upstream_once():
    from proxy.http.h2 import H2ServerCodec

    codec = H2ServerCodec()
    block = [
        (b":method", b"PUT"),
        (b":scheme", b"http"),
        (b":authority", b"a"),
        (b":path", b"/"),
        (b"content-length", b"0"),
        (b"content-length", b"0"),
    ]
    [req] = [e for e in codec.receive_data(raw_h2_request(block)) if hasattr(e, "method")]
    assert [v for n, v in req.headers if n == b"content-length"] == [b"0"]


def test_empty_cookie_fields_reach_an_h2_upstream_as_crumbs():
    """h2 joins received cookie crumbs and then refuses "a=1; " (an empty crumb) as surrounded by
    whitespace: the oracle's reader compares crumbs instead (found by http_translate, a false finding)."""
    assert translate.translate("HTTP1", "HTTP2", b"GET / HTTP/1.1\r\nHost: a\r\ncookie: a=1\r\ncookie: \r\n\r\n") == 1


def test_a_client_that_accepts_a_one_byte_header_list_still_has_its_request_forwarded(monkeypatch):
    """CI: an HTTP/2 client advertises SETTINGS_MAX_HEADER_LIST_SIZE 1 and sends a DELETE. The
    harness's stand-in 200 is more than it accepts, and the codec refuses it (HeaderListTooLarge,
    the codec contract), which escaped the harness as a crash. The request is still forwarded and
    judged: a planted lost field on the way upstream is caught."""
    data = (REPO_ROOT / "corpus" / "http_translate" / "regression-h2-client-accepts-1-byte-header-list").read_bytes()
    assert translate.translate("HTTP2", "HTTP1", data) == 1
    original = H1ClientCodec.send_request_headers
    monkeypatch.setattr(
        H1ClientCodec,
        "send_request_headers",  # the planted bug: a field is lost
        lambda self, m, t, a, headers, end_stream=False: original(self, m, t, a, headers[1:], end_stream),
    )
    with pytest.raises(InvariantViolation, match="translate_headers_mismatch"):
        translate.translate("HTTP2", "HTTP1", data)


# Found black-box: an HTTP/2 request with 150 header fields went upstream whole, where HTTP/1.1's codec
# answers 431 past CodecLimits.max_headers (100). Its seed: corpus/http_translate/h2_request_150_fields.
MANY_FIELDS = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"a.example")] + [
    (b"x-f%d" % i, b"v") for i in range(150)
]


def test_an_h2_request_over_the_field_limit_is_refused_by_the_codec():
    assert translate.translate("HTTP2", "HTTP1", raw_h2_request(MANY_FIELDS)) == 0
    assert (REPO_ROOT / "corpus" / "http_translate" / "h2_request_150_fields").read_bytes() == raw_h2_request(
        MANY_FIELDS
    )


def test_an_h2_codec_without_the_field_limit_is_caught(monkeypatch):
    monkeypatch.setattr(h2_codec, "_regular_fields", lambda block: 0)  # the old codec: no count at all
    with pytest.raises(InvariantViolation, match="translate_field_limit_exceeded"):
        translate.translate("HTTP2", "HTTP1", raw_h2_request(MANY_FIELDS))


def test_an_h2_client_reads_as_many_requests_as_the_proxy_forwarded():
    """The independent reading of the client's HTTP/2 bytes that the meaning check compares with."""
    sent = translate.client_h2_requests(H2["h2_several"])
    assert [r.target for r in sent] == [b"/1", b"/5"]  # stream 3 was reset by its client
    assert translate.client_h2_requests(H2_PREFACE + b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x") is None  # DATA on 0


@pytest.mark.parametrize(
    "planted",
    [
        lambda block, original: [
            (n, v.replace(b"; ", b", ")) if n == b"cookie" else (n, v) for n, v in original(block)
        ],
        lambda block, original: [(n, v) for n, v in original(block) if n != b"accept"],
        lambda block, original: [(n, v.upper()) if n == b"user-agent" else (n, v) for n, v in original(block)],
    ],
    ids=["cookie_crumbs_joined_with_commas", "field_lost_on_downgrade", "value_changed_on_downgrade"],
)
def test_planted_meaning_changed_on_h2_to_h1_is_caught(monkeypatch, planted):
    """RFC 9113 8.2.3: cookie crumbs become one field joined by "; " for HTTP/1.1; any other change of a
    field on the way down changes what the client asked. The proxy's codec and the upstream's parsers
    agree with each other here, so only the client's own bytes can tell."""
    translate.check(H2["h2_cookies"])
    translate.check(H2["h2_get"])
    original = h2_codec._block
    monkeypatch.setattr(h2_codec, "_block", lambda block: planted(block, original))
    with pytest.raises(InvariantViolation, match="peer_forwarded_headers_changed"):
        translate.check(H2["h2_cookies"])
        translate.check(H2["h2_get"])


# bench mutants proxy/http/h1.py (seed 14) left H1ClientCodec.send_request_headers' reset of the
# chunked framing alive: no seed sent a request without a body after a chunked one on the same
# upstream connection, where a stale flag writes a last-chunk "0\r\n\r\n" the upstream reads as the
# start of another request.
CHUNKED_THEN_BODYLESS = (
    REPO_ROOT / "corpus" / "http_translate" / "chunked-request-then-bodyless-ones-on-one-upstream-connection"
)


def test_requests_after_a_chunked_one_go_upstream_as_sent():
    sent, wire = translate.forward("HTTP1", translate.accept("HTTP1", CHUNKED_THEN_BODYLESS.read_bytes()))
    assert len(sent) == 3 and wire.count(b"\r\n0\r\n\r\n") == 1  # the one last-chunk
    translate.check(CHUNKED_THEN_BODYLESS.read_bytes())


def test_chunked_framing_left_over_for_the_next_request_is_caught(monkeypatch):
    import proxy.http.h1 as h1_codec
    from fuzz.bench.mutants import ops

    code = ops.planted(h1_codec, "H1ClientCodec.send_request_headers", "self._chunked = False")
    monkeypatch.setattr(H1ClientCodec.send_request_headers, "__code__", code)
    with pytest.raises(InvariantViolation, match="translate_"):
        translate.check(CHUNKED_THEN_BODYLESS.read_bytes())
