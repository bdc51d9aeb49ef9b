"""The access log's response flags against what the peers saw (fuzz/models/access_log.py,
model_access_log_flags): an exchange whose client read whole what its upstream sent whole failed
nowhere, so its record flags no failure (DI, a fault delay, aside). A flag set from the wrong side,
planted by monkeypatch, is caught on a committed session seed."""

from collections import Counter
from pathlib import Path

import pytest

from fuzz import oracles, session
from fuzz.models import access_log
from proxy.http.filters import router

SEEDS = Path(session.__file__).resolve().parents[1] / "corpus" / "session"
CLIENT = ("10.0.0.1", 40000)


def record(status: int, flags: str) -> dict:
    attributes = {
        "http.response.status_code": status,
        "client.address": CLIENT[0],
        "client.port": CLIENT[1],
        "http.request.method": "GET",
        "http.request.body.size": 0,
        "http.response.body.size": 2,
        "proxy.response_flags": flags,
    }
    return {"attributes": attributes}


@pytest.mark.parametrize("flags", ["-", "DI"])
def test_a_record_flagging_no_failure_passes(flags):
    log = access_log.StatusLog()
    log.write(record(200, flags))
    access_log.check_flags(log, Counter({(CLIENT, "GET", 200): 1}))


@pytest.mark.parametrize("flags", ["UC", "UR", "UPE", "DI,UT", "DC"])
def test_a_failure_flag_on_a_forwarded_response_fails(flags):
    log = access_log.StatusLog()
    log.write(record(200, flags))
    with pytest.raises(oracles.InvariantViolation, match="model_access_log_flags"):
        access_log.check_flags(log, Counter({(CLIENT, "GET", 200): 1}))


def test_upstream_termination_flagged_on_complete_responses_is_caught(monkeypatch):
    complete = router.Router._response_complete

    def flagged(self):  # the planted bug: UC (upstream connection termination) on every completed response
        self.decoder_callbacks.stream_info["response_flags"].append("UC")
        complete(self)

    monkeypatch.setattr(router.Router, "_response_complete", flagged)
    with pytest.raises(oracles.InvariantViolation, match="model_access_log_flags"):
        session.run_input(session.ConfigPool.default(), (SEEDS / "config-s1-0001-edges1-r0-61c90f973fdb").read_bytes())
