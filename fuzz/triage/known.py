"""The committed known-issues file: crashes we know about are marked "known", never hidden.

    [[issue]]
    signature = "3f2a9c1b0d4e"          # a signature id (the folder name in reports/), or
    pattern = "exception\\|KeyError\\|proxy/config/"   # a regex searched in the signature text
    reason = "upstream bug, see issue 12"

Each entry needs a reason and exactly one of `signature` or `pattern`.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path


class KnownIssuesError(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class KnownIssue:
    reason: str
    signature: str = ""
    pattern: re.Pattern | None = None

    def matches(self, signature_id: str, signature_text: str) -> bool:
        if self.signature:
            return signature_id == self.signature
        return bool(self.pattern and self.pattern.search(signature_text))


def load_known_issues(path: Path | None) -> list[KnownIssue]:
    if path is None or not path.exists():
        return []
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise KnownIssuesError(f"{path}: not valid TOML: {err}") from None
    entries = data.get("issue", [])
    if not isinstance(entries, list):
        raise KnownIssuesError(f"{path}: `issue` must be an array of tables ([[issue]])")
    unknown_keys = set(data) - {"issue"}
    if unknown_keys:
        raise KnownIssuesError(f"{path}: unexpected top-level keys {sorted(unknown_keys)}")
    issues = []
    for number, entry in enumerate(entries, 1):
        where = f"{path}: issue #{number}"
        if not isinstance(entry, dict):
            raise KnownIssuesError(f"{where}: must be a table")
        extra = set(entry) - {"signature", "pattern", "reason"}
        if extra:
            raise KnownIssuesError(f"{where}: unexpected keys {sorted(extra)}")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise KnownIssuesError(f"{where}: needs a non-empty `reason`")
        if ("signature" in entry) == ("pattern" in entry):
            raise KnownIssuesError(f"{where}: needs exactly one of `signature` or `pattern`")
        if "signature" in entry:
            sig = entry["signature"]
            if not isinstance(sig, str) or not re.fullmatch(r"[0-9a-f]{12}", sig):
                raise KnownIssuesError(f"{where}: `signature` must be a 12-hex-digit signature id")
            issues.append(KnownIssue(reason=reason, signature=sig))
        else:
            try:
                issues.append(KnownIssue(reason=reason, pattern=re.compile(entry["pattern"])))
            except (re.error, TypeError) as err:
                raise KnownIssuesError(f"{where}: `pattern` is not a valid regex: {err}") from None
    return issues


def match_known(issues: list[KnownIssue], signature_id: str, signature_text: str) -> KnownIssue | None:
    return next((issue for issue in issues if issue.matches(signature_id, signature_text)), None)
