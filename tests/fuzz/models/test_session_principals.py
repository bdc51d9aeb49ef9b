"""The session model judges HTTP requests on TLS chains too, with the client certificate as RBAC's
authenticated principal (fuzz/models/session_oracle.py): a StringMatcher whose ignore_case lowercases
only the certificate's name (planted by monkeypatch) is caught on the committed seeds of
examples/tls.yaml, whose /admin principal is a mixed-case SPIFFE ID with ignore_case."""

from pathlib import Path

import pytest

import proxy.network.principal as principal
from fuzz import oracles, session

SEEDS = Path(session.__file__).resolve().parents[1] / "corpus" / "session"


def replay_tls():
    pool = session.ConfigPool.default()
    for p in sorted(SEEDS.glob("tls-*")):
        session.run_input(pool, p.read_bytes())


def test_the_tls_seeds_pass():
    replay_tls()


def test_ignore_case_applied_to_one_side_only_is_caught(monkeypatch):
    def one_sided(self, text):  # the planted bug: the configured value keeps its case
        text = text.lower() if self.ignore_case else text
        return {
            "exact": text == self.value,
            "prefix": text.startswith(self.value),
            "suffix": text.endswith(self.value),
        }.get(self.kind, self.value in text)

    monkeypatch.setattr(principal.StringMatcher, "__call__", one_sided)
    with pytest.raises(oracles.InvariantViolation, match="model_local_reply_session"):
        replay_tls()
