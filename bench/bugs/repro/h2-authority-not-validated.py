""":authority is uri-host [":" port] (RFC 9113 8.3.1), as HTTP/1.1 Host is: "h/evil" is a malformed
request (RST_STREAM PROTOCOL_ERROR), never a Host sent upstream. The bytes of issue 13."""

from _hostile import PROTOCOL_ERROR, hx, send
from _live import check, ok

reaction, seen = send(
    hx(
        "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a00000004000000000000000e01050000000182864106"
        "682f6576696c44022f78"
    )
)
check(
    reaction.rst.get(1) == PROTOCOL_ERROR,
    f":authority h/evil got {reaction.status} / RST {reaction.rst}, the origin saw {seen}",
)
ok(":authority h/evil was refused with RST_STREAM(PROTOCOL_ERROR)")
