#!/usr/bin/env bash
# The test command of the README and of CI (.ci/run): install the package with its test, integration, ray
# and s3 extras into .venv, build llama.cpp's llama-server for the real-model judge test (once: ~5 minutes on
# 2 cores, then cached in $LLAMA_DIR), and run the whole suite with everything required: the native
# kernel, the trainer and judge integration tests and ../shared fail instead of skipping when missing.
# Arguments go to pytest (e.g. scripts/test.sh tests/scoring -x).
set -euo pipefail
cd "$(dirname "$0")/.."
LLAMA_DIR=${LLAMA_DIR:-/tmp/rubricate-llama}
python3 -m venv .venv
.venv/bin/pip install -q -e '.[test,integration,ray,s3]'
PYTHON=.venv/bin/python LLAMA_DIR=$LLAMA_DIR scripts/judge-server.sh build >/dev/null
export RUBRICATE_REQUIRE_INTEGRATION=1 RUBRICATE_REQUIRE_KERNEL=1 RUBRICATE_REQUIRE_SHARED=1
export RUBRICATE_LLAMA_SERVER=$LLAMA_DIR/build/bin/llama-server
exec .venv/bin/python -m pytest "$@"
