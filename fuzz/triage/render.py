"""Human and machine reports: <out>/<signature>/report.md and report.json, and <out>/index.md."""

from __future__ import annotations

import json
from pathlib import Path

from .severity import rules_table

HEX_LIMIT = 4096  # bytes of the input shown in report.md; the full input is the file beside it
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def status_of(view: dict) -> str:
    status = "reproducible" if view["reproducible"] else "flaky"
    return status + (" (known)" if view["known"] else "")


def summary_of(view: dict) -> str:
    what = {
        "exception": f"uncaught {view['exception_type']}",
        "invariant": f"broken invariant {view['invariant'] or view['exception_type']}",
        "timeout": "timeout",
        "oom": "out of memory",
        "signal": "native crash (signal)",
        "exit": "unexpected exit",
        "unreproduced": "crash that did not reproduce",
    }.get(view["kind"], view["kind"])
    where = view["frames"][0] if view["frames"] else "no stack"
    return f"{what} in {where}"


def write_signature_report(folder: Path, view: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(view, indent=2, sort_keys=True) + "\n")
    (folder / "report.md").write_text(_markdown(folder, view))


def _markdown(folder: Path, view: dict) -> str:
    sev = view["severity"]
    replay = view["replay"]
    lines = [
        f"# {summary_of(view)}",
        "",
        f"- **signature**: `{view['id']}` — `{view['text']}`",
        f"- **kind**: {view['kind']}",
        f"- **severity**: {sev['level']} ({sev['score']}) — rule `{sev['rule']}`: {sev['explanation']}",
        f"- **status**: {status_of(view)}; first artifact failed {replay['failed_runs']} of "
        f"{replay['runs']} replays ({replay['planned_runs']} planned, reproducible at >= half)",
        f"- **known**: {'yes — ' + view['known_reason'] if view['known'] else 'no'}",
        f"- **first seen**: {view['first_seen']}",
        f"- **times seen**: {view['times_seen']} distinct artifact(s)",
        f"- **harnesses**: {_harness_list(view)}",
    ]
    if view["exception_type"]:
        lines.append(f"- **exception**: `{view['exception_type']}`: {_one_line(view['message'])}")
    elif view["message"]:
        lines.append(f"- **detail**: {_one_line(view['message'])}")
    if view["security_marker"]:
        lines.append(f"- **FuzzerSecurityIssue**: {view['security_marker']}")
    if view["kind"] == "invariant":
        # The oracle's own words: which invariant, the component it judged, expected vs observed.
        lines += ["", "## What the oracle saw", "", "```", view["message"].rstrip(), "```"]
    lines += ["", "## Stack (innermost first)", ""]
    if view["stack"]:
        lines += ["| # | where | function | origin |", "|---|---|---|---|"]
        for i, frame in enumerate(view["stack"]):
            mark = " **(signature)**" if f"{frame['path']}:{frame['function']}" in view["frames"] else ""
            lines.append(
                f"| {i} | `{frame['path']}:{frame['line']}` | `{frame['function']}`{mark} | {frame['origin']} |"
            )
    else:
        lines.append("No Python stack was printed.")
    lines += ["", "## Input", ""]
    chosen = view["input"]
    if chosen:
        data = (folder / chosen["file"]).read_bytes() if (folder / chosen["file"]).exists() else b""
        shown = data[:HEX_LIMIT]
        cut = f" (first {HEX_LIMIT} of {len(data)} bytes)" if len(data) > HEX_LIMIT else ""
        state = (
            f"minimized from {chosen['original_size']} bytes in {chosen['minimize_rounds']} round(s)"
            if chosen["minimized"]
            else "not minimized"
        )
        if chosen["minimize_drifted_rounds"]:
            state += f"; {chosen['minimize_drifted_rounds']} round(s) drifted to another signature and were discarded"
        lines += [
            f"`{chosen['file']}`: {chosen['size']} bytes, {state}; from `{chosen['from_artifact']}`{cut}.",
            "",
            *(
                ["As the harness reads it:", "", "```", chosen["readable"].rstrip(), "```", ""]
                if chosen.get("readable")
                else []
            ),
            "Hex:",
            "",
            "```",
            *_hexdump(shown),
            "```",
            "",
            "Escaped text:",
            "",
            "```",
            _escaped(shown),
            "```",
            "",
            "## Reproduce (from the repository root)",
            "",
            "```",
            view["reproduce"]["libfuzzer"],
            "```",
            "",
            "With memory measured and the 10-run reproducibility check:",
            "",
            "```",
            view["reproduce"]["triage"],
            "```",
        ]
    lines += ["", "## Artifacts", ""]
    lines += [f"- `{key}`" for key in view["artifacts"]]
    lines += ["", "## Output of one failing replay", "", "```", view["output"] or "(none)", "```"]
    lines += ["", "## Severity rules", "", rules_table(), ""]
    return "\n".join(lines)


def write_index(out_dir: Path, views: dict[str, dict]) -> None:
    rows = sorted(
        views.values(),
        key=lambda v: (v["known"], not v["reproducible"], SEVERITY_ORDER.get(v["severity"]["level"], 9), v["id"]),
    )
    lines = [
        "# Triage reports",
        "",
        f"{len(rows)} signature(s); {sum(v['reproducible'] and not v['known'] for v in rows)} reproducible and not known.",
        "",
        "| signature | severity | status | kind | summary | times seen | harnesses | first seen |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for v in rows:
        lines.append(
            f"| [{v['id']}]({v['id']}/report.md) | {v['severity']['level']} | {status_of(v)} | {v['kind']} "
            f"| {_cell(summary_of(v))} | {v['times_seen']} | {', '.join(v['harnesses'])} | {v['first_seen']} |"
        )
    lines += ["", "SARIF: [results.sarif](results.sarif). Severity rules:", "", rules_table(), ""]
    (out_dir / "index.md").write_text("\n".join(lines))


def _hexdump(data: bytes) -> list[str]:
    rows = []
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        rows.append(f"{offset:08x}  {hexes:<47}  {text}")
    return rows or ["(empty input)"]


def _escaped(data: bytes) -> str:
    text = repr(data)[2:-1]  # Python bytes escapes, one line
    return text.replace("```", "`\\x60`")


def _harness_list(view: dict) -> str:
    return ", ".join(f"`{name}` ({view['harness_paths'][name]})" for name in view["harnesses"])


def _one_line(text: str) -> str:
    first = (text or "").strip().splitlines()
    return (first[0][:300] if first else "").replace("|", "\\|")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
