"""A binary protobuf configuration carrying a field this schema does not know, inside a listener (a
newer schema's setting, or a corrupted file): `python -m proxy --validate` refuses it, naming the
field number and where it is, as Envoy refuses a configuration with unknown fields, rather than
serving without the setting the operator wrote."""

import os
import subprocess
import sys
import tempfile

from _live import check, ok, tcp_config

from proxy.config import load_bytes

bootstrap = load_bytes(tcp_config(9000).encode(), "yaml")
bootstrap.listeners[0].MergeFromString(b"\x98\x06\x01")  # field 99, varint 1: unknown to Listener
with tempfile.NamedTemporaryFile("wb", suffix=".pb", delete=False) as f:
    f.write(bootstrap.SerializeToString())
try:
    run = subprocess.run(
        [sys.executable, "-m", "proxy", "--validate", f.name], capture_output=True, text=True, timeout=60
    )
finally:
    os.unlink(f.name)
said = (run.stdout + run.stderr).strip()
check(
    run.returncode == 1 and "listeners[0]" in said and "99" in said,
    f"--validate accepted a listener with unknown field number 99 (exit {run.returncode}: {said[-200:]!r})",
)
ok(f"--validate refused the unknown field: {said.splitlines()[-1]}")
