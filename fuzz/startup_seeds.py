"""The seeds a fuzzing run replays when it starts: corpus/NAME/ less those a merge found redundant.

A short run of a harness with thousands of seeds spends most of its time replaying them (session:
4,758 seeds, 17-28 s of CPU with counters). corpus/NAME.redundant lists, by the SHA-1 of their
bytes, the seeds whose coverage libFuzzer's `-merge=1` found in the others; a run starts from a
folder of links to the rest. A `regress-*` seed is never skipped (it is there for an oracle's
shape, not for coverage), and a seed added or changed after the listing is not in it, so it runs.
`python -m fuzz replay`, the tests and the corpus checks still read every seed.

`python -m fuzz.startup_seeds NAME` writes the listing again (a merge with the harness's counters).
"""

import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from fuzz.harness import HarnessSpec, Layout, corpus_files

KEPT_PREFIX = "regress-"


def listing(spec: HarnessSpec) -> Path:
    return spec.seeds.with_name(spec.seeds.name + ".redundant")


def digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def startup_folder(spec: HarnessSpec, layout: Layout) -> Path:
    """The seed folder to hand libFuzzer: corpus/NAME itself when nothing is listed redundant."""
    if not listing(spec).is_file():
        return spec.seeds
    redundant = set(listing(spec).read_text(encoding="ascii").split())
    folder = layout.work / "startup" / spec.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for seed in spec.seed_files():
        if seed.name.startswith(KEPT_PREFIX) or digest(seed) not in redundant:
            link = folder / "__".join(seed.relative_to(spec.seeds).parts)
            try:
                os.link(seed, link)
            except OSError:  # another file system: a copy does as well
                shutil.copy2(seed, link)
    return folder


def write_listing(spec: HarnessSpec, layout: Layout, timeout_s: int = 1800) -> tuple[int, int]:
    """Merge corpus/NAME (regress-* seeds first, always kept) and list what the merge left out;
    returns (seeds, listed)."""
    from fuzz.runner import check_runnable, child_env, option_flags, stream

    check_runnable(spec)
    seeds = spec.seed_files()
    with tempfile.TemporaryDirectory() as tmp:
        kept, rest = Path(tmp, "kept"), Path(tmp, "rest")
        kept.mkdir()
        rest.mkdir()
        for i, seed in enumerate(seeds):
            shutil.copy2(seed, (kept if seed.name.startswith(KEPT_PREFIX) else rest) / f"{i}-{seed.name}")
        cmd = [str(spec.path.resolve()), "-merge=1", str(kept), str(rest)] + option_flags(spec)
        rc, _, timed_out, _ = stream(cmd, child_env(layout), layout.root, timeout_s, layout.logs() / "startup.log")
        if rc != 0 or timed_out:
            raise SystemExit(f"merge of {spec.name} failed (rc {rc}, timed out {timed_out}): {layout.logs()}")
        merged = {digest(p) for p in corpus_files(kept)}
    redundant = sorted({digest(s) for s in seeds if not s.name.startswith(KEPT_PREFIX)} - merged)
    listing(spec).write_text("".join(f"{d}\n" for d in redundant), encoding="ascii")
    return len(seeds), len(redundant)


if __name__ == "__main__":
    from fuzz.harness import find

    layout = Layout()
    layout.logs().mkdir(parents=True, exist_ok=True)
    total, listed = write_listing(find(layout, sys.argv[1]), layout)
    print(f"{sys.argv[1]}: {listed} of {total} seeds listed redundant; a run starts from {total - listed}")
