"""Crash triage: turn crash, timeout and out-of-memory files into reports a maintainer can act on.

Public API:
    triage(artifacts, TriageOptions(...)) -> TriageResult     the whole pipeline
    Artifact(path, harness)                                   one file and the harness script it crashes
    main(argv) -> exit status                                 `python -m fuzz triage ...`
"""

from .command import main
from .pipeline import Artifact, TriageOptions, TriageResult, triage

__all__ = ["Artifact", "TriageOptions", "TriageResult", "main", "triage"]
