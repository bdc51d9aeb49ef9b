"""The http_filter harness's model oracles (fuzz/models/http_oracle.py) catch policy bugs planted in
the proxy by monkeypatch, on the committed seeds: RBAC source prefixes one bit too short or too long,
shadow rules enforced, a token bucket refilled on every request, an abort percentage one too high,
a delay released a millisecond early. A clean replay passes (tests/fuzz/test_corpus_replay.py too)."""

import inspect
from pathlib import Path

import pytest

import proxy.http.filters.local_ratelimit as http_ratelimit
import proxy.http.filters.rbac as http_rbac
from fuzz import oracles
from fuzz.bench.mutants import ops
from fuzz.memo import Memo
from fuzz.targets import http_filter as hf
from proxy.http import registry

SEEDS = Path(hf.__file__).resolve().parents[2] / "corpus" / "http_filter"


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    monkeypatch.setattr(hf, "_CACHE", Memo(256))  # built filters of a patched factory stay in the test


def replay_all():
    for p in sorted(SEEDS.iterdir()):
        hf.run(p.read_bytes())


def test_the_committed_seeds_agree_with_the_models():
    replay_all()
    assert len(hf.model_seeds()) >= 30


def test_model_seeds_are_committed():
    names = {p.name for p in SEEDS.iterdir()}
    import hashlib

    assert all(hashlib.sha1(d).hexdigest() in names for d in hf.model_seeds())


def _prefix_off_by(delta):
    def source_in(networks, source_ip):  # the planted bug: prefix length compared one bit off
        def net(n):
            if delta < 0:
                return n.supernet() if n.prefixlen else n
            return next(n.subnets()) if n.prefixlen < n.max_prefixlen else n

        return not networks or (source_ip is not None and any(source_ip in net(n) for n in networks))

    return source_in


@pytest.mark.parametrize("delta", [-1, 1])
def test_rbac_source_prefix_off_by_one_bit_is_caught(monkeypatch, delta):
    monkeypatch.setattr(http_rbac, "source_in", _prefix_off_by(delta))
    with pytest.raises(oracles.InvariantViolation, match="model_rbac_decision"):
        replay_all()


def _line_after(module, text: str) -> int:
    """The number of the line after the first one containing `text` in `module`'s source."""
    lines, _ = inspect.getsourcelines(module)
    return next(i for i, line in enumerate(lines, 1) if text in line) + 1


def test_rbac_failed_header_condition_matching_is_caught(monkeypatch):
    """bench mutants (rbac.py, seed 11) left HttpRbacPolicy.matches answering True where a header
    condition fails: no committed seed had a policy decided by a header that some request lacks."""
    line = _line_after(http_rbac, "if not all(m.matches(head) for m in self.headers)")
    code = ops.planted(http_rbac, "HttpRbacPolicy.matches", "False", line=line)
    monkeypatch.setattr(http_rbac.HttpRbacPolicy.matches, "__code__", code)
    with pytest.raises(oracles.InvariantViolation, match="model_rbac_decision"):
        replay_all()


def plant_config_bug(monkeypatch, filters, name, change):
    """Plant a bug in how filter `name` of the registry `filters` reads its configuration: its
    factory sees change(a copy of the configuration)."""
    original = filters.factory(name)

    def factory(config, build):
        copy = type(config)()
        copy.CopyFrom(config)
        change(copy)
        return original(copy, build)

    monkeypatch.setitem(filters._factories, name, factory)


def _with_config(monkeypatch, name, change):
    plant_config_bug(monkeypatch, registry._HTTP_FILTERS, name, change)


def test_rbac_shadow_rules_enforced_is_caught(monkeypatch):
    _with_config(monkeypatch, "rbac", lambda c: setattr(c, "shadow", False))
    with pytest.raises(oracles.InvariantViolation, match="model_rbac_(decision|counters)"):
        replay_all()


def test_rbac_action_inverted_is_caught(monkeypatch):
    _with_config(monkeypatch, "rbac", lambda c: setattr(c, "action", 1 - c.action))
    with pytest.raises(oracles.InvariantViolation, match="model_rbac"):
        replay_all()


def test_token_bucket_refilled_on_every_request_is_caught(monkeypatch):
    original = http_ratelimit.TokenBucket.try_take

    def try_take(self, *args, **kwargs):  # the planted bug: a full bucket for every request
        self.tokens = self.max_tokens
        return original(self, *args, **kwargs)

    monkeypatch.setattr(http_ratelimit.TokenBucket, "try_take", try_take)
    with pytest.raises(oracles.InvariantViolation, match="model_local_ratelimit_decision"):
        replay_all()


def test_token_bucket_one_token_short_is_caught(monkeypatch):
    _with_config(monkeypatch, "local_ratelimit", lambda c: setattr(c, "max_tokens", max(1, c.max_tokens - 1)))
    with pytest.raises(oracles.InvariantViolation, match="model_local_ratelimit_decision"):
        replay_all()


def test_abort_percentage_one_too_high_is_caught(monkeypatch):
    _with_config(
        monkeypatch,
        "fault",
        lambda c: setattr(c, "abort_percent", min(100, c.abort_percent + 1) if c.abort_percent else 0),
    )
    with pytest.raises(oracles.InvariantViolation, match="model_fault_decision"):
        replay_all()


def test_delay_released_a_millisecond_early_is_caught(monkeypatch):
    _with_config(monkeypatch, "fault", lambda c: setattr(c, "delay_ms", max(1, c.delay_ms - 1) if c.delay_ms else 0))
    with pytest.raises(oracles.InvariantViolation, match="model_fault_delay_released"):
        replay_all()


def plant_delay_released_by_body(monkeypatch):
    """The planted bug: the delay stops with STOP_ITERATION, so the default decode_data's CONTINUE lets
    the request (and its body) go on at once (envoyproxy/envoy#1097's class)."""
    from proxy.http.filter import STOP_ALL_ITERATION, STOP_ITERATION
    from proxy.http.filters.fault import HttpFaultFilter

    real = HttpFaultFilter.decode_headers

    def decode_headers(self, head, end_stream):
        status = real(self, head, end_stream)
        return STOP_ITERATION if status is STOP_ALL_ITERATION else status

    monkeypatch.setattr(HttpFaultFilter, "decode_headers", decode_headers)


def test_delay_released_by_the_first_body_chunk_is_caught(monkeypatch):
    plant_delay_released_by_body(monkeypatch)
    with pytest.raises(oracles.InvariantViolation, match="model_fault_delay_released"):
        replay_all()


def test_delay_never_released_is_caught(monkeypatch):
    _with_config(monkeypatch, "fault", lambda c: setattr(c, "delay_ms", c.delay_ms * 1000))
    with pytest.raises(oracles.InvariantViolation, match="model_fault_delay_not_released"):
        replay_all()


def test_rbac_principals_ignored_is_caught(monkeypatch):
    def drop_principals(config):  # the planted bug: a policy's authenticated principals are not read
        for policy in config.policies:
            del policy.principals[:]

    _with_config(monkeypatch, "rbac", drop_principals)
    with pytest.raises(oracles.InvariantViolation, match="model_rbac_decision"):
        replay_all()
