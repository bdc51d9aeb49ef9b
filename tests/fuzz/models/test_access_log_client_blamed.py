"""DC blames the client (fuzz/models/access_log.py, model_access_log_client_blamed): a client that
never closed, reset or half-closed its connection, nor reset a stream, did not go away, so none of
its access log records flags DC. Live (BLACKBOX 12-04g), an HTTP/1.1 response the proxy cut short
(an upstream's close mid-body, a route timeout after the head) was logged "UC,DC" / "UT,DC": the
close of the proxy's own reset came back as a connection event that took the client for gone. The
pre-fix rule, planted by monkeypatch, is caught on the regression seed; the clean tree passes."""

from pathlib import Path

import pytest

from fuzz import oracles, session
from fuzz.models import access_log
from proxy.http.conn_manager import ActiveStream

SEEDS = Path(session.__file__).resolve().parents[1] / "corpus" / "session"
# The second: a pipelined request behind the cut one is caught open by the close, so DC (found by
# fuzzing the first cut of the oracle, which allowed no DC at all on such a client).
NAMES = [
    "regress-h1-upstream-reset-after-the-client-read-is-not-a-client-close",
    "regress-h1-request-queued-behind-a-response-the-proxy-cut-is-dc",
]
CLIENT = ("10.0.0.1", 40000)


def _log(flags: str) -> access_log.StatusLog:
    log = access_log.StatusLog()
    attributes = {
        "http.response.status_code": 200,
        "client.address": CLIENT[0],
        "client.port": CLIENT[1],
        "http.request.method": "GET",
        "http.request.body.size": 0,
        "http.response.body.size": 3,
        "proxy.response_flags": flags,
    }
    log.write({"attributes": attributes})
    return log


@pytest.mark.parametrize("flags", ["UC", "UT", "SI", "-"])
def test_a_record_blaming_nobody_on_the_client_passes(flags):
    access_log.check_client_blamed(_log(flags), {CLIENT: 0})


def test_dc_for_a_client_that_went_away_passes():
    access_log.check_client_blamed(_log("DC"), {})


def test_dc_for_a_request_queued_behind_one_the_proxy_cut_passes():
    access_log.check_client_blamed(_log("DC"), {CLIENT: 1})


@pytest.mark.parametrize("flags", ["DC", "UC,DC", "UT,DC"])
def test_dc_for_a_client_that_stayed_fails(flags):
    with pytest.raises(oracles.InvariantViolation, match="model_access_log_client_blamed"):
        access_log.check_client_blamed(_log(flags), {CLIENT: 0})


@pytest.mark.parametrize("name", NAMES)
def test_the_seed_passes_on_the_clean_tree(name):
    session.run_input(session.ConfigPool.default(), (SEEDS / name).read_bytes())


@pytest.mark.parametrize("name", NAMES)
def test_the_close_of_the_proxys_own_reset_taken_for_the_client_is_caught(monkeypatch, name):
    gone = ActiveStream.peer_gone

    def forgetful(self, reason: str, flag: str = "DC") -> None:
        self.resetting = False  # the planted bug (the pre-fix rule): our own reset's close reads as the client's
        gone(self, reason, flag)

    monkeypatch.setattr(ActiveStream, "peer_gone", forgetful)
    with pytest.raises(oracles.InvariantViolation, match="model_access_log_client_blamed"):
        session.run_input(session.ConfigPool.default(), (SEEDS / name).read_bytes())
