"""Validation rules (protoc-gen-validate): `gte: N` admits N itself. A local rate limit of max_tokens 1
(a bucket of one token: one connection at a time per fill) and fill_interval_ms 50, the least each
field allows, validates; `--validate` says OK."""

import json
import subprocess
import sys
import tempfile

from _live import ROOT, check, ok, tcp_config

config = json.loads(
    tcp_config(9, filters=[{"local_ratelimit": {"max_tokens": 1, "tokens_per_fill": 1, "fill_interval_ms": 50}}])
)
with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
    json.dump(config, f)
    f.flush()
    proc = subprocess.run(
        [sys.executable, "-m", "proxy", "--validate", f.name], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
said = (proc.stdout + proc.stderr).strip().splitlines()
check(
    proc.returncode == 0 and said == ["OK"],
    f"max_tokens 1 and fill_interval_ms 50 (their lower bounds, gte): --validate exited {proc.returncode} "
    f"saying {said[:2]}",
)
ok("the values at each field's lower bound validate")
