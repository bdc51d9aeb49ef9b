"""The test PKI of fuzzing and generated configurations: proxy/tools/certs.py's files in one fixed
directory, so that committed configurations (corpus/session_configs) can name them. Made at
first use on each machine (no private key is committed).

    PKI = test_pki.ensure()    -> the directory (PROXYFUZZ_PKI, default /tmp/proxyfuzz-pki)
"""

import os
from pathlib import Path

DEFAULT_DIR = "/tmp/proxyfuzz-pki"


def directory() -> Path:
    return Path(os.environ.get("PROXYFUZZ_PKI", DEFAULT_DIR))


def ensure() -> Path:
    from proxy.tools.certs import ensure as ensure_pki

    return ensure_pki(directory())


def ca_paths() -> list:
    """The trusted CA first, then the CA nobody trusts (its certificates fail verification)."""
    d = ensure()
    return [str(d / "ca.pem"), str(d / "other-ca.pem")]


def fill_server_certificate(message) -> None:
    """Make a TlsCertificate message the test server certificate and its key."""
    d = ensure()
    message.Clear()
    message.certificate_chain.filename = str(d / "server.pem")
    message.private_key.filename = str(d / "server.key")


def load_config(path):
    """`proxy.config.load_file`, with a committed configuration's PKI directory (DEFAULT_DIR, the only
    one a committed file can name) read as PROXYFUZZ_PKI's: the fuzzing peers' certificates come from
    there, so a configuration trusting DEFAULT_DIR's CA would refuse every handshake of theirs."""
    from proxy.config import load_file
    from proxy.config.load import load_bytes

    if str(directory()) == DEFAULT_DIR or Path(path).suffix not in (".yaml", ".yml", ".json"):
        return load_file(path)
    ensure()  # validation reads the files
    return load_bytes(read_as_moved(Path(path).read_bytes()))


def read_as_moved(text: bytes) -> bytes:
    """A committed configuration's text with DEFAULT_DIR's paths read as PROXYFUZZ_PKI's (the same
    bytes when the PKI is not moved)."""
    moved = str(directory())
    if moved == DEFAULT_DIR:
        return text
    return text.replace(DEFAULT_DIR.encode() + b"/", moved.encode() + b"/")
