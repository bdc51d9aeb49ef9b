"""`python -m fuzz bench configgen [--n N] [--seed S]`: how many stage-1 configurations are
valid, and how fast, beside a rule-blind baseline given the same time.

- configgen: N configurations from seeded random bytes (fuzz/configgen/: strategies from the
  rules, then the repair pass); each is checked by the proxy's validation (rules and semantic
  checks, proxy/config) and built (proxy.build.build). Valid = validates AND builds.
- naive: random Bootstrap messages of the same schema with the same size bounds, ignoring every
  rule (fuzz.configgen.naive_bootstraps), filtered the same way, for as long as configgen took.

Prints both rates, configs/s, the ratio of valid configs per second, the most common reasons for
rejection, and last `RESULT configgen_valid_rate <fraction>` (configgen's share).
"""

import argparse
import collections
import random
import time

from fuzz import configgen
from fuzz.configgen import BytesToValue


def _verdict(config):
    """None when the config validates and builds, else the first reason it does not."""
    from proxy.build import BuildError, build
    from proxy.config.semantic import all_violations

    violations = all_violations(config)
    if violations:
        return f"invalid: {violations[0].message[:60]}"
    try:
        build(config)
    except BuildError as exc:
        return f"build: {exc.message[:60]}"
    return None


def _run_configgen(n, seed, reasons):
    generator = configgen.default_generator()
    rng = random.Random(seed)
    valid = 0
    drawing = 0.0
    start = time.perf_counter()
    for _ in range(n):
        before = time.perf_counter()
        config = generator.from_bytes(rng.randbytes(2048))
        drawing += time.perf_counter() - before
        reason = _verdict(config)
        if reason is None:
            valid += 1
        else:
            reasons[reason] += 1
    return valid, time.perf_counter() - start, drawing


def _run_naive(budget, seed, reasons):
    draw = BytesToValue(configgen.naive_bootstraps())
    padding = bytes(configgen.DEFAULT_BOUNDS.pad_bytes)
    rng = random.Random(seed)
    drawn = valid = 0
    start = time.perf_counter()
    while time.perf_counter() - start < budget:
        config = draw(rng.randbytes(2048) + padding)
        drawn += 1
        if config is None:
            reasons["draw rejected"] += 1
            continue
        reason = _verdict(config)
        if reason is None:
            valid += 1
        else:
            reasons[reason] += 1
    return drawn, valid, time.perf_counter() - start


def _top(reasons, k=5):
    return "; ".join(f"{count} x {reason}" for reason, count in reasons.most_common(k)) or "none"


def main(argv) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fuzz bench configgen", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000, help="configurations (default 10000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")

    configgen.default_generator()  # strategy construction is not part of the measurement
    ours_reasons: collections.Counter[str] = collections.Counter()  # why configs were rejected
    valid, elapsed, drawing = _run_configgen(args.n, args.seed, ours_reasons)
    ours_rate = valid / args.n
    print(
        f"configgen: {valid}/{args.n} valid ({ours_rate:.4%}) in {elapsed:.1f} s: "
        f"{args.n / elapsed:.1f} configs/s, {valid / elapsed:.1f} valid configs/s "
        f"(drawing {drawing / elapsed:.0%} of the time, validating and building the rest)"
    )
    print(f"  rejected: {_top(ours_reasons)}")

    naive_reasons: collections.Counter[str] = collections.Counter()
    drawn, naive_valid, naive_elapsed = _run_naive(elapsed, args.seed, naive_reasons)
    naive_rate = naive_valid / drawn if drawn else 0.0
    print(
        f"naive:     {naive_valid}/{drawn} valid ({naive_rate:.4%}) in {naive_elapsed:.1f} s: "
        f"{drawn / naive_elapsed:.1f} configs/s, {naive_valid / naive_elapsed:.2f} valid configs/s"
    )
    print(f"  rejected: {_top(naive_reasons)}")
    ours_per_s = valid / elapsed
    if naive_valid:
        ratio = ours_per_s / (naive_valid / naive_elapsed)
        print(f"valid configs per second, configgen / naive: {ratio:.1f}x")
    else:
        # No valid naive config at all: the ratio is unbounded; one valid config would give this.
        bound = ours_per_s / (1 / naive_elapsed)
        print(
            f"valid configs per second, configgen / naive: > {bound:.0f}x "
            f"(naive found none in {naive_elapsed:.1f} s; bound if it had found one)"
        )
    print(f"RESULT configgen_valid_rate {ours_rate:.6f}")
    return 0
