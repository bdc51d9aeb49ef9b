#!/usr/bin/env bash
# Re-locks the hash-pinned requirement files from their .in files (the ones to edit):
#   requirements.in -> requirements.txt, requirements-bench.in -> requirements-bench.txt (an add-on
#   to .venv, constrained by requirements.txt: lock requirements.txt first),
#   requirements-mitmproxy.in -> requirements-mitmproxy.txt (.venv-bench/ only),
#   scripts/oss-fuzz/builder-requirements.in -> scripts/oss-fuzz/builder-requirements.txt,
#   scripts/lock-tools.in -> scripts/lock-tools.txt (pip-tools itself, which this script installs).
# Arguments: the .in files to lock (default: all of them, in that order).
# pip-compile --generate-hashes runs in a throw-away venv against PyPI alone (no local wheel
# folders or mirrors from pip's configuration), so every hash is one PyPI serves: `pip install
# --require-hashes` then works on a fresh machine. Run it with the Python the project uses (3.11).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=$(mktemp -d)
trap 'rm -rf "$TOOLS"' EXIT
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_CONSTRAINT
"${PYTHON_BOOT:-python3}" -m venv "$TOOLS/venv"
"$TOOLS/venv/bin/pip" install --quiet --index-url https://pypi.org/simple --require-hashes -r "$ROOT/scripts/lock-tools.txt"
cd "$ROOT"
INPUTS=("$@")
[ ${#INPUTS[@]} -gt 0 ] || INPUTS=(requirements.in requirements-bench.in requirements-mitmproxy.in
  scripts/oss-fuzz/builder-requirements.in scripts/lock-tools.in)
for input in "${INPUTS[@]}"; do
  (cd "$(dirname "$input")" && CUSTOM_COMPILE_COMMAND="scripts/lock-requirements.sh" \
    "$TOOLS/venv/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
      --index-url https://pypi.org/simple --no-emit-index-url \
      --output-file "$(basename "${input%.in}").txt" "$(basename "$input")")
  echo "locked ${input%.in}.txt"
done
