"""A response the upstream broke off reaches its client as broken, never as complete.

RFC 9112 8: a message whose connection closes before its framing says it ended is incomplete, and a
recipient must not treat it as complete (a cache must not store it as a full response, RFC 9111
3.3); RFC 9113 8.1: a stream reset before END_STREAM ends nothing. Envoy's router resets the
downstream stream when the upstream resets after the response started, so an HTTP/2 client sees
RST_STREAM and an HTTP/1.1 client a connection that ends without the end of the body.

`check` judges one exchange: when the client read a complete response whose status and body are
what an upstream sent before it broke off (its response parsed incomplete and no complete one with
that status came back), the proxy completed a truncated response:
`peer_response_completed_after_upstream_cut_short`. Not judged: a response the client reads to the
close of its connection (HTTP/1.1 with neither Content-Length nor chunked framing cannot say it was
cut short), and an upstream connection whose HTTP/2 peer stopped recording (tainted by the fuzzer's
raw bytes: its record no longer says what the proxy read).

An upstream's own close ends an HTTP/1.1 body delimited by the close, whether it came as a FIN or
a reset: Envoy's CodecClient dispatches the end of the response on any RemoteClose
(`CodecClient::onEvent`: "HTTP/1 can signal end of response by disconnecting"), and so does the pool
(proxy/upstream/pool_conn.py). A reset cannot mean "cut short" there: a server that closes with
request bytes unread makes its kernel send one instead of a FIN (RFC 1122 4.2.2.13). The strict
upstream records such a body as complete only at a FIN, so the exception is made here; a
close-delimited body the proxy itself cut off (its timeout closed the connection) is still judged.

`check_tls_end` judges the converse over TLS, from what the peers saw alone: a client whose response
is delimited by the close (it cannot say it was cut short, so the end of the connection is its end)
must not read a close_notify after it when an upstream broke that response off, since RFC 9112 9.8
makes such a response "complete only if a valid close_notify alert has been received":
`peer_cut_response_certified_by_close_notify`.
"""

from ..oracles import InvariantViolation
from .record import H1


def _delimited_by_close(response, protocol: str) -> bool:
    if protocol != H1:
        return False
    names = {n for n, _ in response.headers}
    return b"content-length" not in names and b"transfer-encoding" not in names


def _ended_by_its_upstream(servers_by_index: dict, up) -> bool:
    """The upstream sent a body delimited by the close and then closed (FIN or reset): it is whole."""
    server = servers_by_index.get(up.conn)
    return (
        server is not None
        and _delimited_by_close(up.response, up.protocol)
        and getattr(server.conn_.close_event, "name", "") == "REMOTE_CLOSE"
    )


def _recording(servers_by_index: dict, up) -> bool:
    server = servers_by_index.get(up.conn)
    return server is not None and not getattr(server, "tainted", False)


def _cut_upstreams(ex, got, servers_by_index: dict):
    """The upstream requests of `ex` that broke off a response of `got`'s status (their recorded
    response incomplete and not whole by their own close), unless another came back complete so."""
    answered = [up.response for up in ex.upstreams if up.response is not None]
    if any(r.complete and r.status == got.status for r in answered):
        return
    for up in ex.upstreams:
        sent = up.response
        if sent is None or sent.complete or sent.status != got.status or not _recording(servers_by_index, up):
            continue
        if not _ended_by_its_upstream(servers_by_index, up):
            yield up


def check(ex, servers_by_index: dict) -> None:
    got = ex.response
    if got is None or not got.complete or _delimited_by_close(got, ex.protocol):
        return
    for up in _cut_upstreams(ex, got, servers_by_index):
        sent = up.response
        if bytes(sent.body) == bytes(got.body):
            raise InvariantViolation(
                "peer_response_completed_after_upstream_cut_short",
                f"client {ex.downstream} request {ex.id} ({ex.protocol}) read a complete {got.status} response "
                f"of {len(got.body)} body bytes; upstream {up.conn} ({up.protocol}) sent that status and those "
                f"bytes and never finished its response",
                judged="proxy/http/filters/router.py:Router",
                expected="the client's stream reset or its connection closed before the end of the body",
                observed="a complete response",
            )


def _has_body(ex, got) -> bool:
    """RFC 9112 6.3: a response to HEAD, a 1xx, 204 or 304 ends with its head, whatever follows."""
    return ex.request.method != b"HEAD" and got.status >= 200 and got.status not in (204, 304)


def check_tls_end(ex, sock, servers_by_index: dict) -> None:
    """`sock` is the client's own TLS peer (fuzz/tls_peer.py): whether it read a close_notify."""
    got = ex.response
    if got is None or not getattr(sock, "close_notify_seen", False) or not getattr(sock, "tls", False):
        return
    if not _delimited_by_close(got, ex.protocol) or not _has_body(ex, got):
        return
    for up in _cut_upstreams(ex, got, servers_by_index):
        sent = up.response
        if bytes(sent.body).startswith(bytes(got.body)):
            raise InvariantViolation(
                "peer_cut_response_certified_by_close_notify",
                f"client {ex.downstream} request {ex.id} read a {got.status} response delimited by the close "
                f"({len(got.body)} body bytes) and then a TLS close_notify; upstream {up.conn} ({up.protocol}) "
                f"sent those bytes and never finished its response (RFC 9112 9.8: the close_notify makes "
                f"the truncation complete)",
                judged="proxy/network/connection.py:Connection.close",
                expected="the TCP end of stream without a close_notify",
                observed="close_notify",
            )
