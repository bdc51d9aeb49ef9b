"""python -m fuzz bench two-stage [--time S] [--coverage-time S]

Two measurements of the session harness, side by side in one run:

1. Speed. The same inputs with configuration caching off (every input parses, validates
   and builds its configuration from YAML, as a single-stage harness must) and on (the
   stage-1 pool is built once; each input only picks an entry). Prints exec/s and
   data-plane actions/s of both and their ratio.
2. Coverage. The two-stage harness (harnesses/fuzz_session.py) and a single-stage baseline
   (fuzz/bench/harnesses/fuzz_single_stage.py: configuration and actions in one raw
   blob) fuzz for the same time from seeds made of the same (configuration, actions)
   pairs; each resulting corpus is then replayed under one coverage.py build and the
   arcs covered in proxy/ are compared.

Last line: RESULT two_stage_speedup <ratio>.
"""

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def _inputs(pool_size: int, count: int, seed: int) -> list[bytes]:
    """Deterministic session inputs: seed-corpus files first, then random action streams."""
    seeds = sorted((REPO / "corpus" / "session").glob("*"))
    out = [p.read_bytes() for p in seeds if p.is_file()]
    rng = random.Random(seed)
    while len(out) < count:
        out.append(
            bytes([rng.randrange(pool_size), rng.randrange(4)])
            + bytes(rng.randrange(256) for _ in range(rng.randrange(16, 2048)))
        )
    return out[:count]


def _timed(fn, inputs, budget_s: float) -> tuple[int, int, float]:
    """Run fn over inputs (cycling) for about budget_s; returns (execs, actions, seconds)."""
    execs = actions = 0
    start = time.perf_counter()
    while True:
        for data in inputs:
            actions += fn(data)
            execs += 1
            if execs % 16 == 0 and time.perf_counter() - start >= budget_s:
                return execs, actions, time.perf_counter() - start


def measure_speed(budget_s: float, seed: int = 1337) -> dict:
    from fuzz import session
    from proxy.build import build
    from proxy.config import load_bytes

    pool = session.ConfigPool.default()
    sources = [Path(name).read_bytes() for name in pool.names]
    inputs = _inputs(len(pool.built), 4000, seed)

    def cached(data):
        return session.run_input(pool, data).actions_run

    def uncached(data):
        reader = session.Reader(data)
        built = build(load_bytes(sources[reader.int(1, 256) % len(sources)]))
        read_size = session.READ_SIZES[reader.int(1, len(session.READ_SIZES))]
        return session.Session(built, read_size=read_size).run(session.decode_actions(reader)).actions_run

    off = _timed(uncached, inputs, budget_s)
    on = _timed(cached, inputs, budget_s)
    return {"off": off, "on": on, "pool": len(pool.built), "inputs": len(inputs)}


def _single_stage_seed(source: bytes, actions: bytes) -> bytes:
    return len(source).to_bytes(2, "big") + source + actions


def measure_coverage(fuzz_s: int, seed: int = 1337) -> dict:
    from fuzz import runner, session
    from fuzz.coverage import arcs_covered
    from fuzz.harness import Layout, spec_for

    pool = session.ConfigPool.default()
    sources = [Path(name).read_bytes() for name in pool.names]
    rng = random.Random(seed)
    pairs = [(i, bytes(rng.randrange(256) for _ in range(64))) for i in range(len(sources)) for _ in range(2)]
    results = {}
    with tempfile.TemporaryDirectory(prefix="two-stage-") as tmp_name:
        tmp = Path(tmp_name)
        harnesses = {
            "two_stage": REPO / "harnesses" / "fuzz_session.py",
            "single_stage": REPO / "fuzz" / "bench" / "harnesses" / "fuzz_single_stage.py",
        }
        for label, script in harnesses.items():
            layout = Layout(
                root=REPO,
                harnesses=tmp / label / "harnesses",
                corpus=tmp / label / "corpus",
                work=tmp / label / "work",
                reports=tmp / label / "reports",
                policy_file=REPO / "instrumentation.toml",
            )
            layout.harnesses.mkdir(parents=True)
            target = layout.harnesses / "fuzz_session.py"
            shutil.copy2(script, target)
            seeds = layout.corpus / "session"
            seeds.mkdir(parents=True)
            for n, (index, actions) in enumerate(pairs):
                data = (
                    bytes([index, 0]) + actions
                    if label == "two_stage"
                    else _single_stage_seed(sources[index], b"\0" + actions)
                )
                (seeds / f"seed-{n}").write_bytes(data)
            spec = spec_for(layout, target)
            run = runner.run(spec, layout, time_s=fuzz_s, extra=[f"-seed={seed}", "-max_len=8192"])
            corpus = layout.work_corpus("session")
            for f in seeds.iterdir():
                shutil.copy2(f, corpus / f.name)
            cov = arcs_covered(spec, layout, corpus, _proxy_modules())
            results[label] = {
                "execs": run.progress.executions,
                "exec_per_sec": run.exec_per_sec,
                "corpus": cov["inputs"],
                "arcs": cov["arcs"],
            }
    return results


def _proxy_modules() -> list[str]:
    mods = []
    for path in sorted((REPO / "proxy").rglob("*.py")):
        rel = path.relative_to(REPO).with_suffix("")
        if "gen" in rel.parts or rel.name == "__main__":
            continue
        name = ".".join(rel.parts)
        mods.append(name[: -len(".__init__")] if name.endswith(".__init__") else name)
    return mods


def main(argv) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz bench two-stage", description=__doc__.splitlines()[0])
    parser.add_argument("--time", type=float, default=20.0, help="seconds per speed mode (default 20)")
    parser.add_argument(
        "--coverage-time",
        type=int,
        default=60,
        help="seconds of fuzzing per harness for the coverage comparison (0 skips it; default 60)",
    )
    args = parser.parse_args(argv)

    speed = measure_speed(args.time)
    (off_x, off_a, off_s), (on_x, on_a, on_s) = speed["off"], speed["on"]
    off_rate, on_rate = off_x / off_s, on_x / on_s
    print(f"pool: {speed['pool']} built configurations; {speed['inputs']} inputs, cycled")
    print(f"{'mode':<34}{'exec/s':>10}{'actions/s':>12}")
    print(f"{'caching off (parse+validate+build)':<34}{off_rate:>10.0f}{off_a / off_s:>12.0f}")
    print(f"{'caching on (stage-1 pool)':<34}{on_rate:>10.0f}{on_a / on_s:>12.0f}")
    ratio = on_rate / off_rate if off_rate else float("inf")
    print(f"speedup (exec/s on / off): {ratio:.2f}x")

    if args.coverage_time > 0:
        cov = measure_coverage(args.coverage_time)
        print(f"\ncoverage after {args.coverage_time} s of fuzzing each (arcs in proxy/, one coverage.py replay):")
        for label, r in cov.items():
            print(
                f"  {label:<13} arcs {r['arcs']:>6}   corpus {r['corpus']:>5}   "
                f"{r['execs']} execs ({r['exec_per_sec']:.0f}/s)"
            )
        two, one = cov["two_stage"]["arcs"], cov["single_stage"]["arcs"]
        print(f"  two-stage reaches {'more' if two > one else 'NOT more'} ({two} vs {one})")
    print(f"RESULT two_stage_speedup {ratio:.2f}")
    return 0
