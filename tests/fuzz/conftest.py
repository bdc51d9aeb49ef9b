"""Fixtures of the fuzzing tests."""

import pytest

from fuzz.memo import forget_all


@pytest.fixture(autouse=True)
def fresh_memos():
    """Each test judges with the code it runs: a defect planted by one test (monkeypatch) must not
    meet verdicts another test's clean run left in a harness's Memo (fuzz/memo.py)."""
    forget_all()
    yield
    forget_all()
