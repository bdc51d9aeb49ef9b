"""`python -m proxy --validate` finds every problem that would stop the configuration from starting: an HTTP
RBAC source prefix with a prefix length above 32 is a validation error naming its field."""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _live import ROOT, check, http_config, ok

config = json.loads(http_config(8080))
rbac = {"rbac": {"action": "ALLOW", "policies": [{"name": "office", "source_prefixes": ["10.0.0.0/40"]}]}}
config["listeners"][0]["filter_chains"][0]["filters"][0]["http_connection_manager"]["http_filters"] = [rbac]
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "proxy.yaml"
    path.write_text(json.dumps(config))
    proc = subprocess.run(
        [sys.executable, "-m", "proxy", "--validate", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
out = (proc.stdout + proc.stderr).strip()
check(
    proc.returncode == 1 and "source_prefixes[0]" in out,
    f"--validate on an HTTP RBAC source prefix 10.0.0.0/40 exited {proc.returncode}: {out[-200:]!r}",
)
ok("--validate names the bad HTTP RBAC source prefix")
