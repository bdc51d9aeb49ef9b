"""Planted bugs for the triage tests. The first byte of the input selects one:

A  root cause 1: an uncaught KeyError from a header lookup (any input starting with A)
B  root cause 2: a broken invariant, `bytes_conserved`, raised as InvariantViolation (needs a
   byte after the B)
D  drift bait: 8 bytes or more raise LookupError in frame_length; shorter D-inputs raise a
   different bug (ValueError in short_frame), so minimizing without a signature check drifts
F  flaky: fails on 2 of every 5 runs (a counter file named by $TRIAGE_FLAKY_STATE), or on
   about half of them (os.urandom) when the variable is unset
T  timeout: a busy loop (bounded at 120 s so a stray run still ends)
M  out of memory: allocates 1 MiB blocks (bounded at 4 GiB)
J  a broken invariant raised by fuzz.oracles naming the proxy component it judged
anything else: no failure
"""

import fcntl
import os
import time


class InvariantViolation(AssertionError):
    """Same name as fuzz.oracles.InvariantViolation: triage goes by the type's name."""


def dispatch(data: bytes) -> None:
    if not data:
        return
    handler = HANDLERS.get(data[:1])
    if handler:
        handler(data)


def lookup_header(data: bytes) -> bytes:
    headers = {b"host": b"example"}
    return headers[data[1:] or b"missing"]


def parse_request(data: bytes) -> None:
    lookup_header(data)


def check_bytes_conserved(data: bytes) -> None:
    body = data[1:]
    forwarded = body[:-1]  # the planted bug: the last byte of the body is lost
    if len(forwarded) != len(body):
        raise InvariantViolation(f"bytes_conserved: {len(body)} bytes in, {len(forwarded)} forwarded")


def frame_length(data: bytes) -> None:
    if len(data) >= 8:
        raise LookupError("frame length field points past the end")
    short_frame(data)


def short_frame(data: bytes) -> None:
    raise ValueError("short frame")


def flaky(data: bytes) -> None:
    state = os.environ.get("TRIAGE_FLAKY_STATE")
    if state:
        with open(state, "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(b".")
            f.flush()
            count = os.fstat(f.fileno()).st_size
        fails = count % 5 in (1, 2)
    else:
        fails = os.urandom(1)[0] < 128
    if fails:
        raise RuntimeError("lost a race")


def spin(data: bytes) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pass


def hoard(data: bytes) -> None:
    blocks = []
    for _ in range(4096):
        blocks.append(bytearray(1 << 20))
        blocks[-1][::4096] = b"x" * 256  # touch every page: resident, not just reserved


HANDLERS = {
    b"A": parse_request,
    b"B": check_bytes_conserved,
    b"D": frame_length,
    b"F": flaky,
    b"T": spin,
    b"M": hoard,
}


def judged_invariant(data: bytes) -> None:
    """An oracle finding that names the proxy component it judged (fuzz.oracles' contract)."""
    from fuzz.oracles import InvariantViolation as OracleViolation
    from proxy.buffer import WatermarkBuffer

    raise OracleViolation(
        "buffer_model", "3 bytes held", judged=WatermarkBuffer, expected="0 bytes", observed="3 bytes"
    )


def describe(data: bytes) -> str:
    """The readable form triage shows beside the hex dump."""
    return f"bug {data[:1].decode(errors='replace')}, {len(data) - 1} more bytes"


HANDLERS[b"J"] = judged_invariant
