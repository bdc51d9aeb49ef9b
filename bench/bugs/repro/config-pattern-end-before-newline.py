"""Configuration patterns are RE2's (protoc-gen-validate): `$` is the end of the text, so a field whose
pattern ends in `$` refuses a value with a trailing newline. `--validate` refuses a listener named
"web\\n" (a name that would split a /stats line in two) and exits 1."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _live import ROOT, check, ok

config = {
    "listeners": [
        {
            "name": "web\n",
            "address": {"host": "127.0.0.1", "port": 10000},
            "filter_chains": [{"filters": [{"tcp_proxy": {"cluster": "app"}}]}],
        }
    ],
    "clusters": [{"name": "app", "endpoints": [{"host": "127.0.0.1", "port": 10001}]}],
}
with tempfile.TemporaryDirectory(prefix="repro-") as tmp:
    path = Path(tmp) / "proxy.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [sys.executable, "-m", "proxy", "--validate", str(path)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
check(
    done.returncode == 1 and "listeners[0].name" in done.stdout + done.stderr,
    f"--validate of a listener named 'web\\n' exited {done.returncode}: {(done.stdout + done.stderr).strip()!r}",
)
ok("--validate refused the listener name with a trailing newline")
