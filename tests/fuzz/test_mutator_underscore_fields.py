"""The HTTP vocabulary's field names include one with an underscore (fuzz/mutators/vocab.py), so raw
requests from the templates carry it from an empty corpus. Planted: headers_with_underscores_action
REJECT_REQUEST (the default) counts the field and lets the request through; the session's request
model refuses that."""

import random

import pytest

from fuzz.mutators import http1, vocab
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.http.conn_manager import HttpConnectionManager
from tests.fuzz.test_liveness import http


UNDERSCORED = next(name for name in vocab.FIELD_NAMES if b"_" in name)


def test_templates_draw_a_field_name_with_an_underscore():
    rng = random.Random(11)
    assert any(UNDERSCORED + b":" in http1.template(rng).raw() for _ in range(3000))


def test_a_request_with_an_underscore_field_let_through_is_caught(monkeypatch):
    requests = [b"GET / HTTP/1.1\r\nHost: a.example\r\n" + UNDERSCORED + b": 1.2.3.4\r\n\r\n"]
    built = http(limit=1 << 16)
    script = [
        [A("connect"), A("send", 0, payload=raw), A("upstream_connect"), A("upstream_read"), A("read")]
        for raw in requests
    ]
    for actions in script:  # the clean proxy: refused with a 400, judged so
        Session(built, models=True).run(actions)
    refuse = HttpConnectionManager._refuse_underscores

    def counted_not_refused(self, stream, fields):  # the planted bug
        if self.config.underscores == "REJECT_REQUEST" and any(b"_" in n for n, _ in fields):
            self.stats.inc("requests_rejected_with_underscores_in_headers")
            return False
        return refuse(self, stream, fields)

    monkeypatch.setattr(HttpConnectionManager, "_refuse_underscores", counted_not_refused)
    for actions in script:
        with pytest.raises(InvariantViolation):
            Session(built, models=True).run(actions)
