"""`python -m proxy --validate` finds every problem that would stop the configuration from starting, all at
once: an HTTP RBAC source prefix with a prefix length above 32 is a validation error naming its field, listed
beside the configuration's other problem (here a policy name used twice). Since --validate also builds the
configuration, a lone bad prefix is still refused by the build; with another violation beside it, only the
validator can name it in the same run."""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _live import ROOT, check, http_config, ok

config = json.loads(http_config(8080))
policies = [
    {"name": "office", "source_prefixes": ["10.0.0.0/40"]},
    {"name": "office", "source_prefixes": ["10.0.0.0/8"]},
]
rbac = {"rbac": {"action": "ALLOW", "policies": policies}}
config["listeners"][0]["filter_chains"][0]["filters"][0]["http_connection_manager"]["http_filters"] = [rbac]
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "proxy.yaml"
    path.write_text(json.dumps(config))
    proc = subprocess.run(
        [sys.executable, "-m", "proxy", "--validate", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
out = (proc.stdout + proc.stderr).strip()
check(
    proc.returncode == 1 and "policies[0].source_prefixes[0]" in out and "policies[1].name" in out,
    f"--validate on a duplicate policy name and a source prefix 10.0.0.0/40 exited {proc.returncode}: {out[-300:]!r}",
)
ok("--validate names the bad HTTP RBAC source prefix")
