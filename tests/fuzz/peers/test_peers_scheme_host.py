"""Two request shapes the codecs now refuse alike, and the peers' oracles for them: an authority
with a port and no host (RFC 9110 4.2.1: such an http URI is invalid; HTTP/2 refused ":80" as
:authority, HTTP/1.1 forwarded it as Host), and a scheme the proxy does not serve (HTTP/1.1
refused ftp:// targets, HTTP/2 forwarded :scheme ftp upstream as an http request). Found
black-box (round 4); the planted bugs below put back what the proxy did before."""

import pytest

from fuzz import hostile
from fuzz.oracles import InvariantViolation
from fuzz.peers import grammar
from fuzz.session import Action as A, Session
from tests.fuzz.peers.test_peers import built

AUTHORITY_PORT_ONLY = hostile.LATE_FIRST  # hostile.LATE[0]: ":80"
SCHEME_FTP = hostile.LATE_FIRST + 1  # hostile.LATE[1]: "ftp"


def _script(request):
    return [
        A("connect"),
        request,
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"),
        A("read"),
    ]


H1_PORT_ONLY = _script(A("send_http", value=0, payload=bytes([0, 0, 0, 0, 0, 0, 0, AUTHORITY_PORT_ONLY])))
# payloads.h2_request: byte 5 >> 1 is the hostile selector.
H2_FTP = _script(A("send_http", value=3, payload=bytes([0, 0, 0, 0, 0, SCHEME_FTP << 1])))
H2_PORT_ONLY = _script(A("send_http", value=3, payload=bytes([0, 0, 0, 0, 0, AUTHORITY_PORT_ONLY << 1])))


def test_an_authority_with_a_port_and_no_host_is_not_forwarded_grammar():
    assert "empty host" in grammar.authority(b":80")
    assert grammar.authority(b"") is None and grammar.authority(b"h:") is None


@pytest.mark.parametrize("script", [H1_PORT_ONLY, H2_PORT_ONLY, H2_FTP], ids=["h1_port_only", "h2_port_only", "h2_ftp"])
def test_the_proxy_refuses_both_shapes_on_both_codecs(script):
    s = Session(built()).run(script)
    [ex] = s.peers.exchanges
    assert not ex.upstreams and ex.outcome in ("response", "reset"), ex.outcome
    assert ex.outcome == "reset" or ex.response.status == 400


def test_host_with_a_port_and_no_host_forwarded_is_caught(monkeypatch):
    from proxy.http import _h1_strict

    monkeypatch.setattr(_h1_strict, "empty_host_with_port", lambda b: False)  # planted: the HTTP/1.1 check before
    with pytest.raises(InvariantViolation, match="peer_forwarded_authority"):
        Session(built()).run(H1_PORT_ONLY)


def test_a_scheme_the_proxy_does_not_serve_forwarded_is_caught(monkeypatch):
    from proxy.http import headers

    monkeypatch.setattr(headers, "SCHEMES", (b"http", b"https", b"ftp"))  # planted: HTTP/2 before
    with pytest.raises(InvariantViolation, match="peer_forwarded_scheme"):
        Session(built()).run(H2_FTP)
