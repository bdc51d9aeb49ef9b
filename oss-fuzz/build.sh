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

# Pinned dependencies, without atheris: the base image's atheris is built against its libFuzzer.
grep -v -i '^atheris' requirements.txt > "${WORK:-/tmp}/proxyfuzz-requirements.txt"
pip3 install -r "${WORK:-/tmp}/proxyfuzz-requirements.txt"

# The configuration schema is compiled from what the installed packages ship (protoc from
# grpcio-tools, validate.proto from protoc-gen-validate); then install the project with it.
python3 -m proxy.config.compile
pip3 install .

for fuzzer in harnesses/fuzz_*.py; do
  target=$(basename -s .py "$fuzzer")
  name=${target#fuzz_}
  # Filters and codecs are looked up by name at run time: bundle every submodule.
  compile_python_fuzzer "$fuzzer" --collect-submodules proxy --collect-submodules fuzz

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
