"""What a completed TLS handshake established: `conn.ssl`, read by RBAC and the access log, and
whether a peer certificate carries a configured name (match_subject_alt_names)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PeerCertificate:
    """The peer's leaf certificate, verified by the TLS context (an unverified one is never kept)."""

    subject: str  # RFC 4514 string, e.g. "CN=client,O=proxyfuzz"
    uri_sans: tuple  # URI subject alternative names, in certificate order
    dns_sans: tuple  # DNS subject alternative names

    @classmethod
    def from_der(cls, der: bytes) -> "PeerCertificate":
        from cryptography import x509

        cert = x509.load_der_x509_certificate(der)
        try:
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            uris = tuple(sans.get_values_for_type(x509.UniformResourceIdentifier))
            dns = tuple(sans.get_values_for_type(x509.DNSName))
        except x509.ExtensionNotFound:
            uris, dns = (), ()
        return cls(subject=cert.subject.rfc4514_string(), uri_sans=uris, dns_sans=dns)


@dataclass(frozen=True)
class TlsInfo:
    version: str  # "TLSv1.3"
    cipher: str
    alpn: str  # the negotiated protocol, "" when none
    server_name: str  # SNI the client sent ("" when none)
    peer: PeerCertificate | None  # set when the peer presented a certificate that was verified

    @property
    def authenticated(self) -> bool:
        return self.peer is not None


def dns_name_matches(name: str, san: str) -> bool:
    """A configured `name` against one DNS SAN of a certificate, as host names compare (RFC 6125
    6.4): without regard to ASCII case, and a SAN `*.example.com` stands for exactly one leftmost
    label (api.example.com, not example.com or a.b.example.com). Envoy's dnsNameMatch: a pinned
    exact name is the host a user expects, and public certificates are very often wildcards."""
    name, san = name.lower(), san.lower()
    if name == san:
        return True
    if not san.startswith("*."):
        return False
    suffix = san[1:]  # ".example.com"
    label = name[: -len(suffix)] if name.endswith(suffix) else ""
    return bool(label) and "." not in label


def peer_matches(names, peer: PeerCertificate | None) -> bool:
    """True when `peer` carries one of `names`: a URI SAN exactly, or a DNS SAN as above."""
    if peer is None:
        return False
    return any(n in peer.uri_sans or any(dns_name_matches(n, san) for san in peer.dns_sans) for n in names)
