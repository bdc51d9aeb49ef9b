#!/usr/bin/env bash
# Installs the real protocol peers the end-to-end tests use, when they are missing.
# Never fails the build: a test that needs a missing tool skips and says which.
set -u
need=()
command -v curl   >/dev/null 2>&1 || need+=(curl)
command -v h2load >/dev/null 2>&1 || need+=(nghttp2-client)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need[*]} from Debian"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null 2>&1 \
        || echo "warning: could not install ${need[*]}; tests needing them will skip"
else
    echo "note: ${need[*]} missing and not root; tests needing them will skip"
fi
exit 0
