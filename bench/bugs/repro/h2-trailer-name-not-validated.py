"""Trailer names are held to the rules of header names (RFC 9113 8.2.1): "grpc-stasi/" is no token, so
the request is malformed (RST_STREAM PROTOCOL_ERROR) instead of reaching the HTTP/1.1 side, whose
codec cannot write it. The bytes of issue 13 (found by http_translate after 175 s)."""

from _hostile import PROTOCOL_ERROR, hx, send
from _live import check, ok

reaction, seen = send(
    hx(
        "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a00002a04000000000000010000100000020000000100040000ffff000500"
        "004000000800000000000300000064000600010000000039010400000001838741882f91d35d055c87a74484626b2b277a8825b650c3"
        "cbb6b83f5383f963e74082497f864d833505b11f5f8b1d75d0620d263d4c4d656400000a000000000001000000000568656c6c6f0000"
        "0c01050000000140889acac8b21234198f8107"
    )
)
check(
    reaction.rst.get(1) == PROTOCOL_ERROR,
    f"trailer name grpc-stasi/ got {reaction.status} / RST {reaction.rst}"
    f" (proxy sent {reaction.raw[-60:]!r}), the origin saw {seen}",
)
ok("the trailer name grpc-stasi/ was refused with RST_STREAM(PROTOCOL_ERROR)")
