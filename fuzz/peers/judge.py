"""Oracles over a session's records (run by Peers.finish): what the proxy forwarded conforms to the
RFCs, means what the client sent, and was sent by some client.

InvariantViolation names:
- peer_forwarded_target / _authority / _field / _trailer: a request an upstream received breaks
  grammar.py (RFC 3986, RFC 9112 3.2, RFC 9113 8.3, RFC 9110 5.1/5.5, fields RFC 9110 6.5.1 keeps
  out of trailers); peer_response_field / peer_response_trailer: the same for responses to clients;
- peer_forwarded_<method|target|authority|headers|body|trailers>_changed: an upstream saw a request
  whose meaning differs from what the client sent, modulo the documented rules (forwarding_model);
  peer_forwarded_despite_config: a request the HCM's options say to reject was forwarded;
  peer_forwarded_scheme_changed: an HTTP/2 upstream got another :scheme than the HTTP/2 client sent;
  peer_forwarded_te: the upstream did not get `te: trailers` exactly when the client's TE asked for
  trailers, or an HTTP/1.1 upstream got it without the `te` connection option (docs/semantics.md);
- peer_response_<headers|body|trailers>_changed: a client read a response that differs from what its
  upstream sent (same rules, response mutations);
- peer_forwarded_trailers_dropped / peer_response_trailers_dropped: a well-formed trailer field that
  may travel did not reach a peer whose framing carries trailers (HTTP/2, a chunked HTTP/1.1 body);
- peer_response_completed_after_upstream_cut_short: a client read as complete a response its upstream
  broke off (fuzz/peers/cut_short.py);
- peer_cut_response_certified_by_close_notify: a TLS client read a close_notify after a response
  delimited by the close that its upstream broke off (RFC 9112 9.8; fuzz/peers/cut_short.py);
- peer_request_invented: an upstream saw a request no client sent (every client byte was parsed,
  and no client request claims it: smuggling, duplication);
- peer_h1_upstream_* / peer_h1_response_*: h11, the standard library and llhttp disagree on the
  HTTP/1.1 bytes the proxy sent an upstream or a client (fuzz/peers/h1_parsers.py).
"""

import re

from ..field_lists import connection_options, field_members
from ..oracles import InvariantViolation
from . import cut_short, grammar
from .downstream import H1Client
from .forwarding_model import expected_request, expected_response_fields, fields_meaning, normal_target
from .h1_parsers import agree
from .record import H2
from .upstream import H1Server


def _fail(name: str, detail: str) -> None:
    raise InvariantViolation(name, detail)


def check(peers) -> None:
    check_framing(peers)
    servers_by_index = {server.index: server for server in peers.servers if server}
    for ex in peers.exchanges:
        judged = peers.clients[ex.downstream].reads_proxy_output
        if ex.response is not None and judged:
            check_response(ex)
        for up in ex.upstreams:
            check_forwarded(up.request, _where(up))
            check_meaning(ex, up, peers.model_for(ex.downstream))
        if judged:
            check_response_meaning(ex, peers.model_for(ex.downstream))
            cut_short.check(ex, servers_by_index)
            cut_short.check_tls_end(ex, peers.clients[ex.downstream].sock, servers_by_index)
    for up in peers.unlinked:
        check_forwarded(up.request, _where(up))
    if peers.unlinked and peers.all_understood:
        up = peers.unlinked[0]
        _fail(
            "peer_request_invented",
            f"upstream {up.conn} ({up.protocol}) received {up.request.method!r} "
            f"{up.request.target!r} that no client sent "
            f"({len(peers.exchanges)} client request(s), all parsed)",
        )


def check_framing(peers) -> None:
    """The HTTP/1.1 bytes the proxy wrote, read by three parsers."""
    for server in peers.servers:
        if isinstance(server, H1Server) and server.sock.received:
            agree(
                "peer_h1_upstream",
                f"upstream {server.index}",
                bytes(server.sock.received),
                True,
                h11_read=[m for m in server.requests.messages if m.complete],
            )
    for client in peers.clients:
        if isinstance(client, H1Client) and client.sock.received and client.reads_proxy_output:
            methods = [ex.request.method for ex in client.exchanges]
            agree(
                "peer_h1_response",
                f"client {client.index}",
                bytes(client.sock.received),
                False,
                methods,
                eof=client.sock.peer_saw_end or client.eof_seen,
                h11_read=[m for m in client.responses.messages if m.complete],
            )


def _where(up) -> str:
    return f"upstream {up.conn} request {up.stream} ({up.protocol})"


def check_forwarded(req, where: str) -> None:
    """A request an upstream received conforms (grammar.py)."""
    if req.target or req.method != b"CONNECT":
        reason = grammar.request_target(req.method, req.target)
        if reason:
            _fail("peer_forwarded_target", f"{where}: target {req.target!r}: {reason}")
    reason = grammar.authority(req.authority)
    if reason:
        _fail("peer_forwarded_authority", f"{where}: authority {req.authority!r}: {reason}")
    _fields("peer_forwarded_field", where, req.headers)
    _trailers("peer_forwarded_trailer", where, req.trailers)


def check_response(ex) -> None:
    where = f"response to client {ex.downstream} request {ex.id} ({ex.protocol})"
    _fields("peer_response_field", where, ex.response.headers)
    status = ex.response.status
    framing = [n for n, _ in ex.response.headers if n in (b"content-length", b"transfer-encoding")]
    if (status < 200 or status == 204) and framing:
        # RFC 9110 8.6, RFC 9112 6.1: a server MUST NOT send either in a 1xx or 204.
        _fail("peer_response_field", f"{where}: a {status} response with {framing[0].decode()}")
    _trailers("peer_response_trailer", where, ex.response.trailers)


def _fields(name: str, where: str, fields) -> None:
    for n, v in fields:
        reason = grammar.field_name(n) or grammar.field_value(v)
        if reason:
            _fail(name, f"{where}: field {n!r}: {v[:60]!r}: {reason}")


def _trailers(name: str, where: str, trailers) -> None:
    _fields(name, where, trailers)
    for n, _ in trailers:
        if n.lower() in grammar.FORBIDDEN_IN_TRAILERS:
            _fail(name, f"{where}: trailer {n!r} is a field RFC 9110 6.5.1 keeps out of trailers")


def check_meaning(ex, up, model) -> None:
    """What upstream `up` saw against what the client sent (`ex.request`), by the forwarding model."""
    where = f"client {ex.downstream} request {ex.id} ({ex.protocol}) at upstream {up.conn} ({up.protocol})"
    check_meaning_of(ex.request, up.request, model, where)
    sent, got = ex.request, up.request
    trailers = sent.trailers
    if model.drop_underscores:  # DROP_HEADER covers trailers as it covers headers (forwarding_model.py)
        if _underscored(got.trailers):
            _fail(
                "peer_forwarded_despite_config",
                f"{where}: a trailer name with '_' is forwarded, the HCM's headers_with_underscores_action is DROP_HEADER",
            )
        trailers = [(n, v) for n, v in trailers if b"_" not in n]
    if sent.complete and got.complete and (up.protocol == H2 or _chunked(got.headers)):
        _trailers_kept("peer_forwarded_trailers_dropped", where, trailers, got.trailers)
    _te_follows_the_client(where, sent, got, up.protocol)


def _te_follows_the_client(where: str, sent, got, protocol: str) -> None:
    """docs/semantics.md (TE): as Envoy's TE sanitizing, a TE asking for trailers (RFC 9110 10.1.4:
    the member `trailers`) goes on as `te: trailers` to any upstream, any other TE goes nowhere;
    over HTTP/1.1 beside the `te` connection option (10.1.4: a sender of TE MUST send it)."""
    asked = field_members(sent.headers, b"te")
    want = [b"trailers"] if b"trailers" in asked else []
    arrived = [v.strip().lower() for n, v in got.headers if n.lower() == b"te"]
    if arrived != want:
        _fail("peer_forwarded_te", f"{where}: the client's TE {asked!r} reached it as {arrived!r}")
    if want and protocol != H2 and b"te" not in connection_options(got.headers):
        _fail("peer_forwarded_te", f"{where}: te: trailers without the te connection option (RFC 9110 10.1.4)")


def check_response_meaning(ex, model) -> None:
    """The response the client read means what its upstream sent: same status, fields (after the
    documented rules) and body. Judged when one upstream answered in full and the client read a
    complete response with that status (another status is a local reply: a timeout, a reset)."""
    got = ex.response
    answered = [up for up in ex.upstreams if up.response is not None and up.response.complete]
    if got is None or not got.complete or len(answered) != 1 or answered[0].response.status != got.status:
        return
    up = answered[0]
    sent = up.response
    where = (
        f"response to client {ex.downstream} request {ex.id} ({ex.protocol}) from upstream {up.conn} ({up.protocol})"
    )
    _same_fields("peer_response_headers_changed", where, expected_response_fields(sent.headers, model), got.headers)
    bodiless = ex.request.method == b"HEAD" or got.status in (204, 304)
    if not bodiless and bytes(got.body) != bytes(sent.body):
        _fail(
            "peer_response_body_changed",
            f"{where}: the upstream sent {len(sent.body)} body bytes "
            f"{bytes(sent.body)[:40]!r}, the client read {len(got.body)} "
            f"{bytes(got.body)[:40]!r}",
        )
    _trailers_were_sent("peer_response_trailers_changed", where, sent.trailers, got.trailers)
    if not bodiless and (ex.protocol == H2 or _chunked(got.headers)):
        _trailers_kept("peer_response_trailers_dropped", where, sent.trailers, got.trailers)


def _chunked(headers) -> bool:
    return any(n.lower() == b"transfer-encoding" and b"chunked" in v.lower() for n, v in headers)


def _trailers_kept(name: str, where: str, sent, got) -> None:
    """docs/semantics.md (request and response trailers): forwarded, as Envoy forwards HTTP/2
    trailers, to a peer whose framing carries them (HTTP/2, or a chunked HTTP/1.1 body); only the
    fields RFC 9110 6.5.1 keeps out of trailers, connection-specific ones and malformed ones may go."""
    arrived = fields_meaning(got)
    for n, values in fields_meaning(sent).items():
        if n in grammar.FORBIDDEN_IN_TRAILERS or grammar.field_name(n):
            continue
        if any(grammar.field_value(v) for v in values):
            continue
        if arrived.get(n) != values:
            _fail(name, f"{where}: the upstream sent trailer {n!r}: {values!r}, the client got {arrived.get(n)!r}")


def _same_fields(name: str, where: str, want, got) -> None:
    w, g = fields_meaning(want), fields_meaning(got)
    if w != g:
        diff = sorted(set(w.items()) ^ set(g.items()))[:4]
        _fail(name, f"{where}: fields differ (expected vs received) {diff!r}")


def _trailers_were_sent(name: str, where: str, sent, got) -> None:
    """Every trailer that arrived was sent so (trailers may be dropped, never invented or changed)."""
    trailers = fields_meaning(sent)
    for n, values in fields_meaning(got).items():
        if trailers.get(n) != values:
            _fail(name, f"{where}: trailer {n!r}: {values!r} arrived, {trailers.get(n)!r} was sent")


def _underscored(fields) -> bool:
    return any(b"_" in n for n, _ in fields)


def check_meaning_of(sent, got, model, where: str) -> None:
    if model.reject_underscores and (
        _underscored(sent.headers) or _underscored(got.trailers) or (_underscored(sent.trailers) and got.complete)
    ):
        # A request head with "_" never goes upstream; trailers come after the head and body went (the
        # proxy then resets the exchange, as Envoy does): none of their "_" fields arrives, and the
        # request never ends normally there (an upstream would act on a request the proxy refused).
        _fail(
            "peer_forwarded_despite_config",
            f"{where}: a field name with '_' is forwarded, the HCM's headers_with_underscores_action is REJECT_REQUEST",
        )
    if model.reject_escaped_slashes and re.search(rb"%(2[fF]|5[cC])", sent.target.split(b"?")[0]):
        _fail(
            "peer_forwarded_despite_config",
            f"{where}: {sent.target!r} has an escaped slash, the HCM's "
            f"path_with_escaped_slashes_action is REJECT_REQUEST",
        )
    if sent.scheme and sent.scheme.lower() not in (b"http", b"https"):
        # RFC 9113 8.3.1: a proxy may translate a non-HTTP scheme it serves; this one serves http(s)
        # only, and an http request upstream would mean another resource (docs/semantics.md).
        _fail("peer_forwarded_scheme", f"{where}: the client's :scheme {sent.scheme[:20]!r} was forwarded as http(s)")
    if sent.scheme and got.scheme and got.scheme != sent.scheme.lower():
        # RFC 9113 8.3.1: :scheme is the target URI's; Envoy forwards the client's (an https page
        # building its links from an http :scheme sends its users to http://).
        _fail(
            "peer_forwarded_scheme_changed",
            f"{where}: the client's :scheme {sent.scheme[:20]!r} reached the upstream as {got.scheme[:20]!r}",
        )
    want = expected_request(sent, model)
    if (
        (model.normalize or model.merge_slashes)
        and not model.unknown_path_rewrite
        and normal_target(got.target, model) != got.target
    ):
        _fail(
            "peer_forwarded_target_changed",
            f"{where}: {got.target!r} forwarded, not in the normal form "
            f"the HCM's path options ask for ({normal_target(got.target, model)!r})",
        )
    for field in ("method", "target", "authority"):
        w, g = getattr(want, field), getattr(got, field)
        if w is not None and g != w and not (field == "authority" and not sent.authority):
            _fail(f"peer_forwarded_{field}_changed", f"{where}: the client sent {w!r}, the upstream got {g!r}")
    _same_fields("peer_forwarded_headers_changed", where, want.headers, got.headers)
    body = bytes(sent.body)
    # A body longer than the content-length the client declared makes its request malformed (RFC 9113
    # 8.1.1): the proxy resets it on the excess byte, after forwarding what it had read up to then.
    declared = sent.header(b"content-length")
    overrun = declared is not None and declared.isdigit() and len(body) > int(declared)
    if not body.startswith(bytes(got.body)) or (
        got.complete and sent.complete and not overrun and bytes(got.body) != body
    ):
        _fail(
            "peer_forwarded_body_changed",
            f"{where}: the client sent {len(body)} body bytes "
            f"{body[:40]!r}, the upstream got {len(got.body)} {bytes(got.body)[:40]!r}",
        )
    _trailers_were_sent("peer_forwarded_trailers_changed", where, sent.trailers, got.trailers)
