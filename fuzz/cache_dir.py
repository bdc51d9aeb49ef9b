"""Where the engine keeps what its processes share across runs and across copies of the tree:
$XDG_CACHE_HOME/proxyfuzz (~/.cache/proxyfuzz when unset). What is kept there is keyed by content
or versions, never by a tree's path, so a fresh clone or a planted-bug copy (`bench bugs`) reuses it:

    instrumented/  atheris's rewrite of policy modules (fuzz/instrument/code_cache.py)
    hypothesis/    Hypothesis's storage (HYPOTHESIS_STORAGE_DIRECTORY, set for every harness
                   process by fuzz/runner.py child_env): its Unicode tables, which the config
                   generator's string strategies build on first use (1.8 CPU s) and Hypothesis
                   otherwise writes under the working directory, a fresh one per bench trial
    pgv/           the validators protoc-gen-validate renders for the config harness's reference
                   (fuzz/targets/pgv_code_cache.py)
"""

import os
from pathlib import Path


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "proxyfuzz"
