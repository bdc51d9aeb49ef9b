"""Shapes of the session's templated messages the action mutator draws more often than a random
operand byte would: hostile requests (fuzz/hostile.py) and responses that stream.

A request template (fuzz/payloads.py) reads one seed byte as a shape selector: a target with dot
segments, an encoded slash or dot, a query holding a URL, a 6 KiB query, an authority with "@", a
field name with "_", HTTP/2 trailers a client must not send. Most selector values pick none, so a
request the mutator draws carries a given shape one time in 256 at best (and never when its seed
is shorter than the selector's byte), while the connection manager's path, size and underscore
options only show their edges on those shapes. So a share of the requests the action mutator draws
get a selector drawn from the shapes alone (`shape`), and an input's request can be given one
(the action mutator's op `shape`).

A response streams when it runs to the connection's close (payloads.h1_response_until_close) and the
upstream keeps the connection: its end is left to later actions, and time passes with the response
started and not ended (route and idle timeouts count to a response's end). `streamed` makes an
upstream_http action one.

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
# Every selector that picks a shape, by family (fuzz/hostile.py's tables): a family is drawn first,
# then one of its shapes, so the eleven targets do not crowd out the five late shapes (the query
# URL, the encoded dots, the 6 KiB query) nor the five field names.
_N_TARGETS, _N_AUTHORITIES = len(hostile.TARGETS), len(hostile.AUTHORITIES)
FAMILIES = (
    range(1, 1 + _N_TARGETS),
    range(1 + _N_TARGETS, 1 + _N_TARGETS + _N_AUTHORITIES),
    range(1 + _N_TARGETS + _N_AUTHORITIES, 1 + hostile.N_SHAPES),
    range(1 + hostile.N_SHAPES, hostile.LATE_FIRST),  # HTTP/2 request trailers
    range(hostile.LATE_FIRST, hostile.LATE_FIRST + len(hostile.LATE)),
)
SHAPED = 0.4  # share of the requests a scenario draws that carry a shape
STREAMING = payloads.UPSTREAM_PAYLOADS.index(payloads.h1_response_until_close)
STREAMS = 0.5  # share of the upstream_http answers a scenario draws that stream


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
    return replace(action, payload=with_selector(action.payload, where, rng.choice(rng.choice(FAMILIES))))


def streamed(action):
    """An upstream_http `action` as a response that streams (its body open until a later close), or None."""
    if action.op != "upstream_http":
        return None
    return replace(action, value=STREAMING, end_stream=False)
