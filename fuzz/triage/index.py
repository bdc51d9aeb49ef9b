"""The triage index (index.json in the output folder): what has been seen, across runs.

Artifacts are keyed by harness and content hash, so a file triaged once is never reproduced or
counted again, whatever its name; signatures collect the artifacts that showed them. "Times
seen" is the number of distinct artifacts with that signature.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

FORMAT = "proxyfuzz-triage-index/1"


class TriageIndexError(Exception):
    pass


class TriageIndex:
    def __init__(self, path: Path):
        self.path = path
        self.artifacts: dict[str, dict] = {}
        self.signatures: dict[str, dict] = {}
        if path.exists():
            self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise TriageIndexError(f"{self.path}: not a triage index ({err}); move it away to start afresh") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise TriageIndexError(f"{self.path}: not a {FORMAT} file; move it away to start afresh")
        self.artifacts = data["artifacts"]
        self.signatures = data["signatures"]

    @staticmethod
    def artifact_key(harness_name: str, sha1: str) -> str:
        return f"{harness_name}:{sha1}"

    def seen(self, key: str) -> bool:
        return key in self.artifacts

    def times_seen(self, sig_id: str) -> int:
        return len(self.signatures[sig_id]["artifacts"])

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"format": FORMAT, "artifacts": self.artifacts, "signatures": self.signatures}
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path)  # never leave a half-written index behind
