"""A run starts from corpus/NAME less the seeds corpus/NAME.redundant lists (fuzz/startup_seeds.py);
regress-* seeds and seeds changed since the listing always run."""

from pathlib import Path

from fuzz.harness import HarnessSpec, Layout, find
from fuzz.runner import fuzz_command
from fuzz.startup_seeds import digest, listing, startup_folder

REPO = Path(__file__).resolve().parents[2]


def _spec(root: Path) -> HarnessSpec:
    return HarnessSpec("demo", root / "harnesses" / "fuzz_demo.py", "demo", root / "corpus" / "demo", None, None)


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_listed_seeds_are_left_out_of_the_start_and_nothing_else(tmp_path):
    spec, layout = _spec(tmp_path), Layout(root=tmp_path, work=tmp_path / "work")
    spec.seeds.mkdir(parents=True)
    for name, data in {"a": b"1", "b": b"2", "c": b"3", "regress-shape": b"4"}.items():
        (spec.seeds / name).write_bytes(data)
    assert startup_folder(spec, layout) == spec.seeds  # no listing: the folder itself

    listing(spec).write_text("".join(digest(spec.seeds / n) + "\n" for n in ("a", "b", "regress-shape")))
    (spec.seeds / "b").write_bytes(b"changed since the listing")
    start = startup_folder(spec, layout)
    assert _names(start) == {"b", "c", "regress-shape"}
    assert (start / "b").read_bytes() == b"changed since the listing"
    assert str(start) in fuzz_command(spec, layout, 1, 1)
    assert str(spec.seeds) not in fuzz_command(spec, layout, 1, 1)


def test_the_session_start_keeps_every_regress_seed(tmp_path):
    spec = find(Layout(), "session")
    start = _names(startup_folder(spec, Layout(work=tmp_path)))
    seeds = {s.name for s in spec.seed_files()}
    assert {n for n in seeds if n.startswith("regress-")} <= start <= seeds
    assert len(start) < len(seeds) / 4  # the listing is there and still leaves most replays out
