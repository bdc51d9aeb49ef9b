"""The forwarded TE (fuzz/peers/judge.py, peer_forwarded_te; docs/semantics.md, TE): a client's TE
asking for trailers reaches any upstream as `te: trailers`, over HTTP/1.1 with the `te` connection
option. Bugs planted by monkeypatch are caught on committed session seeds."""

from pathlib import Path

import pytest

import proxy.http.h1 as h1
from fuzz import oracles, session

SEEDS = Path(session.__file__).resolve().parents[1] / "corpus" / "session"
H1_UPSTREAM = "config-s1-0005-h1_trailer_upload_upstream_silent-r0-cc4e1e2847f0"  # client TE: trailers


@pytest.fixture(scope="module")
def pool():
    return session.ConfigPool.default()


def test_the_seed_passes_as_it_is(pool):
    session.run_input(pool, (SEEDS / H1_UPSTREAM).read_bytes())


def test_te_trailers_dropped_toward_http1_upstreams_is_caught(monkeypatch, pool):
    monkeypatch.setattr(h1, "_te_trailers", lambda headers: [])  # the behaviour before 12-04
    with pytest.raises(oracles.InvariantViolation, match="peer_forwarded_te"):
        session.run_input(pool, (SEEDS / H1_UPSTREAM).read_bytes())


def test_te_without_its_connection_option_is_caught(monkeypatch, pool):
    te = h1._te_trailers
    monkeypatch.setattr(h1, "_te_trailers", lambda headers: [f for f in te(headers) if f[0] != b"connection"])
    with pytest.raises(oracles.InvariantViolation, match="peer_forwarded_te"):
        session.run_input(pool, (SEEDS / H1_UPSTREAM).read_bytes())


def test_te_codings_forwarded_are_caught(monkeypatch, pool):
    """A TE without trailers (`deflate`) forwarded as trailers: the proxy may not ask on its client's
    behalf for what the client did not take."""
    monkeypatch.setattr(h1, "_te_trailers", lambda headers: [(b"te", b"trailers"), (b"connection", b"te")])
    with pytest.raises(oracles.InvariantViolation, match="peer_forwarded_te"):
        session.run_input(
            pool, (SEEDS / "config-s1-0005-request_section_too_large_for_upstream-r0-93d103288cae").read_bytes()
        )
