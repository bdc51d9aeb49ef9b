"""Keep session seeds on their configuration when the pool changes.

    python -m fuzz.pool_migrate --from REV [--rename OLD=NEW ...] SEED...

Byte 0 of a session input picks `byte % len(pool)` of the pool (fuzz.session.decode_input), the
configurations sorted by path. Regenerating corpus/session_configs/ or adding an example renumbers
them, so a committed seed would replay on another configuration. This rewrites byte 0 of each
SEED (in place) so that it picks, in today's pool, the configuration it picked in the pool of git
revision REV; `--rename` follows a configuration that was kept under another name. A seed whose
configuration is gone is left as it is and reported (exit status 1): regenerate it instead
(python -m fuzz.session_seeds) or rewrite it by hand.
"""

import argparse
import subprocess
import sys
from pathlib import Path

from fuzz.session import POOL_DIRS, pool_order, pool_paths


def pool_names(root: Path, rev: str | None = None) -> list[str]:
    """The pool's configurations as paths relative to `root`, in fuzz.session.ConfigPool's order:
    the working tree's, or those of git revision `rev`."""
    if rev is None:
        names = [str(p.relative_to(root)) for p in pool_paths(root)]
    else:
        listed = subprocess.run(
            ["git", "ls-tree", "--name-only", rev, *(d + "/" for d in POOL_DIRS)],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        names = [n for n in listed if n.endswith(".yaml") and str(Path(n).parent) in POOL_DIRS]
    return sorted(names, key=pool_order)


def remap(data: bytes, old: list[str], new: list[str], renamed: dict | None = None) -> bytes | None:
    """`data` with byte 0 picking in `new` the configuration it picked in `old` (followed through
    `renamed`), or None when that configuration is not in `new`. The rest is unchanged."""
    if not data:
        return data
    name = old[data[0] % len(old)]
    name = (renamed or {}).get(name, name)
    if name not in new:
        return None
    index = new.index(name)
    if index > 255:
        raise ValueError(f"{name} is entry {index} of the pool: byte 0 reaches 256 entries")
    return bytes([index]) + data[1:]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.pool_migrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="rev", required=True, metavar="REV", help="git revision of the old pool")
    parser.add_argument("--rename", action="append", default=[], metavar="OLD=NEW", help="a kept configuration")
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent), help=argparse.SUPPRESS)
    parser.add_argument("seeds", nargs="+", metavar="SEED")
    args = parser.parse_args(argv)
    root = Path(args.root)
    try:
        renamed = dict(pair.split("=", 1) for pair in args.rename)
    except ValueError:
        parser.error("--rename takes OLD=NEW (paths as the pool names them, e.g. corpus/session_configs/x.yaml)")
    try:
        old = pool_names(root, args.rev)
    except subprocess.CalledProcessError as exc:
        print(f"pool_migrate: cannot list the pool at {args.rev}: {exc.stderr.strip()}", file=sys.stderr)
        return 2
    new = pool_names(root)
    lost = 0
    for seed in map(Path, args.seeds):
        data = seed.read_bytes()
        moved = remap(data, old, new, renamed)
        if moved is None:
            lost += 1
            print(f"{seed}: its configuration {old[data[0] % len(old)]} is not in the pool any more")
            continue
        if moved != data:
            seed.write_bytes(moved)
        print(f"{seed}: {old[data[0] % len(old)] if data else '-'} -> byte 0 = {moved[0] if moved else '-'}")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
