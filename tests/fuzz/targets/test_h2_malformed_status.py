"""The h2_codec harness's h2_malformed_status_delivered oracle: a response head whose :status is not
three digits (RFC 9113 8.3.2) is malformed and the client codec delivers no head for it. Planted: a
client codec that reads :status with int() (0200, +200, 2_00 taken for 200)."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import h2_status, h2pair
from proxy.http import h2
from proxy.http.codec import ResponseHeaders

GET = (b"GET", b"/", b"a.example", b"http", [])


def raw_response(status: bytes) -> h2pair.Pair:
    """The client sends a GET; the server side answers it with a raw HEADERS frame of that :status."""
    pair = h2pair.Pair()
    sid = pair.command(pair.client, "send_request_headers", *GET[:3], [], end_stream=True)
    pair.client.sent[sid] = h2pair.Sent(head=GET, ended=True)
    pair.settle()
    frame = h2pair.hf.HeadersFrame(sid, data=h2_status.response_block(status, [(b"x-custom", b"1")]))
    frame.flags.add("END_HEADERS")
    frame.flags.add("END_STREAM")
    pair.statuses.raw_head(sid, status)
    pair.server.queue.append(frame.serialize())
    pair.client.tainted = True
    pair.settle()
    return pair


def lenient_status(block):
    value = dict(block).get(b":status", b"")
    try:
        status = int(value)
    except ValueError:
        return None
    return status if 100 <= status <= 999 else None


@pytest.mark.parametrize("status", [b"0200", b"+200", b"2_00", b"20", b"2000", b"", b"\xd9\xa2\xd9\xa0\xd9\xa0"])
def test_the_real_codec_delivers_no_head_for_a_status_that_is_not_three_digits(status):
    pair = raw_response(status)
    assert not any(isinstance(ev, ResponseHeaders) for ev in pair.client.events)
    assert pair.client.got[1].dead  # a stream error: the response was malformed


def test_a_three_digit_status_is_delivered_and_passes():
    pair = raw_response(b"404")
    heads = [ev for ev in pair.client.events if isinstance(ev, ResponseHeaders)]
    assert [ev.status for ev in heads] == [404]


@pytest.mark.parametrize("status", [b"0200", b"+200", b"2_00"])
def test_a_client_codec_reading_status_with_int_is_caught(monkeypatch, status):
    monkeypatch.setattr(h2, "_status", lenient_status)
    with pytest.raises(InvariantViolation) as caught:
        raw_response(status)
    assert caught.value.name == "h2_malformed_status_delivered"


def test_a_stream_where_the_server_codec_also_answered_is_not_judged():
    ledger = h2_status.StatusLedger()
    ledger.raw_head(1, b"0200")
    ledger.check_delivered(1, 200, codec_sent_a_head=True)  # its own 200 may be the one delivered
    ledger.raw_head(3, b"0200")
    ledger.raw_head(3, None)  # a garbled raw block may decode to any head
    ledger.check_delivered(3, 200, codec_sent_a_head=False)
