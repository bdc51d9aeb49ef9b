"""Every committed seed runs whole under libFuzzer.

libFuzzer reads each initial-corpus file only up to -max_len (the harness's .options) and runs that
prefix, while `python -m fuzz replay` runs the whole file: a longer seed is judged whole by the
tests and cut by every fuzzing run and bug bench. Session and network_filter's flow-control seeds
(backpressure_boundaries, slow_reader, chain flow: 16 KB) lost their upstream-side drains that way
under max_len 8192; on the tree with bench/bugs/buffer-low-watermark-off-by-one planted, 11 of the
95 long session seeds fail whole, 6 cut. A harness that caps its input itself (harness.capped) at
max_len or less runs the same prefix both ways.
"""

import re

from fuzz.harness import Layout, discover

_CAP = re.compile(r"^MAX_LEN = (\d+)$", re.M)


def _own_cap(spec) -> int | None:
    source = spec.path.read_text(encoding="utf-8")
    m = _CAP.search(source)
    return int(m.group(1)) if m and "harness.capped(data, MAX_LEN)" in source else None


def test_every_seed_fits_its_harness_max_len_or_the_harness_cuts_it_the_same_way():
    cut = []
    for spec in discover(Layout()):
        max_len = int(spec.options().get("max_len", 0))
        if not max_len:
            continue
        cap = _own_cap(spec)
        if cap is not None and cap <= max_len:
            continue
        cut += [
            f"{spec.name}/{p.name} ({p.stat().st_size} > {max_len})"
            for p in spec.seed_files()
            if p.stat().st_size > max_len
        ]
    assert not cut, f"{len(cut)} seeds longer than -max_len, run cut by libFuzzer: {cut[:5]}"
