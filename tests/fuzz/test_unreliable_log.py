"""Sessions log through fuzz.session.UnreliableLog, whose every other write fails (EPIPE): a record
the proxy cannot write must cost nothing but the record (proxy.http.access_log.emit)."""

import pytest

import proxy.http.access_log as access_log
from fuzz.session import Action as A, Session
from tests.fuzz.test_liveness import GET, http, response, run

TWO_EXCHANGES = [
    A("send", payload=GET),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_send", payload=response(b"one")),
    A("read"),
    A("send", payload=GET),
    A("upstream_read"),
    A("upstream_send", payload=response(b"two")),
    A("read"),
]


def logged():
    return http(hcm="access_log: {stdout: true}")


def test_a_record_the_log_refuses_costs_nothing_but_the_record():
    session = run(logged(), TWO_EXCHANGES)
    assert [(ex.response.status, bytes(ex.response.body)) for ex in session.peers.exchanges] == [
        (200, b"one"),
        (200, b"two"),
    ]
    assert session.ctx.stats.counter("filesystem.write_failed") == 1


def test_a_manager_whose_log_write_raises_into_the_request_is_found(monkeypatch):
    """The defect found live: the sink's error reached the connection the stream ended on."""

    def emit_unguarded(ctx, spec, record):
        access_log.sink_for(ctx, spec).write(record)

    monkeypatch.setattr(access_log, "emit", emit_unguarded)
    with pytest.raises(BrokenPipeError):
        run(logged(), TWO_EXCHANGES)
    with pytest.raises(BrokenPipeError):  # as the session harness runs: the models' sink inside
        Session(logged(), models=True).run([A("connect")] + TWO_EXCHANGES)


def test_the_access_log_model_still_sees_every_record():
    session = Session(logged(), models=True).run([A("connect")] + TWO_EXCHANGES)
    assert session.ctx.stats.counter("filesystem.write_failed") == 1
    assert sum(session.models.access_log.statuses.values()) == 2
