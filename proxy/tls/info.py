"""What a completed TLS handshake established: `conn.ssl`, read by RBAC and the access log."""

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
