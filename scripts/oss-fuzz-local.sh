#!/usr/bin/env bash
# OSS-Fuzz's build and run of proxyfuzz, without Docker: what base-builder-python would build,
# run the way ClusterFuzz runs it.
#
#   scripts/oss-fuzz-local.sh [--time S] [--harness NAME]... [--add-harnesses DIR] [--build-only]
#
# 1. The build image: a venv of its own ($OSS_FUZZ_BUILDER, default work/oss-fuzz-builder) with the real PyInstaller,
#    setuptools and atheris (scripts/oss-fuzz/builder-requirements.txt, hash-pinned, the versions
#    base-builder-python installs), and scripts/oss-fuzz/compile_python_fuzzer on PATH.
# 2. $SRC/proxyfuzz: this tree as a clone would have it (tracked and new files, nothing ignored);
#    oss-fuzz/build.sh runs in it with $SRC, $OUT, $WORK, $SANITIZER as in the image.
#    --harness keeps only the named harnesses; --add-harnesses copies DIR's files into harnesses/
#    (tests add a harness with a planted crash).
# 3. Unless --build-only: every $OUT/fuzz_* from a directory outside the repository over its
#    unzipped seed corpus, S seconds (default 30) with its .options and .dict; each crash file is
#    reproduced as ClusterFuzz does, `$OUT/fuzz_x -runs=100 crash-file` (python -m fuzz oss-fuzz-run).
# Everything else lands in $OSS_FUZZ_LOCAL_DIR (default work/oss-fuzz): src/, out/, work/, build.log.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE=$(mkdir -p "${OSS_FUZZ_LOCAL_DIR:-$ROOT/work/oss-fuzz}" && cd "${OSS_FUZZ_LOCAL_DIR:-$ROOT/work/oss-fuzz}" && pwd)
PYTHON_BOOT=${PYTHON_BOOT:-python3}
TIME=30 BUILD_ONLY=0 ADD_DIR=""
HARNESSES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --time) TIME=$2; shift 2;;
    --harness) HARNESSES+=("${2#fuzz_}"); shift 2;;
    --add-harnesses) ADD_DIR=$(cd "$2" && pwd); shift 2;;
    --build-only) BUILD_ONLY=1; shift;;
    *) echo "oss-fuzz-local: unknown argument '$1' (see the header of $0)" >&2; exit 2;;
  esac
done

BUILDER=${OSS_FUZZ_BUILDER:-$ROOT/work/oss-fuzz-builder}
SRC=$BASE/src
OUT=$BASE/out
WORK=$BASE/work
REQS=$ROOT/scripts/oss-fuzz/builder-requirements.txt

# 1. The build image.
if [ ! -f "$BUILDER/.installed" ] || [ "$REQS" -nt "$BUILDER/.installed" ]; then
  echo "oss-fuzz-local: creating the build venv $BUILDER"
  rm -rf "$BUILDER"
  "$PYTHON_BOOT" -m venv "$BUILDER"
  "$BUILDER/bin/python" -m pip install --quiet --require-hashes -r "$REQS"
  touch "$BUILDER/.installed"
fi

# 2. The source tree and the build.
rm -rf "$SRC" "$OUT" "$WORK"
mkdir -p "$SRC/proxyfuzz" "$OUT" "$WORK"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
   | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
   | tar --null -T - -cf -) | tar -xf - -C "$SRC/proxyfuzz"
if [ ${#HARNESSES[@]} -gt 0 ]; then
  for h in "$SRC"/proxyfuzz/harnesses/fuzz_*.py; do
    name=$(basename -s .py "$h"); name=${name#fuzz_}
    keep=0; for w in "${HARNESSES[@]}"; do [ "$w" = "$name" ] && keep=1; done
    [ $keep = 1 ] || rm -f "$h"
  done
fi
[ -n "$ADD_DIR" ] && cp -r "$ADD_DIR"/. "$SRC/proxyfuzz/harnesses/"
cp "$SRC/proxyfuzz/oss-fuzz/build.sh" "$SRC/build.sh"

echo "oss-fuzz-local: building into $OUT"
(
  unset PYTHONPATH VIRTUAL_ENV PYTHONHOME
  export SRC OUT WORK SANITIZER=address FUZZING_ENGINE=libfuzzer FUZZING_LANGUAGE=python ARCHITECTURE=x86_64
  export PATH="$ROOT/scripts/oss-fuzz:$BUILDER/bin:$PATH"
  cd "$SRC/proxyfuzz"
  bash "$SRC/build.sh"
) > "$BASE/build.log" 2>&1 || { tail -30 "$BASE/build.log" >&2; echo "oss-fuzz-local: build failed, log: $BASE/build.log" >&2; exit 1; }
echo "oss-fuzz-local: built $(cd "$OUT" && ls fuzz_* | grep -c -v '\.') fuzzer(s); log: $BASE/build.log"

[ $BUILD_ONLY = 1 ] && exit 0
# 3. Run them as ClusterFuzz does, from outside the repository.
PY=$ROOT/.venv/bin/python
[ -x "$PY" ] || PY=$PYTHON_BOOT
cd "$BASE"
PYTHONPATH="$ROOT" exec "$PY" -m fuzz oss-fuzz-run --out "$OUT" --work "$WORK/run" --time "$TIME"
