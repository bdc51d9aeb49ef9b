"""h2_codec's action prologue (fuzz/mutators/h2_actions.py over fuzz/mutators/fdp.py): scripts are
read back exactly by atheris's FuzzedDataProvider, a prologue's actions run first and the input's
own actions after them unchanged, and the shape it exists for (a configured pair, then a body at the
frame size limits) reaches the oracle of a codec that does not apply the frame size it advertised."""

import random

import atheris
import pytest

from fuzz.mutators import create, h2_actions
from fuzz.mutators.fdp import Script
from fuzz.oracles import InvariantViolation
from fuzz.targets import h2pair

ACTIONS = list(h2pair.ACTIONS)


@pytest.mark.parametrize("seed", range(200))
def test_a_script_reads_back_exactly_whatever_surrounds_it(seed):
    rng = random.Random(seed)
    script, plan = Script(), []
    for _ in range(rng.randrange(1, 10)):
        kind = rng.randrange(3)
        if kind == 0:
            low = rng.randrange(5)
            high = low + rng.choice((0, 1, 7, 18, 255, 256, 2048, 65535, 70000, 2**31 - 1))
            value = rng.randint(low, high)
            script.integer(value, low, high)
            plan.append(("int", (low, high), value))
        elif kind == 1:
            value = rng.random() < 0.5
            script.boolean(value)
            plan.append(("bool", (), value))
        else:
            value = rng.randbytes(rng.randrange(5))
            script.raw(value)
            plan.append(("bytes", (len(value),), value))
    fdp = atheris.FuzzedDataProvider(script.around(rng.randbytes(rng.randrange(12))))
    read = {"int": fdp.ConsumeIntInRange, "bool": fdp.ConsumeBool, "bytes": fdp.ConsumeBytes}
    assert [read[kind](*args) for kind, args, _ in plan] == [value for _, _, value in plan]


def _actions_run(data: bytes, monkeypatch) -> list[str]:
    names: list[str] = []

    def spying(i, action):
        def spy(pair, fdp):
            names.append(action.__name__ if action.__name__ != "<lambda>" else f"action{i}")
            action(pair, fdp)

        return spy

    monkeypatch.setattr(h2pair, "ACTIONS", [spying(i, a) for i, a in enumerate(ACTIONS)])
    h2pair.run(data)
    return names


@pytest.mark.parametrize("seed", range(20))
def test_the_prologue_runs_first_and_the_input_after_it(seed, monkeypatch):
    """The input's own values read as before (what they do may differ: a stream is open now)."""
    rng = random.Random(seed)
    own = rng.randbytes(rng.randrange(4, 40))
    alone = _actions_run(own, monkeypatch)
    script = h2_actions.prologue(random.Random(seed))
    full = _actions_run(script.around(own), monkeypatch)
    assert full[0] == "act_settings"
    if full[1] == "act_new_stream":  # streams opened before the server's SETTINGS were read
        opened = next(i for i, name in enumerate(full) if name != "act_new_stream" and i) - 1
        head = full[: 2 + opened]
        assert 2 <= opened <= 4 and head[-1] == "act_drain"
    else:
        request = ["act_new_stream", "act_request_data", "act_drain"]
        head = full[: 5 + 3 * (full[5:8] == request)]
        assert head[1:5] == ["act_drain"] * 4
    assert full[len(head)] == alone[0]


def test_the_h2_codec_mutator_makes_prologues_that_fit():
    mutator = create("h2_codec")
    outs = [mutator.mutate(b"\x05\x01", 4096, seed) for seed in range(300)]
    assert mutator.counts["h2.actions_prologue"] > 20
    assert all(len(out) <= 4096 for out in outs)


def _findings_from_prologues(seed: int, inputs: int) -> set:
    rng, found = random.Random(seed), set()
    for _ in range(inputs):
        try:
            h2pair.check(h2_actions.prologue(rng).around(b""))
        except InvariantViolation as e:
            found.add(e.name)
    return found


def test_a_frame_size_advertised_but_not_applied_is_found_from_prologues(monkeypatch):
    """RFC 9113 4.2: an endpoint must accept frames up to the SETTINGS_MAX_FRAME_SIZE it advertised.
    Planted: h2's own inbound limit left at 16384 under a larger advertised size."""
    import h2.connection

    monkeypatch.setattr(
        h2.connection.H2Connection,
        "max_inbound_frame_size",
        property(lambda self: 16_384, lambda self, value: None),
        raising=False,
    )
    assert _findings_from_prologues(seed=1, inputs=200) == {"h2_connection_error_on_valid_input"}


def test_a_stream_over_a_limit_not_yet_seen_ending_the_connection_is_found_from_prologues(monkeypatch):
    """RFC 9113 5.1.2: a stream over SETTINGS_MAX_CONCURRENT_STREAMS that the client opened before it
    saw the SETTINGS is refused alone. Planted: h2's own check left on, a connection error."""
    import h2.settings

    import proxy.http.h2 as codec

    original = codec._H2Codec.__init__

    def h2_checks_the_limit(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if not self.client_side:
            values = dict(self._conn.local_settings.items())
            values[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = self.limits.h2_max_concurrent_streams
            self._conn.local_settings = h2.settings.Settings(client=False, initial_values=values)

    monkeypatch.setattr(codec._H2Codec, "__init__", h2_checks_the_limit)
    assert "h2_connection_error_on_valid_input" in _findings_from_prologues(seed=2, inputs=300)
