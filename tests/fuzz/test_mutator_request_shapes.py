"""The session action mutator gives a share of the requests it draws a hostile shape, and of the
answers a body that streams (fuzz/mutators/shapes.py): the table of selector bytes matches the
templates, scenarios carry both. Planted: merge_slashes merging the query's "//" as well (the
session's forwarding judge catches the query URL the mutator now puts in requests); a route timeout
stopped at the response head (the timeout model catches it once a streamed answer stays open)."""

import random
import types

import pytest

from fuzz import hostile, payloads
from fuzz.mutators import actions, scenarios, shapes
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.http import path
from proxy.http.filters import router
from tests.fuzz.test_liveness import http

QUERY_URL = next(hostile.LATE_FIRST + i for i, (what, value) in enumerate(hostile.LATE) if b"//" in value)


@pytest.mark.parametrize("template", list(shapes.SHAPE_BYTES))
def test_each_template_reads_its_selector_where_the_table_says(monkeypatch, template):
    seen = []
    monkeypatch.setattr(hostile, "apply", lambda selector, p, h, f: seen.append(selector) or (p, h, f))
    for where in (shapes.SHAPE_BYTES[template], shapes.FITTING):
        if template not in (payloads.h1_request, payloads.h2_request) and where is shapes.FITTING:
            continue
        seen.clear()
        template(shapes.with_selector(b"\x07\x01", where, QUERY_URL), types.SimpleNamespace())
        assert seen == [QUERY_URL], (template.__name__, where)


def test_scenarios_carry_shapes_and_keep_their_layout():
    mutator = actions.session()
    rng = random.Random(5)
    requests = []
    for _ in range(60):
        made = scenarios.scenario(rng, mutator._scenario_action, mutator._aimed)
        assert mutator.codec.decode(mutator.codec.encode(made)) == made
        requests += [a for a in made if shapes.positions(a)]
    shaped = [
        a
        for a in requests
        if any(hostile.shape(a.payload[i : i + 1].ljust(1, b"\0")[0] >> s) for i, s in shapes.positions(a))
    ]
    assert len(shaped) >= 0.15 * len(requests), (len(shaped), len(requests))


def test_the_shape_op_shapes_one_request():
    mutator = actions.session()
    plain = [A("send_request", 0, payload=b"\0" * 4), A("read")]
    rng = random.Random(2)
    state = [b"\0\0", list(plain)]
    assert mutator.shape(state, rng)
    assert state[1][1] == plain[1] and state[1][0] != plain[0]


def test_a_query_merged_by_merge_slashes_is_caught(monkeypatch):
    built = http(limit=1 << 16, hcm="merge_slashes: true")
    seed = shapes.with_selector(b"", shapes.FITTING, QUERY_URL)
    script = [A("connect"), A("send_request", 0, payload=seed), A("upstream_connect"), A("upstream_read"), A("read")]
    Session(built, models=True).run(script)  # the clean proxy forwards the query as sent
    real = path.apply_path_options

    def merged_over_query(target, options):  # the planted bug: merge_slashes over the whole target
        outcome = real(target, options)
        if options.merge_slashes:
            return path.PathOutcome(outcome.action, path._SLASHES.sub(b"/", outcome.path))
        return outcome

    monkeypatch.setattr("proxy.http.conn_manager.apply_path_options", merged_over_query)
    with pytest.raises(InvariantViolation):
        Session(built, models=True).run(script)


def test_every_family_member_picks_a_shape():
    for family in shapes.FAMILIES:
        for selector in family:
            assert hostile.shape(selector) or hostile.trailers(selector - hostile.N_SHAPES), selector


def test_scenario_answers_stream_at_times():
    """Some scenario answers are responses that run to a close the upstream has not made yet."""
    mutator = actions.session()
    rng = random.Random(9)
    answers = [
        a
        for _ in range(120)
        for a in scenarios.scenario(rng, mutator._scenario_action, mutator._aimed)
        if a.op in ("upstream_http", "upstream_respond")
    ]
    streaming = [a for a in answers if a.op == "upstream_http" and a.value == shapes.STREAMING and not a.end_stream]
    assert len(streaming) >= 0.05 * len(answers), (len(streaming), len(answers))


def test_a_route_timeout_stopped_at_the_response_head_is_caught(monkeypatch):
    built = http(limit=1 << 16, route=", timeout_ms: 250")
    answer = shapes.streamed(A("upstream_http", 0, payload=b"\0" * 8))
    script = [A("connect"), A("send_request", 0, payload=b"\0" * 8), A("upstream_connect"), A("upstream_read")]
    script += [answer, A("read"), A("advance", value=1000), A("advance", value=1000), A("read")]
    Session(built, models=True).run(script)  # the clean proxy: the route timeout ends the open response
    headers = router.Router.on_upstream_headers

    def stopped_at_headers(self, *args, **kwargs):  # the planted bug: the timer stops at the head
        headers(self, *args, **kwargs)
        self._stop_timeout()

    monkeypatch.setattr(router.Router, "on_upstream_headers", stopped_at_headers)
    with pytest.raises(InvariantViolation):
        Session(built, models=True).run(script)
