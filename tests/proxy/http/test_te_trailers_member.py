"""proxy/http/headers.py asks_for_trailers: a TE list asks for trailers when `trailers` is one of
its members (RFC 9110 10.1.4). A transfer-parameter's value may be a quoted-string (5.6.4), so a
`trailers` inside quotes is no member; split at every comma, the proxy forwarded `te: trailers`
for a client that never took them (fuzz/field_lists.py reads lists the same way for the oracles)."""

import pytest

from proxy.http.headers import asks_for_trailers, strip_hop_by_hop


@pytest.mark.parametrize(
    "te, asks",
    [
        (b"trailers", True),
        (b"gzip;q=0.5, Trailers", True),
        (b" , trailers ,", True),
        (b'x;p="a,b", trailers', True),
        (b"deflate", False),
        (b"trailers;q=0.5", False),
        (b'x;p="a, trailers, b"', False),
        (b'x;p="a\\", trailers", y', False),  # quoted-pair: the quote stays open past the comma
        (b'x;p="open, trailers', False),  # a quoted-string left open runs to the end
    ],
)
def test_asks_for_trailers(te, asks):
    assert asks_for_trailers(te) is asks
    assert (b"te", b"trailers") in strip_hop_by_hop([(b"TE", te)]) if asks else strip_hop_by_hop([(b"te", te)]) == []
