"""h1_hop_by_hop_handed_on (fuzz/targets/h1.py): the fields an HTTP/1.1 codec hands on are exactly the
message's end-to-end fields (RFC 9110 7.6.1). Each plant below is a hop-by-hop sanitizer done by
halves in the codec: the oracle catches it on a plain message, and the real codec passes the same
messages."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import h1
from proxy.http import h1 as h1_codec
from proxy.http.headers import strip_hop_by_hop

TE_LIST = b"GET /a HTTP/1.1\r\nHost: a.example\r\nTE: trailers, deflate\r\nConnection: te\r\n\r\n"
KEEP_ALIVE = b"GET /b HTTP/1.1\r\nHost: a.example\r\nKeep-Alive: timeout=5\r\n\r\n"
NOMINATED = b"GET /c HTTP/1.1\r\nHost: a.example\r\nConnection: x-hop\r\nX-Hop: 1\r\nX-End: 2\r\n\r\n"
RESPONSE_KEEP_ALIVE = b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nhi"


def te_forwarded_whole(headers):
    """A TE that names trailers goes on as the client wrote it."""
    kept = strip_hop_by_hop([(n, v) for n, v in headers if n.lower() != b"te"])
    return kept + [(n.lower(), v) for n, v in headers if n.lower() == b"te" and b"trailers" in v.lower()]


def keep_alive_kept(headers):
    return strip_hop_by_hop(headers) + [(n.lower(), v) for n, v in headers if n.lower() == b"keep-alive"]


def connection_kept(headers):
    """The fields Connection names go, Connection itself stays."""
    return strip_hop_by_hop(headers) + [(n.lower(), v) for n, v in headers if n.lower() == b"connection"]


@pytest.mark.parametrize("data", [TE_LIST, KEEP_ALIVE, NOMINATED])
def test_the_real_server_codec_hands_on_end_to_end_fields_only(data):
    h1.check_server(data)


def test_the_real_client_codec_hands_on_end_to_end_fields_only():
    h1.check_client(RESPONSE_KEEP_ALIVE)


@pytest.mark.parametrize(
    "plant, data",
    [(te_forwarded_whole, TE_LIST), (keep_alive_kept, KEEP_ALIVE), (connection_kept, NOMINATED)],
    ids=["te-forwarded-whole", "keep-alive-kept", "connection-kept"],
)
def test_a_server_codec_handing_on_a_hop_by_hop_field_fails(monkeypatch, plant, data):
    monkeypatch.setattr(h1_codec, "strip_hop_by_hop", plant)
    with pytest.raises(InvariantViolation) as caught:
        h1.check_server(data)
    assert caught.value.name == "h1_hop_by_hop_handed_on"


def test_a_client_codec_handing_on_a_hop_by_hop_response_field_fails(monkeypatch):
    monkeypatch.setattr(h1_codec, "strip_hop_by_hop", keep_alive_kept)
    with pytest.raises(InvariantViolation) as caught:
        h1.check_client(RESPONSE_KEEP_ALIVE)
    assert caught.value.name == "h1_hop_by_hop_handed_on"
