"""A throw-away test PKI for TLS examples, tests and fuzzing: no private key is ever committed.

    python -m proxy.tools.certs DIR        # writes the files below into DIR (made if missing)

  ca.pem                  the CA that signed everything below except other-*
  server.pem, server.key  DNS localhost, example.com, *.example.com, *.test; IP 127.0.0.1, ::1
  client.pem, client.key  URI spiffe://proxyfuzz.test/client, DNS client.proxyfuzz.test,
                          subject CN=client,O=proxyfuzz
  other-ca.pem            a second CA, trusted by nobody
  other-client.pem, .key  the same names as client.pem, signed by other-ca (refused by mTLS)
  cn-client.pem, .key     signed by ca.pem, client.pem's DNS name only as its subject CN
                          (CN=client.proxyfuzz.test,O=proxyfuzz); SANs URI
                          spiffe://proxyfuzz.test/cn-client, DNS cn-client.proxyfuzz.test: a
                          match_subject_alt_names listing client.proxyfuzz.test must refuse it
                          (Envoy matches SANs only, never the CN)

RSA 2048 keys (signatures of one length: handshakes of one size), valid for ten years.
"""

import datetime
import ipaddress
import os
import shutil
import sys
from pathlib import Path

SERVER_NAMES = ("localhost", "example.com", "*.example.com", "*.test")
SERVER_IPS = ("127.0.0.1", "::1")
CLIENT_URI = "spiffe://proxyfuzz.test/client"
CLIENT_DNS = "client.proxyfuzz.test"
CN_CLIENT_URI = "spiffe://proxyfuzz.test/cn-client"
CN_CLIENT_DNS = "cn-client.proxyfuzz.test"
FILES = (
    "ca.pem",
    "server.pem",
    "server.key",
    "client.pem",
    "client.key",
    "other-ca.pem",
    "other-client.pem",
    "other-client.key",
    "cn-client.pem",
    "cn-client.key",
)


def _key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "proxyfuzz")]
    )


def _cert(subject, key, issuer, issuer_key, *, ca: bool, sans=()):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(obj) -> bytes:
    from cryptography.hazmat.primitives import serialization

    if hasattr(obj, "private_bytes"):
        return obj.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    return obj.public_bytes(serialization.Encoding.PEM)


def generate() -> dict:
    """The PKI as {file name: PEM bytes}."""
    from cryptography import x509

    out = {}
    cas = {}
    for prefix in ("", "other-"):
        key = _key()
        cert = _cert(_name(f"proxyfuzz {prefix}test CA"), key, _name(f"proxyfuzz {prefix}test CA"), key, ca=True)
        cas[prefix] = (cert, key)
        out[f"{prefix}ca.pem"] = _pem(cert)
    ca, ca_key = cas[""]
    server_key = _key()
    server_sans = [x509.DNSName(n) for n in SERVER_NAMES] + [
        x509.IPAddress(ipaddress.ip_address(a)) for a in SERVER_IPS
    ]
    out["server.pem"] = _pem(_cert(_name("localhost"), server_key, ca.subject, ca_key, ca=False, sans=server_sans))
    out["server.key"] = _pem(server_key)
    client_sans = [x509.UniformResourceIdentifier(CLIENT_URI), x509.DNSName(CLIENT_DNS)]
    for prefix in ("", "other-"):
        issuer, issuer_key = cas[prefix]
        key = _key()
        out[f"{prefix}client.pem"] = _pem(
            _cert(_name("client"), key, issuer.subject, issuer_key, ca=False, sans=client_sans)
        )
        out[f"{prefix}client.key"] = _pem(key)
    key = _key()
    cn_only_sans = [x509.UniformResourceIdentifier(CN_CLIENT_URI), x509.DNSName(CN_CLIENT_DNS)]
    out["cn-client.pem"] = _pem(_cert(_name(CLIENT_DNS), key, ca.subject, ca_key, ca=False, sans=cn_only_sans))
    out["cn-client.key"] = _pem(key)
    return out


def write(directory) -> Path:
    """Write the PKI into `directory` (made if missing), replacing what is there."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, pem in generate().items():
        path = directory / name
        path.write_bytes(pem)
        if name.endswith(".key"):
            path.chmod(0o600)
    return directory


def _complete(directory: Path) -> bool:
    return all((directory / name).is_file() for name in FILES)


def ensure(directory) -> Path:
    """`directory` with a whole PKI in it, made when it is missing. Processes racing to make it
    (fuzzing jobs) each write a private copy and rename it into place: the first one wins, and
    no reader ever sees a certificate beside another generation's key."""
    directory = Path(directory)
    if _complete(directory):
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = write(directory.parent / f".{directory.name}.{os.getpid()}")
    try:
        os.rename(tmp, directory)  # atomic; fails when another process made it meanwhile
    except OSError:
        if not _complete(directory):  # an incomplete leftover: refill it from our copy
            for name in FILES:
                os.replace(tmp / name, directory / name)
        shutil.rmtree(tmp, ignore_errors=True)
    return directory


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m proxy.tools.certs DIR", file=sys.stderr)
        return 2
    print(f"wrote a test PKI to {write(argv[0])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
