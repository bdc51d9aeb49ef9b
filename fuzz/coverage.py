"""Coverage of a harness's corpus, measured by coverage.py (not by atheris's counters).

`python -m fuzz coverage NAME` replays corpus/NAME and work/corpus/NAME under coverage.py with
branch measurement, writes HTML to reports/coverage/NAME/ and prints a per-module table for the
harness's scope (always including proxy/). `arcs_covered()` is the neutral yardstick the
instrumentation bench uses: the same measurement whatever policy produced the corpus.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from fuzz.harness import HarnessSpec, Layout


def _measure(spec: HarnessSpec, layout: Layout, inputs: list[Path], packages: list[str], data_file: Path):
    """Replay `inputs` under coverage.py, measuring `packages`; returns (Coverage, outcomes)."""
    import coverage
    from fuzz import replay

    cov = coverage.Coverage(data_file=str(data_file), branch=True, source_pkgs=packages, omit=["*/proxy/config/gen/*"])
    cov.set_option("run:disable_warnings", ["module-not-imported", "no-data-collected"])
    cov.start()
    try:
        module = replay.load_harness(spec.path, "none", layout.policy_file)
        outcomes = [replay.replay_one(module.TestOneInput, f) for f in inputs]
    finally:
        cov.stop()
    cov.save()
    return cov, outcomes


def _scope_of(spec: HarnessSpec, layout: Layout) -> list[str]:
    from fuzz.instrument import policy as policies

    scope = ["proxy"]
    if layout.policy_file.is_file():
        scope += policies.load(layout.policy_file).for_harness(spec.name).scope
    return list(dict.fromkeys(scope))


def report(spec: HarnessSpec, layout: Layout) -> int:
    from fuzz import replay

    inputs = replay.default_inputs(spec, layout)
    out_dir = layout.reports / "coverage" / spec.name
    out_dir.mkdir(parents=True, exist_ok=True)
    packages = _scope_of(spec, layout)
    cov, outcomes = _measure(spec, layout, inputs, packages, out_dir / ".coverage")
    crashed = [o for o in outcomes if not o.ok]
    import coverage

    try:
        cov.html_report(directory=str(out_dir), title=f"proxyfuzz coverage: {spec.name}")
    except coverage.exceptions.NoDataError:
        print(f"no code of {', '.join(packages)} ran while replaying {len(inputs)} input(s)")
        return 1
    cov.json_report(outfile=str(out_dir / "coverage.json"))
    files = json.loads((out_dir / "coverage.json").read_text())["files"]
    rows = []
    for filename, info in files.items():
        s = info["summary"]
        rows.append(
            (
                _module_name(filename),
                s["num_statements"],
                s["missing_lines"],
                s.get("num_branches", 0),
                s.get("missing_branches", 0),
                s["percent_covered"],
            )
        )
    print(f"{spec.name}: {len(inputs)} input(s) replayed ({len(crashed)} crashed); HTML: {out_dir}/index.html")
    print(f"{'module':45} {'stmts':>6} {'miss':>6} {'branch':>6} {'bmiss':>6} {'cover':>7}")
    for name, stmts, miss, br, brmiss, pc in sorted(rows):
        print(f"{name:45} {stmts:6} {miss:6} {br:6} {brmiss:6} {pc:6.1f}%")
    if not any(r[0].startswith("proxy") for r in rows):
        print("(no proxy/ module ran for this harness)")
    return 0


def _module_name(filename: str) -> str:
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and os.path.abspath(path) == os.path.abspath(filename):
            return name
    return filename


def main(argv: list[str]) -> int:
    import argparse
    from fuzz.harness import add_layout_arguments, find, layout_from_args

    parser = argparse.ArgumentParser(
        prog="python -m fuzz coverage", description="coverage.py over the corpus: HTML + per-module table."
    )
    add_layout_arguments(parser)
    parser.add_argument("name")
    args = parser.parse_args(argv)
    layout = layout_from_args(args)
    return report(find(layout, args.name), layout)


# ---------------------------------------------------------------------------------------------
# The neutral yardstick: arcs covered in given modules, measured in a fresh process.


def arcs_covered(spec: HarnessSpec, layout: Layout, inputs_dir: Path, modules: list[str], timeout_s: int = 600) -> dict:
    """Replay every file of inputs_dir in a fresh interpreter under coverage.py; return
    {"arcs": total executed arcs in `modules`, "per_module": {...}, "inputs": n}."""
    from fuzz.runner import child_env

    cmd = [
        sys.executable,
        "-m",
        "fuzz.coverage",
        str(spec.path),
        str(layout.policy_file),
        str(inputs_dir),
        ",".join(modules),
    ]
    proc = subprocess.run(
        cmd, env=child_env(layout, "none"), cwd=layout.root, capture_output=True, text=True, timeout=timeout_s
    )
    if proc.returncode != 0:
        raise RuntimeError(f"coverage replay of {inputs_dir} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _arcs_child(harness_path: str, policy_file: str, inputs_dir: str, modules_csv: str) -> None:
    import tempfile
    from fuzz import replay
    from fuzz.harness import corpus_files

    modules = [m for m in modules_csv.split(",") if m]
    import coverage

    with tempfile.TemporaryDirectory() as tmp:
        cov = coverage.Coverage(
            data_file=os.path.join(tmp, "cov"), branch=True, source_pkgs=sorted({m.split(".")[0] for m in modules})
        )
        cov.start()
        module = replay.load_harness(Path(harness_path), "none", Path(policy_file))
        inputs = corpus_files(Path(inputs_dir))
        for f in inputs:
            replay.replay_one(module.TestOneInput, f)
        cov.stop()
        data = cov.get_data()
        per_module = {}
        for name in modules:
            mod = sys.modules.get(name)
            path = getattr(mod, "__file__", None)
            arcs = data.arcs(os.path.abspath(path)) if path else None
            per_module[name] = len(arcs or ())
    print(json.dumps({"arcs": sum(per_module.values()), "per_module": per_module, "inputs": len(inputs)}))


if __name__ == "__main__":
    _arcs_child(*sys.argv[1:5])
