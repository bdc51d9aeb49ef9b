"""Validation rules (protoc-gen-validate): `repeated {unique: true}` refuses a list in which any
item appears twice, wherever the two stand. A filter chain whose server_names lists a.example,
b.example, a.example again must not validate; `--validate` names the duplicate's field path."""

import json
import subprocess
import sys
import tempfile

from _live import ROOT, check, ok, tcp_config

config = json.loads(tcp_config(9))
chain = config["listeners"][0]["filter_chains"][0]
chain["filter_chain_match"] = {"server_names": ["a.example", "b.example", "a.example"]}
with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
    json.dump(config, f)
    f.flush()
    proc = subprocess.run(
        [sys.executable, "-m", "proxy", "--validate", f.name], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
said = (proc.stdout + proc.stderr).strip()
check(
    proc.returncode != 0 and "server_names[2]" in said,
    f"server_names [a.example, b.example, a.example] (unique: true): --validate exited {proc.returncode} "
    f"saying {said.splitlines()[:2]}",
)
ok("the repeated server name was refused, naming server_names[2]")
