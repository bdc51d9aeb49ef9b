"""Reading the load generators' reports (bench proxy): wrk's text, h2load's summary and its
per-request log. Pure functions; a report that does not have what we need raises ReportError
naming the missing part (a tool that failed early prints something else entirely)."""

import re
from dataclasses import dataclass


class ReportError(ValueError):
    """A load generator's output lacks a figure the bench needs."""


@dataclass(frozen=True)
class LoadResult:
    requests: int  # completed requests (any status)
    rps: float  # requests per second as the tool reports it
    p99_ms: float | None  # 99th percentile latency; None when the tool gave no distribution
    errors: int  # socket errors, non-2xx/3xx, failed or timed-out requests


_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def wrk_time_ms(text: str) -> float:
    """wrk's latency figure ("134.00us", "5.46ms", "1.02s", "2.00m") in milliseconds."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)(us|ms|s|m|h)\s*", text)
    if m is None:
        raise ReportError(f"not a wrk time: {text!r}")
    return float(m.group(1)) * _TIME_UNITS[m.group(2)]


def parse_wrk(output: str) -> LoadResult:
    """The figures of `wrk --latency` output."""
    rps = re.search(r"^Requests/sec:\s+([0-9.]+)\s*$", output, re.M)
    done = re.search(r"^\s*(\d+) requests in ", output, re.M)
    if rps is None or done is None:
        raise ReportError("wrk output has no 'Requests/sec:' or 'N requests in' line")
    p99 = re.search(r"^\s+99(?:\.0+)?%\s+(\S+)\s*$", output, re.M)
    errors = 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if sock:
        errors += sum(int(g) for g in sock.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    return LoadResult(int(done.group(1)), float(rps.group(1)), wrk_time_ms(p99.group(1)) if p99 else None, errors)


def parse_h2load(output: str, latencies_us: list[int] | None = None) -> LoadResult:
    """The figures of h2load's summary; p99 from `latencies_us` (its --log-file), if given."""
    rps = re.search(r"^finished in [0-9.]+(?:us|ms|s|m|h), ([0-9.]+) req/s", output, re.M)
    req = re.search(
        r"^requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, "
        r"(\d+) errored, (\d+) timeout",
        output,
        re.M,
    )
    if rps is None or req is None:
        raise ReportError("h2load output has no 'finished in' or 'requests:' line")
    done, succeeded, failed, errored, timeout = (int(g) for g in req.groups())
    codes = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", output, re.M)
    bad_status = int(codes.group(3)) + int(codes.group(4)) if codes else 0
    p99 = percentile(latencies_us, 99) / 1000 if latencies_us else None
    return LoadResult(done, float(rps.group(1)), p99, failed + errored + timeout + bad_status)


def parse_h2load_log(text: str) -> list[int]:
    """Per-request durations (microseconds) from h2load's --log-file: start, status, duration."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) < 3 or not cols[2].strip().isdigit():
            raise ReportError(f"h2load log line {n} is not 'start<TAB>status<TAB>duration': {line[:80]!r}")
        out.append(int(cols[2]))
    return out


def percentile(values: list[int], pct: float) -> float:
    """Nearest-rank percentile (what wrk prints): the smallest value with pct% at or below it."""
    if not values:
        raise ReportError("no latencies to take a percentile of")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil(n * pct / 100)
    return float(ordered[int(rank) - 1])
