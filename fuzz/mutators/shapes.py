"""Hostile request shapes (fuzz/hostile.py) put into the seeds of session request templates.

A request template (fuzz/payloads.py) reads one seed byte as a shape selector: a target with dot
segments, an encoded slash or dot, a query holding a URL, a 6 KiB query, an authority with "@", a
field name with "_", HTTP/2 trailers a client must not send. Most selector values pick none, so a
request the mutator draws carries a given shape one time in 256 at best (and never when its seed
is shorter than the selector's byte), while the connection manager's path, size and underscore
options only show their edges on those shapes. So a share of the requests the action mutator draws
get a selector drawn from the shapes alone (`shape`), and an input's request can be given one
(`shape_one`).

The mutator knows where each template reads its selector from this table, not from the decoder;
tests/fuzz/test_mutator_request_shapes.py checks every entry against the templates themselves.
"""

import random
from dataclasses import replace

from fuzz import hostile, payloads

# template -> the (seed byte, shift) it reads its shape selector from: selector = byte >> shift
# (the bits below the shift keep their own meaning, HTTP/2's reset bit).
SHAPE_BYTES = {
    payloads.h1_request: ((7, 0),),
    payloads.h1_request_http10: ((7, 0),),
    payloads.h1_request_cut: ((8, 0),),  # h1_request of the seed after its cut byte
    payloads.h2_request: ((5, 1),),
}
# send_request's template is the connection's (h1_request or h2_request): both bytes get the
# selector (each template reads the other's byte as a field value or body byte).
FITTING = SHAPE_BYTES[payloads.h1_request] + SHAPE_BYTES[payloads.h2_request]
SELECTORS = range(1, hostile.LATE_FIRST + len(hostile.LATE))  # every selector that picks a shape
SHAPED = 0.3  # share of the requests a scenario draws that carry a shape


def positions(action) -> tuple:
    """Where `action`'s seed holds its shape selector (() for an action that sends no template request)."""
    if action.op == "send_request":
        return FITTING
    if action.op == "send_http":
        template = payloads.DOWNSTREAM_PAYLOADS[action.value % len(payloads.DOWNSTREAM_PAYLOADS)]
        return SHAPE_BYTES.get(template, ())
    return ()


def with_selector(seed: bytes, where: tuple, selector: int) -> bytes:
    """`seed` with `selector` at each of `where`'s bytes (the seed lengthened with zeros to reach them)."""
    out = bytearray(seed.ljust(max(i for i, _ in where) + 1, b"\0"))
    for i, shift in where:
        out[i] = ((selector << shift) | (out[i] & ((1 << shift) - 1))) & 0xFF
    return bytes(out)


def shape(action, rng: random.Random):
    """`action` with a shape drawn from all of them, or None when it sends no template request."""
    where = positions(action)
    if not where:
        return None
    return replace(action, payload=with_selector(action.payload, where, rng.choice(SELECTORS)))
