"""Fault injection: HTTP abort and delay per request, network delay and throttle per connection.

HTTP (envoy/extensions/filters/http/fault/v3/fault.proto, HTTPFault; common/fault/v3/fault.proto):
  abort.percentage  "The percentage of requests ... on which the abort will be injected": a
                    FractionalPercent (numerator over HUNDRED, TEN_THOUSAND or MILLION); ours is a
                    plain percent, i.e. numerator over HUNDRED only (docs/semantics.md);
  abort.http_status the status of the local reply;
  delay.fixed_delay "Add a fixed delay before forwarding the operation upstream".
  Stats (fault filter docs): delays_injected, aborts_injected.
  Ours (bootstrap.proto HttpFault): an aborted request is answered at once, without the delay
  ("Delay every request that is not aborted"); Envoy delays first, then aborts (docs/semantics.md).

Network (bootstrap.proto Fault; Envoy has no network fault filter, docs/semantics.md):
  delay_ms                "Hold the connection's first bytes back this long before forwarding":
                          nothing from the client reaches an upstream before accept + delay_ms;
  throttle_bytes_per_sec  "Forward at most this many bytes per second in each direction": by time
                          t, at most rate * (floor((t - accept) / 1000) + 1) bytes went each way
                          (a second's allowance may go at once, never more); and in each second,
                          counted from the accept, at most rate bytes went each way, however quiet
                          the seconds before it were (a limit that saves idle seconds up lets ten
                          seconds' worth through at once: no longer the slow link it models).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class HttpFaultPrediction:
    abort_status: int | None  # a local reply with this status, at once
    delay_ms: int  # else: held this long before going on (0: at once)


def percent_happens(percent: int, u: float | None) -> bool:
    """FractionalPercent over HUNDRED with the draw u in [0, 1): enabled iff u < percent / 100.
    0% never and 100% always happen, with or without a draw."""
    if percent >= 100:
        return True
    if percent <= 0:
        return False
    if u is None:
        raise ValueError("a fraction strictly between 0% and 100% needs a draw")
    return u * 100 < percent


def http_decision(config, u: float | None) -> HttpFaultPrediction:
    """What our HttpFault does to one request whose abort draw was u (None: no draw made)."""
    if config.abort_percent and percent_happens(config.abort_percent, u):
        return HttpFaultPrediction(config.abort_status, 0)
    return HttpFaultPrediction(None, config.delay_ms)


def http_counters(prediction: HttpFaultPrediction) -> dict:
    if prediction.abort_status is not None:
        return {"aborts_injected": 1}
    return {"delays_injected": 1} if prediction.delay_ms else {}


def network_release_ms(config, accepted_ms: int) -> int:
    """The earliest time a byte from the client may reach an upstream."""
    return accepted_ms + config.delay_ms


def throttle_allowance(config, accepted_ms: int, now_ms: int) -> int | None:
    """The most bytes one direction may have forwarded by `now_ms` (None: not throttled)."""
    rate = config.throttle_bytes_per_sec
    if not rate:
        return None
    return rate * ((now_ms - accepted_ms) // 1000 + 1)


@dataclass
class WindowTally:
    """One direction of a throttled connection as seen at the oracle's checks: the window (seconds
    since accept) and the bytes forwarded in all at the last check, and the least of those that the
    window can have carried (checks come between actions; bytes seen moving across several windows
    are put into the earlier ones as far as their allowance goes)."""

    window: int = 0
    forwarded: int = 0
    in_window: int = 0


def window_carried(config, tally: WindowTally, accepted_ms: int, now_ms: int, forwarded: int) -> int:
    """Update `tally` with a check at `now_ms` that saw `forwarded` bytes in all; the least number of
    bytes the current window has carried (over throttle_bytes_per_sec: the limit was broken)."""
    rate = config.throttle_bytes_per_sec
    window = (now_ms - accepted_ms) // 1000
    moved = max(0, forwarded - tally.forwarded)
    if window == tally.window:
        tally.in_window += moved
    else:
        room = rate - min(rate, tally.in_window) + rate * (window - tally.window - 1)
        tally.in_window = max(0, moved - room)
    tally.window, tally.forwarded = window, forwarded
    return tally.in_window
