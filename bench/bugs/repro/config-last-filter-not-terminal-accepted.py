"""`python -m proxy --validate`: a filter chain must end with a terminal filter (tcp_proxy or
http_connection_manager), as Envoy requires. A chain whose only filter is a network RBAC that allows
everyone would accept connections and forward their bytes nowhere: it is a validation error naming
the filter."""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _live import ROOT, check, ok, tcp_config

config = json.loads(tcp_config(8080))
allow_all = {"rbac": {"action": "DENY", "policies": []}}
config["listeners"][0]["filter_chains"][0]["filters"] = [allow_all]
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "proxy.yaml"
    path.write_text(json.dumps(config))
    proc = subprocess.run(
        [sys.executable, "-m", "proxy", "--validate", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
out = (proc.stdout + proc.stderr).strip()
check(
    proc.returncode == 1 and "filter_chains[0].filters[0]" in out,
    f"--validate on a filter chain whose only filter is rbac (no tcp_proxy) exited {proc.returncode}: {out[-300:]!r}",
)
ok("--validate refuses a filter chain that does not end with a terminal filter")
