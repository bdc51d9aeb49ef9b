"""Oracles of the TLS transport's ends, each proved on mutants `bench mutants proxy/tls/transport.py`
left alive (reports/bench/mutants-l4-2026-12-05.md):

- tls_upstream_client_hello_not_sent (fuzz/tls_session.py): an upstream TLS connection whose TCP
  connect completed sends its ClientHello (RFC 8446 4.1.2). Mutants: on_socket_connected without its
  handshake, or starting it on the server side only: every request to a TLS cluster got a 503 at the
  connect timeout and no oracle minded;
- tls_end_without_close_notify (fuzz/tls_session.py): the proxy's end of stream over TLS is a
  close_notify before the FIN (RFC 8446 6.1). Mutant: take_wire_output without `unwrap()`;
- the same oracle for a flushing close (a `Connection: close` response over TLS): its close_notify
  comes after the last record. Mutant: on_flush_close without `self.closing = True`;
- tls_cut_response_ends_with_close_notify (fuzz/tls_session.py): a response the proxy cut short
  (the upstream reset mid-body) ends with the TCP FIN alone, as a close_notify would make its
  close-delimited body complete to an HTTP/1.0 client (RFC 9112 9.8; found live, BLACKBOX 12-05b).
  Plant: Connection.close telling the transport of its flushing close only when it cuts short (the
  codec's own flag is not judged here: the session has no record of the cut apart from it);
- peer_cut_response_certified_by_close_notify (fuzz/peers/cut_short.py): the same end judged from
  what the peers saw alone (the upstream's record of its broken-off response, the client's
  close_notify), not from the proxy's flag. Plant: the HTTP/1.1 codec's close_cuts_response kept
  False, which tls_cut_response_ends_with_close_notify cannot see;
- stall_end_of_stream_not_flushed (fuzz/liveness.py): an ended write side with nothing left to send
  goes out. Mutant: the close_notify only sent while plaintext still waits (`not` dropped), so the
  end never leaves.
"""

from pathlib import Path

import pytest

import proxy.http.h1 as h1
import proxy.network.connection as connection
import proxy.tls.transport as transport
from fuzz.bench.mutants import ops
from fuzz.oracles import InvariantViolation
from fuzz.memo import Memo
from fuzz.session import Action as A, Session
from fuzz.targets import network_filter as nf
from fuzz.test_pki import ensure, load_config
from proxy.build import build

UPSTREAM_TLS = Path(__file__).resolve().parents[2] / "examples" / "upstream_tls.yaml"
GET = [
    A("connect"),
    A("send", 0, payload=b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
    A("upstream_connect"),
    A("upstream_respond"),
    A("read", 0),
]


def run():
    ensure()
    return Session(build(load_config(UPSTREAM_TLS)), models=True).run(GET)


def test_a_request_to_a_tls_cluster_is_answered_over_tls():
    s = run()
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 200 ")
    assert s.network.opened[0].connected


@pytest.mark.parametrize("before", ["self._handshake(conn)", "not self.server_side"])
def test_an_upstream_tls_client_that_never_says_hello_is_caught(monkeypatch, before):
    method = transport.TlsTransportSocket.on_socket_connected
    monkeypatch.setattr(method, "__code__", ops.planted(transport, "TlsTransportSocket.on_socket_connected", before))
    with pytest.raises(InvariantViolation, match="tls_upstream_client_hello_not_sent"):
        run()


# A TLS client through tcp_proxy whose upstream ends its side: the proxy ends its write side to the client.
CLIENT_SEED = (
    Path(nf.__file__).resolve().parents[2]
    / "corpus/network_filter/regress-tls-client-silent-before-its-handshake-is-a-wait"
)


def replay_client_seed(monkeypatch):
    monkeypatch.setattr(nf, "_CACHE", Memo(256))
    nf.run(CLIENT_SEED.read_bytes())


def test_the_proxy_ends_a_tls_stream_with_close_notify(monkeypatch):
    replay_client_seed(monkeypatch)


@pytest.mark.parametrize(
    "before, name",
    [
        ("self.obj.unwrap()", "tls_end_without_close_notify"),
        ("not len(conn.write_buffer)", "stall_end_of_stream_not_flushed"),
    ],
)
def test_a_tls_end_of_stream_without_close_notify_is_caught(monkeypatch, before, name):
    method = transport.TlsTransportSocket.take_wire_output
    monkeypatch.setattr(method, "__code__", ops.planted(transport, "TlsTransportSocket.take_wire_output", before))
    with pytest.raises(InvariantViolation, match=name):
        replay_client_seed(monkeypatch)


# An HTTP/1.1 client over TLS whose response ends with the proxy's flushing close.
FLUSH_CLOSE_SEED = CLIENT_SEED.parent / "http-1-tls-h1_get"


def replay_flush_close_seed(monkeypatch):
    monkeypatch.setattr(nf, "_CACHE", Memo(256))
    nf.run(FLUSH_CLOSE_SEED.read_bytes())


def test_the_proxy_ends_a_flushing_close_with_close_notify(monkeypatch):
    replay_flush_close_seed(monkeypatch)


def test_a_flushing_close_without_close_notify_is_caught(monkeypatch):
    method = transport.TlsTransportSocket.on_flush_close
    planted = ops.planted(transport, "TlsTransportSocket.on_flush_close", "self.closing = True")
    monkeypatch.setattr(method, "__code__", planted)
    with pytest.raises(InvariantViolation, match="tls_end_without_close_notify"):
        replay_flush_close_seed(monkeypatch)


# An HTTP/1.0 client over TLS (ALPN http/1.1, SNI) whose response the upstream resets mid-body: the
# proxy frames it by the close, so only the missing close_notify tells the client it is cut.
CUT = [
    A("connect_tls", 0, payload=bytes([1 | 2 << 1 | 1 << 5])),
    A("send", 0, payload=b"GET /app HTTP/1.0\r\nHost: h\r\n\r\n"),
    A("upstream_connect"),
    A("upstream_send", 0, payload=b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n7\r\npartial\r\n"),
    A("read", 0),
    A("upstream_reset", 0),
    A("read", 0),
]
DOWNSTREAM_TLS = UPSTREAM_TLS.parent / "tls.yaml"


def run_script(script):
    ensure()
    return Session(build(load_config(DOWNSTREAM_TLS)), models=True).run(script)


def run_cut():
    return run_script(CUT)


def test_a_response_cut_short_ends_without_close_notify():
    s = run_cut()
    client = s.downstream[0]
    assert bytes(client.received) == b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\npartial"
    assert client.conn.close_cut_short and not client.close_notify_seen


def test_a_close_notify_after_a_cut_response_is_caught(monkeypatch):
    method = connection.Connection.close
    planted = ops.planted(connection, "Connection.close", "not self.close_cut_short")
    monkeypatch.setattr(method, "__code__", planted)
    with pytest.raises(InvariantViolation, match="tls_cut_response_ends_with_close_notify"):
        run_cut()


def cut_by_its_upstream(end: str, answer: bytes = CUT[3].payload) -> list:
    """CUT with an upstream that reads the request (so its own record says what it answered) and
    ends with `end` (upstream_close: a FIN, upstream_reset)."""
    return CUT[:3] + [A("upstream_read"), A("upstream_send", 0, payload=answer), A("read", 0), A(end, 0), A("read", 0)]


@pytest.mark.parametrize("end", ["upstream_close", "upstream_reset"])
def test_a_cut_response_the_peers_saw_ends_without_close_notify(end):
    s = run_script(cut_by_its_upstream(end))
    assert bytes(s.downstream[0].received).endswith(b"\r\n\r\npartial")
    assert not s.downstream[0].close_notify_seen


@pytest.mark.parametrize("end", ["upstream_close", "upstream_reset"])
def test_a_codec_that_forgets_its_cut_is_caught_by_the_peers(monkeypatch, end):
    # The regression f163a994's own oracle cannot see: the codec never says its close cuts a
    # response, so the close is an ordinary flushing one and ends with close_notify.
    monkeypatch.setattr(h1.H1ServerCodec, "close_cuts_response", property(lambda self: False, lambda self, v: None))
    with pytest.raises(InvariantViolation, match="peer_cut_response_certified_by_close_notify"):
        run_script(cut_by_its_upstream(end))


def test_a_whole_close_delimited_response_still_ends_with_close_notify():
    # The upstream frames its body by its own close: whole, so the close_notify is owed (RFC 8446 6.1).
    s = run_script(cut_by_its_upstream("upstream_close", b"HTTP/1.0 200 OK\r\n\r\nwhole body"))
    assert bytes(s.downstream[0].received).endswith(b"\r\n\r\nwhole body")
    assert s.downstream[0].close_notify_seen
