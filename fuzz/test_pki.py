"""The test PKI of fuzzing and generated configurations: proxy/tools/certs.py's files in one fixed
directory, so that committed configurations (corpus/session_configs) can name them. Made at
first use on each machine (no private key is committed).

    PKI = test_pki.ensure()    -> the directory (PROXYFUZZ_PKI, default /tmp/proxyfuzz-pki)

The directory is shared by every process on the machine, and anyone may delete it: the next
`ensure()` then makes a new PKI (new keys, a new CA). A process that started before keeps the old
generation where it loaded it (its built configurations), so the fuzzing peers and the oracles read
the PKI as this process first found it (`read`, `private_copy`): one generation per process,
whatever happens on disk later. Judged with the new CA against a proxy holding the old one, a
client certificate the proxy rightly accepted was "not enforced" (tls_downstream_client_auth, a
seedless round-12 run: the PKI was remade at 22:26:08, during that run's first session process).
"""

import contextlib
import os
import tempfile
from pathlib import Path

DEFAULT_DIR = "/tmp/proxyfuzz-pki"


def directory() -> Path:
    return Path(os.environ.get("PROXYFUZZ_PKI", DEFAULT_DIR))


_FIRST_SEEN: dict[str, dict[str, bytes]] = {}  # PKI directory -> {file name: bytes} as this process first read it


def ensure() -> Path:
    from proxy.tools.certs import FILES, ensure as ensure_pki

    made = ensure_pki(directory())
    if str(made) not in _FIRST_SEEN:
        _FIRST_SEEN[str(made)] = {name: (made / name).read_bytes() for name in FILES}
    return made


def read(path) -> bytes:
    """The bytes of the file `path`: a test PKI file as this process first found it (module
    docstring), any other file as it is now."""
    path = Path(path)
    pinned = _FIRST_SEEN.get(str(path.parent), {}).get(path.name)
    return pinned if pinned is not None else path.read_bytes()


@contextlib.contextmanager
def private_copy(*names: str):
    """Paths of private files holding the test PKI's `names` as `read` gives them, removed on exit:
    for loaders that take only a path (ssl's load_cert_chain)."""
    d = ensure()
    with tempfile.TemporaryDirectory(prefix="proxyfuzz-pki-") as tmp:
        paths = []
        for name in names:
            (Path(tmp) / name).write_bytes(read(d / name))
            paths.append(str(Path(tmp) / name))
        yield paths


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
