"""Ada Logics' experiment in Python: exec/s of a trivial harness against the number of
instrumented-but-unreachable branches.

    python -m fuzz bench unreachable [--time S] [--budget S] [--max-branches N]

For each size (1, 10, 100, ... with steps of ~3x, up to --max-branches) it generates modules of
small functions (`if x: x = i`, ten per function, never called), runs
fuzz/bench/harnesses/fuzz_unreachable.py for --time seconds with those modules instrumented by the
engine's import hook, and records counters, instrumentation time and exec/s. It stops growing
when the next size is projected to need more than --budget seconds of instrumentation (atheris
rewrites bytecode in Python: about 0.2 ms per branch here). Writes
reports/instrumentation/unreachable.csv and unreachable.png (log-log).
Last line: RESULT unreachable_slowdown <exec/s at the smallest size / at the largest>.
"""

import argparse
import csv
import json
import tempfile
from pathlib import Path

from fuzz.harness import REPORT_ENV, Layout, add_layout_arguments, layout_from_args
from fuzz.runner import child_env, stream

HARNESS = Path(__file__).resolve().parent / "harnesses" / "fuzz_unreachable.py"
BRANCHES_PER_FUNCTION = 10
BRANCHES_PER_MODULE = 10_000
SIZES = [1, 3, 10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000]
COMMAND = "python -m fuzz bench unreachable"


def generate(directory: Path, branches: int) -> None:
    """Modules unreachable_NNNN.py holding `branches` if-statements in never-called functions."""
    directory.mkdir(parents=True)
    remaining, module_index = branches, 0
    while remaining > 0:
        in_module = min(remaining, BRANCHES_PER_MODULE)
        lines, function_index, left = [], 0, in_module
        while left > 0:
            n = min(left, BRANCHES_PER_FUNCTION)
            lines.append(f"def f{function_index}(x):")
            lines += [f"    if x: x = {i}" for i in range(n)]
            lines.append("    return x\n")
            function_index, left = function_index + 1, left - n
        (directory / f"unreachable_{module_index:04d}.py").write_text("\n".join(lines))
        remaining, module_index = remaining - in_module, module_index + 1


def measure(layout: Layout, branches: int, time_s: int, tmp: Path) -> dict:
    case = tmp / str(branches)
    generate(case / "modules", branches)
    (case / "corpus").mkdir()
    env = child_env(layout, "none")
    env["PROXYFUZZ_UNREACHABLE_DIR"] = str(case / "modules")
    env[REPORT_ENV] = str(case / "report.json")
    cmd = [
        str(HARNESS),
        str(case / "corpus"),
        "-seed=1",
        f"-max_total_time={time_s}",
        "-print_final_stats=1",
        f"-artifact_prefix={case}/",
    ]
    rc, progress, timed_out, _ = stream(cmd, env, layout.root, time_s + 900, case / "libfuzzer.log")
    if rc != 0 or timed_out or not (case / "report.json").is_file():
        raise RuntimeError(f"unreachable bench at {branches} branches failed (exit {rc}); see {case}/libfuzzer.log")
    report = json.loads((case / "report.json").read_text())
    return {
        "branches": branches,
        "counters": report["counters"],
        "functions": report["functions"],
        "instrument_seconds": round(report["seconds"], 2),
        "executions": progress.executions,
        "exec_per_sec": progress.final_stats.get("average_exec_per_sec", progress.exec_per_sec),
    }


def write_outputs(rows: list[dict], out_dir: Path, time_s: int) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "unreachable.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.loglog([r["branches"] for r in rows], [r["exec_per_sec"] for r in rows], "o-")
    ax.set_xlabel("instrumented but unreachable branches")
    ax.set_ylabel(f"exec/s of a trivial harness ({time_s} s runs)")
    ax.set_title("Cost of coverage counters that can never change (atheris)")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_dir / "unreachable.png", dpi=110)
    plt.close(fig)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    add_layout_arguments(parser)
    parser.add_argument("--time", type=int, default=10, help="seconds of fuzzing per size (default 10)")
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="largest instrumentation time to attempt for one size, seconds (default 60)",
    )
    parser.add_argument("--max-branches", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    if args.time <= 0 or args.budget <= 0 or args.max_branches < 1:
        parser.error("--time, --budget and --max-branches must be positive")
    layout = layout_from_args(args)
    out_dir = layout.reports / "instrumentation"
    rows: list[dict] = []  # one measure() per size
    with tempfile.TemporaryDirectory(prefix="proxyfuzz-unreachable-") as tmp:
        for size in [s for s in SIZES if s <= args.max_branches]:
            if rows and rows[-1]["branches"] >= 1000:
                per_branch = rows[-1]["instrument_seconds"] / rows[-1]["branches"]
                if per_branch * size > args.budget:
                    print(
                        f"stopping before {size} branches: projected {per_branch * size:.0f} s of "
                        f"instrumentation exceeds --budget {args.budget:.0f} s",
                        flush=True,
                    )
                    break
            row = measure(layout, size, args.time, Path(tmp))
            rows.append(row)
            print(
                f"{row['branches']:>9} branches  {row['counters']:>9} counters  instrumented in "
                f"{row['instrument_seconds']:6.1f} s  {row['exec_per_sec']:>8} exec/s",
                flush=True,
            )
    write_outputs(rows, out_dir, args.time)
    print(f"wrote {out_dir / 'unreachable.csv'} and {out_dir / 'unreachable.png'}")
    slowdown = rows[0]["exec_per_sec"] / rows[-1]["exec_per_sec"] if rows[-1]["exec_per_sec"] else float("inf")
    print(f"RESULT unreachable_slowdown {slowdown:.2f}")
    return 0
