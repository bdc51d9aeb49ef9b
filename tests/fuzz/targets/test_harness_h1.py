"""The h1_server / h1_client harness oracles: they pass on real traffic, and each one fails on a
planted bug (a leniency, a lost header, a refused valid request), which proves it can fail.
Also the strict reference parser itself, and regression tests for codec bugs the harness found."""

import importlib.util

import pytest

from fuzz.harness import REPO_ROOT
from fuzz.oracles import InvariantViolation
from fuzz.targets import h1, reference, seeds
from proxy.http import _h1_strict
from proxy.http import h1 as h1_codec
from proxy.http.codec import Data, ProtocolViolation, RequestHeaders
from proxy.http.h1 import H1ServerCodec

SERVER_SEEDS = seeds.h1_server()
CLIENT_SEEDS = seeds.h1_client()


def load_harness(name):
    spec = importlib.util.spec_from_file_location(f"fuzz_{name}", REPO_ROOT / "harnesses" / f"fuzz_{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["h1_server", "h1_client"])
def test_harness_file_runs_tiny_empty_and_large_inputs(name):
    module = load_harness(name)
    for data in (b"G", b"", SERVER_SEEDS["pipelined_three"] * 40):
        module.TestOneInput(data)


def test_server_oracles_accept_real_traffic():
    events = h1.check_server(SERVER_SEEDS["pipelined_three"])
    assert [e.target for e in events if isinstance(e, RequestHeaders)] == [b"/1", b"/2", b"/3"]
    events = h1.check_server(SERVER_SEEDS["curl_chunked_upload"])
    assert events[1].data == b"hello world"


def test_client_oracles_accept_real_traffic():
    get_events, head_events = h1.check_client(CLIENT_SEEDS["chunked_trailers"])
    assert get_events[1].data == b"wikipedia"
    assert head_events[0].end_stream  # the same bytes after a HEAD: no body, the rest is extra


# ------------------------------------------------------------------------------ planted bugs
def test_planted_cl_with_te_leniency_crashes_the_grammar_oracle(monkeypatch):
    def lenient(fields, version):  # TE wins over CL instead of refusing both
        fields = (
            [(n, v) for n, v in fields if n != b"content-length"]
            if any(n == b"transfer-encoding" for n, _ in fields)
            else fields
        )
        return original(fields, version)

    original = _h1_strict._framing
    monkeypatch.setattr(_h1_strict, "_framing", lenient)
    with pytest.raises(InvariantViolation, match="h1_grammar_lenient.*Content-Length with Transfer-Encoding"):
        h1.check_server(SERVER_SEEDS["smuggle_cl_and_te"])


def test_planted_chunk_size_whitespace_leniency_crashes_the_grammar_oracle(monkeypatch):
    original = _h1_strict.ChunkedScanner._size_line
    monkeypatch.setattr(_h1_strict.ChunkedScanner, "_size_line", lambda self, line: original(self, line.rstrip(b" ")))
    with pytest.raises(InvariantViolation, match="h1_grammar_lenient.*chunk"):
        h1.check_server(SERVER_SEEDS["smuggle_chunk_trailing_space"])


def test_planted_hex_prefix_chunk_size_is_caught_by_the_split_oracle(monkeypatch):
    # "0x5" passes the patched scanner; h11 still refuses it, so the codec's events depend on
    # whether the scanner or h11 saw the line first: the split oracle notices the difference.
    monkeypatch.setattr(_h1_strict, "HEX", _h1_strict.HEX | frozenset(b"xX"))
    data = SERVER_SEEDS["smuggle_chunk_hex_prefix"]
    try:
        h1.check_server(data)
    except InvariantViolation as e:
        assert e.name in ("h1_grammar_lenient", "h1_split_variance", "h1_reference_mismatch")
    else:  # h11 rejected it in every feeding: then the codec refused it and nothing was accepted
        events = h1.run_server([data])[0]
        assert any(isinstance(e, ProtocolViolation) for e in events)


@pytest.mark.parametrize("seed", ["no_content_with_length", "no_content_chunked"])
def test_planted_204_framing_leniency_crashes_the_grammar_oracle(monkeypatch, seed):
    """A client codec that reads a 204 as bodiless whatever its framing fields say (the proxy did, and
    forwarded "content-length: 5" on a 204): the reference refuses those fields (RFC 9110 8.6)."""

    def lenient(raw, max_headers):
        head = original(raw, max_headers)
        if head.start[1] == b"204":
            fields = [(n, v) for n, v in head.fields if n not in (b"content-length", b"transfer-encoding")]
            return _h1_strict.Head(head.start, fields, None, False)
        return head

    original = _h1_strict.parse_response_head
    monkeypatch.setattr(h1_codec, "parse_response_head", lenient)
    with pytest.raises(InvariantViolation, match="h1_grammar_lenient.*204 response"):
        h1.check_client(CLIENT_SEEDS[seed])


def test_planted_upgrade_offer_ending_the_connection_is_a_dropped_request(monkeypatch):
    """The codec took h11's MIGHT_SWITCH_PROTOCOL for the end of the connection: the request after an
    h2c or websocket offer (answered in HTTP/1.1) was never read (curl --http2 saw a reset)."""
    h1.check_server(SERVER_SEEDS["curl_h2c_upgrade_offer_pipelined"])
    monkeypatch.setattr(h1_codec.h11, "MIGHT_SWITCH_PROTOCOL", object())
    with pytest.raises(InvariantViolation, match="h1_request_dropped"):
        h1.check_server(SERVER_SEEDS["curl_h2c_upgrade_offer_pipelined"])


def test_planted_host_leniency_crashes_the_grammar_oracle(monkeypatch):
    monkeypatch.setattr(_h1_strict, "is_authority", lambda value: True)
    with pytest.raises(InvariantViolation, match="h1_grammar_lenient.*Host"):
        h1.check_server(b"GET / HTTP/1.1\r\nHost: evil.example/@good.example\r\n\r\n")


def test_forbidden_response_trailer_fields_are_dropped_not_the_response():
    events = h1.check_client(CLIENT_SEEDS["trailers_not_allowed"])[0]
    assert (events[1].data, events[2].headers) == (b"hello", [(b"x-sum", b"7")])


def test_planted_refusal_of_forbidden_response_trailers_crashes_the_refusal_oracle(monkeypatch):
    """The proxy cut a whole response over a content-length trailer (BLACKBOX, third round)."""
    monkeypatch.setattr(h1_codec, "received_response_trailers", lambda fields: fields)
    original = _h1_strict.ChunkedScanner.__init__
    monkeypatch.setattr(_h1_strict.ChunkedScanner, "__init__", lambda self, *a: original(self, *a[:3]))
    with pytest.raises(InvariantViolation, match="h1_valid_response_refused.*not allowed in trailers"):
        h1.check_client(CLIENT_SEEDS["trailers_not_allowed"])


def test_planted_refusal_of_put_crashes_the_refusal_oracle(monkeypatch):
    original = _h1_strict.parse_request_head

    def refuse_put(head, max_headers):
        if head.startswith(b"PUT "):
            raise _h1_strict.FramingError("PUT refused")
        return original(head, max_headers)

    monkeypatch.setattr(h1_codec, "parse_request_head", refuse_put)
    with pytest.raises(InvariantViolation, match="h1_valid_request_refused.*PUT refused"):
        h1.check_server(SERVER_SEEDS["curl_put_expect"])


def test_planted_lost_header_crashes_the_roundtrip_oracle(monkeypatch):
    original = h1_codec._check_outbound_fields
    monkeypatch.setattr(
        h1_codec, "_check_outbound_fields", lambda headers: [(n, v) for n, v in original(headers) if n != b"accept"]
    )
    with pytest.raises(InvariantViolation, match="h1_roundtrip_mismatch"):
        h1.check_server(SERVER_SEEDS["curl_get"])


def test_planted_split_dependence_crashes_the_split_oracle(monkeypatch):
    original = H1ServerCodec.receive_data

    def eats_lone_bytes(self, data):  # a codec that loses one-byte reads
        return [] if len(data) == 1 else original(self, data)

    monkeypatch.setattr(H1ServerCodec, "receive_data", eats_lone_bytes)
    with pytest.raises(InvariantViolation, match="h1_split_variance"):
        h1.check_server(SERVER_SEEDS["curl_get"])


@pytest.mark.parametrize(
    "check, seed", [(h1.check_server, "curl_chunked_upload"), (h1.check_client, "chunked_trailers")]
)
def test_planted_crlf_lost_between_reads_crashes_the_split_oracle(monkeypatch, check, seed):
    """The split feeding ends a read at every CR (bench bug h1-chunk-crlf-split-across-reads): a
    chunked scanner that takes the CR after chunk data at the end of a read and forgets its LF is
    caught, though the one-chunk feeding and the reference agree."""
    original = _h1_strict.ChunkedScanner.scan

    def forgets_the_lf(self, buf, pos):
        end = original(self, buf, pos)
        if self._state == "data_crlf" and end == len(buf) - 1:  # the CR waits alone at the end of the read
            self._state = "size"
            return end + 1
        return end

    monkeypatch.setattr(_h1_strict.ChunkedScanner, "scan", forgets_the_lf)
    data = (SERVER_SEEDS | CLIENT_SEEDS)[seed]
    with pytest.raises(InvariantViolation, match="h1_split_variance"):
        check(data)


def test_the_split_feeding_ends_a_read_at_every_cr_and_keeps_every_byte():
    data = SERVER_SEEDS["curl_chunked_upload"]
    feedings = h1.splits(data, h1.cr_cuts(data))
    assert b"".join(feedings["input_chosen"]) == data and feedings["one_chunk"] == [data]
    ends = {sum(map(len, feedings["input_chosen"][: i + 1])) for i in range(len(feedings["input_chosen"]))}
    assert {i + 1 for i, b in enumerate(data) if b == 0x0D} <= ends


def test_messages_read_as_events_come_equal_messages_read_at_once():
    """run_server answers from a Messages log fed each read's events (byte at a time: one Data per
    body byte); it must hold what reading every event at once gives."""
    data = (
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        b"GET /d HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    events, _ = h1.run_server([data[i : i + 1] for i in range(len(data))])  # byte at a time
    log = h1.Messages()
    for ev in events:
        log.add([ev])
    seen, errors = h1.messages(events)

    def shape(msgs):
        return [(m.head, bytes(m.body), m.trailers, m.ended, m.failed) for m in msgs]

    assert shape(log.seen) == shape(seen) and log.errors == errors
    assert [bytes(m.body) for m in seen] == [b"", b"hello", b"abc", b""] and all(m.ended for m in seen)


def test_planted_data_after_a_complete_request_crashes_the_event_order_oracle(monkeypatch):
    original = H1ServerCodec.receive_data

    def data_after_the_end(self, data):  # a codec that emits body for a request it said had none
        events = original(self, data)
        ended = [e.stream_id for e in events if isinstance(e, RequestHeaders) and e.end_stream]
        return events + [Data(sid, b"x", False) for sid in ended]

    monkeypatch.setattr(H1ServerCodec, "receive_data", data_after_the_end)
    with pytest.raises(InvariantViolation, match="h1_event_order"):
        h1.check_server(SERVER_SEEDS["curl_get"])


PIPELINED_THEN_BAD = (
    b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
    b"POST /2 HTTP/1.1\r\nHost: x\r\nHost: www.example.org\r\nContent-Length: 3\r\n\r\nabc"
    b"GET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
)


def test_a_bad_request_after_a_good_one_is_split_invariant_whoever_answered_first():
    """CI: request 1 is fine, request 2 has two Host fields. In one chunk the error comes while
    request 1 is unanswered (earlier_streams_live), a byte at a time after its response: the same
    bytes, the same replies (200, then 400 and the close), so the split oracle holds."""
    h1.check_server(PIPELINED_THEN_BAD)


def test_a_protocol_error_that_depends_on_the_split_is_still_caught(monkeypatch):
    original = H1ServerCodec._fail

    def says_more_when_pipelined(self, reason, status):  # the planted bug: the reply depends on timing
        return original(self, reason + (" (pipelined)" if len(self._order) else ""), status)

    monkeypatch.setattr(H1ServerCodec, "_fail", says_more_when_pipelined)
    with pytest.raises(InvariantViolation, match="h1_split_variance"):
        h1.check_server(PIPELINED_THEN_BAD)


# ------------------------------------------------------------------------------ the reference
@pytest.mark.parametrize("name", sorted(k for k in SERVER_SEEDS if not k.startswith("smuggle_")))
def test_reference_accepts_the_real_requests(name):
    ref = reference.parse_requests(SERVER_SEEDS[name])
    assert all(m.head_ok for m in ref) and ref[0].state in ("complete", "incomplete"), ref


@pytest.mark.parametrize("name", sorted(k for k in SERVER_SEEDS if k.startswith("smuggle_")))
def test_reference_never_calls_a_smuggling_case_plainly_valid(name):
    ref = reference.parse_requests(SERVER_SEEDS[name])
    if name.startswith("smuggle_chunk_"):
        assert ref[0].state == "rejected" or ref[0].notes, ref[0]
    else:
        assert ref[0].state == "rejected" or ref[0].notes, ref[0]


@pytest.mark.parametrize(
    "raw,why",
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x7fb\r\n\r\n", "invalid byte"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", None),
        (b'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 ;a = "q\\""\r\nhello\r\n0\r\n\r\n', None),
        (b'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a="q\r\nhello\r\n0\r\n\r\n', "extension"),
        (b"GET http:///x HTTP/1.1\r\nHost: x\r\n\r\n", "absolute-form"),
        (b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", None),
    ],
)
def test_reference_grammar_details(raw, why):
    [msg] = reference.parse_requests(raw)
    assert (msg.reason if msg.state == "rejected" else None) == why or why in msg.reason


def test_reference_responses_interim_final_and_extra_bytes():
    ref = reference.parse_responses(CLIENT_SEEDS["continue_then_ok"] + b"junk", b"GET")
    assert [m.state for m in ref] == ["complete", "complete", "rejected"]
    assert ref[1].body == b"ok"
    [head] = reference.parse_responses(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", b"HEAD")
    assert head.state == "complete" and head.body == b""


# ------------------------------------------------------------------ codec bugs the harness found
def test_absolute_form_authority_ends_at_query():
    [req] = H1ServerCodec().receive_data(b"GET http://a.example?x=1 HTTP/1.1\r\nHost: b\r\n\r\n")
    assert (req.authority, req.target) == (b"a.example", b"/?x=1")


@pytest.mark.parametrize(
    "raw",
    [
        b"GET / HTTP/1.1\r\nHost: evil.example/@good\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a@b\r\n\r\n",
        b"GET http:///x HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET http://a@b/x HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
)
def test_host_and_absolute_authority_must_be_uri_host(raw):
    [err] = H1ServerCodec().receive_data(raw)
    assert isinstance(err, ProtocolViolation) and err.code == "bad_request"


def test_chunk_line_error_does_not_depend_on_the_split():
    data = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nff\r?\n"
    one = H1ServerCodec().receive_data(data)
    codec = H1ServerCodec()
    byte = [e for i in range(len(data)) for e in codec.receive_data(data[i : i + 1])]
    assert one[-1] == byte[-1] and "bare CR" in one[-1].reason


NOMINATED_FRAMING = (
    b"POST / HTTP/1.1\r\nHost: h\r\nConnection: content-length, x\r\nContent-Length: 5\r\nX: 1\r\n\r\nhello"
)


def test_a_connection_option_naming_content_length_leaves_the_framing_in_place():
    head = h1.check_server(NOMINATED_FRAMING)[0]
    assert head.headers == [(b"content-length", b"5")] and not head.end_stream  # x goes, content-length stays


def test_a_codec_that_lets_connection_drop_content_length_is_found(monkeypatch):
    from proxy.http import headers

    monkeypatch.setattr(headers, "NOT_NOMINATABLE", frozenset({b"te"}))  # the defect: any field may be nominated
    with pytest.raises(InvariantViolation, match="content-length"):
        h1.check_server(NOMINATED_FRAMING)


KEEPS = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
ENDS = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
    b"HTTP/1.0 200 HTTP/1.1 OK\r\nContent-Length: 0\r\n\r\n",  # the version is the first word
]


@pytest.mark.parametrize("response", [KEEPS] + ENDS)
def test_the_reuse_oracle_passes_the_clean_client_codec(response):
    h1.check_client(response)


def test_a_reason_phrase_that_reads_like_a_version_is_not_the_version():
    """python -m fuzz run h1_client --time 360 on a clean clone (c1eea30, at 207 s): the HTTP/1.1
    response "200 HTTP/1.0 fer-Encodnt-length: 1" to a HEAD keeps its connection, but the reference
    took the reason phrase's first word for the version (a request's version is its third word) and
    h1_client_reused_after_close called the codec's reuse wrong."""
    data = (REPO_ROOT / "corpus" / "h1_client" / "regress-a-reason-phrase-that-reads-like-a-version").read_bytes()
    assert data.startswith(b"HTTP/1.1 200 HTTP/1.0 ")
    h1.check_client(data)  # h1_client_reused_after_close before
    [msg] = reference.parse_responses(data, b"HEAD", eof=False)
    assert msg.version == b"HTTP/1.1" and not reference.ends_connection(msg)
    [msg] = reference.parse_responses(ENDS[-1], b"GET", eof=False)
    assert msg.version == b"HTTP/1.0" and reference.ends_connection(msg)


@pytest.mark.parametrize("response", ENDS)
def test_planted_reuse_after_a_closing_response_crashes_the_reuse_oracle(monkeypatch, response):
    """The client codec goes back to idle after a response that ended the connection (h11's MUST_CLOSE
    read as a finished exchange): the pool would send the next request on a connection the upstream
    is closing."""

    def reuse_anyway(self):
        self._phase = h1_codec.UPSTREAM.after(self._phase, h1_codec.Ev.REUSE, self._sid or 0)

    monkeypatch.setattr(h1_codec.H1ClientCodec, "_cycle", reuse_anyway)
    h1.check_client(KEEPS)  # a response that keeps the connection may be followed by another request
    with pytest.raises(InvariantViolation) as caught:
        h1.check_client(response)
    assert caught.value.name == "h1_client_reused_after_close"


def _chunked_with_trailers(n: int) -> bytes:
    trailers = b"".join(b"x-t%d: v\r\n" % i for i in range(n))
    return b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n" + trailers + b"\r\n"


def test_the_field_count_limit_holds_for_trailers_too():
    """python -m fuzz run h1_server --time 360 on a clean clone (c1eea30, at 94 s): a pipelined request
    with 157 trailer fields was refused 431 (the codec's max_headers, 100, as Envoy's max_headers_count
    bounds its trailers: "trailers size exceeds limit"), and the reference, which noted the limit for a
    head's fields only, called it a valid request refused (h1_valid_request_refused)."""
    h1.check_server((REPO_ROOT / "corpus" / "h1_server" / "regress-a-request-with-157-trailer-fields").read_bytes())
    [kept] = reference.parse_requests(_chunked_with_trailers(reference.POLICY_MAX_FIELDS))
    [over] = reference.parse_requests(_chunked_with_trailers(reference.POLICY_MAX_FIELDS + 1))
    assert not kept.notes and over.notes == {"trailers_over_policy_limit"}
    h1.check_server(_chunked_with_trailers(reference.POLICY_MAX_FIELDS))  # accepted, as the reference says
