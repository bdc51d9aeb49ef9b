"""Envoy's "uber" HTTP filter fuzzer: any registered HTTP filter, a fuzzed config, one stream's actions.

Input layout:
    byte 0        which registered HTTP filter (proxy.http.registry, sorted by name)
    bytes 1-2     length L of the filter's configuration
    L bytes       the configuration, as binary protobuf of that HttpFilter member
    1 byte        layout: bits 0-1 where a scripted filter goes (none, after, before, none),
                  bits 2-3 the stream's buffer limit, bits 4-6 the client's address, bit 7: the
                  address is instead a boundary of the configuration's source prefixes (by the seed)
    1 byte        the first random draw (fuzz.models.draws: fault abort draws)
    4 bytes       the scripted filter's statuses, 2 bits per call, cyclic
    rest          actions (decode_actions below), at most MAX_ACTIONS

The chain is [chosen filter, (scripted filter), terminal] in the order the layout says; the
terminal records what reached it and produces the response as the router would. Invalid
configurations return early; one that validates but does not build is a validation gap (a crash).

Oracles (fuzz.oracles.InvariantViolation), besides HttpFilterContractError escaping as a crash:
  - after a filter returned a Stop* status, nothing reaches the filters after it in that direction
    (nor the terminal / the client) until it continues;
  - bytes are conserved: what entered a direction = what reached its end + what filters own
    (STOP_ITERATION from data) + what they hold, the reached bytes in order; a filter that is not
    documented to modify bodies leaves each chunk unchanged;
  - headers reach the end of each direction once, as the documented mutations make them;
  - a response (a local reply included) reaches the client only through every encoder filter,
    except a local reply replacing a response an encoder holds (the contract's direct path);
  - the stream ends exactly once, nothing is written after its end, every filter's on_destroy
    runs exactly once and no filter is called after it;
  - RBAC, local rate limit and fault decide each request as the reference models of fuzz/models
    (written from Envoy's docs) predict: status, hold and release time, counters.
A new filter is fuzzed by registering it; a filter that modifies bodies or headers is listed in
BODY_MODIFIERS / HEADER_REFERENCES with the documented effect.
"""

from collections.abc import Callable, Iterable
from types import MappingProxyType
from typing import cast

from google.protobuf.message import Message

from proxy.build import BuildContext, BuildError
from proxy.config import schema
from proxy.config.semantic import check_semantics
from proxy.config.validate import check_rules
from proxy.context import ServerContext
from proxy.event import SimulatedDispatcher
from proxy.http.filter import (
    CONTINUE,
    STOP_ALL_ITERATION,
    STOP_ITERATION,
    STOP_ITERATION_AND_BUFFER,
    FilterStatus,
    StreamFilter,
)
from proxy.http.filter_chain import FilterCallbacks, FilterChain
from proxy.http.message import HeaderMap, RequestHead, ResponseHead
from proxy.http.registry import http_filter_factory, registered_http_filters

from fuzz import filter_timers, oracles
from fuzz.memo import Memo
from fuzz.models import draws, http_oracle, rbac as rbac_model
from fuzz.session import Reader
from fuzz.targets.describe import config_text
from fuzz.targets.http_filter_buffers import check_buffer_bound

MAX_ACTIONS = 128
MAX_STREAMS = 8
BUFFER_LIMITS = (64, 1024, 16384, 1 << 20)
SOURCES = ("127.0.0.1", "10.1.2.3", "192.168.0.7", "::1", "172.16.5.4", "10.0.0.1", "2001:db8::1", "8.8.8.8")
TIME_STEPS_MS = (0, 1, 10, 100, 999, 1_000, 5_000, 60_000)
STATUSES = (200, 204, 304, 403, 404, 413, 429, 500, 503, 101)
DEC, ENC = 0, 1
Header = tuple[bytes, bytes]
MakeFilter = Callable[[ServerContext], StreamFilter]  # a registered factory's product: one filter per stream
Action = tuple[str, int, bytes, bool]  # (op, argument byte, payload, end): decode_actions
_CACHE = Memo(256)  # (name, blob) -> (config, make)

# Filters documented to change request or response bodies: their chunks may differ after the call.
BODY_MODIFIERS: frozenset = frozenset()

# (method, path, authority, headers)
REQUESTS: tuple[tuple[bytes, bytes, bytes, list[Header]], ...] = (
    (b"GET", b"/", b"example.com", [(b"user-agent", b"curl/8.5.0"), (b"accept", b"*/*")]),
    (
        b"POST",
        b"/login",
        b"example.com",
        [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"27")],
    ),
    (b"DELETE", b"/admin/users/1", b"api.example.com", [(b"x-internal", b"1")]),
    (b"PUT", b"/upload/f.bin", b"example.com:8080", [(b"expect", b"100-continue"), (b"x-canary", b"yes")]),
    (b"GET", b"/v1/items?x=1", b"localhost", [(b"server", b"x"), (b"x-debug", b"on"), (b"cookie", b"a=1")]),
    (b"HEAD", b"/index.html", b"www.example.org", []),
    (b"OPTIONS", b"*", b"example.com", [(b"x-proxied-by", b"someone")]),
    (b"PATCH", b"/api/thing", b"10.0.0.1", [(b"x-canary", b"no"), (b"x-canary", b"yes")]),
)
RESPONSE_HEADERS = [(b"server", b"nginx/1.24.0"), (b"content-type", b"text/plain")]


class Invalid(Exception):
    """The input's configuration is not valid: an expected, early return."""


def filter_names() -> list[str]:
    return [n for n in registered_http_filters() if n in schema.HttpFilter.DESCRIPTOR.fields_by_name]


# ---------------------------------------------------------------------------------------------
# Configuration: parse, validate as part of a bootstrap, build (cached: makers are immutable)


def bootstrap_for(name: str, config: Message) -> schema.Bootstrap:
    boot = schema.Bootstrap()
    listener = boot.listeners.add(name="l0")
    listener.address.host, listener.address.port = "127.0.0.1", 10000
    hcm = listener.filter_chains.add().filters.add().http_connection_manager
    getattr(hcm.http_filters.add(), name).CopyFrom(config)
    vh = hcm.route_config.virtual_hosts.add(name="all", domains=["*"])
    vh.routes.add().match.prefix = "/"
    vh.routes[0].route.cluster = "c0"
    boot.clusters.add(name="c0").endpoints.add(host="127.0.0.1", port=9000)
    return boot


def built_for(name: str, blob: bytes) -> tuple[Message, MakeFilter]:
    """(config message, make) for filter `name` configured by `blob`; raises Invalid."""
    key = (name, blob)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    field = schema.HttpFilter.DESCRIPTOR.fields_by_name[name]
    config = schema.message_class(field.message_type)()
    try:
        config.ParseFromString(blob)
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends: not a message
        raise Invalid(str(exc)) from None
    boot = bootstrap_for(name, config)
    if check_rules(boot) or check_semantics(boot):
        raise Invalid("configuration does not validate")
    build = BuildContext(clusters=MappingProxyType({}), listener_name="l0", path=f"http_filters[0].{name}")
    try:
        make = http_filter_factory(name)(config, build)
    except BuildError as exc:
        raise oracles.InvariantViolation("validated_http_filter_config_does_not_build", str(exc)) from None
    return _CACHE.put(key, (config, make))


# ---------------------------------------------------------------------------------------------
# Documented header effects, per filter: what a head looks like after the filter's callback


def _header_mutation(config: Message, headers: list[Header], request: bool) -> list[Header]:
    add = config.request_headers_to_add if request else config.response_headers_to_add
    remove = config.request_headers_to_remove if request else config.response_headers_to_remove
    gone = {n.lower().encode() for n in remove}
    return [(n, v) for n, v in headers if n not in gone] + [(k.lower().encode(), v.encode()) for k, v in add.items()]


HEADER_REFERENCES = {"header_mutation": _header_mutation}


# ---------------------------------------------------------------------------------------------
# The stream's view of the world: what the connection manager would provide


class _Connection:
    def __init__(self, remote: tuple[str, int]) -> None:
        self.remote_address = remote
        self.ssl = None  # plaintext: no TLS session, no client certificate (RBAC's authenticated principal)


class Stream:
    """The chain's `stream` (see proxy/http/filter_chain.py): the sink records what reaches the
    client and checks that the stream ends exactly once and nothing follows its end."""

    def __init__(
        self, ctx: ServerContext, buffer_limit: int, remote: tuple[str, int], stream_id: int, probe: "Probe"
    ) -> None:
        self.ctx = ctx
        self.dispatcher = ctx.dispatcher
        self.buffer_limit = buffer_limit
        self.connection = _Connection(remote)
        self.stream_id = stream_id
        self.stream_info: dict = {"response_flags": []}
        self.response_started = False
        self.ended = False
        self.end_kind: str | None = None
        self.read_disabled = 0
        self.local_status: int | None = None
        self.local_replies: list = []  # statuses, in order (the models check who sent which)
        self.bypass = False  # a local reply replaced a held response: it skips the encoders
        self.chain: FilterChain  # set by Session.new_stream: the chain is made with its stream
        self.probe = probe
        self.out_head: ResponseHead | None = None
        self.out_body = bytearray()
        self.out_end = False

    def _written(self, what: str, kind: str) -> None:
        if self.ended:
            raise oracles.InvariantViolation(
                "written_after_stream_end", f"{what} after the stream ended as {self.end_kind}"
            )
        if self.out_end:
            raise oracles.InvariantViolation("written_after_end_stream", f"{what} after the response's end of stream")
        if not self.bypass:
            self.probe.arriving(None, ENC, what, kind)

    def write_headers(self, head: ResponseHead, end_stream: bool) -> None:
        self._written("response headers", "headers")
        if self.out_head is not None:
            raise oracles.InvariantViolation("response_headers_twice", f"{head.status} after {self.out_head.status}")
        self.response_started = True
        self.out_head = head
        self.out_end = end_stream
        self.probe.response_reached_client(head)
        if end_stream:
            self._end("response")

    def write_data(self, data: bytes, end_stream: bool) -> None:
        self._written("response data", "end" if end_stream else "data")
        if self.out_head is None:
            raise oracles.InvariantViolation("response_data_before_headers", f"{len(data)} bytes")
        self.out_body += data
        self.out_end = end_stream
        if end_stream:
            self._end("response")

    def write_trailers(self, trailers: HeaderMap) -> None:
        self._written("response trailers", "end")
        if self.out_head is None:
            raise oracles.InvariantViolation("response_trailers_before_headers", "")
        self.out_end = True
        self._end("response")

    def reset(self, reason: str, flag: str = "") -> None:
        if self.ended:
            return  # as ActiveStream: a reset of an ended stream is a no-op
        self._end("reset")

    def note_local_reply(self, status: int, flags: object) -> None:
        self.local_status = status
        self.local_replies.append(status)
        self.bypass = self.probe.encode_entered  # the encoders hold a response: the reply goes direct

    def route(self) -> None:
        return None

    def disable_reads(self, disable: bool) -> None:
        if self.ended:
            return
        if disable:
            self.read_disabled += 1
        elif self.read_disabled == 0:
            raise oracles.InvariantViolation("read_enable_unbalanced", "disable_downstream_reads(False) without (True)")
        else:
            self.read_disabled -= 1

    def _end(self, kind: str) -> None:
        if self.ended:
            raise oracles.InvariantViolation("stream_ended_twice", f"as {kind} after {self.end_kind}")
        self.ended, self.end_kind = True, kind
        self.chain.destroy()


# ---------------------------------------------------------------------------------------------
# Observation: every filter is wrapped; the probe holds the model the oracles check against


class _Callbacks:
    """The callbacks a wrapped filter sees: the chain's, with continue_* noted by the model."""

    def __init__(self, real: FilterCallbacks, observed: "Observed") -> None:
        self._real, self._observed = real, observed

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)

    def continue_decoding(self) -> None:
        observed = self._observed
        observed.set_status(DEC, CONTINUE)
        if observed.model is not None:
            observed.model.continued(observed, observed.probe.stream, observed.external_continue)
        self._real.continue_decoding()

    def continue_encoding(self) -> None:
        self._observed.set_status(ENC, CONTINUE)
        self._real.continue_encoding()


class Observed(StreamFilter):
    """Delegates to one filter; records its statuses (the stop model), ownership, destroys."""

    def __init__(self, inner: StreamFilter, name: str, probe: "Probe", config: Message | None = None) -> None:
        self.inner, self.name, self.probe, self.config = inner, name, probe, config
        self.index = 0
        self.stopped = [False, False]
        self.owned = [0, 0]
        self.saw_headers = [False, False]
        self.headers_released = [False, False]
        self.past_at_stop = [0, 0]  # bytes beyond this filter when it last stopped
        self.destroyed = 0
        self.real_callbacks: FilterCallbacks  # the chain's, set when the chain is made
        self.model: http_oracle.HttpFilterModel | None = None  # the chosen filter's model
        self.external_continue = False  # the harness, not the filter, is continuing it

    def set_decoder_filter_callbacks(self, callbacks: FilterCallbacks) -> None:
        self.real_callbacks = callbacks
        self.decoder_callbacks = self.encoder_callbacks = callbacks
        wrapped = cast(FilterCallbacks, _Callbacks(callbacks, self))  # FilterCallbacks' surface, by delegation
        self.inner.set_decoder_filter_callbacks(wrapped)
        self.inner.set_encoder_filter_callbacks(wrapped)

    def set_encoder_filter_callbacks(self, callbacks: FilterCallbacks) -> None:
        pass  # one callbacks object serves both directions (set above)

    def continue_(self, direction: int) -> None:
        """The harness resumes this filter from outside its callbacks (a timer's way)."""
        cb = self.inner.decoder_callbacks
        self.external_continue = True
        try:
            (cb.continue_decoding if direction == DEC else cb.continue_encoding)()
        finally:
            self.external_continue = False

    def set_status(self, direction: int, status: FilterStatus) -> None:
        """The stop model: a Stop* status holds what reached this filter; CONTINUE or
        continue_*() releases it (the headers included, if they were held)."""
        if status is CONTINUE:
            if direction == DEC and self.stopped[DEC] and self.model is not None:
                # Released by a status too (CONTINUE from decode_data after STOP_ITERATION from
                # decode_headers), not only by continue_decoding(): a delay judges both.
                self.model.continued(self, self.probe.stream, self.external_continue)
            self.stopped[direction] = False
            self.headers_released[direction] = self.saw_headers[direction]
        else:
            self.stopped[direction] = True
            self.past_at_stop[direction] = self.probe.past(self, direction)

    def _headers(self, direction, method, head, end):
        self.probe.arriving(self, direction, method, "headers")
        self.saw_headers[direction] = True
        if direction == DEC and self.model is not None:
            status = self.model.decode_headers(
                self, self.probe.stream, head, lambda: getattr(self.inner, method)(head, end)
            )
        else:
            status = getattr(self.inner, method)(head, end)
        self.set_status(direction, status)
        return status

    def _data(self, direction, method, data, end):
        self.probe.arriving(self, direction, method, "end" if end else "data")
        before = data.bytes()
        status = getattr(self.inner, method)(data, end)
        if status is STOP_ITERATION:
            self.owned[direction] += len(before)
        elif self.name not in BODY_MODIFIERS and data.bytes() != before:
            raise oracles.InvariantViolation(
                "undocumented_body_modification", f"{self.name}.{method} changed a {len(before)}-byte chunk"
            )
        self.set_status(direction, status)
        return status

    def _trailers(self, direction, method, trailers):
        self.probe.arriving(self, direction, method, "end")
        status = getattr(self.inner, method)(trailers)
        self.set_status(direction, status)
        return status

    def decode_headers(self, head, end_stream):
        return self._headers(DEC, "decode_headers", head, end_stream)

    def decode_data(self, data, end_stream):
        return self._data(DEC, "decode_data", data, end_stream)

    def decode_trailers(self, trailers):
        return self._trailers(DEC, "decode_trailers", trailers)

    def encode_headers(self, head, end_stream):
        return self._headers(ENC, "encode_headers", head, end_stream)

    def encode_data(self, data, end_stream):
        return self._data(ENC, "encode_data", data, end_stream)

    def encode_trailers(self, trailers):
        return self._trailers(ENC, "encode_trailers", trailers)

    def on_downstream_above_write_watermark(self):
        self.inner.on_downstream_above_write_watermark()

    def on_downstream_below_write_watermark(self):
        self.inner.on_downstream_below_write_watermark()

    def on_destroy(self):
        self.destroyed += 1
        if self.destroyed > 1:
            raise oracles.InvariantViolation("on_destroy_twice", self.name)
        self.inner.on_destroy()


class ScriptedFilter(StreamFilter):
    """A test filter whose statuses come from the input: 2 bits per call, cyclic over 32 bits."""

    CHOICES = (
        (CONTINUE, CONTINUE, STOP_ITERATION, STOP_ALL_ITERATION),  # headers
        (CONTINUE, CONTINUE, STOP_ITERATION_AND_BUFFER, STOP_ITERATION),  # data
        (CONTINUE, CONTINUE, CONTINUE, STOP_ITERATION),
    )  # trailers

    def __init__(self, script: int) -> None:
        self.script, self.calls = script, 0

    def _next(self, kind: int):
        bits = (self.script >> (2 * (self.calls % 16))) & 3
        self.calls += 1
        return self.CHOICES[kind][bits]

    def decode_headers(self, head, end_stream):
        return self._next(0)

    def decode_data(self, data, end_stream):
        return self._next(1)

    def decode_trailers(self, trailers):
        return self._next(2)

    def encode_headers(self, head, end_stream):
        return self._next(0)

    def encode_data(self, data, end_stream):
        return self._next(1)

    def encode_trailers(self, trailers):
        return self._next(2)


class Terminal(StreamFilter):
    """The last decoder and first encoder, as the router: takes the request (owning its bytes),
    records what reached it, and sends the response the harness asks for."""

    def __init__(self, probe: "Probe") -> None:
        self.probe = probe
        self.head: RequestHead | None = None
        self.body = bytearray()
        self.trailers: HeaderMap | None = None
        self.request_end = False
        self.response_head_sent = False
        self.response_end = False
        self.destroyed = 0
        self.fed_enc = bytearray()
        self.above_watermark = 0  # the router's count: above-watermark calls less below-watermark ones

    def _arrive(self, method: str, kind: str) -> None:
        self.probe.arriving(self, DEC, method, kind)
        if self.request_end:
            raise oracles.InvariantViolation("decoded_after_end_stream", f"terminal {method} after the request ended")

    def decode_headers(self, head, end_stream):
        self._arrive("decode_headers", "headers")
        if self.head is not None:
            raise oracles.InvariantViolation("request_headers_twice", "the terminal got request headers twice")
        self.head = head
        self.request_end = end_stream
        self.probe.request_reached_terminal(head)
        return STOP_ITERATION

    def decode_data(self, data, end_stream):
        self._arrive("decode_data", "end" if end_stream else "data")
        if self.head is None:
            raise oracles.InvariantViolation("request_data_before_headers", "at the terminal")
        self.body += data.take()
        self.request_end = end_stream
        return STOP_ITERATION

    def decode_trailers(self, trailers):
        self._arrive("decode_trailers", "end")
        self.trailers = trailers
        self.request_end = True
        return STOP_ITERATION

    def encode_headers(self, head, end_stream):
        self.probe.encode_entered = True
        self.probe.response_entered(head)
        return CONTINUE

    def encode_data(self, data, end_stream):
        self.fed_enc += data.bytes()
        return CONTINUE

    def on_downstream_above_write_watermark(self):
        self.above_watermark += 1

    def on_downstream_below_write_watermark(self):
        self.above_watermark -= 1

    def on_destroy(self):
        self.destroyed += 1
        if self.destroyed > 1:
            raise oracles.InvariantViolation("on_destroy_twice", "terminal")

    # the upstream's side, driven by the harness
    def can_respond(self) -> bool:
        chain = self.probe.chain
        return self.head is not None and not self.response_end and not chain.ended and not chain.local_reply_sent

    def respond_headers(self, status: int, end: bool) -> None:
        self.response_head_sent, self.response_end = True, end
        self.decoder_callbacks.encode_headers(ResponseHead(status, HeaderMap(RESPONSE_HEADERS)), end)

    def respond_data(self, data: bytes, end: bool) -> None:
        self.response_end = end
        self.decoder_callbacks.encode_data(data, end)

    def respond_trailers(self) -> None:
        self.response_end = True
        self.decoder_callbacks.encode_trailers(HeaderMap([(b"x-checksum", b"abc")]))


class Probe:
    """One stream's model and checks."""

    def __init__(self) -> None:
        self.filters: list[Observed] = []  # chain order, terminal excluded
        self.terminal: Terminal  # terminal, stream and chain: set by Session.new_stream
        self.stream: Stream
        self.chain: FilterChain
        self.encode_entered = False
        self.request_fed: tuple[bytes, bytes, bytes, tuple[Header, ...]] | None = None
        self.request_done = False
        self.response_fed: tuple[int, list[Header]] | None = None
        self.fed_dec = bytearray()
        self.conservation = [True, True]  # checked while the direction is live
        self.watermark_by_harness = 0  # the client's own watermark calls (the _watermark action), net

    def arriving(self, who: "Observed | Terminal | None", direction: int, what: str, kind: str) -> None:
        """`who` (a filter, the terminal, None: the client) gets `kind` (headers, data, end):
        no filter before it in this direction may still hold that part of the stream."""
        if who is not None and who.destroyed:
            raise oracles.InvariantViolation("called_after_on_destroy", f"{what} on a destroyed filter")
        if isinstance(who, Terminal):  # this probe's: a terminal reports to its own probe
            if direction == ENC:
                return
            earlier = self.filters
        elif direction == DEC:
            assert who is not None, "the client only receives the response"
            earlier = self.filters[: who.index]
        else:
            earlier = self.filters if who is None else self.filters[who.index + 1 :]
        for f in earlier:
            held = (
                not f.headers_released[direction]
                if kind == "headers"
                else f.stopped[direction]
                if kind == "end"
                else False
            )
            if held:
                target = "the client" if who is None else ("the terminal" if isinstance(who, Terminal) else who.name)
                raise oracles.InvariantViolation(
                    "passed_after_stop_iteration",
                    f"{what} reached {target} while {f.name} has not continued its "
                    f"{'decoding' if direction == DEC else 'encoding'}",
                )

    def past(self, f: "Observed", direction: int) -> int:
        """Body bytes beyond filter f in `direction`: at the end, or held or owned by later filters."""
        if direction == DEC:
            later, end = self.filters[f.index + 1 :], len(self.terminal.body)
            held = sum(len(g.real_callbacks.decoding_buffer) for g in later)
        else:
            later, end = self.filters[: f.index], len(self.stream.out_body)
            held = sum(len(g.real_callbacks.encoding_buffer) for g in later)
        return end + held + sum(g.owned[direction] for g in later)

    def check_stopped_hold(self) -> None:
        """While a filter is stopped, no body byte gets past it (what was already past may move on).
        Checked between actions: during one, a chunk in transit between filters is not counted."""
        for direction in (DEC, ENC):
            if not self.conservation[direction]:
                continue
            for f in self.filters:
                if f.stopped[direction] and self.past(f, direction) != f.past_at_stop[direction]:
                    raise oracles.InvariantViolation(
                        "passed_after_stop_iteration",
                        f"{self.past(f, direction) - f.past_at_stop[direction]} body bytes got past {f.name} "
                        f"while it had not continued its {'decoding' if direction == DEC else 'encoding'}",
                    )

    def _expected_headers(self, fed: list[Header], request: bool) -> list[Header]:
        for f in self.filters if request else reversed(self.filters):
            ref = HEADER_REFERENCES.get(f.name)
            if ref is not None:
                fed = ref(f.config, fed, request)
        return sorted(fed)

    def request_reached_terminal(self, head: RequestHead) -> None:
        assert self.request_fed is not None, "the session records a request before it feeds it"
        method, path, authority, headers = self.request_fed
        if (head.method, head.path, head.authority) != (method, path, authority):
            raise oracles.InvariantViolation(
                "request_line_changed", f"{head.method!r} {head.path!r} {head.authority!r}"
            )
        want = self._expected_headers(list(headers), True)
        if sorted(head.headers) != want:
            raise oracles.InvariantViolation(
                "request_headers_differ", f"terminal got {sorted(head.headers)}, documented {want}"
            )

    def response_entered(self, head: ResponseHead) -> None:
        if self.response_fed is not None:
            raise oracles.InvariantViolation("response_entered_twice", f"{head.status}")
        self.response_fed = (head.status, list(head.headers))

    def response_reached_client(self, head: ResponseHead) -> None:
        if self.stream.bypass:
            return
        skipped = [f.name for f in self.filters if not f.saw_headers[ENC]]
        if skipped or self.response_fed is None:
            raise oracles.InvariantViolation(
                "response_skipped_encoders", f"{head.status} reached the client without {skipped or ['the terminal']}"
            )
        status, headers = self.response_fed
        want = self._expected_headers(headers, False)
        if head.status != status or sorted(head.headers) != want:
            raise oracles.InvariantViolation(
                "response_headers_differ",
                f"client got {head.status} {sorted(head.headers)}, documented {status} {want}",
            )

    def check_bytes(self) -> None:
        chain, stream = self.chain, self.stream
        if chain.ended or chain.decoding_stopped:
            self.conservation[DEC] = False
        if chain.ended or chain.encoding_stopped or stream.bypass:
            self.conservation[ENC] = False
        self.check_stopped_hold()
        for direction in (DEC, ENC):
            if not self.conservation[direction]:
                continue
            if direction == DEC:
                fed, reached = bytes(self.fed_dec), bytes(self.terminal.body)
                held = [f.real_callbacks.decoding_buffer.bytes() for f in reversed(self.filters)]
            else:
                fed, reached = bytes(self.terminal.fed_enc), bytes(stream.out_body)
                held = [f.real_callbacks.encoding_buffer.bytes() for f in self.filters]
            owned = sum(f.owned[direction] for f in self.filters)
            flow = reached + b"".join(held)
            name = "request" if direction == DEC else "response"
            if len(flow) + owned != len(fed):
                raise oracles.InvariantViolation(
                    "body_bytes_not_conserved",
                    f"{name}: {len(fed)} bytes in, {len(reached)} reached the end, {len(flow) - len(reached)} held, "
                    f"{owned} owned by filters",
                )
            if (owned == 0 and flow != fed) or not _subsequence(flow, fed):
                raise oracles.InvariantViolation("body_bytes_reordered", f"{name}: bytes out of order or invented")

    def check_destroyed(self) -> None:
        for f in self.filters + [self.terminal]:
            if f.destroyed != 1:
                raise oracles.InvariantViolation(
                    "on_destroy_not_once", f"{getattr(f, 'name', 'terminal')}: {f.destroyed}"
                )


def _subsequence(part: bytes, whole: bytes) -> bool:
    it = iter(whole)
    return all(any(b == c for c in it) for b in part)


# ---------------------------------------------------------------------------------------------
# The session


class Session:
    def __init__(self, name: str, config: Message, make: MakeFilter, layout: int, seed: int, script: int) -> None:
        self.name, self.config, self.make = name, config, make
        self.placement = layout & 3
        self.buffer_limit = BUFFER_LIMITS[(layout >> 2) & 3]
        self.remote = (_source(name, config, layout, seed), 40000)
        self.script = script
        self.dispatcher = SimulatedDispatcher()  # the session moves its clock and runs what is posted
        filter_timers.watch(self.dispatcher)
        self.ctx = ServerContext(dispatcher=self.dispatcher, network=None)
        # ScriptedRandom has the part of random.Random that filters draw with (randrange, random)
        self.ctx.random = draws.ScriptedRandom(seed, self.dispatcher.now_ms)  # type: ignore[assignment]
        self.model = http_oracle.HttpFilterModel(
            name, config, self.dispatcher.now_ms, self.ctx.stats.counters, self.ctx.random
        )
        self.streams = 0
        self.probe: Probe  # the current stream's
        self.new_stream()

    def new_stream(self) -> None:
        probe = Probe()
        chosen = Observed(self.make(self.ctx), self.name, probe, self.config)
        chosen.model = self.model
        self.chosen = chosen
        filters: list[Observed] = [chosen]
        if self.placement in (1, 2):
            scripted = Observed(ScriptedFilter(self.script), "scripted", probe)
            filters = [chosen, scripted] if self.placement == 1 else [scripted, chosen]
        for i, f in enumerate(filters):
            f.index = i
        probe.filters = filters
        probe.terminal = Terminal(probe)
        probe.stream = Stream(self.ctx, self.buffer_limit, self.remote, 1 + 2 * self.streams, probe)
        probe.chain = probe.stream.chain = FilterChain(probe.stream, filters + [probe.terminal])
        self.streams += 1
        self.probe = probe

    def end_stream(self) -> None:
        """As a connection close would: reset a stream that has not ended; then every filter
        must have been destroyed exactly once."""
        p = self.probe
        if not p.stream.ended:
            p.stream.reset("connection closed")
        self.dispatcher.run_posted()
        p.check_destroyed()

    def who(self, b: int) -> "Observed | Terminal":
        """An actor for local replies / continue / reset: a filter or the terminal."""
        actors: list[Observed | Terminal] = [*self.probe.filters, self.probe.terminal]
        return actors[b % len(actors)]

    def apply(self, op: str, a: int, payload: bytes, end: bool) -> None:
        """One action (_ACTIONS says what each op does). Only advance and new_stream act on an
        ended stream; the checks run after an action that acted on the current stream."""
        act, on_ended = _ACTIONS[op]
        p = self.probe
        if (on_ended or not p.stream.ended) and act(self, p, a, payload, end):
            self.dispatcher.run_posted()
            p.check_bytes()
            check_buffer_bound(p)
            self.model.check_time(self.chosen, p.stream, p.chain)


# Each action: (session, probe, argument byte, payload, end) -> whether it acted on the stream.
Act = Callable[["Session", "Probe", int, bytes, bool], bool]


def _new_stream(s: Session, p: Probe, a: int, payload: bytes, end: bool) -> bool:
    if s.streams < MAX_STREAMS:
        s.end_stream()
        s.new_stream()
    return False  # the checks belong to the stream just ended (end_stream ran them)


def _advance(s: Session, p: Probe, a: int, payload: bytes, end: bool) -> bool:
    s.dispatcher.advance(TIME_STEPS_MS[a % len(TIME_STEPS_MS)])
    return True


def _decode_headers(s: Session, p: Probe, a: int, payload: bytes, end: bool) -> bool:
    if p.request_fed is None:
        method, path, authority, headers = REQUESTS[a % len(REQUESTS)]
        p.request_fed = (method, path, authority, tuple(headers))
        p.request_done = end
        p.chain.decode_headers(RequestHead(method, path, authority, headers=HeaderMap(headers)), end)
    return True


def _decode_data(s: Session, p: Probe, a: int, payload: bytes, end: bool) -> bool:
    if p.request_fed is None or p.request_done:
        return False
    if p.chain.decoder.live and not p.chain.ended:
        p.fed_dec += payload
    p.request_done = end
    p.chain.decode_data(payload, end)
    return True


def _decode_trailers(s: Session, p: Probe, a: int, payload: bytes, end: bool) -> bool:
    if p.request_fed is None or p.request_done:
        return False
    p.request_done = True
    p.chain.decode_trailers(HeaderMap([(b"x-checksum", b"abc")]))
    return True


def _encode_headers(s: Session, p: Probe, a: int, payload: bytes, end: bool) -> bool:
    if not p.terminal.can_respond() or p.terminal.response_head_sent:
        return False
    p.terminal.respond_headers(STATUSES[a % len(STATUSES)], end)
    return True


def _encode_data(s: Session, p: Probe, a: int, payload: bytes, end: bool) -> bool:
    if not p.terminal.can_respond() or not p.terminal.response_head_sent:
        return False
    p.terminal.respond_data(payload, end)
    return True


def _encode_trailers(s: Session, p: Probe, a: int, payload: bytes, end: bool) -> bool:
    if not p.terminal.can_respond() or not p.terminal.response_head_sent:
        return False
    p.terminal.respond_trailers()
    return True


def _local_reply(s: Session, p: Probe, a: int, payload: bytes, end: bool) -> bool:
    body = (b"", b"denied\n", b"x" * 100)[(a >> 4) % 3]
    s.who(a).decoder_callbacks.send_local_reply(STATUSES[(a >> 2) % len(STATUSES)], body)
    return True


def _continue(direction: int) -> Act:
    def act(s: Session, p: Probe, a: int, payload: bytes, end: bool) -> bool:
        actor = s.who(a)
        if isinstance(actor, Observed):
            actor.continue_(direction)
        return True

    return act


def _filter_reset(s: Session, p: Probe, a: int, payload: bytes, end: bool) -> bool:
    s.who(a).decoder_callbacks.reset_stream("reset by a filter")
    return True


def _reset(s: Session, p: Probe, a: int, payload: bytes, end: bool) -> bool:
    p.stream.reset("downstream reset")
    return True


def _watermark(s: Session, p: Probe, a: int, payload: bytes, end: bool) -> bool:
    p.watermark_by_harness += 1 if a & 1 else -1
    p.chain.on_downstream_watermark(bool(a & 1))
    return True


# op -> (action, whether it acts on an ended stream too); every op of OPS has one entry.
_ACTIONS: dict[str, tuple[Act, bool]] = {
    "decode_headers": (_decode_headers, False),
    "decode_data": (_decode_data, False),
    "decode_trailers": (_decode_trailers, False),
    "encode_headers": (_encode_headers, False),
    "encode_data": (_encode_data, False),
    "encode_trailers": (_encode_trailers, False),
    "local_reply": (_local_reply, False),
    "continue_decoding": (_continue(DEC), False),
    "continue_encoding": (_continue(ENC), False),
    "advance": (_advance, True),
    "reset": (_reset, False),
    "filter_reset": (_filter_reset, False),
    "new_stream": (_new_stream, True),
    "watermark": (_watermark, False),
}


def _source(name: str, config: Message, layout: int, seed: int) -> str:
    """The client's address: SOURCES by layout bits 4-6, or with bit 7 an address on the edge of one
    of the configuration's source prefixes (fuzz.models.rbac.boundary_addresses), by the seed."""
    edges = (
        rbac_model.boundary_addresses(p for policy in getattr(config, "policies", ()) for p in policy.source_prefixes)
        if layout & 0x80
        else ()
    )
    return edges[seed % len(edges)] if edges else SOURCES[(layout >> 4) & 7]


OPS = (
    "decode_headers",
    "decode_data",
    "decode_trailers",
    "encode_headers",
    "encode_data",
    "encode_trailers",
    "local_reply",
    "continue_decoding",
    "continue_encoding",
    "advance",
    "reset",
    "filter_reset",
    "new_stream",
    "watermark",
)
_PAYLOAD_OPS = ("decode_data", "encode_data")


def decode_actions(r: Reader) -> list[Action]:
    """(op, argument byte, payload, end) tuples from the rest of the input."""
    actions: list[Action] = []
    while r.remaining() > 0 and len(actions) < MAX_ACTIONS:
        op = OPS[r.int(1, len(OPS))]
        a = r.int(1, 256)
        payload = r.bytes(a) if op in _PAYLOAD_OPS else b""
        actions.append((op, a, payload, bool(a & 0x80) if op not in _PAYLOAD_OPS else bool(r.int(1, 2))))
    return actions


def encode_actions(actions: Iterable[Action]) -> bytes:
    out = bytearray()
    for op, a, payload, end in actions:
        out.append(OPS.index(op))
        if op in _PAYLOAD_OPS:
            out += bytes([len(payload)]) + payload + bytes([int(end)])
        else:
            out.append((a & 0x7F) | (0x80 if end else 0))
    return bytes(out)


def _decode_head(r: Reader) -> tuple[str, bytes, int, int, int]:
    """(filter name, configuration blob, layout, random seed, script): what precedes the actions."""
    names = filter_names()
    name = names[r.int(1, len(names))]
    blob = r.bytes(r.int(2, 4096))
    return name, blob, r.int(1, 256), r.int(1, 256), r.int(4, 1 << 32)


def run(data: bytes) -> Session | None:
    r = Reader(data)
    name, blob, layout, seed, script = _decode_head(r)
    try:
        config, make = built_for(name, blob)
    except Invalid:
        return None
    session = Session(name, config, make, layout, seed, script)
    for op, a, payload, end in decode_actions(r):
        session.apply(op, a, payload, end)
    session.end_stream()
    return session


def describe(data: bytes) -> str:
    """An input as run reads it: the filter, its configuration, the layout, the actions."""
    r = Reader(data)
    name, blob, layout, seed_, script = _decode_head(r)
    head = [
        f"filter {name}, layout {layout:08b}, random seed {seed_}, script {script:032b}",
        "config: " + config_text(schema.HttpFilter, name, blob),
    ]
    actions = [
        f"{i:3}  {op} arg={a}{' end' if end else ''}{' ' + repr(payload[:40]) if payload else ''}"
        for i, (op, a, payload, end) in enumerate(decode_actions(r))
    ]
    return "\n".join(head + actions)


def seed(name: str, config: Message, layout: int, seed_: int, script: int, actions: Iterable[Action]) -> bytes:
    blob = config.SerializeToString(deterministic=True)
    return (
        bytes([filter_names().index(name)])
        + len(blob).to_bytes(2, "big")
        + blob
        + bytes([layout, seed_])
        + script.to_bytes(4, "big")
        + encode_actions(actions)
    )


# ---------------------------------------------------------------------------------------------
# Seeds


def _configs() -> dict:
    """Each filter's configurations: the examples' and a few hand-picked ones."""
    from fuzz.targets.examples import example_connection_managers

    configs: dict = {n: [] for n in filter_names()}
    for hcm in example_connection_managers():
        for h in hcm.http_filters:
            kind = h.WhichOneof("filter")
            if kind in configs:
                configs[kind].append(getattr(h, kind))
    cls = {n: schema.message_class(schema.HttpFilter.DESCRIPTOR.fields_by_name[n].message_type) for n in configs}
    fault = cls["fault"](delay_ms=100)
    abort = cls["fault"](abort_status=503, abort_percent=50, delay_ms=10)
    configs.get("fault", []).extend([fault, abort])
    rl = cls["local_ratelimit"](max_tokens=1, tokens_per_fill=1, fill_interval_ms=1000)
    configs.get("local_ratelimit", []).append(rl)
    rbac = cls["rbac"](action=0)
    p = rbac.policies.add(name="canary", methods=["GET", "PUT"])
    p.headers.add(name="x-canary", exact="yes")
    rbac.policies.add(name="local", source_prefixes=["127.0.0.0/8"])
    configs.get("rbac", []).append(rbac)
    hm = cls["header_mutation"](request_headers_to_remove=["x-internal", "x-canary"])
    hm.request_headers_to_add["x-canary"] = "no"
    hm.response_headers_to_add["x-served-by"] = "proxyfuzz"
    configs.get("header_mutation", []).append(hm)
    return configs


def _a(op: str, a: int = 0, payload: bytes = b"", end: bool = False) -> Action:
    return (op, a, payload, end)


SCRIPTS = {
    "get_ok": [
        _a("decode_headers", 0, end=True),
        _a("encode_headers", 0),
        _a("encode_data", payload=b"hello"),
        _a("encode_data", payload=b" world", end=True),
    ],
    "post_body_trailers": [
        _a("decode_headers", 1),
        _a("decode_data", payload=b"user=alice"),
        _a("decode_data", payload=b"&password=secret1"),
        _a("decode_trailers"),
        _a("encode_headers", 0),
        _a("encode_data", payload=b"ok"),
        _a("encode_trailers"),
    ],
    "delayed": [
        _a("decode_headers", 3),
        _a("decode_data", payload=b"\x00\x01\x02\x03", end=True),
        _a("advance", 3),
        _a("advance", 5),
        _a("encode_headers", 1, end=True),
    ],
    "stop_and_continue": [
        _a("decode_headers", 2),
        _a("decode_data", payload=b"abc"),
        _a("continue_decoding", 0),
        _a("continue_decoding", 1),
        _a("decode_data", payload=b"def", end=True),
        _a("continue_decoding", 1),
        _a("encode_headers", 0),
        _a("continue_encoding", 1),
        _a("encode_data", payload=b"xyz", end=True),
        _a("continue_encoding", 1),
    ],
    "local_reply_midway": [
        _a("decode_headers", 1),
        _a("decode_data", payload=b"x" * 40),
        _a("local_reply", 0x11),
        _a("continue_encoding", 1),
        _a("advance", 7),
    ],
    "overflow_413": [
        _a("decode_headers", 1),
        _a("decode_data", payload=b"y" * 200),
        _a("decode_data", payload=b"z" * 200, end=True),
    ],
    "reset_midway": [_a("decode_headers", 4), _a("encode_headers", 0), _a("encode_data", payload=b"part"), _a("reset")],
    "three_streams": [
        _a("decode_headers", 0, end=True),
        _a("encode_headers", 0, end=True),
        _a("new_stream"),
        _a("decode_headers", 2, end=True),
        _a("new_stream"),
        _a("decode_headers", 5, end=True),
        _a("advance", 5),
        _a("encode_headers", 1, end=True),
    ],
    "watermarks_head": [
        _a("decode_headers", 5, end=True),
        _a("watermark", 1),
        _a("encode_headers", 0),
        _a("watermark", 0),
        _a("encode_data", payload=b"", end=True),
    ],
}
# (layout, scripted filter's statuses): none; after, all CONTINUE; before, stop then continue;
# after, buffering data; small buffer limit with a scripted filter
LAYOUTS = ((0, 0), (1, 0), (2, 0b10_00_10_10), (1, 0b11_10_11_10_00_10), (0b0101, 0b10101010))


def write_seeds(out) -> int:
    import hashlib
    from pathlib import Path

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for name, configs in _configs().items():
        for config in configs[:4]:
            for layout, script in LAYOUTS:
                for actions in SCRIPTS.values():
                    data = seed(name, config, layout, 7, script, actions)
                    (out / hashlib.sha1(data).hexdigest()).write_bytes(data)
                    count += 1
    for data in model_seeds():
        (out / hashlib.sha1(data).hexdigest()).write_bytes(data)
        count += 1
    return count


def model_seeds() -> list:
    """Inputs on the models' boundaries: clients on the edges of RBAC source prefixes (layout bit 7),
    a token bucket drained and refilled around its fill time, abort draws either side of the percent."""
    cls = {n: schema.message_class(schema.HttpFilter.DESCRIPTOR.fields_by_name[n].message_type) for n in filter_names()}
    allow = cls["rbac"](action=0)
    allow.policies.add(name="inner", source_prefixes=["10.1.2.0/24", "2001:db8::/33"])
    deny = cls["rbac"](action=1, shadow=False)
    deny.policies.add(name="lan", source_prefixes=["192.168.0.0/23", "172.16.0.0/12"], methods=["GET", "DELETE"])
    shadow = cls["rbac"](action=1, shadow=True)
    shadow.policies.add(name="all", path_prefixes=["/v1", "/admin"])
    mtls = cls["rbac"](action=1)  # a plaintext client is never an authenticated principal
    mtls.policies.add(
        name="mtls", source_prefixes=["10.1.2.0/24"]
    ).principals.add().authenticated.principal_name.exact = "x"
    # A header condition alone decides: REQUESTS meet it (PUT), fail it (no x-canary) and repeat it
    # (PATCH: "no,yes", Envoy's joined value, is not exactly "yes").
    canary = cls["rbac"](action=0)
    canary.policies.add(name="canary").headers.add(name="x-canary", exact="yes")
    out = [
        seed("rbac", config, 0x80, edge, 0, [_a("decode_headers", edge, end=True)])
        for config in (allow, deny, shadow, mtls, canary)
        for edge in range(8)
    ]
    get = _a("decode_headers", 0, end=True)
    bucket = cls["local_ratelimit"](max_tokens=2, tokens_per_fill=1, fill_interval_ms=1000)
    burst = [
        get,
        _a("new_stream"),
        get,
        _a("new_stream"),
        get,
        _a("advance", 4),
        _a("new_stream"),
        get,
        _a("advance", 1),
        _a("new_stream"),
        get,
        _a("new_stream"),
        get,
        _a("advance", 7),
        _a("new_stream"),
        get,
    ]
    out += [
        seed("local_ratelimit", bucket, 0, 7, 0, burst),
        seed("local_ratelimit", bucket, 0, 7, 0, [_a("advance", 2)] + burst),
    ]
    for percent, either_side in ((50, (127, 128)), (30, (76, 77)), (1, (2, 3)), (99, (253, 254))):
        abort = cls["fault"](abort_status=503, abort_percent=percent, delay_ms=100)
        out += [
            seed(
                "fault",
                abort,
                0,
                d,
                0,
                [get, _a("advance", 3), _a("new_stream"), get, _a("advance", 2), _a("advance", 3)],
            )
            for d in either_side
        ]
    return out


if __name__ == "__main__":
    import sys

    print(f"wrote {write_seeds(sys.argv[1] if len(sys.argv) > 1 else 'corpus/http_filter')} seeds")
