"""The network_filter harness's model oracles (fuzz/models/network_oracle.py) catch policy bugs
planted in the proxy by monkeypatch, on the committed seeds: RBAC source prefixes one bit off,
shadow rules enforced, destination ports ignored, a token bucket refilled per connection or one
token short, a fault delay a millisecond short, a throttle twice too generous."""

from pathlib import Path

import pytest

import proxy.network.filters.local_ratelimit as ratelimit_filter
import proxy.network.filters.rbac as rbac_filter
from fuzz import oracles
from fuzz.bench.mutants import ops
from fuzz.memo import Memo
from fuzz.targets import network_filter as nf
from proxy.network import registry
from tests.fuzz.models.test_model_oracles_http import _prefix_off_by, plant_config_bug

SEEDS = Path(nf.__file__).resolve().parents[2] / "corpus" / "network_filter"


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    monkeypatch.setattr(nf, "_CACHE", Memo(256))


def replay_all():
    for p in sorted(SEEDS.iterdir()):
        nf.run(p.read_bytes())


def test_model_seeds_are_committed_and_agree():
    for name, data in nf.model_seeds().items():
        assert (SEEDS / f"model-{name}").read_bytes() == data
    replay_all()


def _with_config(monkeypatch, name, change):
    plant_config_bug(monkeypatch, registry._NETWORK_FILTERS, name, change)


@pytest.mark.parametrize("delta", [-1, 1])
def test_rbac_source_prefix_off_by_one_bit_is_caught(monkeypatch, delta):
    monkeypatch.setattr(rbac_filter, "source_in", _prefix_off_by(delta))
    with pytest.raises(oracles.InvariantViolation, match="model_rbac_decision"):
        replay_all()


def test_rbac_shadow_rules_enforced_is_caught(monkeypatch):
    _with_config(monkeypatch, "rbac", lambda c: setattr(c, "shadow", False))
    with pytest.raises(oracles.InvariantViolation, match="model_rbac_(decision|counters)"):
        replay_all()


def test_rbac_destination_ports_ignored_is_caught(monkeypatch):
    def drop_ports(config):
        for policy in config.policies:
            del policy.destination_ports[:]

    _with_config(monkeypatch, "rbac", drop_ports)
    with pytest.raises(oracles.InvariantViolation, match="model_rbac_decision"):
        replay_all()


def test_token_bucket_refilled_per_connection_is_caught(monkeypatch):
    original = ratelimit_filter.TokenBucket.try_take

    def try_take(self, *args, **kwargs):  # the planted bug: a full bucket for every connection
        self.tokens = self.max_tokens
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ratelimit_filter.TokenBucket, "try_take", try_take)
    with pytest.raises(oracles.InvariantViolation, match="model_local_ratelimit_decision"):
        replay_all()


def test_token_bucket_fill_interval_off_is_caught(monkeypatch):
    _with_config(monkeypatch, "local_ratelimit", lambda c: setattr(c, "fill_interval_ms", c.fill_interval_ms + 1))
    with pytest.raises(oracles.InvariantViolation, match="model_local_ratelimit_decision"):
        replay_all()


def test_fault_delay_a_millisecond_short_is_caught(monkeypatch):
    _with_config(monkeypatch, "fault", lambda c: setattr(c, "delay_ms", max(0, c.delay_ms - 1)))
    with pytest.raises(oracles.InvariantViolation, match="model_fault_delay"):
        replay_all()


def test_fault_throttle_too_generous_is_caught(monkeypatch):
    _with_config(monkeypatch, "fault", lambda c: setattr(c, "throttle_bytes_per_sec", c.throttle_bytes_per_sec * 2))
    with pytest.raises(oracles.InvariantViolation, match="model_fault_throttle"):
        replay_all()


@pytest.mark.parametrize("scale, name", [(3, "model_tcp_proxy_idle_not_fired"), (1 / 3, "model_tcp_proxy_idle_early")])
def test_tcp_proxy_idle_timeout_late_or_early_is_caught(monkeypatch, scale, name):
    _with_config(
        monkeypatch,
        "tcp_proxy",
        lambda c: setattr(c, "idle_timeout_ms", max(1, int(c.idle_timeout_ms * scale)) if c.idle_timeout_ms else 0),
    )
    with pytest.raises(oracles.InvariantViolation, match=name):
        replay_all()


def test_rbac_principals_ignored_is_caught(monkeypatch):
    def drop_principals(config):  # the planted bug: a policy's authenticated principals are not read
        for policy in config.policies:
            del policy.principals[:]

    _with_config(monkeypatch, "rbac", drop_principals)
    with pytest.raises(oracles.InvariantViolation, match="model_rbac_decision"):
        replay_all()


def test_fault_throttle_on_one_direction_only_is_caught(monkeypatch):
    # The defect as it was: upstream -> downstream bytes passed the throttle at once.
    from proxy.network.filters.fault import FaultFilter

    monkeypatch.setattr(FaultFilter, "throttle_writes", lambda self, connection: None)
    with pytest.raises(oracles.InvariantViolation, match="model_fault_throttle.*upstream->downstream"):
        replay_all()


def replay(prefix: str):
    for p in sorted(SEEDS.glob(prefix + "*")):
        nf.run(p.read_bytes())


def test_rbac_ignore_case_applied_to_the_certificate_only_is_caught(monkeypatch):
    """Envoy's StringMatcher ignore_case compares both sides case-insensitively; the planted bug
    lowercases the certificate's name but not the configured one (TLS listener, handshake verified)."""
    from proxy.network.principal import StringMatcher

    def one_sided(self, text):
        value, text = self.value, text.lower() if self.ignore_case else text
        return {"exact": text == value, "prefix": text.startswith(value), "suffix": text.endswith(value)}.get(
            self.kind, value in text
        )

    replay("model-rbac-principals-")  # the real matcher: every decision as the model says
    monkeypatch.setattr(StringMatcher, "__call__", one_sided)
    with pytest.raises(oracles.InvariantViolation, match="model_rbac_(decision|counters)"):
        replay("model-rbac-principals-")


def test_rbac_denial_not_enforced_after_a_handshake_is_caught(monkeypatch):
    """The planted bug counts a TLS connection denied but leaves it open (the decision after the
    handshake returns without closing): the client's bytes reach the upstream."""
    original = rbac_filter.RbacFilter._decide

    def counts_only(self, conn):
        if conn.ssl is None:
            return original(self, conn)
        close, conn.close = conn.close, lambda *a, **k: None
        try:
            return original(self, conn)
        finally:
            conn.close = close

    monkeypatch.setattr(rbac_filter.RbacFilter, "_decide", counts_only)
    with pytest.raises(oracles.InvariantViolation, match="model_rbac_decision"):
        replay("model-rbac-principals-")


def test_rbac_decided_at_accept_on_a_tls_chain_is_caught(monkeypatch):
    """Deciding before the handshake, with no certificate yet, denies every authenticated principal."""

    def decide_at_once(self):
        return self._decide(self.callbacks.connection)

    monkeypatch.setattr(rbac_filter.RbacFilter, "on_new_connection", decide_at_once)
    with pytest.raises(oracles.InvariantViolation, match="model_rbac_(decision|counters)"):
        replay("model-rbac-principals-")


def test_http_seeds_judge_path_options_through_the_connection_manager(monkeypatch):
    """network_filter drives http_connection_manager with the session's peers and models: the planted
    escaped-slash pattern that misses upper-case %2F forwards /a%2Fb despite REJECT_REQUEST."""
    import re

    import proxy.http.path as path

    replay("http-")
    monkeypatch.setattr(path, "ESCAPED_SLASH", re.compile(rb"%(?:2f|5c)"))
    with pytest.raises(oracles.InvariantViolation, match="peer_forwarded_despite_config|model_"):
        replay("http-")


def test_http_seeds_judge_direct_responses_with_the_session_model(monkeypatch):
    """The session model (fuzz.models.session_oracle) runs in network_filter too: a direct response
    answered with another status than the route's is a local reply no branch of the models makes."""
    from proxy.http.filter import STOP_ITERATION
    from proxy.http.filters.router import Router

    original = Router.decode_headers

    def wrong_status(self, head, end_stream):  # the planted bug: a direct 200 answered as 203
        route = self.decoder_callbacks.route()
        if route is None or not route.is_direct or route.direct_status != 200:
            return original(self, head, end_stream)
        self.decoder_callbacks.send_local_reply(203, route.direct_body)
        return STOP_ITERATION

    replay("http-")
    monkeypatch.setattr(Router, "decode_headers", wrong_status)
    with pytest.raises(oracles.InvariantViolation, match="model_local_reply_session"):
        replay("http-")


def test_one_token_bucket_for_equal_configurations_on_two_chains_is_caught(monkeypatch):
    """Envoy's bucket belongs to the filter chain: the planted bug keys it by the settings, so two
    listeners with equal rate limits share one (the second listener's clients are limited early)."""
    from proxy.network.filters.local_ratelimit import LocalRateLimitFilter, TokenBucket

    def by_settings(self):
        c = self.config
        key = (c.max_tokens, c.tokens_per_fill, c.fill_interval_ms)
        return self.ctx.shared_state(
            key, lambda: TokenBucket(self.ctx.dispatcher, c.max_tokens, c.tokens_per_fill, c.fill_interval_ms)
        )

    replay("model-ratelimit-two-listeners")
    monkeypatch.setattr(LocalRateLimitFilter, "bucket", by_settings)
    with pytest.raises(oracles.InvariantViolation, match="model_local_ratelimit_(decision|counters)"):
        replay("model-ratelimit-two-listeners")


def test_an_idle_timeout_closing_a_connection_already_closing_is_no_early_one():
    """Found by fuzzing: a clear-text client on the TLS listener failed its handshake; the proxy's
    alert waited in the closing connection (the client reads nothing) while tcp_proxy's upstream
    stayed connected, and the idle timer closed both 100 ms later. The model counted the connection
    as closed (not open) at the failure, before the timer that really closed it fired."""
    replay("regress-tcp-proxy-idle-timeout-behind-tls")


def test_a_refill_that_does_not_rearm_its_timer_is_caught_while_the_bucket_idles(monkeypatch):
    """A bucket left alone refills once per interval until full; the planted bug refills once and
    waits for a connection to arm the next fill."""
    from proxy.network.filters.local_ratelimit import TokenBucket

    def refill_once(self):
        self.tokens = min(self.max_tokens, self.tokens + self.tokens_per_fill)

    replay("model-ratelimit-refills-while-idle")
    monkeypatch.setattr(TokenBucket, "_refill", refill_once)
    with pytest.raises(oracles.InvariantViolation, match="model_local_ratelimit_(decision|counters)"):
        replay("model-ratelimit-refills-while-idle")


def test_fault_throttle_windows_from_the_server_start_are_caught(monkeypatch):
    # The bug class: throttle windows aligned to the server's clock instead of the connection's accept,
    # so a connection accepted mid-window gets a fresh second's allowance early (a PLANT round-5 bug:
    # the write path's start was never set). model-fault-throttle-late-accept accepts one at 700 ms.
    from proxy.network.filters.fault import WINDOW_MS, _Allowance

    def refresh(self, now_ms):
        window = now_ms // WINDOW_MS
        if window != self.window:
            self.window, self.budget = window, self.rate
        return self.budget

    monkeypatch.setattr(_Allowance, "refresh", refresh)
    monkeypatch.setattr(_Allowance, "ms_to_next_window", lambda self, now_ms: WINDOW_MS - now_ms % WINDOW_MS)
    with pytest.raises(oracles.InvariantViolation, match="model_fault_throttle"):
        replay_all()


@pytest.mark.parametrize("counted", ["upstream", "none"])
def test_an_idle_timer_deaf_to_flushes_to_the_client_is_caught(monkeypatch, counted):
    """The bug class (PLANT_L round 8, tcp-proxy-idle-timeout-ignores-downstream-flushes): the timer
    notices bytes flushed to the upstream only (or none), so a slow download whose bytes still go out
    to the client every 500 ms is cut at the idle timeout."""
    from proxy.network.filters.tcp_proxy import TcpProxyFilter

    def flushed(self):
        return self.upstream.bytes_sent if counted == "upstream" and self.upstream is not None else 0

    replay("model-tcp-proxy-idle-slow-download")
    monkeypatch.setattr(TcpProxyFilter, "_flushed_bytes", flushed)
    with pytest.raises(oracles.InvariantViolation, match="model_tcp_proxy_idle_early"):
        replay("model-tcp-proxy-idle-slow-download")


def test_a_fill_period_restarted_by_a_take_is_caught(monkeypatch):
    """Fills keep the bucket's fixed period (Envoy's fill timer runs every fill_interval from the
    bucket's start): a token taken mid-period from a full bucket is refilled at that period's end.
    The planted bug arms a whole interval from the take, so the refill lands 400 ms late."""
    from proxy.network.filters.local_ratelimit import TokenBucket

    def arm_from_the_take(self):
        if self.tokens < self.max_tokens and not self._timer.enabled:
            self._timer.enable(self.fill_interval_ms)

    replay("model-ratelimit-takes-mid-period")
    monkeypatch.setattr(TokenBucket, "_arm", arm_from_the_take)
    with pytest.raises(oracles.InvariantViolation, match="model_local_ratelimit_decision"):
        replay("model-ratelimit-takes-mid-period")


def test_fault_throttle_saving_quiet_seconds_is_caught(monkeypatch):
    # The bug class: a throttle whose unused allowance carries over (a token bucket without a ceiling),
    # so a connection quiet for seconds passes that many seconds' worth at once. The total by each time
    # stays within rate x seconds, so only the per-second bound sees it (PLANT round 12).
    from proxy.network.filters.fault import WINDOW_MS, _Allowance

    def refresh(self, now_ms):
        window = (now_ms - self.start_ms) // WINDOW_MS
        if window != self.window:
            missed = window - self.window if self.window >= 0 else 1
            self.window, self.budget = window, self.budget + self.rate * missed
        return self.budget

    monkeypatch.setattr(_Allowance, "refresh", refresh)
    with pytest.raises(oracles.InvariantViolation, match="model_fault_throttle_window"):
        replay("model-fault-throttle-after-quiet")


def test_the_window_tally_counts_bytes_seen_across_windows_into_the_earlier_ones_first():
    from types import SimpleNamespace

    from fuzz.models.fault import WindowTally, window_carried

    config, tally = SimpleNamespace(throttle_bytes_per_sec=100), WindowTally()
    assert window_carried(config, tally, 0, 500, 60) == 60
    assert window_carried(config, tally, 0, 2500, 300) == 100  # 40 more fit second 0, 100 second 1
    assert window_carried(config, tally, 0, 2600, 300) == 100
    assert window_carried(config, tally, 0, 2700, 301) == 101  # over: the second carried 101
    assert window_carried(config, tally, 0, 7000, 301) == 0  # quiet seconds carry nothing
    assert window_carried(config, tally, 0, 7000, 1301) == 1000  # ... and do not make room later


@pytest.mark.parametrize(
    "qualname, before",
    [
        ("RbacFilter.on_new_connection", "conn.add_connection_callbacks(self)"),
        ("RbacFilter.on_event", "not self.waiting"),
    ],
)
def test_rbac_deciding_on_the_first_byte_of_a_tls_client_is_caught(monkeypatch, qualname, before):
    """Mutants found by `bench mutants` (reports/bench/mutants-l4-2026-12-05.md): the decision on a
    TLS chain waits for the client's first byte instead of the handshake's end. A client of a
    server-first protocol then sits denied but open, the upstream's greeting on its way to it; the
    server-first seeds catch it, the clean filter passes them."""
    replay("model-rbac-principals-server-first-")
    owner = getattr(rbac_filter, qualname.split(".")[0])
    function = getattr(owner, qualname.split(".")[1])
    monkeypatch.setattr(function, "__code__", ops.planted(rbac_filter, qualname, before))
    with pytest.raises(oracles.InvariantViolation, match="model_rbac_(decision|counters)"):
        replay("model-rbac-principals-server-first-")


def test_a_weighted_choice_made_without_a_draw_is_caught(monkeypatch):
    """A mutant `bench mutants proxy/upstream/lb.py` left alive: pick_weighted's one-cluster shortcut
    taken for several clusters sends every connection to the first one without a draw (the model used
    to skip a session with fewer draws than connections as one it could not pair)."""
    import proxy.upstream.lb as lb

    replay("model-tcp-proxy-weighted-clusters")
    monkeypatch.setattr(lb.pick_weighted, "__code__", ops.planted(lb, "pick_weighted", "len(clusters) == 1"))
    with pytest.raises(oracles.InvariantViolation, match="model_tcp_proxy_weighted_without_draw"):
        replay("model-tcp-proxy-weighted-clusters")
