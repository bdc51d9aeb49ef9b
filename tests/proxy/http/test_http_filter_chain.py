"""The HTTP filter contract (proxy/http/filter.py), one rule per test, on a FilterChain driven by
hand: request events in, the calls filters receive and what reaches the client out."""

import pytest

from proxy.event import SimulatedDispatcher
from proxy.http.filter import (
    CONTINUE,
    STOP_ALL_ITERATION,
    STOP_ITERATION,
    STOP_ITERATION_AND_BUFFER,
    HttpFilterContractError,
    StreamFilter,
)
from proxy.http.filter_chain import FilterChain
from proxy.http.message import HeaderMap, RequestHead, ResponseHead


class Stream:
    """The chain's view of its stream: records what reaches the client."""

    def __init__(self, buffer_limit=100):
        self.buffer_limit = buffer_limit
        self.out = []
        self.response_started = False
        self.stream_info = {"response_flags": []}
        self.local = None
        self.dispatcher = SimulatedDispatcher()
        self.connection = None
        self.ctx = type("Ctx", (), {"stats": __import__("proxy.stats", fromlist=["Stats"]).Stats()})()
        self.stream_id = 1

    def write_headers(self, head, end):
        self.response_started = True
        self.out.append(("headers", head.status, end))

    def write_data(self, data, end):
        self.out.append(("data", data, end))

    def write_trailers(self, t):
        self.out.append(("trailers",))

    def reset(self, reason, flag=""):
        self.out.append(("reset", reason))

    def note_local_reply(self, status, flags):
        self.local = (status, tuple(flags))

    def route(self):
        return None

    def disable_reads(self, disable):
        self.out.append(("reads", "paused" if disable else "resumed"))


class Rec(StreamFilter):
    """Records calls into a shared log and returns scripted statuses (a list is consumed in order)."""

    def __init__(
        self, name, log, headers=CONTINUE, data=CONTINUE, trailers=CONTINUE, encode=CONTINUE, encode_data=CONTINUE
    ):
        self.name, self.log = name, log
        self.script = {"dh": headers, "dd": data, "dt": trailers, "eh": encode, "ed": encode_data}
        self.destroyed = 0

    def _status(self, key):
        s = self.script[key]
        return s.pop(0) if isinstance(s, list) else s

    def decode_headers(self, head, end_stream):
        self.log.append((self.name, "dh", end_stream))
        return self._status("dh")

    def decode_data(self, data, end_stream):
        self.log.append((self.name, "dd", data.bytes(), end_stream))
        return self._status("dd")

    def decode_trailers(self, trailers):
        self.log.append((self.name, "dt"))
        return self._status("dt")

    def encode_headers(self, head, end_stream):
        self.log.append((self.name, "eh", head.status, end_stream))
        return self._status("eh")

    def encode_data(self, data, end_stream):
        self.log.append((self.name, "ed", data.bytes(), end_stream))
        return self._status("ed")

    def on_destroy(self):
        self.destroyed += 1

    def on_downstream_above_write_watermark(self):
        self.log.append((self.name, "source paused"))

    def on_downstream_below_write_watermark(self):
        self.log.append((self.name, "source resumed"))


def head():
    return RequestHead(b"POST", b"/", b"x", headers=HeaderMap([(b"a", b"1")]))


def chain_of(*filters, limit=100):
    s = Stream(limit)
    return FilterChain(s, filters), s


def test_decoding_runs_in_order_encoding_in_reverse():
    log = []
    ch, s = chain_of(Rec("a", log), Rec("b", log))
    ch.decode_headers(head(), True)
    ch.encode_headers(ResponseHead(200), True)
    assert log == [("a", "dh", True), ("b", "dh", True), ("b", "eh", 200, True), ("a", "eh", 200, True)]
    assert s.out == [("headers", 200, True)]


def test_stop_iteration_holds_headers_but_the_filter_still_sees_data():
    log = []
    a = Rec("a", log, headers=STOP_ITERATION, data=STOP_ITERATION_AND_BUFFER)
    ch, _ = chain_of(a, Rec("b", log))
    ch.decode_headers(head(), False)
    ch.decode_data(b"12", False)
    ch.decode_data(b"34", True)
    assert log == [("a", "dh", False), ("a", "dd", b"12", False), ("a", "dd", b"34", True)]
    assert a.decoder_callbacks.decoding_buffer.bytes() == b"1234"
    log.clear()
    a.decoder_callbacks.continue_decoding()
    # headers first, then everything buffered in one piece, with the end of stream
    assert log == [("b", "dh", False), ("b", "dd", b"1234", True)]


def test_continue_from_data_after_stop_iteration_sends_headers_then_the_chunk():
    log = []
    ch, _ = chain_of(Rec("a", log, headers=STOP_ITERATION, data=CONTINUE), Rec("b", log))
    ch.decode_headers(head(), False)
    ch.decode_data(b"xy", True)
    assert log[1:] == [("a", "dd", b"xy", True), ("b", "dh", False), ("b", "dd", b"xy", True)]


def test_stop_all_iteration_buffers_data_and_trailers_without_calling_the_filter():
    log = []
    a = Rec("a", log, headers=STOP_ALL_ITERATION)
    ch, _ = chain_of(a, Rec("b", log))
    ch.decode_headers(head(), False)
    ch.decode_data(b"ab", False)
    ch.decode_data(b"cd", False)
    ch.decode_trailers(HeaderMap([(b"t", b"1")]))
    assert log == [("a", "dh", False)]
    a.decoder_callbacks.continue_decoding()
    assert log[1:] == [("b", "dh", False), ("b", "dd", b"abcd", False), ("b", "dt")]


def test_stop_iteration_from_data_drops_the_chunk_and_holds_the_end():
    log = []
    a = Rec("a", log, data=[STOP_ITERATION, CONTINUE])
    ch, _ = chain_of(a, Rec("b", log))
    ch.decode_headers(head(), False)
    ch.decode_data(b"mine", True)
    assert ("b", "dd", b"mine", True) not in log
    a.decoder_callbacks.continue_decoding()
    assert log[-1] == ("b", "dd", b"", True)  # the filter took the bytes; the end still arrives


def test_trailers_held_by_stop_iteration_until_continue():
    log = []
    a = Rec("a", log, trailers=STOP_ITERATION)
    ch, _ = chain_of(a, Rec("b", log))
    ch.decode_headers(head(), False)
    ch.decode_trailers(HeaderMap())
    assert ("b", "dt") not in log
    a.decoder_callbacks.continue_decoding()
    assert log[-1] == ("b", "dt")


def test_buffering_over_the_limit_is_413_for_requests():
    log = []
    ch, s = chain_of(Rec("a", log, data=STOP_ITERATION_AND_BUFFER), Rec("b", log), limit=10)
    ch.decode_headers(head(), False)
    ch.decode_data(b"x" * 6, False)
    assert s.out == []
    ch.decode_data(b"x" * 6, False)
    assert s.local[0] == 413 and s.out[0] == ("headers", 413, False)
    assert ch.decoding_stopped
    ch.decode_data(b"more", True)  # after a local reply, decoding goes no further
    assert ("a", "dd", b"more", True) not in log


def test_buffering_over_the_limit_is_500_for_responses():
    log = []
    ch, s = chain_of(Rec("a", log, encode_data=STOP_ITERATION_AND_BUFFER), limit=10)
    ch.decode_headers(head(), True)
    ch.encode_headers(ResponseHead(200), False)
    ch.encode_data(b"y" * 11, False)
    # the 200 already went to the client: a 500 cannot follow it, the stream is reset instead
    assert s.out == [("headers", 200, False), ("reset", "local reply after the response started")]
    assert s.ctx.stats.counter("http.rs_too_large") == 1


def test_stop_all_iteration_over_the_limit_pauses_the_clients_reads_until_continue():
    """Envoy's StopAllIterationAndWatermark, what its fault filter's delay does: a held upload larger
    than the buffer limit waits, paused, where it got a 413 (every delayed upload over 1 MiB)."""
    log = []
    a = Rec("a", log, headers=STOP_ALL_ITERATION)
    ch, s = chain_of(a, Rec("b", log), limit=10)
    ch.decode_headers(head(), False)
    ch.decode_data(b"x" * 6, False)
    ch.decode_data(b"x" * 6, False)
    ch.decode_data(b"x" * 6, True)
    assert s.out == [("reads", "paused")] and s.local is None  # once, and no 413
    a.decoder_callbacks.continue_decoding()
    assert log[1:] == [("b", "dh", False), ("b", "dd", b"x" * 18, True)]
    assert s.out == [("reads", "paused"), ("reads", "resumed")]


def test_stop_all_iteration_over_the_limit_pauses_the_upstream_response_until_continue():
    log = []
    a = Rec("a", log, encode=STOP_ALL_ITERATION)
    ch, s = chain_of(a, limit=10)
    ch.decode_headers(head(), True)
    ch.encode_headers(ResponseHead(200), False)
    ch.encode_data(b"z" * 11, False)
    assert log[-1] == ("a", "source paused") and s.out == [] and s.local is None
    a.encoder_callbacks.continue_encoding()
    assert s.out == [("headers", 200, False), ("data", b"z" * 11, False)] and log[-1] == ("a", "source resumed")


def test_held_response_is_replaced_by_a_500_when_headers_never_left():
    log = []
    ch, s = chain_of(Rec("a", log, encode=STOP_ITERATION, encode_data=STOP_ITERATION_AND_BUFFER), limit=10)
    ch.decode_headers(head(), True)
    ch.encode_headers(ResponseHead(200), False)
    ch.encode_data(b"z" * 11, False)
    assert s.out[0] == ("headers", 500, False) and s.out[1][0] == "data" and s.out[1][2] is True


def test_local_reply_runs_through_every_encoder_filter():
    log = []

    class Deny(StreamFilter):
        def decode_headers(self, head, end_stream):
            self.decoder_callbacks.send_local_reply(403, b"no", flags="RBAC")
            return STOP_ITERATION

    ch, s = chain_of(Rec("a", log), Deny(), Rec("c", log))
    ch.decode_headers(head(), True)
    assert ("c", "dh", True) not in log
    assert [e[:2] for e in log] == [("a", "dh"), ("c", "eh"), ("a", "eh"), ("c", "ed"), ("a", "ed")]
    assert s.local == (403, ("RBAC",)) and s.out == [("headers", 403, False), ("data", b"no", True)]


def test_wrong_status_is_a_contract_error():
    log = []
    ch, _ = chain_of(Rec("a", log, headers=STOP_ITERATION_AND_BUFFER))
    with pytest.raises(HttpFilterContractError, match="decode_headers returned"):
        ch.decode_headers(head(), True)


def test_continue_decoding_inside_own_callback_is_refused():
    class Eager(StreamFilter):
        def decode_headers(self, head, end_stream):
            self.decoder_callbacks.continue_decoding()
            return CONTINUE

    ch, _ = chain_of(Eager())
    with pytest.raises(HttpFilterContractError, match="from inside its own callback"):
        ch.decode_headers(head(), True)


def test_continue_after_the_stream_ended_is_ignored_and_destroy_runs_once():
    log = []
    a = Rec("a", log, headers=STOP_ITERATION)
    b = Rec("b", log)
    ch, _ = chain_of(a, b)
    ch.decode_headers(head(), True)
    ch.destroy()
    ch.destroy()
    a.decoder_callbacks.continue_decoding()
    assert ("b", "dh", True) not in log
    assert a.destroyed == b.destroyed == 1
