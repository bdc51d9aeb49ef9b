"""The planted-bug bench: `python -m fuzz bench bugs` (command.py) and `python -m fuzz recut-bugs`
(recut.py).

    catalog.py   bench/bugs/NAME.patch + NAME.md (+ repro/NAME.py), read and checked
    tree.py      scratch copies of the repository, a patch applied to one
    trial.py     one trial: fuzz one harness of a patched copy, decide whether it found the bug
    reach.py     did an input execute a patched line (run as a script in the copy)
    report.py    the figures: per-bug rows, found N of M, medians, survival curve
"""

from fuzz.bench.bugs.catalog import Bug, CatalogError, load_bugs
from fuzz.bench.bugs.command import main

__all__ = ["Bug", "CatalogError", "load_bugs", "main"]
