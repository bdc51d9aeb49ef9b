#!/bin/bash -eu
# ClusterFuzzLite builds exactly as OSS-Fuzz does: one build script, kept in oss-fuzz/.
set -euo pipefail
exec bash "$SRC/proxyfuzz/oss-fuzz/build.sh"
