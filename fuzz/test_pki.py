"""The test PKI of fuzzing and generated configurations: proxy/tools/certs.py's files in one fixed
directory, so that committed configurations (corpus/session_configs) can name them. Made at
first use on each machine (no private key is committed).

    PKI = test_pki.ensure()    -> the directory (PROXYFUZZ_PKI, default /tmp/proxyfuzz-pki)

The directory is shared by every process on the machine, and anyone may delete it: the next
`ensure()` then makes a new PKI (new keys, a new CA). A process that started before keeps the old
generation where it loaded it (its built configurations), so each process keeps one generation, the
one it first found: the fuzzing peers and the oracles read it (`read`, `private_copy`), and once the
shared directory holds another, `ensure()` (and the paths it gives, `load_config`) names a private
copy of the first one, so configurations built later load it too. Judged with the new CA against
a proxy holding the old one, a client certificate the proxy rightly accepted was "not enforced"
(tls_downstream_client_auth, a seedless round-12 run: the PKI was remade at 22:26:08, during that
run's first session process).
"""

import atexit
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

DEFAULT_DIR = "/tmp/proxyfuzz-pki"


def directory() -> Path:
    return Path(os.environ.get("PROXYFUZZ_PKI", DEFAULT_DIR))


_FIRST_SEEN: dict[str, dict[str, bytes]] = {}  # PKI directory -> {file name: bytes} as this process first read it
_STAMPS: dict[str, tuple] = {}  # PKI directory -> (inode, mtime) of its files when first read
_KEPT: dict[str, Path] = {}  # PKI directory remade since -> the private copy of the first generation


def ensure() -> Path:
    """The test PKI's directory, made when missing: the shared one while it holds the generation this
    process first found, else the private copy of that generation (module docstring)."""
    from proxy.tools.certs import FILES, ensure as ensure_pki

    made = ensure_pki(directory())
    key = str(made)
    if key in _KEPT:
        return _KEPT[key]
    if key not in _FIRST_SEEN:
        _FIRST_SEEN[key] = {name: (made / name).read_bytes() for name in FILES}
        _STAMPS[key] = _stamps(made, FILES)
    elif _stamps(made, FILES) != _STAMPS[key]:
        _KEPT[key] = _keep(_FIRST_SEEN[key])
        return _KEPT[key]
    return made


def _stamps(d: Path, names) -> tuple:
    return tuple((s.st_ino, s.st_mtime_ns) for s in (os.stat(d / name) for name in names))


def _keep(files: dict) -> Path:
    """A private directory holding `files` (removed at exit), read as the same generation."""
    kept = Path(tempfile.mkdtemp(prefix="proxyfuzz-pki-kept-"))
    atexit.register(shutil.rmtree, kept, True)
    for name, data in files.items():
        (kept / name).write_bytes(data)
    _FIRST_SEEN[str(kept)] = files
    return kept


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

    if str(ensure()) == DEFAULT_DIR or Path(path).suffix not in (".yaml", ".yml", ".json"):
        return load_file(path)  # (ensure: validation reads the files)
    return load_bytes(read_as_moved(Path(path).read_bytes()))


def read_as_moved(text: bytes) -> bytes:
    """A committed configuration's text with DEFAULT_DIR's paths read as PROXYFUZZ_PKI's, or as this
    process's copy of the PKI it first found (the same bytes when neither applies)."""
    moved = str(_KEPT.get(str(directory()), directory()))
    if moved == DEFAULT_DIR:
        return text
    return text.replace(DEFAULT_DIR.encode() + b"/", moved.encode() + b"/")
