"""Oracle findings name the proxy component they judged (fuzz/blame.py, fuzz.oracles)."""

import sys

import pytest

from fuzz import blame
from fuzz.oracles import InvariantViolation
from fuzz.session import Action, Session
from proxy.buffer import WatermarkBuffer
from proxy.build import build
from proxy.config import load_file
from fuzz.harness import REPO_ROOT


@pytest.fixture
def recorder(monkeypatch):
    """The triage-replay hook, removed and forgotten afterwards (its memory is process-wide)."""
    monkeypatch.setenv(blame.ENV, "1")
    blame._recent.clear()
    assert blame.install_if_requested()
    yield
    sys.setprofile(None)
    blame._recent.clear()


def test_component_of_names_the_repository_path_and_the_qualified_name():
    assert blame.component_of(WatermarkBuffer) == "proxy/buffer.py:WatermarkBuffer"
    assert blame.component_of(WatermarkBuffer(None, None, 1024)) == "proxy/buffer.py:WatermarkBuffer"
    assert blame.component_of(WatermarkBuffer.set_limit) == "proxy/buffer.py:WatermarkBuffer.set_limit"
    assert blame.component_of(WatermarkBuffer(None, None, 1024).drain) == "proxy/buffer.py:Buffer.drain"
    assert blame.component_of("proxy/x.py:Y") == "proxy/x.py:Y"


def test_an_explicit_judged_component_and_the_expectation_are_in_the_message():
    exc = InvariantViolation("window", "stream 1", judged=WatermarkBuffer, expected=0, observed=-5)
    assert str(exc) == (
        "invariant 'window' violated (judged: proxy/buffer.py:WatermarkBuffer): stream 1\n  expected: 0\n  observed: -5"
    )


def test_without_the_replay_hook_nothing_is_recorded_and_the_message_is_unchanged(monkeypatch):
    monkeypatch.delenv(blame.ENV, raising=False)
    assert not blame.install_if_requested()
    assert str(InvariantViolation("x", "detail")) == "invariant 'x' violated: detail"


def test_in_a_replay_an_unattributed_finding_names_the_last_proxy_code_that_is_not_plumbing(recorder):
    built = build(load_file(REPO_ROOT / "examples" / "http.yaml"))
    session = Session(built)
    session.run([Action("connect"), Action("send", payload=b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")])
    exc = InvariantViolation("stall")
    path = exc.component.split(":")[0]
    assert path.startswith("proxy/") and path not in blame.PLUMBING, exc.component
    assert f"(judged: {exc.component})" in str(exc)


def test_formatting_the_finding_does_not_take_the_blame(recorder):
    """An oracle that formats proxy objects into its message (repr, str, len) runs their dunders
    last; the blame goes to the proxy code that ran before, not to `Connection.__repr__`."""
    built = build(load_file(REPO_ROOT / "examples" / "http.yaml"))
    session = Session(built)
    session.run([Action("connect"), Action("send", payload=b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")])
    before = blame.last_component()
    detail = " ".join(f"{conn!r}" for conn in session.connections())
    assert "Connection(id=" in detail and blame._recent[-1][1] == "Connection.__repr__"
    exc = InvariantViolation("bytes_invented", detail)
    assert exc.component == before and not exc.component.endswith("__repr__"), exc.component


def test_an_oracles_question_to_the_proxy_does_not_take_the_blame(recorder):
    """An oracle that asks a proxy object (`conn.is_open`, a property called from outside proxy/)
    runs it last; the blame stays with the newest call the proxy made itself."""
    built = build(load_file(REPO_ROOT / "examples" / "http.yaml"))
    session = Session(built)
    session.run([Action("connect"), Action("send", payload=b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")])
    before = blame.last_component()
    assert all(conn.is_open in (True, False) for conn in session.connections())
    assert blame._recent[-1][1] == "Connection.is_open"
    assert InvariantViolation("peer_h1_response_llhttp_rejects").component == before
