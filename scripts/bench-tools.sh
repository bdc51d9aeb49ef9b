#!/usr/bin/env bash
# Installs the peers `python -m fuzz bench proxy` measures against, when they are missing:
#   wrk, nginx (light) and h2load (nghttp2-client) from Debian;
#   mitmproxy from PyPI into its own venv .venv-bench/ (locked with hashes in requirements-mitmproxy.txt),
#   since its dependencies cannot agree with the pins of .venv;
#   py-spy into .venv (requirements-bench.txt, an add-on locked against requirements.txt: it moves no pin).
# Exits non-zero only when something could not be installed; the bench names what is missing.
set -u
cd "$(dirname "$0")/.."
status=0

need=()
command -v wrk    >/dev/null 2>&1 || need+=(wrk)
command -v h2load >/dev/null 2>&1 || need+=(nghttp2-client)
command -v nginx  >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing ${need[*]} from Debian"
        # policy-rc.d (if present) keeps the packaged nginx service from starting; the bench
        # runs its own nginx on a free 127.0.0.1 port.
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null 2>&1 \
            || { echo "error: could not install ${need[*]} from Debian"; status=1; }
    else
        echo "error: ${need[*]} missing and not root (install them with apt-get)"; status=1
    fi
fi

PYTHON_BOOT=${PYTHON_BOOT:-python3}
VENV=.venv-bench
STAMP=$VENV/.installed
if [ ! -f "$STAMP" ] || [ requirements-mitmproxy.txt -nt "$STAMP" ]; then
    echo "installing requirements-mitmproxy.txt into $VENV"
    ("$PYTHON_BOOT" -m venv "$VENV" \
        && "$VENV/bin/python" -m pip install --quiet --require-hashes -r requirements-mitmproxy.txt && touch "$STAMP") \
        || { echo "error: could not install requirements-mitmproxy.txt into $VENV"; status=1; }
fi

ADDON_STAMP=.venv/.bench-addon-installed
if [ ! -x .venv/bin/python ]; then
    echo "error: .venv is missing (make setup creates it): requirements-bench.txt not installed"; status=1
elif [ ! -f "$ADDON_STAMP" ] || [ requirements-bench.txt -nt "$ADDON_STAMP" ]; then
    echo "installing requirements-bench.txt into .venv"
    (.venv/bin/python -m pip install --quiet --require-hashes -r requirements-bench.txt && touch "$ADDON_STAMP") \
        || { echo "error: could not install requirements-bench.txt into .venv"; status=1; }
fi
exit $status
