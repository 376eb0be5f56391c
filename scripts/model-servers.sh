#!/usr/bin/env bash
# Installs a third-party model server the tests release against, pinned by
# test/servers/SERVER-requirements.txt, into a cached virtualenv keyed by that
# file, and prints the virtualenv's bin folder.
#   mlserver  MLServer with its scikit-learn runtime (the default)
#   kserve    KServe's Python model server, for a custom model over the v2 protocol
#   llama     llama-cpp-python's OpenAI-compatible server and the gguf package.
#             PyPI has only its source, so llama.cpp is compiled once (3 to 6
#             minutes on 2 cores) into a wheel cached by version and build flags.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
server="${1:-mlserver}"
requirements="$root/test/servers/$server-requirements.txt"
[ -f "$requirements" ] || { echo "no such model server: $server (mlserver, kserve or llama)" >&2; exit 2; }
cache="${BLUEGREEN_CACHE:-$HOME/.cache/bluegreen}"
venv="$cache/$server-$(sha256sum "$requirements" | cut -c1-16)"
pip=(--quiet --disable-pip-version-check --no-deps)
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.installed" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  if [ "$server" = llama ]; then
    version="$(sed -n 's/^llama-cpp-python==//p' "$requirements")"
    # Portable enough for any x86-64 with AVX2; no tools, tests or multimodal library.
    flags="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAVA_BUILD=OFF"
    wheels="$cache/llama-cpp-python-$version-$(echo "$flags" | sha256sum | cut -c1-8)"
    if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
      echo "building llama-cpp-python $version from source (3 to 6 minutes on 2 cores)" >&2
      # Its build backend and tools come from PyPI as pip resolves them; cmake, ninja and a compiler from Debian.
      rm -rf "$wheels.tmp"
      CMAKE_ARGS="$flags" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
        "$venv/bin/pip" wheel "${pip[@]}" --no-cache-dir -w "$wheels.tmp" "llama-cpp-python==$version" >&2
      mv "$wheels.tmp" "$wheels"
    fi
    pip+=(--find-links "$wheels")
  fi
  "$venv/bin/pip" install "${pip[@]}" -r "$requirements" >&2
  touch "$venv/.installed"
fi
echo "$venv/bin"
