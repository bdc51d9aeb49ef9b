#!/usr/bin/env bash
# Installs the real protocol peers the end-to-end tests use, when they are missing: curl, h2load,
# and nginx (the bench's reference proxy, whose generated configuration a test checks with nginx -t).
# Never fails the build: a test that needs a missing tool skips and says which.
set -u
need=()
command -v curl   >/dev/null 2>&1 || need+=(curl)
command -v h2load >/dev/null 2>&1 || need+=(nghttp2-client)
command -v nginx  >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need[*]} from Debian"
    # The packaged nginx service must not start (it would listen on port 80 of every address): a
    # policy-rc.d that forbids every service action, for the length of the install, where none is.
    guard=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && guard=1
    fi
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null 2>&1 \
        || echo "warning: could not install ${need[*]}; tests needing them will skip"
    [ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d
else
    echo "note: ${need[*]} missing and not root; tests needing them will skip"
fi
exit 0
