"""What harnesses call: the allow-list oracle, caps, options files, discovery."""

import pytest

from fuzz import harness
from fuzz.harness import Budget, HarnessError, Layout, allow, discover, read_options
from fuzz.oracles import InvariantViolation


def test_allow_swallows_listed_exceptions_and_propagates_the_rest():
    @allow(KeyError, ValueError)
    def target(data):
        raise {b"k": KeyError, b"v": ValueError, b"t": TypeError}[data]("x")

    assert target(b"k") is None and target(b"v") is None
    with pytest.raises(TypeError):
        target(b"t")
    assert target.allowed == (KeyError, ValueError)


def test_invariant_violation_is_never_allowed_even_through_a_base_class():
    @allow(AssertionError, Exception)
    def target(data):
        raise InvariantViolation("bytes conserved", "3 sent, 2 received")

    with pytest.raises(InvariantViolation, match="bytes conserved"):
        target(b"")


def test_invariant_violation_message_names_the_invariant():
    err = InvariantViolation("stream ends once", "stream 1 ended twice")
    assert err.name == "stream ends once" and "stream ends once" in str(err)


def test_allow_rejects_non_exceptions():
    with pytest.raises(HarnessError, match="not an exception class"):
        allow(int)
    with pytest.raises(HarnessError, match="at least one"):
        allow()


def test_budget_take_stops_and_must_take_raises():
    b = Budget(2, "actions")
    assert [b.take(), b.take(), b.take()] == [True, True, False]
    with pytest.raises(InvariantViolation, match="actions"):
        Budget(0, "actions").must_take()
    assert harness.capped(b"abcdef", 3) == b"abc"


def test_options_file_reading_and_errors(tmp_path):
    good = tmp_path / "fuzz_x.options"
    good.write_text("[libfuzzer]\nmax_len = 1024\ntimeout = 25\nrss_limit_mb = 2560\n")
    assert read_options(good) == {"max_len": "1024", "timeout": "25", "rss_limit_mb": "2560"}
    bad = tmp_path / "bad.options"
    bad.write_text("max_len = 3\n")
    with pytest.raises(HarnessError, match="not a valid options file|missing the \\[libfuzzer\\]"):
        read_options(bad)
    bad.write_text("[other]\nmax_len = 3\n")
    with pytest.raises(HarnessError, match="missing the \\[libfuzzer\\] section"):
        read_options(bad)


def test_discovery_follows_oss_fuzz_naming(tmp_path):
    (tmp_path / "harnesses").mkdir()
    (tmp_path / "corpus" / "a").mkdir(parents=True)
    (tmp_path / "harnesses" / "fuzz_a.py").write_text('"""Target A.\n\nMore."""\n')
    (tmp_path / "harnesses" / "helper.py").write_text("")
    (tmp_path / "corpus" / "a.dict").write_text('"x"\n')
    (tmp_path / "corpus" / "a" / "seed").write_bytes(b"1")
    layout = Layout(root=tmp_path, harnesses=tmp_path / "harnesses", corpus=tmp_path / "corpus")
    [spec] = discover(layout)
    assert (spec.name, spec.target) == ("a", "Target A.")
    assert spec.dictionary == tmp_path / "corpus" / "a.dict" and spec.options_path is None
    assert [p.name for p in spec.seed_files()] == ["seed"]
    with pytest.raises(HarnessError, match="no harness 'b'.*harnesses: a"):
        harness.find(layout, "b")
