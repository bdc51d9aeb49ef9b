"""A path is RFC 3986 pchar and "/" with well-formed %XX: "/a\\b" is refused with 400 (a backend that
reads "\\" as "/" would route on another path than the proxy matched)."""

from _hostile import send
from _live import check, ok

reaction, seen = send(b"GET /a\\b HTTP/1.1\r\nHost: h\r\n\r\n")
check(reaction.statuses[:1] == [400], f"GET /a\\b got {reaction.statuses} and the origin saw {seen}")
ok("GET /a\\b got 400")
