#!/usr/bin/env bash
# Build the native kernel into OUT_DIR (for working on src/kernel without reinstalling):
#   scripts/build-kernel.sh [--debug] OUT_DIR [PYTHON]
# then `RUBRICATE_KERNEL_SO=OUT_DIR/_kernel.so pytest tests/kernel` runs the kernel tests against it.
# --debug: a test build, with the `_debug_*` entry points the differential tests call (the installed
# kernel has none; tests/kernel/conftest.py builds one with this script when it needs them).
set -euo pipefail
flags=()
if [ "${1:-}" = "--debug" ]; then
  flags+=(-DRUBRICATE_KERNEL_DEBUG)
  shift
fi
out=${1:?usage: scripts/build-kernel.sh [--debug] OUT_DIR [PYTHON]}
py=${2:-python3}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
inc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
srcs=("$here"/src/kernel/*.c)
gcc -shared -fPIC -O2 -g -std=c11 -ffp-contract=off -fno-fast-math -Wall -Wno-unused-parameter ${flags[@]+"${flags[@]}"} \
  -I"$inc" -I"$here/src/kernel" "${srcs[@]}" -o "$out/_kernel.so.tmp.$$"
mv "$out/_kernel.so.tmp.$$" "$out/_kernel.so"
echo "$out/_kernel.so"
