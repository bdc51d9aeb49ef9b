"""An accepted configuration's upstream TLS identity checks, judged for the config harness
(fuzz/targets/config.py) in memory: each TLS cluster with a validation_context shakes hands, through
the proxy's own upstream TLS transport socket, with the upstream the sessions use (the test PKI's
server certificate: localhost, example.com, *.example.com, *.test), and must connect exactly when
the model of fuzz/tls_session.py accepts that certificate for it: chains to trusted_ca and carries
one of match_subject_alt_names, a wildcard standing for one left-most label (RFC 6125 6.4.3).

Sessions judge the same rule on the clusters of their pool; here every name the config harness
grows (its seeds hold names at the wildcards' edges) is tried, so a matching rule read wrongly for
some names shows without a pool entry that pins them.
"""

from proxy.event import SimulatedDispatcher
from proxy.network.connection import Connection
from proxy.stats import Stats
from proxy.tls.transport import TlsTransportSocket

from fuzz.oracles import InvariantViolation
from fuzz.tls_peer import TlsSocket
from fuzz.tls_session import _server_identity, _why_refused

VERIFY_FAILURES = frozenset({"tls_fail_verify_san", "tls_fail_verify_error"})
ROUNDS = 8  # a TLS 1.2 or 1.3 handshake needs at most four flights each way


def handshake(tls) -> tuple[bool, str]:
    """(Connected, failure) of one upstream connection with TLS config `tls` to the test upstream."""
    dispatcher = SimulatedDispatcher()
    sock = TlsSocket()
    conn = Connection(dispatcher, io=sock, remote_address=("127.0.0.1", 10001), is_client=True)
    sock.conn = conn
    conn.transport_socket = TlsTransportSocket(tls, False, Stats(), "cluster.identity.ssl.")
    conn.on_connected()
    sock.pump()
    for _ in range(ROUNDS):
        if not sock.needs_drive() and not dispatcher.pending_posted:
            break
        sock.drive()
        dispatcher.run_posted()
    return conn.connected, conn.stream_info.get("failure", "")


def check(boot, built) -> None:
    for msg in boot.clusters:
        cluster = built.clusters.get(msg.name)
        common = msg.tls_context.common_tls_context
        if cluster is None or cluster.tls is None or not common.HasField("validation_context"):
            continue
        why = _why_refused(common)
        connected, failure = handshake(cluster.tls)
        sans = sorted(_server_identity()[1])
        if connected and why:
            raise InvariantViolation(
                "config_upstream_identity_not_checked",
                f"cluster {msg.name} completed its TLS handshake with an upstream whose certificate (SANs {sans}) {why}",
                judged="proxy/tls/transport.py:TlsTransportSocket._handshake",
                expected="handshake refused (ssl.fail_verify_error or fail_verify_san)",
                observed="Connected",
            )
        if not connected and failure in VERIFY_FAILURES and not why:
            raise InvariantViolation(
                "config_upstream_identity_wrongly_refused",
                f"cluster {msg.name} refused ({failure}) an upstream whose certificate (SANs {sans}) chains to "
                f"trusted_ca and carries one of match_subject_alt_names {sorted(common.validation_context.match_subject_alt_names)}",
                judged="proxy/tls/transport.py:TlsTransportSocket._handshake",
                expected="Connected",
                observed=failure,
            )
