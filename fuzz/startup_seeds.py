"""The seeds a fuzzing run replays when it starts: corpus/NAME/ less those a merge found redundant.

A short run of a harness with thousands of seeds spends most of its time replaying them (session:
4,758 seeds, 17-28 s of CPU with counters). corpus/NAME.redundant lists, by the SHA-1 of their
bytes, the seeds whose coverage libFuzzer's `-merge=1` found in the others; a run starts from a
folder of links to the rest. A `regress-*` seed is never skipped (it is there for an oracle's
shape, not for coverage), and a seed added or changed after the listing is not in it, so it runs.
`python -m fuzz replay`, the tests and the corpus checks still read every seed.

`python -m fuzz startup-seeds NAME` writes the listing again (fuzz.runner.write_startup_listing: a
merge with the harness's counters).
"""

import hashlib
import os
import shutil
from pathlib import Path

from fuzz.harness import HarnessSpec, Layout, corpus_files

KEPT_PREFIX = "regress-"


def listing(spec: HarnessSpec) -> Path:
    return listing_of(spec.seeds)


def listing_of(seeds: Path) -> Path:
    return seeds.with_name(seeds.name + ".redundant")


def digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def start_set(seeds: Path) -> list[Path]:
    """The seeds of folder `seeds` a run starts from: all of them less those listed redundant."""
    files = corpus_files(seeds)
    if not listing_of(seeds).is_file():
        return files
    redundant = set(listing_of(seeds).read_text(encoding="ascii").split())
    return [s for s in files if s.name.startswith(KEPT_PREFIX) or digest(s) not in redundant]


def startup_folder(spec: HarnessSpec, layout: Layout) -> Path:
    """The seed folder to hand libFuzzer: corpus/NAME itself when nothing is listed redundant."""
    if not listing(spec).is_file():
        return spec.seeds
    folder = layout.work / "startup" / spec.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for seed in start_set(spec.seeds):
        link = folder / "__".join(seed.relative_to(spec.seeds).parts)
        try:
            os.link(seed, link)
        except OSError:  # another file system: a copy does as well
            shutil.copy2(seed, link)
    return folder
