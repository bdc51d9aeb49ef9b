"""A listener on 0.0.0.0:P and one on 127.0.0.1:P cannot both bind (the wildcard address holds the port
on every address): `--validate` refuses the configuration with the field's path, rather than saying
OK and letting the proxy fail at start."""

import json
import subprocess
import sys
import tempfile

from _live import ROOT, check, free_port, ok

port = free_port()


def listener(name, host):
    chain = {"filters": [{"tcp_proxy": {"cluster": "app"}}]}
    return {"name": name, "address": {"host": host, "port": port}, "filter_chains": [chain]}


config = {
    "listeners": [listener("any", "0.0.0.0"), listener("local", "127.0.0.1")],
    "clusters": [{"name": "app", "endpoints": [{"host": "127.0.0.1", "port": 9}]}],
}
with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
    json.dump(config, f)
    f.flush()
    proc = subprocess.run(
        [sys.executable, "-m", "proxy", "--validate", f.name], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
said = (proc.stdout + proc.stderr).strip().splitlines()
check(
    proc.returncode == 1 and any("listeners[1].address.port" in line for line in said),
    f"listeners on 0.0.0.0:{port} and 127.0.0.1:{port}: --validate exited {proc.returncode} saying "
    f"{said[:2]}, though the second cannot bind",
)
ok(f"--validate refused the second listener on port {port}: {said[0]}")
