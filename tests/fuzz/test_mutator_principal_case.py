"""RBAC principal names drawn for the uber-filter harnesses (fuzz/configgen/_formats.py) come in other
letter case too, so a matcher with ignore_case decides on the test client only if both sides are
folded. Planted: ignore_case folding the certificate's name and not the configured value; the RBAC
model catches it on drawn configurations."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import network_filter
from proxy.network import principal
from tests.fuzz.test_mutator_filter_configs import CLIENT_NAMES, _drawn_rbac_configs


def _folded_matchers(config) -> list:
    """The config's ignore_case principal names that name the test client only when case is folded."""
    out = []
    for policy in config.policies:
        for p in policy.principals:
            m = p.authenticated.principal_name
            kind = m.WhichOneof("match_pattern")
            value = getattr(m, kind) if kind else ""
            if (
                m.ignore_case
                and value != value.lower()
                and any(principal.StringMatcher(kind, value, True)(name) for name in CLIENT_NAMES)
            ):
                out.append(value)
    return out


@pytest.mark.slow
def test_drawn_principals_in_other_case_decide_under_ignore_case(monkeypatch):
    configs = [c for c in _drawn_rbac_configs(200) if _folded_matchers(c)]
    assert len(configs) >= 2, len(configs)
    inputs = [network_filter.seed("rbac", c, 0, network_filter.TLS_CLIENTS) for c in configs]
    for data in inputs:  # the clean proxy: no finding
        network_filter.run(data)
    fold = principal.StringMatcher.__call__

    def one_sided(self, text):  # the planted bug: the configured value is not folded
        if self.ignore_case:
            return fold(principal.StringMatcher(self.kind, self.value, False), text.lower())
        return fold(self, text)

    monkeypatch.setattr(principal.StringMatcher, "__call__", one_sided)
    caught = 0
    for data in inputs:
        try:
            network_filter.run(data)
        except InvariantViolation:
            caught += 1
    assert caught >= 1, len(inputs)
