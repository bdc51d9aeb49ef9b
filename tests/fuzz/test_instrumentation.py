"""Selective instrumentation: the policy file, the import hook (exactly the listed modules get
counters, counted), and `instrumentation check` failing on a stale policy."""

import json
import os
import subprocess
import sys

import pytest

from engine_layout import REPO, fuzz, make_layout
from fuzz.instrument import policy as policies
from fuzz.instrument.policy import PolicyError, matches, parse

DEMO_MODULES = [
    "h11._connection",
    "h11._events",
    "h11._headers",
    "h11._readers",
    "h11._receivebuffer",
    "h11._state",
    "h11._util",
]


# --- the policy file --------------------------------------------------------------------------


def test_policy_file_parses_default_and_sections():
    pf = parse("""
[default]
policy = "project"
scope = ["proxy"]
never = ["yaml"]
[harness.h1]
scope = ["proxy", "h11"]
[harness.h1.modules]
"proxy.http.*" = "codecs"
"h11._readers" = "the parser"
[harness.h1.exclude]
"proxy.http.headers" = "data classes only"
""")
    assert pf.default_policy == "project" and "yaml" in pf.never and "fuzz" in pf.never
    hp = pf.for_harness("h1")
    assert hp.selects("proxy.http.h1") and hp.selects("h11._readers")
    assert not hp.selects("proxy.http.headers")  # excluded
    assert not hp.selects("proxy.http")  # "pkg.*" is below pkg, not pkg itself
    assert not hp.selects("h11._writers") and not hp.selects("h11")
    assert hp.in_scope("h11._writers") and not hp.in_scope("yaml.reader")
    other = pf.for_harness("unknown")
    assert not other.has_section and other.modules == () and other.scope == ("proxy",)


def test_patterns():
    assert matches("a.b", "a.b") and not matches("a.bc", "a.b")
    assert matches("a.b.c", "a.*") and not matches("a", "a.*") and not matches("ab.c", "a.*")


@pytest.mark.parametrize(
    "text, message",
    [
        ('[harness.x.modules]\n"proxy.a" = ""\n', "needs a one-line reason"),
        ('[harness.x.modules]\n"proxy.a" = 3\n', "needs a one-line reason"),
        ('[harness.x.modules]\n"hypothesis.core" = "why not"\n', "never instrumented"),
        ('[harness.x.modules]\n"fuzz.session" = "driver"\n', "never instrumented"),
        ('[harness.x.modules]\n"proxy..a" = "r"\n', "not a module name"),
        ("[harness.x]\nmodulez = {}\n", "unknown key"),
        ('[default]\npolicy = "some"\n', "expected one of all, project, derived"),
        ("[defaults]\n", "unknown top-level table"),
        ("[default\n", "not valid TOML"),
    ],
)
def test_policy_file_errors_name_the_problem(text, message):
    with pytest.raises(PolicyError, match=message):
        parse(text)


def test_repository_policy_file_parses():
    pf = policies.load(REPO / "instrumentation.toml")
    assert pf.default_policy in ("derived", "project", "all")


# --- the import hook --------------------------------------------------------------------------

PROBE = r"""
import json, sys, types
from fuzz import harness
{pre}
with harness.instrumented("demo", policy=sys.argv[1]) as report:
    import h11
import h11._writers
def functions(mod):
    for v in vars(mod).values():
        if getattr(v, "__module__", None) != mod.__name__:
            continue
        if isinstance(v, types.FunctionType):
            yield v
        elif isinstance(v, type):
            yield from (f for f in vars(v).values() if isinstance(f, types.FunctionType))
def patched(mod):
    return any("__ATHERIS_INSTRUMENTED__" in f.__code__.co_consts for f in functions(mod))
names = sorted(n for n in sys.modules if n == "h11" or n.startswith("h11."))
print(json.dumps({"report": report.as_dict(),
                  "patched": sorted(n for n in names if patched(sys.modules[n]))}))
"""


def probe(policy, policy_file, pre=""):
    env = dict(os.environ, PYTHONPATH=str(REPO), PROXYFUZZ_POLICY_FILE=str(policy_file))
    out = subprocess.run(
        [sys.executable, "-c", PROBE.replace("{pre}", pre), policy],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


TWO_HARNESSES = r"""
import json
from fuzz import harness
with harness.instrumented("demo", policy="derived") as demo:
    import h11
with harness.instrumented("other", policy="derived") as other:
    pass
print(json.dumps([sorted(demo.as_dict()["modules"]), sorted(other.as_dict()["modules"])]))
"""


def test_two_harnesses_in_one_process_each_keep_their_own_report(tmp_path):
    root = make_layout(tmp_path / "repo")
    env = dict(os.environ, PYTHONPATH=str(REPO), PROXYFUZZ_POLICY_FILE=str(root / "instrumentation.toml"))
    out = subprocess.run(
        [sys.executable, "-c", TWO_HARNESSES], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    demo, other = json.loads(out.stdout.strip().splitlines()[-1])
    assert demo == DEMO_MODULES and other == []  # the second block neither sees nor overwrites the first's


def test_derived_policy_instruments_exactly_the_listed_modules(tmp_path):
    root = make_layout(tmp_path / "repo")
    result, stderr = probe("derived", root / "instrumentation.toml")
    report = result["report"]
    assert sorted(report["modules"]) == DEMO_MODULES
    assert result["patched"] == DEMO_MODULES  # h11, h11._abnf, h11._writers ... untouched
    assert all(m["functions"] > 0 and m["counters"] > 0 for m in report["modules"].values())
    assert report["counters"] == sum(m["counters"] for m in report["modules"].values())
    assert f"policy=derived modules=7 functions={report['functions']} counters={report['counters']}" in stderr


def test_package_pattern_and_exclude(tmp_path):
    toml = tmp_path / "p.toml"
    toml.write_text(
        '[harness.demo]\nscope = ["h11"]\n[harness.demo.modules]\n"h11.*" = "all of h11"\n'
        '[harness.demo.exclude]\n"h11._version" = "a constant"\n'
    )
    result, _ = probe("derived", toml)
    expected = sorted(
        [
            "h11._abnf",
            "h11._connection",
            "h11._events",
            "h11._headers",
            "h11._readers",
            "h11._receivebuffer",
            "h11._state",
            "h11._util",
            "h11._writers",
        ]
    )
    assert sorted(result["report"]["modules"]) == expected
    assert "h11" not in result["report"]["modules"] and "h11._version" not in result["report"]["modules"]


def test_modules_imported_before_the_block_are_instrumented_in_place(tmp_path):
    root = make_layout(tmp_path / "repo")
    result, stderr = probe("derived", root / "instrumentation.toml", pre="import h11")
    assert sorted(result["report"]["modules"]) == DEMO_MODULES
    assert all(m["in_place"] for m in result["report"]["modules"].values())
    assert result["patched"] == DEMO_MODULES and "(in place: 7)" in stderr


def test_project_policy_takes_every_dependency_module(tmp_path):
    root = make_layout(tmp_path / "repo")
    project, _ = probe("project", root / "instrumentation.toml")
    assert set(DEMO_MODULES) | {"h11", "h11._writers", "h11._abnf"} <= set(project["report"]["modules"])
    assert not any(m.startswith(("fuzz", "atheris", "json", "os")) for m in project["report"]["modules"])
    derived, _ = probe("derived", root / "instrumentation.toml")
    assert derived["report"]["counters"] < project["report"]["counters"]


@pytest.mark.slow  # instrument_all() rewrites every loaded function: ~15 s
def test_policy_all_instruments_everything_loaded(tmp_path):
    root = make_layout(tmp_path / "repo")
    project, _ = probe("project", root / "instrumentation.toml")
    everything, stderr = probe("all", root / "instrumentation.toml")
    assert everything["report"]["functions"] > 1000
    assert everything["report"]["counters"] > 5 * project["report"]["counters"]
    assert "policy=all modules=all" in stderr


def test_policy_none_instruments_nothing(tmp_path):
    root = make_layout(tmp_path / "repo")
    result, _ = probe("none", root / "instrumentation.toml")
    assert result["report"]["modules"] == {} and result["patched"] == []


# --- scan and check ---------------------------------------------------------------------------


def test_check_passes_on_the_measured_policy(tmp_path):
    root = make_layout(tmp_path / "repo")
    out = fuzz(root, "instrumentation", "check")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 harness(es), 0 problem(s)" in out.stdout


def test_check_fails_naming_harness_and_module_on_a_planted_wrong_policy(tmp_path):
    root = make_layout(tmp_path / "repo")
    toml = root / "instrumentation.toml"
    text = toml.read_text().replace('"h11._readers" = "request line, header and body readers"\n', "")
    text += '"h11._writers" = "planted: the server never serializes here"\n'
    text += '\n[harness.gone]\n[harness.gone.modules]\n"proxy.buffer" = "stale section"\n'
    toml.write_text(text)
    out = fuzz(root, "instrumentation", "check")
    assert out.returncode == 1
    assert "demo: h11._writers: listed in the policy but never reached" in out.stdout
    assert "demo: h11._readers: reached and in scope" in out.stdout
    assert "gone: -: [harness.gone] names no harness" in out.stdout
    assert "3 problem(s)" in out.stdout


def test_scan_proposes_executed_in_scope_modules_and_diffs(tmp_path):
    root = make_layout(tmp_path / "repo")
    toml = root / "instrumentation.toml"
    toml.write_text(toml.read_text().replace('"h11._state" = "connection state transitions"\n', ""))
    out = fuzz(root, "instrumentation", "scan", "demo")
    assert out.returncode == 0, out.stderr
    assert "     + h11._state" in out.stdout
    assert '"h11._state" = "executed by 5 of 5 corpus inputs (scan)"' in out.stdout
    assert '"h11._readers" = "request line, header and body readers"' in out.stdout  # reasons kept
    assert "h11._writers" in out.stdout.split("never executed by the corpus:")[1].splitlines()[0]


def test_repository_policy_passes_check():
    """What `make test` runs: every real harness's policy matches what it reaches."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run(
        [sys.executable, "-m", "fuzz", "instrumentation", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_check_judges_the_committed_seeds_and_scan_also_reads_the_local_corpus(tmp_path, monkeypatch):
    """make test must answer the same on a fuzzed tree and on a clean clone: `check` replays the
    committed seeds only; `scan` (the proposal) also replays work/corpus/NAME."""
    from fuzz.harness import Layout, discover
    from fuzz.instrument import command, scan

    root = make_layout(tmp_path / "repo")
    layout = Layout(
        root=root,
        harnesses=root / "harnesses",
        corpus=root / "corpus",
        work=root / "work",
        reports=root / "reports",
        policy_file=root / "instrumentation.toml",
    )
    replayed = []

    def fake_measure(path, policy_file, inputs, env, cwd):
        replayed.append([str(p) for p in inputs])
        return scan.Reach(static=frozenset(), loaded=frozenset(), executed={}, inputs=0)

    monkeypatch.setattr(command, "measure", fake_measure)
    [spec] = discover(layout)
    command.check(layout)
    command.reach_of(spec, layout)
    assert replayed[0] == [str(spec.seeds)]
    assert replayed[1] == [str(spec.seeds), str(layout.work_corpus("demo"))]
