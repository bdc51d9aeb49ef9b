"""The uber-filter harnesses' fresh configurations (fuzz/mutators/actions.py config_new, from
fuzz.configgen.fragment_generator) take the session formats: RBAC principals the test PKI's client
presents, so a principal matcher decides for the network_filter harness's TLS clients even from an
empty corpus, and header_mutation strips fields requests carry. Planted: a `suffix` matcher that
compares the prefix is caught by the RBAC model, a remove that stops at the first field by the
header mutation model."""

import random

import pytest

from fuzz import mutators
from fuzz.oracles import InvariantViolation
from fuzz.targets import http_filter, network_filter
from proxy.config import schema
from proxy.http import message
from proxy.network import principal

# proxy/tools/certs.py: the test client's URI SAN, DNS SAN and subject.
CLIENT_NAMES = ("spiffe://proxyfuzz.test/client", "client.proxyfuzz.test", "O=proxyfuzz,CN=client")


def _drawn_rbac_configs(n: int) -> list:
    mutator = mutators.create("network_filter")
    op = mutator.ops["head_config_new"][1]
    rbac = network_filter.filter_names().index("rbac")
    out = []
    for seed in range(n):
        state = [bytes([rbac]) + mutator.codec.split(b"")[0][1:], []]
        op(state, random.Random(seed))
        head = state[0]
        if head[0] == rbac:
            out.append(schema.Rbac.FromString(head[3 : 3 + int.from_bytes(head[1:3], "big")]))
    return out


def _suffixes(config) -> list:
    return [
        p.authenticated.principal_name.suffix
        for policy in config.policies
        for p in policy.principals
        if p.authenticated.principal_name.suffix
    ]


def test_drawn_principals_name_the_test_client():
    configs = _drawn_rbac_configs(150)
    deciding = [c for c in configs if any(n.endswith(s) for s in _suffixes(c) for n in CLIENT_NAMES)]
    assert len(deciding) >= 3, (len(configs), len(deciding))


@pytest.mark.slow
def test_a_suffix_matcher_comparing_the_prefix_is_caught_from_drawn_configurations(monkeypatch):
    configs = [c for c in _drawn_rbac_configs(300) if _suffixes(c)][:12]
    inputs = [network_filter.seed("rbac", c, 0, network_filter.TLS_CLIENTS) for c in configs]
    for data in inputs:  # the clean proxy: no finding
        network_filter.run(data)

    def suffix_as_prefix(self, text):  # the planted bug
        value, text = (self.value.lower(), text.lower()) if self.ignore_case else (self.value, text)
        if self.kind == "suffix":
            return text.startswith(value)
        return {"exact": text == value, "prefix": text.startswith(value)}.get(self.kind, value in text)

    monkeypatch.setattr(principal.StringMatcher, "__call__", suffix_as_prefix)
    caught = 0
    for data in inputs:
        try:
            network_filter.run(data)
        except InvariantViolation:
            caught += 1
    assert caught >= 1, len(inputs)


def _drawn_header_mutations(n: int) -> list:
    mutator = mutators.create("http_filter")
    op = mutator.ops["head_config_new"][1]
    index = http_filter.filter_names().index("header_mutation")
    message = schema.message_class(schema.HttpFilter.DESCRIPTOR.fields_by_name["header_mutation"].message_type)
    out = []
    for seed in range(n):
        state = [bytes([index]) + mutator.codec.split(b"")[0][1:], []]
        op(state, random.Random(seed))
        head = state[0]
        if head[0] == index:
            out.append(message.FromString(head[3 : 3 + int.from_bytes(head[1:3], "big")]))
    return out


def test_a_remove_that_stops_at_the_first_field_is_caught_from_drawn_configurations(monkeypatch):
    """Drawn header_mutation configurations strip fields the harness's requests carry (one of them
    twice); planted: HeaderMap.remove deletes only the first field of the name."""
    repeated = next(i for i, r in enumerate(http_filter.REQUESTS) if len({n for n, _ in r[3]}) < len(r[3]))
    name = http_filter.REQUESTS[repeated][3][0][0].decode()
    configs = [c for c in _drawn_header_mutations(300) if name in c.request_headers_to_remove][:5]
    assert configs
    inputs = [
        http_filter.seed("header_mutation", c, 0, 0, 0, [("decode_headers", repeated, b"", True)]) for c in configs
    ]
    for data in inputs:  # the clean proxy: no finding
        http_filter.run(data)

    def first_only(self, name):  # the planted bug
        key = message._b(name).lower()
        for i, (n, _) in enumerate(self._fields):
            if n == key:
                del self._fields[i]
                return

    monkeypatch.setattr(message.HeaderMap, "remove", first_only)
    for data in inputs:
        with pytest.raises(InvariantViolation):
            http_filter.run(data)
