"""TLS contexts from the configuration: DownstreamTlsContext -> TlsServerConfig, UpstreamTlsContext
-> TlsClientConfig, each holding a configured ssl.SSLContext. It is set up once at build and never
changed after; it makes one SSLObject per connection and keeps nothing a later connection can
observe (no session tickets; a session is resumed only by a client that offers it), so built
configurations share it between server instances and fuzz inputs.

Semantics (Envoy's, where the schema has Envoy's field):
  * versions: TLS_AUTO is TLS 1.2 as minimum and TLS 1.3 as maximum;
  * cipher_suites apply to TLS 1.2 (TLS 1.3 suites are OpenSSL's defaults);
  * downstream: the certificate is presented; with a validation_context a client certificate is
    requested and verified against trusted_ca (require_client_certificate: one must be presented);
    match_subject_alt_names then also requires one of the listed DNS or URI SANs;
  * upstream: without a validation_context the server's certificate is not verified (Envoy's
    default); with one it must lead to trusted_ca, and carry one of match_subject_alt_names when
    listed; `sni` is sent as the server name; a configured certificate is offered as client
    certificate; host names are never checked otherwise (Envoy checks SANs only as configured);
  * upstream ALPN: alpn_protocols when configured; else an HTTP pool offers its cluster's protocol
    (`h2` or `http/1.1`: Envoy sets the ALPN of upstream HTTP connections from the protocol when
    nothing else does; RFC 9113 3.2: HTTP/2 over TLS is negotiated by ALPN), tcp_proxy none;
  * no session resumption: no tickets are issued.

Bad material (unreadable file, not PEM, a key that does not belong to its certificate) raises
TlsConfigError naming the field; proxy/config/semantic.py reports it as a validation error, so a
configuration that validates also builds.
"""

import contextlib
import os
import ssl
import stat
import tempfile
from dataclasses import dataclass

MAX_PEM_BYTES = 1 << 20
_VERSIONS = {0: None, 3: ssl.TLSVersion.TLSv1_2, 4: ssl.TLSVersion.TLSv1_3}


class TlsConfigError(ValueError):
    """Bad TLS material or settings; `field` is relative to the TLS context message."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, eq=False)
class TlsServerConfig:
    context: ssl.SSLContext
    match_sans: frozenset  # empty: any verified client certificate
    verify_peer: bool  # a client certificate is requested (and verified when presented)


@dataclass(frozen=True, eq=False)
class TlsClientConfig:
    context: ssl.SSLContext
    match_sans: frozenset
    verify_peer: bool
    sni: str


def _read(source, field: str) -> bytes:
    which = source.WhichOneof("specifier")
    if which == "inline_string":
        return source.inline_string.encode(errors="replace")
    if which != "filename":
        raise TlsConfigError(field, "needs a filename or an inline_string")
    path = source.filename
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise TlsConfigError(f"{field}.filename", f"{path!r} is not a regular file")
        if info.st_size > MAX_PEM_BYTES:
            raise TlsConfigError(f"{field}.filename", f"{path!r} is larger than {MAX_PEM_BYTES} bytes")
        with open(path, "rb") as f:
            return f.read(MAX_PEM_BYTES + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise TlsConfigError(
            f"{field}.filename", f"cannot read {path!r}: {getattr(exc, 'strerror', None) or exc}"
        ) from None


@contextlib.contextmanager
def _pem_paths(*pems: bytes):
    """Paths that read as `pems` for the ssl module, which loads certificate chains and keys only
    from files: anonymous memory files (memfd, Linux) where the platform has them, so key material
    never lands in a directory and nothing is left to clean up; else files in a private temporary
    directory, removed after."""
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fds: list[int] = []
        try:
            for pem in pems:
                fds.append(os.memfd_create("proxyfuzz-tls", os.MFD_CLOEXEC))
                view = memoryview(pem)
                while view:
                    view = view[os.write(fds[-1], view) :]
            yield [f"/proc/self/fd/{fd}" for fd in fds]
        finally:
            for fd in fds:
                os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="proxyfuzz-tls-") as tmp:
        paths = [os.path.join(tmp, f"{i}.pem") for i in range(len(pems))]
        for path, pem in zip(paths, pems):
            with open(path, "wb") as f:
                f.write(pem)
        yield paths


def _load_certificate(ctx: ssl.SSLContext, cert, field: str) -> None:
    chain, key = (
        _read(cert.certificate_chain, f"{field}.certificate_chain"),
        _read(cert.private_key, f"{field}.private_key"),
    )
    with _pem_paths(chain, key) as paths:
        try:
            ctx.load_cert_chain(paths[0], paths[1])
        except (ssl.SSLError, ValueError) as exc:
            raise TlsConfigError(field, f"not a PEM certificate chain and its private key ({exc})") from None


def _common(ctx: ssl.SSLContext, common):
    params = common.tls_params
    low = _VERSIONS.get(params.tls_minimum_protocol_version)
    high = _VERSIONS.get(params.tls_maximum_protocol_version)
    low, high = low or ssl.TLSVersion.TLSv1_2, high or ssl.TLSVersion.TLSv1_3
    if low > high:
        raise TlsConfigError(
            "common_tls_context.tls_params", "tls_minimum_protocol_version is above tls_maximum_protocol_version"
        )
    ctx.minimum_version, ctx.maximum_version = low, high
    if params.cipher_suites:
        try:
            ctx.set_ciphers(":".join(params.cipher_suites))
        except (ssl.SSLError, ValueError):
            raise TlsConfigError(
                "common_tls_context.tls_params.cipher_suites", "none of these cipher suites is available"
            ) from None
    for i, cert in enumerate(common.tls_certificates):
        _load_certificate(ctx, cert, f"common_tls_context.tls_certificates[{i}]")
    verify = common.HasField("validation_context")
    if verify:
        ca = _read(common.validation_context.trusted_ca, "common_tls_context.validation_context.trusted_ca")
        try:
            ctx.load_verify_locations(cadata=ca.decode("latin-1"))
        except (ssl.SSLError, ValueError) as exc:
            raise TlsConfigError(
                "common_tls_context.validation_context.trusted_ca", f"no PEM CA certificate ({exc})"
            ) from None
    if common.alpn_protocols:
        try:
            ctx.set_alpn_protocols(list(common.alpn_protocols))
        except (UnicodeError, ValueError, ssl.SSLError) as exc:
            raise TlsConfigError("common_tls_context.alpn_protocols", f"not ALPN protocol names ({exc})") from None
    sans = frozenset(common.validation_context.match_subject_alt_names) if verify else frozenset()
    return verify, sans


def _remember_server_name(obj, name, ctx) -> None:
    obj.requested_server_name = name  # the transport socket reports it (TlsInfo.server_name)


def server_config(msg) -> TlsServerConfig:
    """A DownstreamTlsContext, built. Raises TlsConfigError."""
    common = msg.common_tls_context
    if len(common.tls_certificates) != 1:
        raise TlsConfigError("common_tls_context.tls_certificates", "a downstream TLS context needs one certificate")
    if msg.require_client_certificate and not common.HasField("validation_context"):
        raise TlsConfigError("require_client_certificate", "needs a validation_context to verify the certificate")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.num_tickets = 0  # TLS 1.3: no tickets
    ctx.options |= ssl.OP_NO_TICKET  # TLS 1.2: no tickets either
    ctx.sni_callback = _remember_server_name
    verify, sans = _common(ctx, common)
    if verify:
        ctx.verify_mode = ssl.CERT_REQUIRED if msg.require_client_certificate else ssl.CERT_OPTIONAL
    return TlsServerConfig(context=ctx, match_sans=sans, verify_peer=verify)


def client_config(msg, default_alpn=()) -> TlsClientConfig:
    """An UpstreamTlsContext, built. `default_alpn`: the ALPN offered when the context configures
    none (an HTTP pool offers its protocol, as Envoy does). Raises TlsConfigError."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    verify, sans = _common(ctx, msg.common_tls_context)
    if default_alpn and not msg.common_tls_context.alpn_protocols:
        ctx.set_alpn_protocols(list(default_alpn))
    if verify:
        ctx.verify_mode = ssl.CERT_REQUIRED
    if msg.sni:
        try:  # the ssl module refuses some names (empty labels; a NUL: TypeError) only when a connection uses them
            ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname=msg.sni)
        except (ValueError, UnicodeError, TypeError) as exc:
            raise TlsConfigError("sni", f"not a usable server name ({exc})") from None
    return TlsClientConfig(context=ctx, match_sans=sans, verify_peer=verify, sni=msg.sni)
