"""The engine's cache directory (fuzz/cache_dir.py): harness processes keep Hypothesis's storage
there, not in their working directory, which is a fresh one for every bench trial."""

from fuzz import runner
from fuzz.cache_dir import cache_root
from fuzz.harness import Layout
from fuzz.instrument import code_cache


def test_the_cache_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(code_cache.CACHE_ENV, raising=False)
    assert cache_root() == tmp_path / "xdg" / "proxyfuzz"
    assert code_cache.cache_dir() == tmp_path / "xdg" / "proxyfuzz" / "instrumented"


def test_harness_processes_keep_hypothesis_storage_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(runner.HYPOTHESIS_STORAGE_ENV, raising=False)
    layout = Layout()
    assert runner.child_env(layout)[runner.HYPOTHESIS_STORAGE_ENV] == str(tmp_path / "xdg" / "proxyfuzz" / "hypothesis")
    monkeypatch.setenv(runner.HYPOTHESIS_STORAGE_ENV, "/elsewhere")  # a user's own choice stands
    assert runner.child_env(layout)[runner.HYPOTHESIS_STORAGE_ENV] == "/elsewhere"
