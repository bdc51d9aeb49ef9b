"""The path options reference (fuzz/models/paths.py, Envoy's normalize_path, merge_slashes and
path_with_escaped_slashes_action) and the session oracles that use it: an escaped slash missed in
upper case, and slashes merged before normalising (both planted by monkeypatch), are caught on the
committed seeds of examples/http_features.yaml."""

import re
from pathlib import Path

import pytest

import proxy.http.conn_manager as conn_manager
import proxy.http.path as proxy_path
from fuzz import oracles, session
from fuzz.models import paths
from proxy.config import schema

SEEDS = Path(session.__file__).resolve().parents[1] / "corpus" / "session"
HCM = schema.HttpConnectionManager
Action = HCM.PathWithEscapedSlashesAction


def hcm(**options):
    return HCM(**options)


@pytest.mark.parametrize(
    "options, target, expected",
    [
        ({}, "/a%2Fb//c/../d?x=/..", ("forward", "/a%2Fb//c/../d?x=/..")),
        ({"path_with_escaped_slashes_action": Action.Value("REJECT_REQUEST")}, "/a%2fb", ("reject", "/a%2fb")),
        ({"path_with_escaped_slashes_action": Action.Value("REJECT_REQUEST")}, "/a%5Cb", ("reject", "/a%5Cb")),
        ({"path_with_escaped_slashes_action": Action.Value("UNESCAPE_AND_FORWARD")}, "/a%2Fb", ("forward", "/a/b")),
        ({"path_with_escaped_slashes_action": Action.Value("UNESCAPE_AND_REDIRECT")}, "/a%2Fb", ("redirect", "/a/b")),
        ({"path_with_escaped_slashes_action": Action.Value("UNESCAPE_AND_REDIRECT")}, "/a/b", ("forward", "/a/b")),
        ({"normalize_path": True, "merge_slashes": True}, "/a//../b?q=//", ("forward", "/a/b?q=//")),
        ({"merge_slashes": True}, "//a//../b", ("forward", "/a/../b")),
        ({"normalize_path": True}, "/%61/./b/..", ("forward", "/a/")),
    ],
)
def test_envoys_order_escaped_slashes_then_normalise_then_merge(options, target, expected):
    assert paths.apply(hcm(**options), target) == expected


def replay_http_features():
    pool = session.ConfigPool.default()
    for p in sorted(SEEDS.glob("http_features-*")):
        session.run_input(pool, p.read_bytes())


def test_an_escaped_slash_missed_in_upper_case_is_caught(monkeypatch):
    monkeypatch.setattr(proxy_path, "ESCAPED_SLASH", re.compile(rb"%(?:2f|5c)"))  # the planted bug
    with pytest.raises(oracles.InvariantViolation, match="escaped slash"):
        replay_http_features()


def test_slashes_merged_before_normalising_are_caught(monkeypatch):
    original = proxy_path.apply_path_options

    def merged_first(target, options):  # the planted bug: merging runs before RFC 3986 normalisation
        path, q, query = target.partition(b"?")
        if options.merge_slashes and path.startswith(b"/"):
            target = re.sub(rb"//+", b"/", path) + q + query
        return original(target, options)

    monkeypatch.setattr(conn_manager, "apply_path_options", merged_first)
    with pytest.raises(oracles.InvariantViolation, match="target_changed|model_route_session|model_local_reply"):
        replay_http_features()


def test_slashes_merged_in_the_query_are_caught(monkeypatch):
    # The bug class (PLANT round 5, path-merge-slashes-rewrites-query): merge_slashes run over the whole
    # target, query included; the hostile_query seeds send ?next=https://example.com//a/../b.
    original = proxy_path.apply_path_options

    def merged_everywhere(target, options):
        outcome = original(target, options)
        if not options.merge_slashes:
            return outcome
        return proxy_path.PathOutcome(outcome.action, re.sub(rb"//+", b"/", outcome.path))

    assert sorted(SEEDS.glob("http_features-hostile_query-*"))
    replay_http_features()
    monkeypatch.setattr(conn_manager, "apply_path_options", merged_everywhere)
    with pytest.raises(oracles.InvariantViolation, match="target_changed"):
        replay_http_features()
