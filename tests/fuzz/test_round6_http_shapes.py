"""Session shapes of the sixth planted round, HTTP half (fuzz/hostile.py LATE, fuzz/session_seeds.py):
a path traversal spelled with percent-encoded dots and a HEAD answered without a length followed by a
GET on the same connection. Their committed seeds replay clean, and the bug class each one exists
for, planted by monkeypatch, fails them."""

from dataclasses import replace
from pathlib import Path

import pytest

import proxy.http.conn_manager as conn_manager
import proxy.http.path as proxy_path
from fuzz import oracles, session
from fuzz.hostile import apply
from proxy.http.h1 import H1ServerCodec

SEEDS = Path(session.__file__).resolve().parents[1] / "corpus" / "session"


def replay(pattern: str) -> int:
    pool = session.ConfigPool.default()
    seeds = sorted(SEEDS.glob(pattern))
    for p in seeds:
        session.run_input(pool, p.read_bytes())
    return len(seeds)


def test_the_late_shapes_are_an_encoded_traversal_and_a_long_query():
    assert apply(34, b"/", b"h", [])[0] == b"/static/%2e%2E/admin"
    target = apply(35, b"/a", b"h", [])[0]
    assert target.startswith(b"/a?sso=") and len(target) > 6 * 1024


def test_dot_segments_removed_before_decoding_are_caught(monkeypatch):
    """normalize_path decoding %2e after it removed dot segments: `..` survives to the upstream."""
    original = proxy_path.apply_path_options

    def dots_first(target, options):
        if not options.normalize:
            return original(target, options)
        outcome = original(target, replace(options, normalize=False))
        path, q, query = outcome.path.partition(b"?")
        path = proxy_path._decode_unreserved(proxy_path.remove_dot_segments(path))
        return proxy_path.PathOutcome(outcome.action, path + q + query)

    assert replay("http_features-hostile_encoded_dot_segments-*") == 1
    monkeypatch.setattr(conn_manager, "apply_path_options", dots_first)
    with pytest.raises(oracles.InvariantViolation, match="target_changed"):
        replay("http_features-hostile_encoded_dot_segments-*")


def test_a_last_chunk_after_a_head_response_is_caught(monkeypatch):
    """A HEAD response framed as chunked (no length from the origin) followed by a last-chunk: the
    client's next response is unreadable."""
    original = H1ServerCodec._response_fields

    def chunked_head(self, ex, status, fields, end):
        out = original(self, ex, status, fields, end)
        if (b"transfer-encoding", b"chunked") in out:
            ex.out_chunked = True
        return out

    assert replay("config-s1-0005-head_without_length_then_get-*") == 1
    monkeypatch.setattr(H1ServerCodec, "_response_fields", chunked_head)
    with pytest.raises(oracles.InvariantViolation, match="h1_response_rejected"):
        replay("config-s1-0005-head_without_length_then_get-*")
