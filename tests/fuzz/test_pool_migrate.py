"""Session seeds stay on their configuration when the pool changes (fuzz/pool_migrate.py): byte 0
is rewritten to the configuration's new place, a kept configuration is followed under its new
name, and every committed regression seed replays on the configuration it was made on."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz import session
from fuzz.pool_migrate import pool_names, remap

REPO = Path(__file__).resolve().parents[2]

OLD = ["corpus/session_configs/config-s1-0000.yaml", "corpus/session_configs/config-s1-0001.yaml", "examples/http.yaml"]
NEW = [
    "corpus/session_configs/config-s1-0000.yaml",
    "corpus/session_configs/pinned-s1-0001.yaml",
    "corpus/session_configs/zzz.yaml",
    "examples/http.yaml",
]


def test_byte_0_follows_the_configuration_to_its_new_place():
    assert remap(b"\x02rest", OLD, NEW) == b"\x03rest"  # examples/http.yaml moved from 2 to 3
    assert remap(bytes([2 + 3 * 7]) + b"rest", OLD, NEW) == b"\x03rest"  # byte 0 is taken modulo the pool
    assert remap(b"\x00", OLD, NEW) == b"\x00"


def test_a_kept_configuration_is_followed_under_its_new_name_and_a_lost_one_is_none():
    renamed = {OLD[1]: NEW[1]}
    assert remap(b"\x01abc", OLD, NEW, renamed) == b"\x01abc"
    assert remap(b"\x01abc", OLD, NEW) is None  # config-s1-0001 is gone
    assert remap(b"", OLD, NEW) == b""


def test_a_pool_past_byte_0s_reach_is_refused():
    many = [f"corpus/session_configs/c{i:04d}.yaml" for i in range(300)]
    with pytest.raises(ValueError, match="256"):
        remap(b"\x00", ["corpus/session_configs/c0299.yaml"], many)


def test_pool_names_are_the_session_pools_order():
    pool = session.ConfigPool.default()
    assert pool_names(REPO) == [str(Path(n).relative_to(REPO)) for n in pool.names]
    assert "examples/http.yaml" in pool_names(REPO, "HEAD")


def test_the_command_rewrites_seeds_in_place_and_reports_a_lost_configuration(tmp_path):
    seed = tmp_path / "seed"
    # The pool at HEAD is today's (a clean tree): a seed stays as it is.
    seed.write_bytes(bytes([len(pool_names(REPO)) + 1]) + b"\x00")
    run = subprocess.run(
        [sys.executable, "-m", "fuzz.pool_migrate", "--from", "HEAD", str(seed)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert seed.read_bytes() == b"\x01\x00"  # the same configuration, named by its index
    bad = subprocess.run(
        [sys.executable, "-m", "fuzz.pool_migrate", "--from", "no-such-revision", str(seed)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "no-such-revision" in bad.stderr and "Traceback" not in bad.stderr


# Each regression seed of corpus/session and the configuration it was made on (its commit says
# which); a pool change that moves one fails here until python -m fuzz.pool_migrate moves the seed.
REGRESSION_SEEDS = {
    "regress-answer-held-by-write-throttle": "pinned-s1-0023.yaml",
    "regress-clear-text-client-on-tls-http-chain-reads-alert": "pinned-s2-0000.yaml",
    "regress-drain-after-an-answer-written-not-read": "upstream_http2.yaml",
    "regress-drain-waits-for-body-held-for-the-window": "http.yaml",
    "regress-h2-client-data-after-raw-bytes": "tls.yaml",
    "regress-h2-upstream-frames-after-its-reset": "upstream_http2.yaml",
    "regress-h2-upstream-frames-after-raw-bytes": "upstream_http2.yaml",
    "regress-h2-upstream-raises-stream-limit-with-a-request-queued": "upstream_http2.yaml",
    "regress-h2-upstream-raw-bytes-before-the-proxys-goaway": "upstream_http2.yaml",
    "regress-h2-zero-window-stream-forgotten": "upstream_http2.yaml",
    "regress-head-after-a-read-get-response": "upstream_backpressure.yaml",
    "regress-held-reads-queued-h1-operations": "tls.yaml",
    "regress-response-lost-h1-pipelined-behind-a-cut-response": "http.yaml",
    "regress-response-lost-h2-client-own-raw-bytes-goaway": "upstream_backpressure.yaml",
    "regress-settle-failed-tls-client-drains-tcp-proxy": "pinned-s2-0003.yaml",
    "regress-settle-h2-16-byte-window-megabyte-response": "http_features.yaml",
    "regress-status-counted-when-reset-after-head": "upstream_http2.yaml",
    "regress-tls-client-drains-a-4mb-tcp-proxy-relay-at-16k-a-round": "pinned-s2-0003.yaml",
    "regression-clear-text-client-on-tls-chain-reads-alert": "pinned-s2-0004.yaml",
}


def test_every_regression_seed_picks_the_configuration_it_was_made_on():
    names = pool_names(REPO)
    for seed, config in REGRESSION_SEEDS.items():
        data = (REPO / "corpus" / "session" / seed).read_bytes()
        assert Path(names[data[0] % len(names)]).name == config, seed


def test_pool_names_of_a_tree_without_git_history(tmp_path):
    for d in ("corpus/session_configs", "examples"):
        (tmp_path / d).mkdir(parents=True)
    shutil.copy(REPO / "examples" / "http.yaml", tmp_path / "examples" / "http.yaml")
    (tmp_path / "corpus/session_configs/a.yaml").write_text("x")
    assert pool_names(tmp_path) == ["corpus/session_configs/a.yaml", "examples/http.yaml"]
