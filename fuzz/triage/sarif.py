"""results.sarif: SARIF 2.1.0 for GitHub code scanning.

One rule per signature (ruleId = the signature id, stable across runs), one result per signature,
locations relative to the repository root (%SRCROOT%), partialFingerprints so code scanning does
not open a duplicate alert on every upload, `security-severity` from the rule set, the whole stack
as a SARIF stack, and known issues as external suppressions (still listed, not hidden).
"""

from __future__ import annotations

import json
from pathlib import Path

from .render import status_of, summary_of

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
FINGERPRINT = "proxyfuzzSignature/v1"


def build_sarif(views: dict[str, dict], project_root: Path) -> dict:
    rules, results = [], []
    for index, (sig_id, view) in enumerate(sorted(views.items())):
        rules.append(_rule(view))
        results.append(_result(view, index, project_root))
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "proxyfuzz-triage",
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "the repository root"}}},
                "results": results,
            }
        ],
    }


def write_sarif(path: Path, views: dict[str, dict], project_root: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(build_sarif(views, project_root), indent=2, sort_keys=True) + "\n")


def _rule(view: dict) -> dict:
    sev = view["severity"]
    return {
        "id": view["id"],
        "name": f"{view['kind'].title()}{_camel(view['exception_type'] or view['invariant'])}",
        "shortDescription": {"text": summary_of(view)},
        "fullDescription": {"text": f"Fuzzing crash signature {view['text']}"},
        "help": {"text": f"See {view['folder']}/report.md. Severity rule {sev['rule']}: {sev['explanation']}."},
        "defaultConfiguration": {"level": LEVELS[sev["level"]]},
        "properties": {
            "security-severity": f"{sev['score']:.1f}",
            "tags": ["security", "fuzzing", view["kind"]],
        },
    }


def _result(view: dict, rule_index: int, root: Path) -> dict:
    sev = view["severity"]
    location = _primary_location(view, root)
    result = {
        "ruleId": view["id"],
        "ruleIndex": rule_index,
        "level": LEVELS[sev["level"]],
        "message": {
            "text": f"{summary_of(view)} ({status_of(view)}, seen {view['times_seen']} time(s)): "
            f"{(view['message'] or '').splitlines()[0][:200] if view['message'] else view['kind']}. "
            f"Report: {view['folder']}/report.md"
        },
        "locations": [location],
        "partialFingerprints": {FINGERPRINT: view["id"]},
        "properties": {
            "security-severity": f"{sev['score']:.1f}",
            "kind": view["kind"],
            "reproducible": view["reproducible"],
            "timesSeen": view["times_seen"],
            "harnesses": view["harnesses"],
            "firstSeen": view["first_seen"],
        },
    }
    if view["stack"]:
        result["stacks"] = [
            {
                "message": {"text": "Python stack, innermost frame first"},
                "frames": [_stack_frame(frame) for frame in view["stack"]],
            }
        ]
    if view["known"]:
        result["suppressions"] = [{"kind": "external", "justification": view["known_reason"]}]
    return result


def _primary_location(view: dict, root: Path) -> dict:
    """The innermost repository frame; the harness script when the stack has none."""
    for frame in view["stack"]:
        if frame["origin"] in ("project", "infrastructure", "harness") and not frame["path"].startswith("/"):
            return _physical(frame["path"], frame["line"])
    harness = next(iter(view["harness_paths"].values()), "")
    if harness and not harness.startswith("/"):
        return _physical(harness, 1)
    return {"message": {"text": "no location inside the repository"}}


def _physical(path: str, line: int) -> dict:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": max(1, int(line))},
        }
    }


def _stack_frame(frame: dict) -> dict:
    inside_repo = frame["origin"] in ("project", "infrastructure", "harness") and not frame["path"].startswith("/")
    location = _physical(frame["path"], frame["line"]) if inside_repo else {}
    location["message"] = {"text": f"{frame['path']}:{frame['line']} in {frame['function']}"}
    return {"location": location, "module": frame["path"]}


def _camel(text: str) -> str:
    last = text.rsplit(".", 1)[-1]
    return "".join(part[:1].upper() + part[1:] for part in last.replace("-", "_").split("_") if part)
