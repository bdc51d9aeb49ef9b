"""Model oracles for one HTTP filter, as the http_filter harness drives it.

The harness wraps the filter's decode_headers in `HttpFilterModel.decode_headers`: the model takes
what the filter was given (the request head, the client's address, the time, the random draws the
call made), predicts the filter's decision, and compares it with what the call did:
  - a denied / limited / aborted request gets exactly one local reply, with the predicted status,
    during the call (RBAC 403, local rate limit 429, fault abort_status);
  - an allowed request gets no local reply and the filter returns CONTINUE;
  - a delayed request is held (a Stop* status) and released by the filter exactly when the delay
    is due; a delay due while the stream is alive and not released is a violation too;
  - the filter's counters moved as the model says (fuzz.models.stats).
Violations are named model_<filter>_<what>.
"""

from typing import TYPE_CHECKING

from proxy.http.filter import CONTINUE

from fuzz.oracles import InvariantViolation

from . import fault, rbac, ratelimit, stats
from fuzz.targets.route_reference import Request

if TYPE_CHECKING:
    from proxy.tls.info import PeerCertificate

    from fuzz.targets.http_filter import Stream  # which imports this module

RBAC_COUNTERS = ("allowed", "denied", "shadow_allowed", "shadow_denied")
RATELIMIT_COUNTERS = ("allowed", "rate_limited")
FAULT_COUNTERS = ("aborts_injected", "delays_injected")
MODELLED = ("rbac", "local_ratelimit", "fault")


def peer_certificate(conn) -> "PeerCertificate | None":
    """The client certificate the connection's TLS layer verified, or None (plaintext, no mTLS)."""
    return getattr(getattr(conn, "ssl", None), "peer", None)


def request_of(head) -> Request:
    text = lambda b: b.decode("latin-1")  # noqa: E731
    return Request(
        text(head.method),
        text(head.authority),
        text(head.path),
        tuple((text(n), text(v)) for n, v in head.headers),
        text(head.scheme),
    )


def _judged(filt):
    """The proxy's filter behind the harness's wrapper: what triage should name."""
    return getattr(filt, "inner", filt)


class HttpFilterModel:
    """One session's model of the filter `name` configured by `config` (other filters: no model)."""

    def __init__(self, name: str, config, clock, counters: dict, draws) -> None:
        self.name, self.config, self.clock, self.counters, self.draws = name, config, clock, counters, draws
        self.active = name in MODELLED
        if name == "rbac":
            self.engine = rbac.from_http(config)
        elif name == "local_ratelimit":
            self.bucket = ratelimit.Bucket.of(config)
            self.state = ratelimit.start(self.bucket)
        # (stream, due_ms, what) for a predicted delay not yet released
        self.pending: tuple[Stream, int, str] | None = None

    # -- the filter's decode_headers -----------------------------------------------------------
    def decode_headers(self, filt, stream, head, call):
        if not self.active:
            return call()
        now, before, replies = self.clock(), dict(self.counters), len(stream.local_replies)
        mark = len(self.draws.drawn) if self.draws is not None else 0
        status = call()
        got = stream.local_replies[replies:]
        inputs = f"{head.method.decode('latin-1')} {head.path!r} from {stream.connection.remote_address[0]} at {now} ms"
        if self.name == "rbac":
            verdict = rbac.decide(
                self.engine,
                self.config.shadow,
                rbac.Subject(
                    stream.connection.remote_address[0], 0, request_of(head), peer_certificate(stream.connection)
                ),
            )
            want = ("continue", None) if verdict.allowed else ("reply", 403)
            counters, names, what = dict(verdict.counters), RBAC_COUNTERS, f"policy {verdict.policy}, {inputs}"
        elif self.name == "local_ratelimit":
            ok = ratelimit.take(self.bucket, self.state, now)
            want = ("continue", None) if ok else ("reply", 429)
            counters = {"allowed": 1} if ok else {"rate_limited": 1}
            names, what = RATELIMIT_COUNTERS, f"{self.bucket}, {inputs}"
        else:
            made = self.draws.since(mark) if self.draws is not None else []
            if 0 < self.config.abort_percent < 100 and not made:
                raise InvariantViolation(
                    "model_fault_no_draw",
                    f"abort_percent {self.config.abort_percent} decided without a random draw ({inputs})",
                    judged=_judged(filt),
                )
            prediction = fault.http_decision(self.config, made[0] if made else None)
            if prediction.abort_status is not None:
                want = ("reply", prediction.abort_status)
            elif prediction.delay_ms:
                want = ("hold", prediction.delay_ms)
            else:
                want = ("continue", None)
            counters, names = fault.http_counters(prediction), FAULT_COUNTERS
            what = f"abort {self.config.abort_percent}% draw {made[:1]}, delay {self.config.delay_ms} ms, {inputs}"
        self._compare(filt, stream, want, status, got, what, now)
        problems = stats.counter_moves(before, self.counters, self.name, names, counters)
        if problems:
            raise InvariantViolation(
                f"model_{self.name}_counters",
                "; ".join(problems) + f" ({what})",
                judged=_judged(filt),
                expected=counters,
                observed=problems,
            )
        return status

    def _compare(self, filt, stream, want, status, got, what, now) -> None:
        kind, arg = want
        observed = f"local replies {got}, returned {status}"
        if kind == "reply" and got != [arg]:
            wrong = True
        elif kind == "continue":
            wrong = bool(got) or status is not CONTINUE
        elif kind == "hold":
            wrong = bool(got) or status is CONTINUE
            if not wrong:
                self.pending = (stream, now + arg, what)
        else:
            wrong = False
        if wrong:
            decision = {
                "reply": f"a {arg} local reply",
                "continue": "CONTINUE without a local reply",
                "hold": f"held for {arg} ms",
            }[kind]
            raise InvariantViolation(
                f"model_{self.name}_decision",
                f"{what}: expected {decision}, observed {observed}",
                judged=_judged(filt),
                expected=decision,
                observed=observed,
            )

    # -- releases and time -----------------------------------------------------------------------
    def continued(self, filt, stream, external: bool) -> None:
        """The filter released the request: continue_decoding() (`external`: the harness made it), or
        CONTINUE returned from decode_data / decode_trailers after it stopped."""
        if self.pending is None or self.pending[0] is not stream:
            return
        _, due, what = self.pending
        self.pending = None
        now = self.clock()
        if not external and now != due:
            raise InvariantViolation(
                "model_fault_delay_released",
                f"{what}: released at {now} ms, due at {due} ms",
                judged=_judged(filt),
                expected=due,
                observed=now,
            )

    def check_time(self, filt, stream, chain) -> None:
        """After an action: a delay that is due on a live stream has been released."""
        if self.pending is None:
            return
        held, due, what = self.pending
        if held is not stream or stream.ended or chain.ended or chain.local_reply_sent:
            self.pending = None
            return
        if self.clock() >= due:
            raise InvariantViolation(
                "model_fault_delay_not_released",
                f"{what}: due at {due} ms, still held at {self.clock()} ms",
                judged=_judged(filt),
                expected=f"released at {due}",
                observed="held",
            )
