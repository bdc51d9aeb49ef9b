"""fuzz/test_pki.py: PROXYFUZZ_PKI moves the test PKI, and the committed configurations, which can only
name the default directory, are read as naming the moved one (else every TLS handshake between the
fuzzing peers, whose certificates come from the moved PKI, and a committed configuration fails)."""

from pathlib import Path

from fuzz import test_pki

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tls.yaml"


def _files(bootstrap) -> set:
    text = str(bootstrap)
    return {line.split('"')[1] for line in text.splitlines() if "filename:" in line}


def test_committed_configurations_name_the_moved_pki(monkeypatch, tmp_path):
    monkeypatch.delenv("PROXYFUZZ_PKI", raising=False)
    assert all(f.startswith(test_pki.DEFAULT_DIR + "/") for f in _files(test_pki.load_config(EXAMPLE)))
    monkeypatch.setenv("PROXYFUZZ_PKI", str(tmp_path / "pki"))
    moved = _files(test_pki.load_config(EXAMPLE))
    assert moved and all(f.startswith(f"{tmp_path}/pki/") for f in moved), moved
