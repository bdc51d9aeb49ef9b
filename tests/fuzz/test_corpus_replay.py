"""Envoy's corpus tests: every file of corpus/<name>/ replayed through harnesses/fuzz_<name>.py,
in process. A crash file dropped into a corpus becomes a regression test with no other step."""

import pytest

from fuzz import harness, replay

LAYOUT = harness.Layout()
CASES = [
    pytest.param(spec, path, id=f"{spec.name}/{path.relative_to(spec.seeds)}")
    for spec in harness.discover(LAYOUT)
    for path in spec.seed_files()
]


@pytest.mark.parametrize("spec, path", CASES)
def test_corpus_file_replays_without_crashing(spec, path):
    module = replay.load_harness(spec.path, "none", LAYOUT.policy_file)
    outcome = replay.replay_one(module.TestOneInput, path)
    if not outcome.ok:
        pytest.fail(outcome.describe(), pytrace=False)
