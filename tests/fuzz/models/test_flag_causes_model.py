"""fuzz/models/flag_causes.py, model_access_log_flag_cause: each access log response flag names a
cause the session saw (Envoy's %RESPONSE_FLAGS%: UF a connect failure, UO an overflow, UR an
upstream's reset, UT a route timeout, ...). Shown on the real proxy (a refused upstream flagged UF,
one that never answers timed out UT, an answered request flagging nothing) and on planted bugs that
put the wrong flag on those records."""

import pytest

from fuzz.models import flag_causes
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.build import build
from proxy.config import load_bytes
from proxy.http.filters import router
from tests.fuzz.models.test_route_timeout_counter_model import CONFIG, SILENT  # one logged route, timeout 500 ms

GET = A("send", 0, payload=b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
ANSWERED = [A("connect"), GET, A("read", 0)]
REFUSED = [A("connect"), GET, A("upstream_fail"), A("read", 0)]


def run(actions):
    return Session(build(load_bytes(CONFIG, "yaml")), models=True).run(actions)


def flags(actions) -> list:
    s = run(actions)
    assert s.models is not None
    return [attributes["proxy.response_flags"] for attributes, _ in s.models.flagged.records]


def test_the_clean_proxy_flags_what_happened():
    assert flags(ANSWERED) == ["-"]
    assert flags(REFUSED) == ["UF"]
    assert flags(SILENT) == ["UT"]


def _flag_instead(monkeypatch, was: str, instead: str) -> None:
    original = router.Router._local_reply

    def planted(self, status, body, flag):
        return original(self, status, body, instead if flag == was else flag)

    monkeypatch.setattr(router.Router, "_local_reply", planted)


@pytest.mark.parametrize(
    "actions, swap, why",
    [
        (REFUSED, ("UF", "UO"), "no breaker of the cluster could be full: one request, limits of 1024"),
        (REFUSED, ("UF", "UR"), "the refused upstream never spoke, ended or reset: no counter tells these apart"),
        (REFUSED, ("UF", "UT"), "the route's timeout (500 ms) is longer than the record's duration"),
        (SILENT, ("UT", "UR"), "the upstream read the request and never spoke, ended or reset anything"),
    ],
)
def test_a_flag_without_its_cause_is_found(monkeypatch, actions, swap, why):
    """The planted bug: the router's local reply carries another flag than its cause's."""
    _flag_instead(monkeypatch, *swap)
    with pytest.raises(InvariantViolation) as raised:
        run(actions)
    assert raised.value.name == "model_access_log_flag_cause", f"{why}: {raised.value}"
    assert f"flags {swap[1]}" in raised.value.detail


def test_each_flag_needs_its_own_cause():
    boot = load_bytes(CONFIG, "yaml")
    refused = (flag_causes.Upstream(("127.0.0.1", 9080), True, True, False, False),)
    record = {"proxy.upstream.cluster": "web", "proxy.route": "all/0", "proxy.duration_ms": 5}

    def check(upstreams=refused, **fields):
        flag_causes.check([({**record, **fields}, upstreams)], boot, 1)

    for ok in ("UF", "UC", "LR"):
        check(**{"proxy.response_flags": ok})
    for wrong in ("UO", "UR", "UPE", "UT"):
        with pytest.raises(InvariantViolation, match=f"flags {wrong}"):
            check(**{"proxy.response_flags": wrong})
    check(**{"proxy.response_flags": "UT", "proxy.duration_ms": 500})
    with pytest.raises(InvariantViolation, match="flags UF"):  # a cluster's failure on a record naming none
        check(**{"proxy.upstream.cluster": "-", "proxy.response_flags": "UF"})
    with pytest.raises(InvariantViolation, match="flags LR"):  # no connection opened before the record
        check(upstreams=(), **{"proxy.response_flags": "LR"})


@pytest.mark.parametrize("instead", ["UC", ""])
def test_a_connect_failure_not_flagged_uf_is_found(monkeypatch, instead):
    """The converse: the refused upstream's 503 flagged UC (its connection did close: no cause is
    missing) or nothing at all hides the connect failure."""
    _flag_instead(monkeypatch, "UF", instead)
    with pytest.raises(InvariantViolation) as raised:
        run(REFUSED)
    assert raised.value.name == "model_access_log_connect_failure_unflagged", str(raised.value)


# -- flags Envoy does not document: RBAC's denial sets none (model_access_log_flag_undocumented) ------
def test_only_the_flags_envoy_documents_pass():
    boot = load_bytes(CONFIG, "yaml")
    record = {"proxy.upstream.cluster": "-", "proxy.route": "all/0", "proxy.duration_ms": 5}
    for ok in ("-", "NR", "RL", "FI", "SI", "DPE", "DI"):
        flag_causes.check([({**record, "proxy.response_flags": ok}, ())], boot, 1)
    with pytest.raises(InvariantViolation, match="model_access_log_flag_undocumented") as raised:
        flag_causes.check([({**record, "proxy.response_flags": "DI,RBAC"}, ())], boot, 1)
    assert "flags RBAC," in raised.value.detail


def _denied():
    from tests.fuzz.test_liveness import http

    rbac = "http_filters: [{rbac: {action: DENY, policies: [{name: all}]}}]"
    built = http(hcm="access_log: {stdout: true}", filters=rbac)
    return Session(built, models=True).run(ANSWERED)


def test_an_rbac_denial_is_logged_without_a_flag():
    s = _denied()
    assert s.models is not None
    assert [(a["http.response.status_code"], a["proxy.response_flags"]) for a, _ in s.models.flagged.records] == [
        (403, "-")
    ]


def test_an_rbac_denial_flagged_rbac_is_found(monkeypatch):
    """The planted bug: the denial flagged `RBAC`, as the proxy did before (no such flag in Envoy)."""
    from proxy.http.filter_chain import FilterCallbacks

    real = FilterCallbacks.send_local_reply

    def flag_a_403(self, status, body=b"", flags=(), headers=()):
        return real(self, status, body, ("RBAC",) if status == 403 else flags, headers)

    monkeypatch.setattr(FilterCallbacks, "send_local_reply", flag_a_403)
    with pytest.raises(InvariantViolation) as raised:
        _denied()
    assert raised.value.name == "model_access_log_flag_undocumented", str(raised.value)
