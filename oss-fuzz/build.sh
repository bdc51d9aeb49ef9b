#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build script for proxyfuzz (runs inside base-builder-python).
#
# In: $SRC/proxyfuzz (the repository), $OUT, and OSS-Fuzz's compile_python_fuzzer.
# Out: per harness harnesses/fuzz_<name>.py -> $OUT/fuzz_<name> (pyinstaller, via
#      compile_python_fuzzer), $OUT/fuzz_<name>_seed_corpus.zip, $OUT/fuzz_<name>.dict and
#      $OUT/fuzz_<name>.options, the same layout `python -m fuzz ci` builds locally into out/.

set -euo pipefail  # also when run as `bash build.sh`, which ignores the shebang's flags

PROJECT_DIR="${PROJECT_DIR:-$SRC/proxyfuzz}"
cd "$PROJECT_DIR"

# Pinned dependencies with their hashes, without atheris (its line and the hash lines after it):
# the base image's atheris is built against its libFuzzer.
awk 'tolower($0) ~ /^atheris[=<>~ ]/ {skip=1; next} skip && /^[[:space:]]/ {next} {skip=0; print}' \
  requirements.txt > "${WORK:-/tmp}/proxyfuzz-requirements.txt"
pip3 install --require-hashes -r "${WORK:-/tmp}/proxyfuzz-requirements.txt"

# The configuration schema is compiled from what the installed packages ship (protoc from
# grpcio-tools, validate.proto from protoc-gen-validate); then install the project with it.
python3 -m proxy.config.compile
pip3 install --no-deps .

for fuzzer in harnesses/fuzz_*.py; do
  target=$(basename -s .py "$fuzzer")
  name=${target#fuzz_}
  # Filters and codecs are looked up by name at run time: bundle every submodule. Files read at
  # run time go in beside them (found from fuzz/ as ../NAME, as in the repository): the
  # instrumentation policy, and the session harness's configuration pool (generated configs
  # and the examples; the TLS ones name the test PKI, made in /tmp at first use).
  # The engine's reports, charts and benchmarks are never run by a fuzzer: what only they import
  # stays out (a third of the build time and most of the size).
  compile_python_fuzzer "$fuzzer" --collect-submodules proxy --collect-submodules fuzz \
    --add-data instrumentation.toml:. --add-data corpus/session_configs:corpus/session_configs \
    --add-data examples:examples \
    --exclude-module matplotlib --exclude-module numpy --exclude-module PIL --exclude-module pytest \
    --exclude-module jsonschema --exclude-module hypercorn --exclude-module httpx

  if [ -d "corpus/$name" ] && [ -n "$(ls -A "corpus/$name")" ]; then
    # Flat zip of the seed files (python's zipfile: no dependence on a zip binary).
    (cd "corpus/$name" && python3 -m zipfile -c "$OUT/${target}_seed_corpus.zip" *)
  fi
  if [ -f "corpus/$name.dict" ]; then
    cp "corpus/$name.dict" "$OUT/$target.dict"
  fi
  if [ -f "harnesses/$target.options" ]; then
    cp "harnesses/$target.options" "$OUT/$target.options"
  fi
done
