"""headers_with_underscores_action defaults to REJECT_REQUEST: "Transfer_Encoding: chunked" beside a real
Content-Length (which CGI/WSGI-style mapping reads as Transfer-Encoding) gets 400 and reaches no one.
The bytes of issue 13."""

from _hostile import send
from _live import check, ok

reaction, seen = send(
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer_Encoding: chunked\r\nContent-Length: 40\r\n\r\n"
    b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
)
check(
    reaction.statuses[:1] == [400] and not seen,
    f"Transfer_Encoding beside Content-Length got {reaction.statuses}, the origin saw {seen}",
)
ok("a header name with '_' got 400 with the default configuration")
