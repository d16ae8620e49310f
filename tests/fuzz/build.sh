#!/usr/bin/env bash
# Build the kernel's libFuzzer harness (src/kernel/fuzz/fuzz_kernel.c) with AddressSanitizer and
# UndefinedBehaviorSanitizer: Debian's clang (apt-get install clang-14 libclang-rt-14-dev; .ci/run does).
#   tests/fuzz/build.sh OUT_DIR [PYTHON]     -> OUT_DIR/fuzz_kernel
# PYTHON (default .venv/bin/python) gives the headers and libpython the harness embeds.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:?usage: tests/fuzz/build.sh OUT_DIR [PYTHON]}
PYTHON=${2:-.venv/bin/python}
CC=${CC:-$(command -v clang-14 || command -v clang)}
mkdir -p "$OUT"
read -r INCLUDE LIBDIR VERSION < <("$PYTHON" -c 'import sysconfig as s; print(s.get_paths()["include"], s.get_config_var("LIBDIR"), s.get_config_var("LDVERSION"))')
# -ffp-contract=off as the kernel's own build (floats bit-identical to Python's)
"$CC" -g -O1 -std=c11 -ffp-contract=off -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$INCLUDE" -Isrc/kernel \
  src/kernel/fuzz/fuzz_kernel.c src/kernel/*.c \
  -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lpython"$VERSION" -ldl -lm \
  -o "$OUT/fuzz_kernel"
echo "$OUT/fuzz_kernel"
