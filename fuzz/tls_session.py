"""TLS and listener filters in sessions (fuzz/session.py): how a client connects, how TLS peers are
driven, and what is judged.

A `connect_tls` action's mode byte says how its client starts:
    bit 0      TLS (else clear text, on whatever chain the listener picks)
    bits 1-2   ALPN offered: none, h2, http/1.1, h2 and http/1.1
    bits 3-4   client certificate: none, the test CA's, an untrusted CA's, the test CA's naming
               client.proxyfuzz.test only as its subject CN (proxy/tools/certs.py cn-client)
    bit 5      SNI: the connect action's server name (else none)
    bits 6-7   first, a PROXY header naming another source: none, v1, v2 with a TLV, v2 LOCAL
Every downstream and upstream socket is a TlsSocket (fuzz/tls_peer.py); upstream ones answer TLS
when the proxy speaks it to them, and every TLS peer moves its handshake on after each action.

Oracles (`check`, after every action):
  * tls_plaintext_on_the_wire: whatever the proxy wrote to a peer it speaks TLS with (downstream
    TLS chain, upstream TLS cluster) is TLS records, never plaintext;
  * connected_before_handshake: such a connection is Connected only once its handshake is done;
  * tls_upstream_client_hello_not_sent: an upstream TLS connection whose TCP connect completed has
    sent its ClientHello or has it ready (RFC 8446 4.1.2: the client speaks first);
  * tls_end_without_close_notify: a peer that read the proxy's TCP end of stream over TLS, or saw a
    close that flushed what the proxy owed, read a close_notify before it (RFC 8446 6.1);
  * tls_upstream_identity_not_checked: an upstream connection of a cluster whose validation_context
    the upstream's certificate cannot satisfy (it does not chain to trusted_ca, or carries none of
    match_subject_alt_names, exactly or under a one-label wildcard) is never Connected (Envoy's
    UpstreamTlsContext: the handshake fails, counted as ssl.fail_verify_error / fail_verify_san); the
    upstream peers present the test PKI's server certificate, read here independently;
  * tls_upstream_identity_wrongly_refused: the converse: an upstream handshake that failed for the
    certificate (ssl.fail_verify_san / fail_verify_error) had a cluster whose validation_context it
    satisfies (a pinned api.example.com under the certificate's *.example.com, any case);
  * tls_downstream_client_auth_not_enforced: a downstream connection on a chain whose tls_context
    must refuse its client is never Connected (Envoy's DownstreamTlsContext.require_client_certificate:
    "Envoy will reject connections without a valid client certificate"; CertificateValidationContext:
    a presented certificate is verified against trusted_ca, and with match_subject_alt_names one of
    its SANs must match): no certificate where one is required, one that does not chain to
    trusted_ca, or one carrying none of match_subject_alt_names; the clients' certificates are the
    test PKI's, read here independently;
  * tls_version_outside_bounds: a TLS connection, downstream on a chain with a tls_context or
    upstream to a TLS cluster, negotiated (as its peer's own TLS stack reports) a version inside the
    context's tls_params (Envoy's TlsParameters: tls_minimum_protocol_version and
    tls_maximum_protocol_version, TLS_AUTO 1.2 to 1.3); the peers offer 1.2 and 1.3, so a listener or
    cluster capped at 1.2 that speaks 1.3 is caught;
  * listener_filter_chain_match: on a listener with listener filters, once they finished, the chain
    the connection got is the one Envoy's precedence (fuzz.models.chains) gives for what the
    client actually sent, read by the independent readers of fuzz/targets (client_hello_reference,
    proxy_header_reference, the request-line grammar): its SNI, ALPN, TLS or not, PROXY addresses.
Elsewhere: data_before_connected (fuzz/oracles.py FilterRules: no filter sees data before
Connected), and byte conservation counts only what reached a Connected connection past its PROXY
header (fuzz/session.py).
"""

import functools

from proxy.network.connection import ConnectionEvent, State

from fuzz import test_pki
from fuzz.models import chains
from fuzz.models.session_oracle import bootstrap_of
from fuzz.oracles import InvariantViolation
from fuzz.targets import listener_filter_reference as reference
from fuzz.targets.proxy_header_reference import SIGNATURE_V2
from fuzz.tls_peer import TlsSocket, client_context, speaks_tls

ALPNS = ((), ("h2",), ("http/1.1",), ("h2", "http/1.1"))
CERTIFICATES = ("", "client", "other-client", "cn-client")
_RECORD_TYPES = frozenset({20, 21, 22, 23})


def proxy_header(kind: int, claimed, local, server_name: str) -> bytes:
    """A PROXY header of `kind` (1 v1, 2 v2 with an authority TLV, 3 v2 LOCAL) naming `claimed`
    as the source and `local` as the destination."""
    import ipaddress

    src, dst = ipaddress.ip_address(claimed[0]), ipaddress.ip_address(local[0])
    if src.version != dst.version:
        src, dst = (ipaddress.IPv6Address(f"::ffff:{a}") if a.version == 4 else a for a in (src, dst))
    if kind == 1:
        family = "TCP4" if src.version == 4 else "TCP6"
        return f"PROXY {family} {src} {dst} {claimed[1]} {local[1]}\r\n".encode()
    if kind == 3:
        return SIGNATURE_V2 + b"\x20\x00\x00\x00"
    block = src.packed + dst.packed + claimed[1].to_bytes(2, "big") + local[1].to_bytes(2, "big")
    name = (server_name or "a.test").encode()
    block += b"\x02" + len(name).to_bytes(2, "big") + name
    return SIGNATURE_V2 + bytes([0x21, 0x11 if src.version == 4 else 0x21]) + len(block).to_bytes(2, "big") + block


def client_mode(alpn: int, certificate: int, sni: bool) -> int:
    """The mode byte of a TLS client without a PROXY header: ALPNS[alpn], CERTIFICATES[certificate],
    SNI or not (the layout above)."""
    return 1 | (alpn & 3) << 1 | (certificate & 3) << 3 | int(sni) << 5


def start_client(sock: TlsSocket, mode: int, server_name: str, local, claimed, header_read: bool = True) -> None:
    """`header_read`: the listener has a proxy_protocol filter, which takes the PROXY header; else the
    header is the start of what the application protocol reads (HTTP sees "PROXY TCP4 ..." as a head)."""
    if mode >> 6:
        sock.send_raw(proxy_header(mode >> 6, claimed, local, server_name), protocol=not header_read)
    if mode & 1:
        sock.fuzz_certificate = CERTIFICATES[(mode >> 3) & 3]  # what tls_downstream_client_auth judges
        context = client_context(sock.fuzz_certificate, ALPNS[(mode >> 1) & 3])
        sock.start_tls(context, server_side=False, server_name=server_name if mode & 0x20 else None)


def drive(session) -> bool:
    """Let every TLS peer answer what the proxy wrote, until nothing moves (bounded). True when
    some bytes moved."""
    moved = False
    for _ in range(8):
        socks = session.downstream + [c.io for c in session.network.opened]
        busy = [s for s in socks if s.needs_drive()]
        if not busy and not session.dispatcher.pending_posted:
            return moved  # no handshake to move, nothing posted: the round would change nothing
        before = sum(len(s.wire_sent) + len(s.wire_received) for s in socks)
        for sock in busy:
            sock.drive()
        session.dispatcher.run_posted()
        socks = session.downstream + [c.io for c in session.network.opened]
        if sum(len(s.wire_sent) + len(s.wire_received) for s in socks) == before:
            return moved
        moved = True
    return moved


def check_records(name: str, data: bytes, at: int = 0) -> int:
    """RFC 8446 5.1: records of a known content type, major version 3, at most 2^14 + 256 bytes.
    Starts at record boundary `at` and returns where the next record header is still to come: a
    stream that only grows is judged once per byte (check_wire_records)."""
    while at + 5 <= len(data):
        kind, major, length = data[at], data[at + 1], int.from_bytes(data[at + 3 : at + 5], "big")
        if kind not in _RECORD_TYPES or major != 3 or length > (1 << 14) + 256:
            raise InvariantViolation(
                "tls_plaintext_on_the_wire", f"{name}: byte {at} starts {bytes(data[at : at + 16])!r}, not a TLS record"
            )
        at += 5 + length
    return at


def check_wire_records(name: str, sock) -> None:
    """check_records over what `sock`'s peer read off the wire (append-only), from where the last
    check of it stopped."""
    sock.fuzz_records_at = check_records(name, sock.wire_received, getattr(sock, "fuzz_records_at", 0))


def check_connected_after_handshake(name: str, conn) -> None:
    """Connected is raised by the TLS transport socket once its handshake is done (conn.ssl says
    what it established), never before: proxy/network/transport_socket.py."""
    if conn.connected and conn.ssl is None:
        raise InvariantViolation(
            "connected_before_handshake",
            f"{name} {conn!r} is Connected, but its TLS handshake established nothing",
            judged=conn.transport_socket,
        )


def check_client_hello_sent(name: str, conn) -> None:
    """RFC 8446 4.1.2: "When a client first connects to a server, it is REQUIRED to send the
    ClientHello as its first TLS message": an upstream TLS connection whose TCP connect completed has
    put it on the wire or has it ready (else its peer waits and the connect times out, 503)."""
    transport = conn.transport_socket
    if conn.socket_connected and conn.state is State.OPEN and not conn.bytes_sent:
        if not transport.has_wire_output(conn):
            raise InvariantViolation(
                "tls_upstream_client_hello_not_sent",
                f"{name} {conn!r}: TCP connect completed, nothing sent and nothing to send: the "
                "upstream waits for a ClientHello that never comes",
                judged=transport,
            )


def check_close_notify(name: str, sock, conn) -> None:
    """RFC 8446 6.1: "Each party MUST send a "close_notify" alert before closing its write side of the
    connection, unless it has already sent some error alert": a peer that read the proxy's TCP end of
    stream after a handshake with no alert read a close_notify first (else it cannot tell the end from
    a truncation). So did a peer whose connection the proxy closed after flushing what it owed (Envoy's
    SslSocket::closeSocket: SSL_shutdown before the close), which is how a close-delimited response
    ends, and a `Connection: close` one, an error reply or a drain. Not a close that cut a response
    short (`Connection.close_cut_short`): there a close_notify would certify a close-delimited body
    the proxy knows is incomplete (RFC 9112 9.8), so the peer must not see one."""
    if conn.close_cut_short and sock.close_notify_seen and not conn.write_end_stream:
        raise InvariantViolation(
            "tls_cut_response_ends_with_close_notify",
            f"{name} {conn!r}: the proxy cut a response short, then sent close_notify: a close-delimited "
            "body reads as complete (RFC 9112 9.8)",
            judged=conn.transport_socket,
        )
    if sock.failed or sock.close_notify_seen:
        return
    ended = sock.fin_seen and sock.handshake_done
    closed = (
        conn.flushed_close
        and not conn.close_cut_short
        and conn.connected
        and conn.close_event is ConnectionEvent.LOCAL_CLOSE
    )
    if ended or closed:
        how = "read the TCP end of stream" if ended else "saw the proxy's flushing close"
        raise InvariantViolation(
            "tls_end_without_close_notify",
            f"{name} {conn!r}: its peer {how} without a close_notify before it",
            judged=conn.transport_socket,
        )


def check(session) -> None:
    for i, sock in enumerate(session.downstream):
        conn = sock.conn
        if conn is not None and speaks_tls(conn):
            check_wire_records(f"downstream {i}", sock)
            check_connected_after_handshake(f"downstream {i}", conn)
            check_close_notify(f"downstream {i}", sock, conn)
            if conn.connected and not sock.fuzz_auth_judged:
                check_client_authenticated(session, i, sock)
                check_downstream_version(session, i, sock)
            elif conn.state is State.CLOSED and not conn.connected and not getattr(sock, "fuzz_refusal_judged", False):
                check_client_refusal_counted(session, i, sock)
        if conn is not None and not getattr(sock, "fuzz_chain_judged", True):
            _judge_chain(session, i, sock)
    for i, conn in enumerate(session.network.opened):
        if speaks_tls(conn):
            check_wire_records(f"upstream {i}", conn.io)
            check_connected_after_handshake(f"upstream {i}", conn)
            check_client_hello_sent(f"upstream {i}", conn)
            check_close_notify(f"upstream {i}", conn.io, conn)
            if conn.connected:
                check_upstream_identity(session, i, conn)
                check_upstream_version(session, i, conn)
            elif conn.stream_info.get("failure") in _VERIFY_FAILURES:
                check_upstream_identity_refused(session, i, conn)


def check_upstream_identity(session, index: int, conn) -> None:
    """A Connected TLS upstream connection: no cluster it may belong to refuses the peer's certificate."""
    refusals = _refusals_by_endpoint(session.built).get(tuple(conn.remote_address))
    if refusals and all(refusals):
        raise InvariantViolation(
            "tls_upstream_identity_not_checked",
            f"upstream {index} to {conn.remote_address} completed its TLS handshake, but its certificate "
            f"(SANs {sorted(_server_identity()[1])}) {refusals[0]}",
            judged="proxy/tls/transport.py:TlsTransportSocket._handshake",
            expected="handshake refused (ssl.fail_verify_error or fail_verify_san)",
            observed="Connected",
        )


def _outside(version: str, bounds) -> bool:
    from fuzz.targets.config_serving import NEGOTIATED

    negotiated = NEGOTIATED.get(version)
    return negotiated is not None and not bounds[0] <= negotiated <= bounds[1]


def _version_violation(what: str, version: str, bounds, judged: str) -> InvariantViolation:
    low, high = bounds
    return InvariantViolation(
        "tls_version_outside_bounds",
        f"{what} negotiated {version}, but its tls_params allow {low.name} to {high.name}",
        judged=judged,
        expected=f"{low.name}..{high.name}",
        observed=version,
    )


def check_downstream_version(session, index: int, sock) -> None:
    """A Connected downstream TLS connection: the version our client negotiated lies within its
    chain's tls_params."""
    from fuzz.targets.config_serving import version_bounds

    tls = _chain_tls_context(session, sock) if sock.fuzz_certificate is not None else None
    if tls is None or sock.obj is None or not sock.handshake_done:
        return
    version, bounds = sock.obj.version() or "", version_bounds(tls.common_tls_context)
    if _outside(version, bounds):
        raise _version_violation(f"downstream {index}", version, bounds, "proxy/tls/context.py:_common")


def check_upstream_version(session, index: int, conn) -> None:
    """A Connected upstream TLS connection, once: the version the upstream peer negotiated lies
    within the tls_params of some TLS cluster listing its address."""
    sock = conn.io
    if getattr(sock, "fuzz_version_judged", False) or sock.obj is None or not sock.handshake_done:
        return
    sock.fuzz_version_judged = True
    version = sock.obj.version() or ""
    bounds = _version_bounds_by_endpoint(session.built).get(tuple(conn.remote_address), ())
    if bounds and all(_outside(version, b) for b in bounds):
        raise _version_violation(
            f"upstream {index} to {conn.remote_address}", version, bounds[0], "proxy/tls/context.py:_common"
        )


def _version_bounds_by_endpoint(built) -> dict:
    """(host, port) -> the version bounds of each TLS cluster listing it."""
    from fuzz.targets.config_serving import version_bounds

    return _per_tls_cluster_endpoint(built, _BOUNDS, version_bounds)


def _per_tls_cluster_endpoint(built, cache: dict, of_context) -> dict:
    """(host, port) -> [of_context(common_tls_context) for each TLS cluster listing it], cached per
    built configuration in `cache`."""
    hit = cache.get(id(built))
    if hit is None or hit[0] is not built:
        if len(cache) > 256:
            cache.clear()
        out: dict = {}
        for cluster in bootstrap_of(built).clusters:
            if cluster.HasField("tls_context"):
                judged = of_context(cluster.tls_context.common_tls_context)
                for e in cluster.endpoints:
                    out.setdefault((e.host, e.port), []).append(judged)
        hit = cache[id(built)] = (built, out)
    return hit[1]


_BOUNDS: dict = {}
_VERIFY_FAILURES = frozenset({"tls_fail_verify_san", "tls_fail_verify_error"})


def check_upstream_identity_refused(session, index: int, conn) -> None:
    """A TLS upstream connection refused for the peer's certificate: some cluster it may belong to
    must refuse that certificate (the converse of check_upstream_identity)."""
    refusals = _refusals_by_endpoint(session.built).get(tuple(conn.remote_address))
    if refusals and not any(refusals):
        raise InvariantViolation(
            "tls_upstream_identity_wrongly_refused",
            f"upstream {index} to {conn.remote_address} failed its TLS handshake "
            f"({conn.stream_info['failure']}), but its certificate (SANs {sorted(_server_identity()[1])}) "
            "chains to trusted_ca and carries one of match_subject_alt_names",
            judged="proxy/tls/transport.py:TlsTransportSocket._handshake",
            expected="Connected",
            observed=conn.stream_info["failure"],
        )


def check_client_authenticated(session, index: int, sock) -> None:
    """A Connected downstream TLS connection: its chain's tls_context does not refuse the client's
    certificate (or its lack of one)."""
    sock.fuzz_auth_judged = True
    presented = sock.fuzz_certificate
    tls = _chain_tls_context(session, sock)
    if presented is None or tls is None:
        return  # not one of our TLS clients, or the chain is not known: nothing to judge
    why = _why_client_refused(tls, presented)
    if why:
        raise InvariantViolation(
            "tls_downstream_client_auth_not_enforced",
            f"downstream {index} completed its TLS handshake, but the client {why}",
            judged="proxy/tls/context.py:server_config",
            expected="handshake refused",
            observed="Connected",
        )


# Envoy's listener ssl statistics, by why a client was refused: "failed because of missing client
# certificate", "failed CA verification", "failed SAN verification" (connection_error: anything else).
_REFUSAL_STATS = {"no certificate": "fail_verify_no_cert", "CA": "fail_verify_error", "SAN": "fail_verify_san"}


def check_client_refusal_counted(session, index: int, sock) -> None:
    """A downstream TLS connection the proxy refused after our client finished its part of the
    handshake (TLS 1.3: the client's Finished went out, so only the verification of what it presented
    was left): when its chain's tls_context must refuse that client, the refusal is counted under the
    listener's ssl statistic for that reason, and the connection's failure names it
    (tls_client_refusal_miscounted). An operator alerts on ssl.fail_verify_no_cert when clients lose
    their certificates: a refusal counted as connection_error hides it."""
    sock.fuzz_refusal_judged = True
    conn, presented = sock.conn, sock.fuzz_certificate
    failure = str(conn.stream_info.get("failure", ""))
    if presented is None or not sock.handshake_done or not failure.startswith("tls_"):
        return  # not our client, or refused before its part was done (versions, ciphers): not judged
    tls = _chain_tls_context(session, sock)
    reason = _refusal_reason(tls, presented) if tls is not None else ""
    if not reason:
        return
    stat = _REFUSAL_STATS[reason]
    listener = bootstrap_of(session.built).listeners[sock.fuzz_connect[0]].name
    key = f"listener.{listener}.ssl.{stat}"
    seen = session.fuzz_refusals = getattr(session, "fuzz_refusals", {})
    seen[key] = seen.get(key, 0) + 1
    counted = session.ctx.stats.counters.get(key, 0)
    if failure != f"tls_{stat}" or counted < seen[key]:
        raise InvariantViolation(
            "tls_client_refusal_miscounted",
            f"downstream {index} on listener {listener}: the client presented "
            f"{presented or 'no certificate'} ({reason} refusal), the proxy's failure is {failure!r} and "
            f"{key} counts {counted} of {seen[key]} such refusals",
            judged="proxy/tls/transport.py:_failure_stat",
            expected=f"tls_{stat}, {key} >= {seen[key]}",
            observed=f"{failure}, {counted}",
        )


def _refusal_reason(tls, presented: str) -> str:
    """Why a DownstreamTlsContext refuses the client presenting `presented` ("no certificate", "CA",
    "SAN"), or "" when it may accept it."""
    if not _why_client_refused(tls, presented):
        return ""
    if not presented:
        return "no certificate"
    trusted = _why_refused(tls.common_tls_context, _identity(*_SIGNED_BY[presented]))
    return "CA" if trusted == _NOT_CHAINED else "SAN"


def _chain_tls_context(session, sock):
    """The tls_context message of the filter chain the connection got, or None."""
    got = sock.conn.stream_info.get("filter_chain")
    if sock.fuzz_connect is None or not isinstance(got, str):
        return None
    listener = bootstrap_of(session.built).listeners[sock.fuzz_connect[0]]
    if got == "default_filter_chain":
        chain = listener.default_filter_chain
    elif got.startswith("filter_chains[") and got[14:-1].isdigit() and int(got[14:-1]) < len(listener.filter_chains):
        chain = listener.filter_chains[int(got[14:-1])]
    else:
        return None
    return chain.tls_context if chain.HasField("tls_context") else None


def _why_client_refused(tls, presented: str) -> str:
    """Why a DownstreamTlsContext must refuse a client presenting the test PKI's `presented`
    certificate ("" for none), or "" when it may accept it."""
    if not tls.common_tls_context.HasField("validation_context"):
        return ""  # no client certificate is asked for (validation refuses require_* without one)
    if not presented:
        return (
            "presented no certificate, and require_client_certificate is set" if tls.require_client_certificate else ""
        )
    why = _why_refused(tls.common_tls_context, _identity(*_SIGNED_BY[presented]))
    return f"certificate {presented!r} {why}" if why else ""


_SIGNED_BY = {
    "client": ("ca", "client"),
    "other-client": ("other-ca", "other-client"),
    "cn-client": ("ca", "cn-client"),
}
_NOT_CHAINED = "does not chain to its trusted_ca"
_REFUSALS: dict = {}


def _refusals_by_endpoint(built) -> dict:
    """(host, port) -> per TLS cluster listing it: why it must refuse the test server certificate, or ""."""
    return _per_tls_cluster_endpoint(built, _REFUSALS, _why_refused)


def _why_refused(common, identity: tuple | None = None) -> str:
    """Why a CommonTlsContext refuses the peer certificate `identity` (its signing CA's body and its
    SANs; default the upstream peers' server certificate), or ""."""
    if not common.HasField("validation_context"):
        return ""  # nothing is verified (Envoy's default)
    ca, sans = identity or _server_identity()
    vc = common.validation_context
    source = vc.trusted_ca
    try:
        trusted = (
            source.inline_string.encode()
            if source.WhichOneof("specifier") == "inline_string"
            else test_pki.read(source.filename)  # a PKI file as the proxy's configurations were built with it
        )
    except (OSError, ValueError):
        return ""  # unreadable: validation refuses such a configuration; nothing to judge
    if ca not in b"".join(trusted.split()):
        return _NOT_CHAINED
    wanted = set(vc.match_subject_alt_names)
    if wanted and not any(_san_matches(name, san) for name in wanted for san in sans):
        return f"carries none of match_subject_alt_names {sorted(wanted)}"
    return ""


def _san_matches(name: str, san: str) -> bool:
    """Exact, or a certificate wildcard standing for one left-most label (RFC 6125 6.4.3); DNS names
    without regard to ASCII case (6.4.1), URIs exactly."""
    if ":" not in san:
        name, san = name.lower(), san.lower()
    if name == san:
        return True
    return san.startswith("*.") and "." in name and name.split(".", 1)[1] == san[2:] and name.split(".", 1)[0] != ""


def _server_identity() -> tuple:
    """The test CA's certificate (PEM body) and the DNS and URI SANs of the server certificate the
    upstream peers present (fuzz/tls_peer.server_context)."""
    return _identity("ca", "server")


def _identity(signer: str, leaf: str) -> tuple:
    """The PEM body of the test PKI's CA `signer` and the DNS and URI SANs of its certificate `leaf`,
    read with `cryptography`, from the PKI as the peers present it (fuzz/test_pki.read)."""
    return _identity_in(str(test_pki.directory()), signer, leaf)


@functools.lru_cache(maxsize=16)
def _identity_in(pki: str, signer: str, leaf: str) -> tuple:
    from cryptography import x509

    d = test_pki.ensure()
    pem = test_pki.read(d / f"{signer}.pem")
    ca = b"".join(pem.split(b"-----")[2].split())  # the base64 body, whitespace aside, as in any bundle
    cert = x509.load_pem_x509_certificate(test_pki.read(d / f"{leaf}.pem"))
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = ext.get_values_for_type(x509.DNSName) + ext.get_values_for_type(x509.UniformResourceIdentifier)
    return ca, frozenset(names)


def _listener_filters(listener) -> tuple[tuple, bool]:
    """The names of the listener's filters, in order, and whether PROXY protocol is optional."""
    names = tuple(f.WhichOneof("filter") for f in listener.listener_filters)
    allow = any(
        f.proxy_protocol.allow_requests_without_proxy_protocol
        for f in listener.listener_filters
        if f.WhichOneof("filter") == "proxy_protocol"
    )
    return names, allow


def _judge_waiting(session, index: int, sock) -> None:
    """A connection still in its listener filters, every byte its client sent read by the proxy:
    the filters wait only while those bytes leave their answer open. Envoy's inspectors decide at
    the first read that settles it (a ClientHello whole, a request line, a PROXY header), so bytes
    on which the reference readers already pass the connection on are bytes the filters sat on
    (listener_filters_waited_on_enough_bytes)."""
    conn = sock.conn
    sent = len(sock.wire_sent)
    if not conn.is_open or sock.inbound or getattr(sock, "fuzz_waiting_judged", -1) == sent:
        return  # closed, bytes not read yet, or judged on these very bytes
    sock.fuzz_waiting_judged = sent
    li, local, remote, _ = sock.fuzz_connect
    listener = bootstrap_of(session.built).listeners[li]
    names, allow = _listener_filters(listener)
    if reference.expected(names, bytes(sock.wire_sent), allow, remote, local)[0] == "passed":
        raise InvariantViolation(
            "listener_filters_waited_on_enough_bytes",
            f"connection {index} to listener {listener.name}: the proxy read all {sent} bytes its client "
            f"sent, on which the reference readers pass it on, yet its listener filters {list(names)} still "
            f"wait (sent {bytes(sock.wire_sent)[:48]!r})",
            judged="proxy/network/listener_filter.py:ListenerFilterStage._run",
            expected="a filter chain chosen",
            observed="still in the listener filters",
        )


def _judge_chain(session, index: int, sock) -> None:
    conn = sock.conn
    if conn.stream_info.get("listener_filters_timeout"):
        return  # they timed out: matched on partial findings (fuzz/models/listener_timeout.py)
    if "filter_chain" not in conn.stream_info:
        _judge_waiting(session, index, sock)
        return
    sock.fuzz_chain_judged = True
    li, local, remote, passed_name = sock.fuzz_connect
    listener = bootstrap_of(session.built).listeners[li]
    names, allow = _listener_filters(listener)
    outcome, found, _ = reference.expected(names, bytes(sock.wire_sent), allow, remote, local)
    got = conn.stream_info["filter_chain"]
    got = () if got is None else ("default",) if got == "default_filter_chain" else (int(got[14:-1]),)
    what = f"connection {index} to listener {listener.name}"
    if outcome != "passed":
        raise InvariantViolation(
            "listener_filter_chain_match",
            f"{what}: the listener filters finished and chose {list(got)}, but by the "
            f"references the connection is {outcome} (sent {bytes(sock.wire_sent)[:48]!r})",
        )
    source, destination = found["remote"], found["local"]
    want = chains.default_chain(
        listener,
        chains.select(
            listener,
            destination[1],
            found["name"] or passed_name,
            source[0],
            destination_ip=destination[0],
            transport=found["transport"],
            protocols=found["protocols"],
            direct_source_ip=remote[0],
            source_port=source[1],
        ),
    )
    if len(want) <= 1 and want != got:
        raise InvariantViolation(
            "listener_filter_chain_match",
            f"{what}: chain {list(want)} by Envoy's precedence for transport "
            f"{found['transport']}, server name {found['name'] or passed_name!r}, protocols "
            f"{found['protocols']}, source {source}, destination {destination}; "
            f"{list(got)} chosen",
        )
