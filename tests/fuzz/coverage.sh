#!/usr/bin/env bash
# Line coverage of the kernel by a fuzz corpus: build the harness with clang's source-based coverage
# (no sanitizers), run every input of CORPUS once, and print llvm-cov's report per kernel file.
#   tests/fuzz/coverage.sh CORPUS_DIR [WORK_DIR]     (after tests/fuzz/fuzz.py --out DIR: DIR/corpus)
set -euo pipefail
cd "$(dirname "$0")/../.."
CORPUS=${1:?usage: tests/fuzz/coverage.sh CORPUS_DIR [WORK_DIR]}
WORK=${2:-$(mktemp -d)}
PYTHON=${PYTHON:-.venv/bin/python}
read -r INCLUDE LIBDIR VERSION BASE SITE < <("$PYTHON" -c 'import sysconfig as s, sys, site; print(s.get_paths()["include"], s.get_config_var("LIBDIR"), s.get_config_var("LDVERSION"), sys.base_prefix, site.getsitepackages()[0])')
clang-14 -g -O1 -std=c11 -ffp-contract=off -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
  -I"$INCLUDE" -Isrc/kernel src/kernel/fuzz/fuzz_kernel.c src/kernel/*.c \
  -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lpython"$VERSION" -ldl -lm -o "$WORK/fuzz_kernel_cov"
rm -f "$WORK"/cov-*.profraw
PYTHONHOME=$BASE PYTHONPATH="tests/fuzz:src:$SITE" RUBRICATE_NO_PLUGINS=1 LLVM_PROFILE_FILE="$WORK/cov-%p.profraw" \
  "$WORK/fuzz_kernel_cov" -runs=0 -max_len=65536 "$CORPUS" 2>&1 | tail -1
llvm-profdata-14 merge -o "$WORK/cov.profdata" "$WORK"/cov-*.profraw
llvm-cov-14 report "$WORK/fuzz_kernel_cov" -instr-profile="$WORK/cov.profdata" src/kernel/*.c
