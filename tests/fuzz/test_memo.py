"""fuzz/memo.py: a bounded LRU of results, and the h1 harness's remembered verdicts."""

from fuzz import memo
from fuzz.memo import Memo
from fuzz.oracles import InvariantViolation
from fuzz.targets import h1

REQUEST = b"POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\nhiGET /b HTTP/1.1\r\nhost: x\r\n\r\n"


def test_least_recently_used_goes_first():
    m = Memo(2)
    m.put("a", 1)
    m.put("b", 2)
    assert m.get("a") == 1  # a is now the most recent
    m.put("c", 3)
    assert (m.get("a"), m.get("b"), m.get("c"), len(m)) == (1, None, 3, 2)


def test_forget_all_empties_every_memo():
    m = Memo(4)
    m.put("a", 1)
    memo.forget_all()
    assert m.get("a") is None


def test_h1_round_trip_judges_each_distinct_message(monkeypatch):
    """The verdict is remembered by everything the round trip judges: a message that differs in its
    body only is judged again, and a failing one is never remembered."""
    h1.check_server(REQUEST)
    assert len(h1._PASSED) == 3  # two round trips and one reading of the responses
    h1.check_server(REQUEST)
    assert len(h1._PASSED) == 3
    real = h1._send_request
    monkeypatch.setattr(h1, "_send_request", lambda client, msg: real(client, msg).replace(b"ho", b"HO"))
    for _ in range(2):  # the changed body is judged (and fails) every time
        try:
            h1.check_server(REQUEST.replace(b"hi", b"ho"))
        except InvariantViolation as e:
            assert e.name == "h1_roundtrip_mismatch"
        else:
            raise AssertionError("the planted round-trip defect went unjudged")


def test_h1_readability_judges_each_distinct_reply(monkeypatch):
    """The same requests with other bytes written back are read again."""
    h1.check_server(REQUEST)
    events, out = h1.run_server([REQUEST])
    try:
        h1._check_responses_readable(h1.messages(events)[0], out + b"junk\r\n\r\n")
    except InvariantViolation as e:
        assert e.name == "h1_responses_unreadable"
    else:
        raise AssertionError("stray bytes after the responses were not judged")
