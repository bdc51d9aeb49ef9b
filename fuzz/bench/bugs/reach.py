"""Did any input execute a patched line? A line tracer limited to the patched files.

Run as a script in a fresh interpreter whose PYTHONPATH puts the patched copy first:
    python reach.py HARNESS POLICY_FILE REQUEST.json
REQUEST.json: {"lines": {"/abs/file.py": [line, ...]}, "inputs": ["/abs/input", ...]}
Prints one JSON line: {"reached": bool, "by": input or null, "checked": n, "hit": {file: [lines]}}.
Inputs are replayed in order and the replay stops at the first one that reaches a patched line
(the answer is yes/no, so the rest would only cost time). sys.settrace is far cheaper here than
coverage.py over the whole corpus: every frame outside the patched files is left untraced.
"""

import json
import os
import sys


def reach(harness: str, policy_file: str, request: dict) -> dict:
    from pathlib import Path

    from fuzz import replay

    targets = {os.path.realpath(f): set(lines) for f, lines in request["lines"].items()}
    known: dict = {}
    hit: dict = {}

    def local(frame, event, arg):
        if event == "line":
            lines = targets[known[frame.f_code.co_filename]]
            if frame.f_lineno in lines:
                hit.setdefault(known[frame.f_code.co_filename], set()).add(frame.f_lineno)
        return local

    def tracer(frame, event, arg):
        name = frame.f_code.co_filename
        if name not in known:
            known[name] = os.path.realpath(name)
        return local if known[name] in targets else None

    module = replay.load_harness(Path(harness), "none", Path(policy_file))
    checked, by = 0, None
    for path in request["inputs"]:
        checked += 1
        sys.settrace(tracer)
        try:
            replay.replay_one(module.TestOneInput, Path(path))
        finally:
            sys.settrace(None)
        if hit:
            by = path
            break
    return {"reached": bool(hit), "by": by, "checked": checked, "hit": {f: sorted(lines) for f, lines in hit.items()}}


if __name__ == "__main__":
    # This script's folder (fuzz/bench/) must not shadow top-level names for the harness.
    sys.path = [p for p in sys.path if os.path.realpath(p or ".") != os.path.dirname(os.path.realpath(__file__))]
    harness_path, policy, request_file = sys.argv[1:4]
    with open(request_file, encoding="utf-8") as f:
        req = json.load(f)
    print(json.dumps(reach(harness_path, policy, req)))
