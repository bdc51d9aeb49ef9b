"""The buffer limit in an HTTP filter chain, as a user of per_connection_buffer_limit_bytes relies on
it: the body bytes a stream's filters hold in one direction stay within the stream's buffer limit,
or the source of that direction is paused until they drain, or the stream was answered instead
(Envoy: a filter that buffers over the limit gets a 413 for a request and a 500 for a response;
one that stops all iteration with watermarks pauses the client's reads, or the upstream's response
through the downstream watermark callbacks). Buffering past the limit with nothing of the kind is
memory a client or an upstream can grow without bound (the class of CVE-2019-9517).

Judged between actions on the harness's stream: the decoding direction's source is paused while
the stream holds a disable_downstream_reads, the encoding direction's while the terminal (the
router's place) is above the downstream watermark by the chain's calls (the harness's own watermark
actions, a client's slowness, are netted out)."""

from typing import Protocol

from fuzz import oracles


class _Held(Protocol):
    def __len__(self) -> int: ...


def held_bytes(buffers: list[_Held]) -> int:
    return sum(len(b) for b in buffers)


def check_buffer_bound(probe) -> None:
    """Raise buffer_over_limit_source_not_paused when a direction holds more than the stream's
    buffer limit in its filters' buffers with its source still flowing and no answer instead."""
    stream, chain = probe.stream, probe.chain
    if stream.ended or chain.local_reply_sent:
        return
    limit = stream.buffer_limit
    request = held_bytes([f.real_callbacks.decoding_buffer for f in probe.filters])
    if request > limit and not chain.decoding_stopped and stream.read_disabled == 0:
        raise oracles.InvariantViolation(
            "buffer_over_limit_source_not_paused",
            f"the filters hold {request} request body bytes, over the buffer limit {limit}, "
            "and the client's reads are not paused (no 413 either)",
        )
    response = held_bytes([f.real_callbacks.encoding_buffer for f in probe.filters])
    paused_by_chain = probe.terminal.above_watermark - probe.watermark_by_harness
    if response > limit and not chain.encoding_stopped and paused_by_chain <= 0:
        raise oracles.InvariantViolation(
            "buffer_over_limit_source_not_paused",
            f"the filters hold {response} response body bytes, over the buffer limit {limit}, "
            "and the upstream's response is not paused (no 500 either)",
        )
