"""RFC 9110 6.5.1 keeps content-length (framing) out of trailers: an HTTP/2 request whose trailers hold
one is malformed (RST_STREAM PROTOCOL_ERROR), never forwarded into HTTP/1.1 chunked trailers. The
bytes of issue 13."""

from _hostile import PROTOCOL_ERROR, hx, send
from _live import check, ok

reaction, seen = send(
    hx(
        "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a000000040000000000000009010400000001838641016844"
        "022f7800000500000000000168656c6c6f0000040105000000015c023530"
    )
)
check(
    reaction.rst.get(1) == PROTOCOL_ERROR,
    f"content-length in HTTP/2 trailers got {reaction.status} / RST {reaction.rst}, the origin saw {seen}",
)
ok("content-length in HTTP/2 trailers was refused with RST_STREAM(PROTOCOL_ERROR)")
