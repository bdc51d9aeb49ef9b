"""The mutant bench: `python -m fuzz bench mutants MODULE` (command.py).

ops.py       mutation points of a module's functions, and a mutant's code object
command.py   reach and kill each mutant with the committed corpora of the harnesses
"""

from fuzz.bench.mutants.command import main

__all__ = ["main"]
