"""Oracles: checks that turn a wrong answer into a crash.

The contract, stated once: an oracle that sees a broken invariant raises InvariantViolation.
Harness allow-lists never swallow it (fuzz.harness.allow re-raises it), so under atheris it is
an uncaught exception, i.e. a crash file.
"""

from . import blame


class InvariantViolation(AssertionError):
    """An invariant of the code under test does not hold; `name` identifies which one.

    `judged` is the proxy object, class or function whose outcome the oracle found wrong (triage
    titles and groups the finding by it; without it, triage replays name the proxy code that ran
    last: fuzz/blame.py). `expected` and `observed` say what a reference predicted and what
    happened, for the report. The message reads
    "invariant 'NAME' violated (judged: proxy/x.py:Qualname): detail", then the two lines.
    """

    def __init__(self, name: str, detail: str = "", *, judged=None, expected=None, observed=None):
        self.name = name
        self.detail = detail
        self.component = blame.component_of(judged) if judged is not None else blame.last_component()
        self.expected, self.observed = expected, observed
        text = f"invariant '{name}' violated" + (f" (judged: {self.component})" if self.component else "")
        text += f": {detail}" if detail else ""
        if expected is not None or observed is not None:
            text += f"\n  expected: {expected}\n  observed: {observed}"
        super().__init__(text)


class FilterRules:
    """Iteration rules observed from outside the filter manager (proxy/network/filter.py;
    docs/architecture.md "Network filter iteration rules").

    - every read filter saw on_new_connection before its first on_data;
    - a read filter that resumed iteration on a connection still open afterwards has the
      filter after it initialized (iteration reached it, so on_new_connection ran);
    - no filter is called once its connection is no longer open;
    - no read filter gets data before its connection is Connected.
    Install per server instance: `ctx.filter_observer = FilterRules()` (proxy/context.py); every
    connection the instance creates reports to it, and nothing outside the instance does.
    """

    def __init__(self) -> None:
        self._initialized: set[int] = set()
        self._keep: list = []  # keeps ids stable: filters stay alive for the session
        self.calls = 0

    def __call__(self, conn, filt, kind: str) -> None:
        self.calls += 1
        if kind == "resumed":
            self._check_resumed(conn, filt)
            return
        if not conn.is_open:
            raise InvariantViolation(
                "filter_called_after_close", f"{type(filt).__name__}.{kind} on {conn!r}", judged=conn.filter_manager
            )
        key = id(filt)
        if kind == "new":
            if key in self._initialized:
                raise InvariantViolation("on_new_connection_twice", type(filt).__name__, judged=conn.filter_manager)
            self._initialized.add(key)
            self._keep.append(filt)
        elif kind == "data" and key not in self._initialized:
            raise InvariantViolation(
                "on_data_before_on_new_connection", type(filt).__name__, judged=conn.filter_manager
            )
        elif kind == "data" and not conn.connected:
            # proxy/network/transport_socket.py: filters see plaintext only, after Connected (a TLS
            # handshake), so a gatekeeping filter waiting for Connected is never overtaken by data.
            raise InvariantViolation(
                "data_before_connected",
                f"{type(filt).__name__}.on_data on {conn!r}",
                judged=conn.transport_socket or conn,
            )

    def _check_resumed(self, conn, filt) -> None:
        if not conn.is_open:
            return  # iteration may legitimately have stopped at a close
        chain = [active.filter for active in conn.filter_manager.read_filters]
        at = next((i for i, f in enumerate(chain) if f is filt), None)
        if at is not None and at + 1 < len(chain) and id(chain[at + 1]) not in self._initialized:
            raise InvariantViolation(
                "resume_skipped_on_new_connection",
                f"{type(filt).__name__} resumed iteration, {type(chain[at + 1]).__name__} "
                f"after it never saw on_new_connection",
                judged=conn.filter_manager,
            )


def check_read_buffer_bound(conn, read_size: int) -> None:
    """The read buffer never exceeds its limit plus one read (reads stop above high); a read through
    a TLS transport socket may also complete one record begun before it."""
    read_size += getattr(conn.transport_socket, "max_plaintext_per_read", 0)
    if conn.buffer_limit and len(conn.read_buffer) > conn.buffer_limit + 1 + read_size:
        raise InvariantViolation(
            "read_buffer_over_limit",
            f"{len(conn.read_buffer)} bytes buffered, limit {conn.buffer_limit}, one read {read_size}",
            judged=conn,
        )


def check_stream_prefix(name: str, sent: bytes, received: bytes, finished: bool) -> None:
    """Bytes relayed by the proxy: never invented (a prefix of what was sent), and all of
    them once the receiving side has seen a clean end of stream."""
    if not sent.startswith(received):
        at = next((i for i, (a, b) in enumerate(zip(sent, received)) if a != b), min(len(sent), len(received)))
        raise InvariantViolation(
            "bytes_invented", f"{name}: received {len(received)} bytes, differ from sent ({len(sent)}) at offset {at}"
        )
    if finished and len(received) != len(sent):
        raise InvariantViolation("bytes_lost", f"{name}: end of stream after {len(received)} of {len(sent)} bytes")


def check_watermark_state(name: str, buf, owner=None) -> None:
    """A WatermarkBuffer's above-high flag agrees with a model of its crossings: above the
    high watermark it must be set, at or under the low watermark it must be clear. With `owner`
    the buffer is named "<owner>.<name>", formatted only on failure (checked after every action)."""
    high, low, n = buf.high_watermark, buf.low_watermark, len(buf)
    if not high:
        return
    if n > high and not buf.above_high_watermark:
        raise InvariantViolation(
            "watermark_missed_high", f"{_named(name, owner)}: {n} bytes > high {high} but not above high", judged=buf
        )
    if n <= low and buf.above_high_watermark:
        raise InvariantViolation(
            "watermark_missed_low", f"{_named(name, owner)}: {n} bytes <= low {low} but still above high", judged=buf
        )


def _named(name: str, owner) -> str:
    return f"{owner!r}.{name}" if owner is not None else name


def check_token_buckets(shared: dict) -> None:
    """Every token bucket in a server's shared state stays within 0..max_tokens."""
    for state in shared.values():
        tokens, most = getattr(state, "tokens", None), getattr(state, "max_tokens", None)
        if isinstance(tokens, int) and isinstance(most, int) and not 0 <= tokens <= most:
            raise InvariantViolation("token_bucket_out_of_range", f"{tokens} tokens, max {most}", judged=state)


def check_gauges_drained(stats) -> None:
    """Once every connection is closed, no gauge of active or pending things stays up."""
    for name, value in stats.gauges.items():
        if value and ("active" in name or "pending" in name):
            raise InvariantViolation("gauge_leaked", f"{name} = {value} after every connection closed")


def check_http_requests_accounted(stats) -> None:
    """With no stream active, every request ended one way: a response, a local reply or a reset
    (per stat prefix: `http.` and `http.<prefix>.`)."""
    c, g = stats.counters, stats.gauges
    for name in [n for n in c if n.startswith("http.") and n.endswith("downstream_rq_total")]:
        p = name[: -len("downstream_rq_total")]
        if g.get(p + "downstream_rq_active", 0):
            continue
        ended = (
            c.get(p + "downstream_rs_total", 0) + c.get(p + "local_replies", 0) + c.get(p + "downstream_rq_reset", 0)
        )
        if c[name] != ended:
            raise InvariantViolation(
                "http_requests_unaccounted", f"{name} = {c[name]} but responses + local replies + resets = {ended}"
            )
