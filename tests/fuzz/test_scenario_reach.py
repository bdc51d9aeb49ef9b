"""Session reach (fuzz/session_reach.py, python -m fuzz bench scenario-reach): the ops that let a
scenario's request get to an upstream and its answer back (send_request, upstream_accept_next,
upstream_respond), and the scenarios' share that gets there."""

from fuzz import session
from fuzz.bench.scenario_reach import measure
from fuzz.session_reach import REACHED, reach_of
from tests.fuzz.test_liveness import http, run

A = session.Action


def test_send_request_speaks_the_codec_of_its_connection_and_upstream_respond_that_of_the_upstream():
    for codec, cluster, preface in (("HTTP1", "", False), ("HTTP2", "protocol: HTTP2", True)):
        s = run(
            http(codec=codec, cluster=cluster),
            [
                A("upstream_accept_next"),
                A("send_request", payload=b"\0" * 8),
                A("upstream_read"),
                A("upstream_respond"),
            ],
        )
        sent = bytes(s.downstream[0].sent)
        assert sent.startswith(session.H2_PREFACE) == (codec == "HTTP2"), sent[:30]
        assert reach_of(s) == ("answered", ""), (codec, reach_of(s))
        assert bytes(session.peer_of(s.network.opened[0]).received).startswith(session.H2_PREFACE) == preface


def test_upstream_accept_next_accepts_a_connection_opened_after_a_fault_delay():
    """An explicit upstream_connect finds nothing pending while the fault filter holds the request; the
    connection opened 100 ms later times out (connect_timeout_ms 50) unless the upstreams are up."""
    config = http(filters="http_filters: [{fault: {delay_ms: 100}}]", cluster="connect_timeout_ms: 50")
    request = A("send_request", payload=b"\0" * 8)
    late = [request, A("upstream_connect"), A("advance", value=100), A("advance", value=100)]
    assert reach_of(run(config, late))[0] == "connect_lost"
    up = [A("upstream_accept_next"), request, A("advance", value=100), A("advance", value=100)]
    assert reach_of(run(config, up))[0] in REACHED


def test_a_good_share_of_random_scenarios_reaches_an_upstream():
    """Before the short time steps, the fitting ops and the upstreams-up step: 26-37 of 300."""
    outcomes = measure(100)[0]
    assert sum(outcomes[o] for o in REACHED) >= 20, outcomes


def test_connect_fitting_speaks_tls_to_a_tls_chain_where_a_plain_connect_gets_nothing_through():
    from fuzz.test_pki import ensure, load_config
    from proxy.build import build

    from pathlib import Path

    ensure()
    built = build(load_config(Path(__file__).resolve().parents[2] / "examples" / "tls.yaml"))
    outcomes = []
    for first in ("connect", "connect_fitting"):
        script = [A(first, 1), A("upstream_accept_next"), A("send_request", 1, payload=bytes(8))]
        script += [A("upstream_respond"), A("read", 1)]
        outcomes.append(reach_of(session.Session(built, models=True).run(script))[0])
    assert outcomes == ["local_reply", "answered"]
