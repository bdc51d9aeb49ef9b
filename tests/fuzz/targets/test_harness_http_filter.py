"""The uber HTTP filter harness: every registered filter is reachable, seeds run, odd inputs
return, and the oracles catch filter-chain bugs planted by monkeypatch (continuing after a
StopIteration, buffered bytes passed twice, a local reply that skips the encoders)."""

import random
from pathlib import Path

import pytest

from fuzz import oracles
from fuzz.targets import http_filter as hf
from proxy.config import schema
from proxy.http import filter_chain as fc
from proxy.http.filter import CONTINUE, STOP_ALL_ITERATION, STOP_ITERATION
from proxy.http.registry import registered_http_filters

SEEDS = Path(hf.__file__).resolve().parents[2] / "corpus" / "http_filter"


def fault(delay_ms=100):
    return schema.message_class(schema.HttpFilter.DESCRIPTOR.fields_by_name["fault"].message_type)(delay_ms=delay_ms)


def a(op, arg=0, payload=b"", end=False):
    return (op, arg, payload, end)


POST = [a("decode_headers", 1), a("decode_data", payload=b"hello "), a("decode_data", payload=b"world", end=True)]


def test_every_registered_filter_with_a_schema_entry_is_fuzzed():
    assert set(hf.filter_names()) == {
        n for n in registered_http_filters() if n in schema.HttpFilter.DESCRIPTOR.fields_by_name
    }
    assert {"rbac", "local_ratelimit", "fault", "header_mutation"} <= set(hf.filter_names())


def test_tiny_empty_large_and_garbage_inputs_return():
    for data in (b"", b"\x01", b"\x00\x00\x05\xff\xff\xff\xff\xff", random.Random(0).randbytes(8192)):
        hf.run(data)


def test_a_fault_delay_holds_the_request_until_time_advances():
    session = hf.run(hf.seed("fault", fault(100), 0, 0, 0, POST + [a("advance", 3)]))  # 3 -> 999 ms
    term = session.probe.terminal
    assert term.head is not None and bytes(term.body) == b"hello world" and term.request_end
    held = hf.run(hf.seed("fault", fault(100000), 0, 0, 0, POST))
    assert held.probe.terminal.head is None  # still delayed when the input ends (then reset)
    assert held.probe.stream.end_kind == "reset"


def test_the_scripted_filter_stops_and_continues():
    stop_headers = 0b10  # first call (decode_headers): STOP_ITERATION, then CONTINUE
    s = hf.run(hf.seed("fault", fault(0), 1, 0, stop_headers, [a("decode_headers", 0, end=True)]))
    assert s.probe.terminal.head is None
    s = hf.run(
        hf.seed("fault", fault(0), 1, 0, stop_headers, [a("decode_headers", 0, end=True), a("continue_decoding", 1)])
    )
    assert s.probe.terminal.head is not None


def test_seeds_replay_and_run_every_filter():
    files = sorted(SEEDS.iterdir())
    assert len(files) >= 400
    ran = [hf.run(p.read_bytes()) for p in files]
    assert all(s is not None for s in ran)
    assert {s.name for s in ran} == set(hf.filter_names())


def _replay_all():
    for p in sorted(SEEDS.iterdir()):
        hf.run(p.read_bytes())


def test_planted_continue_after_stop_iteration_is_caught(monkeypatch):
    def headers(self, start):  # the planted bug: STOP_ITERATION from decode/encode_headers is ignored
        for entry in self.entries[start:]:
            if not self.live:
                return
            status = self._call(entry, 0, self.head, self.headers_end)
            if not self.live:
                return
            if status is CONTINUE or status is STOP_ITERATION:
                entry.headers_continued = True
                continue
            entry.stopped = True
            entry.stop_all = status is STOP_ALL_ITERATION
            return
        if self.live and not self.decoding:
            self.chain.stream.write_headers(self.head, self.headers_end)

    _replay_all()
    monkeypatch.setattr(fc._Direction, "headers", headers)
    with pytest.raises(oracles.InvariantViolation, match="passed_after_stop_iteration"):
        _replay_all()


def test_planted_buffer_passed_twice_is_caught(monkeypatch):
    original = fc._Direction.resume

    def resume(self, entry):  # the planted bug: buffered bytes are copied on, not moved
        copy = entry.buffer.bytes()
        original(self, entry)
        entry.buffer.add(copy)

    monkeypatch.setattr(fc._Direction, "resume", resume)
    with pytest.raises(oracles.InvariantViolation, match="body_bytes"):
        _replay_all()


def test_planted_local_reply_skipping_the_encoders_is_caught(monkeypatch):
    def direct(self, status, body=b"", flags=(), headers=()):  # the planted bug: straight to the client
        if self.ended:
            return
        self.decoding_stopped = self.local_reply_sent = True
        self.stream.note_local_reply(status, ())
        head, body = fc.local_reply_head(status, body, headers, self.decoder.head)
        self.stream.write_headers(head, not body)
        if body and not self.ended:
            self.stream.write_data(body, True)

    monkeypatch.setattr(fc.FilterChain, "send_local_reply", direct)
    with pytest.raises(oracles.InvariantViolation, match="response_skipped_encoders|passed_after_stop"):
        _replay_all()


def test_every_op_has_one_action():
    assert set(hf._ACTIONS) == set(hf.OPS)
    assert {op for op, (_, on_ended) in hf._ACTIONS.items() if on_ended} == {"advance", "new_stream"}


def test_a_header_mutation_adding_a_field_the_codecs_own_is_invalid_not_a_build_failure():
    """python -m fuzz run http_filter --time 360 on a clean clone (c1eea30, at 54 s): `te` in
    response_headers_to_add passed the rules and semantic checks, then the filter's build refused it
    (validated_http_filter_config_does_not_build); --validate printed OK for such a file and -c
    refused to start. The schema now refuses the names the build refuses."""
    field = schema.HttpFilter.DESCRIPTOR.fields_by_name["header_mutation"]
    for name in ("te", "content-length", "host"):
        config = schema.message_class(field.message_type)()
        config.response_headers_to_add[name] = "trailers"
        config.response_headers_to_add["x-served-by"] = "proxyfuzz"
        data = hf.seed("header_mutation", config, 0, 1, 0, [("decode_headers", 0, b"", True)])
        assert hf.run(data) is None  # Invalid (the rules refuse it); validated_..._does_not_build before


# The buffer limit (fuzz/targets/http_filter_buffers.py): layout 0 gives the stream a 64-byte limit.
DELAYED_UPLOAD = [a("decode_headers", 1), a("decode_data", payload=b"x" * 100), a("decode_data", payload=b"y" * 100)]
# The scripted filter after fault: its second call (encode_headers) stops all iteration (bits 0b11).
HELD_RESPONSE = [a("decode_headers", 0, end=True), a("encode_headers", 0), a("encode_data", payload=b"z" * 200)]


def test_a_hold_over_the_buffer_limit_pauses_its_source():
    upload = hf.run(hf.seed("fault", fault(100000), 0, 0, 0, DELAYED_UPLOAD))
    assert upload.probe.stream.read_disabled == 1  # the delay's hold went over 64 bytes: the client was paused
    response = hf.run(hf.seed("fault", fault(0), 1, 0, 0b11 << 2, HELD_RESPONSE))
    assert response.probe.terminal.above_watermark >= 0


def _hold_without_limit(self, entry, buf, end):  # the planted class: a hold that never pauses nor refuses
    entry.buffer.move_from(buf)
    entry.held_end |= end


@pytest.mark.parametrize("actions, layout, script", [(DELAYED_UPLOAD, 0, 0), (HELD_RESPONSE, 1, 0b11 << 2)])
def test_planted_hold_over_the_limit_without_a_pause_is_caught(monkeypatch, actions, layout, script):
    monkeypatch.setattr(fc._Direction, "_hold", _hold_without_limit)
    delay = 100000 if actions is DELAYED_UPLOAD else 0
    with pytest.raises(oracles.InvariantViolation, match="buffer_over_limit_source_not_paused"):
        hf.run(hf.seed("fault", fault(delay), layout, 0, script, actions))


def test_the_planted_stop_all_hold_without_limit_is_caught(monkeypatch):
    original = fc._Direction._hold

    def hold(self, entry, buf, end):  # stop_all buffers without looking at the limit
        if entry.stop_all:
            _hold_without_limit(self, entry, buf, end)
        else:
            original(self, entry, buf, end)

    monkeypatch.setattr(fc._Direction, "_hold", hold)
    with pytest.raises(oracles.InvariantViolation, match="buffer_over_limit_source_not_paused"):
        hf.run(hf.seed("fault", fault(100000), 0, 0, 0, DELAYED_UPLOAD))
