"""A #fragment is no part of a request target (RFC 9110 7.1): Envoy answers 400 since CVE-2021-32779;
forwarded, "/admin#x" misses the exact route "/admin" and reaches the origin."""

from _hostile import send
from _live import check, ok

reaction, seen = send(b"GET /admin#x HTTP/1.1\r\nHost: h\r\n\r\n")
check(reaction.statuses[:1] == [400], f"GET /admin#x got {reaction.statuses} and the origin saw {seen}")
ok("GET /admin#x got 400")
