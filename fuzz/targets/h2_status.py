"""Response heads whose :status is not three digits, for the h2_codec harness: the input shape and
the oracle.

RFC 9113 8.3.2: ":status ... carries the HTTP status code field"; RFC 9110 15: a status code is a
three-digit integer; a response whose pseudo-header value is invalid is malformed (RFC 9113 8.1.1)
and an intermediary must not forward it (Envoy answers 503 with flag UPE). What a user of an HTTP/2
cluster relies on is that a client codec never hands such a response to its owner, whatever a
lenient number parser would make of it ("0200", "+200", "2_00" are 200 to Python's int()).

The driver's raw HEADERS frames from the server side may carry a response block built here: one
:status from RAW_STATUSES and a few fields, encoded as never-indexed literals by a fresh HPACK
encoder, so the client's dynamic table is neither read nor changed and the block means the same to
the client's decoder whatever came before. `StatusLedger` remembers, per stream, the raw response
heads sent with a malformed :status and any other head the server side sent there; a head the
client codec delivers on a stream where only malformed ones were sent is the violation
`h2_malformed_status_delivered`.
"""

import hpack

from fuzz.oracles import InvariantViolation

# Three digits, and the near misses a lenient reading takes for them.
RAW_STATUSES = [
    b"200",
    b"404",
    b"103",
    b"0200",
    b"+200",
    b"2_00",
    b"00200",
    b"-200",
    b"20",
    b"2000",
    b"20x",
    b"2.0",
    b"",
    b"\xd9\xa2\xd9\xa0\xd9\xa0",  # Arabic-Indic digits: str.isdigit() says yes
]


def three_digits(value: bytes) -> bool:
    """RFC 9110 15: exactly three ASCII digits."""
    return len(value) == 3 and all(0x30 <= c <= 0x39 for c in value)


def response_block(status: bytes, fields: list) -> bytes:
    """An HPACK block for (:status, fields) that neither uses nor changes a dynamic table."""
    headers = [hpack.NeverIndexedHeaderTuple(b":status", status)]
    headers += [hpack.NeverIndexedHeaderTuple(n, v) for n, v in fields]
    return hpack.Encoder().encode(headers)


class StatusLedger:
    """Per stream: raw response heads with a malformed :status, and whether any other head was sent."""

    def __init__(self) -> None:
        self.malformed: dict[int, list[bytes]] = {}
        self.other_heads: set[int] = set()

    def raw_head(self, stream_id: int, status: bytes | None) -> None:
        """A raw HEADERS frame from the server side: a response block of ours (its :status), or
        anything else (None: it may decode to any head)."""
        if status is not None and not three_digits(status):
            self.malformed.setdefault(stream_id, []).append(status)
        else:
            self.other_heads.add(stream_id)

    def check_delivered(self, stream_id: int, status: int, codec_sent_a_head: bool) -> None:
        """The client codec delivered a response head (final or informational) with `status`."""
        sent = self.malformed.get(stream_id)
        if not sent or codec_sent_a_head or stream_id in self.other_heads:
            return
        raise InvariantViolation(
            "h2_malformed_status_delivered",
            f"client codec delivered a response head with status {status} on stream {stream_id}, where the "
            f"server side sent only heads whose :status is not three digits: {sent!r} (RFC 9113 8.3.2, 8.1.1)",
            judged="proxy/http/h2.py:H2ClientCodec",
            expected="a stream error (malformed response), no head delivered",
            observed=status,
        )
