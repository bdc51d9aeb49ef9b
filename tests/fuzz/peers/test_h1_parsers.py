"""The three HTTP/1.1 parsers the peers compare read a response head only when it has ended."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.peers import h1_parsers

HEAD = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


@pytest.mark.parametrize("cut", [len(HEAD) - 1, len(HEAD) - 2, len(HEAD) - 3])
def test_a_head_cut_before_its_empty_line_is_no_response_yet(cut):
    # http.client ends a head at the end of its bytes as well as at the empty line; found by
    # network_filter in a clean-clone CI run, a client that had read up to the last CR.
    assert h1_parsers.stdlib_responses(HEAD[:cut], [b"GET"]) == []
    assert h1_parsers.agree("peer_h1_response", "client 0", HEAD[:cut], False, [b"GET"]) == []


CHUNKED = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nx-checksum: 20\r\n\r\n"


@pytest.mark.parametrize("cut", [len(CHUNKED) - 1, len(CHUNKED) - 2, len(CHUNKED) - 5, CHUNKED.index(b"0\r\n") + 3])
def test_a_trailer_section_cut_before_its_empty_line_is_no_response_yet(cut):
    # http.client ends the trailer section at the end of its bytes as well; found by session from an
    # empty corpus (clean clone of ea7da84): a client that had read up to the middle of a trailer.
    assert h1_parsers.stdlib_responses(CHUNKED[:cut], [b"GET"]) == []
    assert h1_parsers.agree("peer_h1_response", "client 0", CHUNKED[:cut], False, [b"GET"]) == []


def test_a_chunked_response_whose_trailer_section_ended_is_one_response_to_every_parser():
    [msg] = h1_parsers.agree("peer_h1_response", "client 0", CHUNKED, False, [b"GET"])
    assert bytes(msg.body) == b"ok"
    assert h1_parsers.stdlib_responses(CHUNKED.replace(b"x-checksum: 20\r\n", b""), [b"GET"])


def test_a_whole_head_is_one_response_to_every_parser():
    [msg] = h1_parsers.agree("peer_h1_response", "client 0", HEAD, False, [b"GET"])
    assert msg.status == 400


def test_a_second_response_no_request_asked_for_is_still_a_count_mismatch(monkeypatch):
    # A planted disagreement: the standard library's reader sees one response more than h11.
    real = h1_parsers.stdlib_responses
    monkeypatch.setattr(h1_parsers, "stdlib_responses", lambda wire, methods, eof=False: real(wire + HEAD, methods))
    with pytest.raises(InvariantViolation, match="peer_h1_response_count_mismatch"):
        h1_parsers.agree("peer_h1_response", "client 0", HEAD.replace(b"connection: close\r\n", b""), False, [b"GET"])


def test_more_responses_than_the_stdlib_reader_reads_are_compared_as_far_as_it_reads():
    # http.client's reader stops at MAX_MESSAGES; found by network_filter (fuzz run 120 s on a clean
    # clone): 95 pipelined 404s, h11 read them all and the standard library 64.
    wire = HEAD.replace(b"connection: close\r\n", b"") * (h1_parsers.MAX_MESSAGES + 31)
    msgs = h1_parsers.agree("peer_h1_response", "client 0", wire, False, [b"GET"] * 95)
    assert len(msgs) == h1_parsers.MAX_MESSAGES


def test_a_difference_within_the_first_messages_is_still_caught_past_the_bound(monkeypatch):
    real = h1_parsers.stdlib_responses

    def planted(wire, methods, eof=False):  # the fourth response read with another status
        msgs = real(wire, methods)
        msgs[3] = type(msgs[3])(status=200, complete=True)
        return msgs

    monkeypatch.setattr(h1_parsers, "stdlib_responses", planted)
    wire = HEAD.replace(b"connection: close\r\n", b"") * (h1_parsers.MAX_MESSAGES + 31)
    with pytest.raises(InvariantViolation, match="peer_h1_response_status_mismatch"):
        h1_parsers.agree("peer_h1_response", "client 0", wire, False, [b"GET"] * 95)


WIDE = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n" + b"".join(b"x-f%d: v\r\n" % i for i in range(100)) + b"\r\nok"


def test_a_response_past_the_stdlib_field_cap_is_compared_by_the_other_readers():
    # http.client refuses a head of more than 100 fields (its own cap, no RFC limit). Found by
    # network_filter (fuzz run 360 s on a clean clone): an upstream's 100 fields plus the route's
    # response_headers_to_add made 101, as Envoy would send too; peer_h1_response_stdlib_rejects.
    [msg] = h1_parsers.agree("peer_h1_response", "client 0", WIDE, False, [b"GET"])
    assert len(msg.headers) == 101 and msg.body == b"ok"


def test_a_difference_past_the_stdlib_field_cap_is_still_caught(monkeypatch):
    real = h1_parsers.llhttp_messages

    def planted(wire, requests):  # llhttp reads one field less
        msgs = real(wire, requests)
        del msgs[0].headers[-1]
        return msgs

    monkeypatch.setattr(h1_parsers, "llhttp_messages", planted)
    with pytest.raises(InvariantViolation, match="peer_h1_response_headers_mismatch"):
        h1_parsers.agree("peer_h1_response", "client 0", WIDE, False, [b"GET"])
