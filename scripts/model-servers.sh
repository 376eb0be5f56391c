#!/usr/bin/env bash
# Installs the third-party model servers the tests release against (MLServer
# with its scikit-learn runtime) from PyPI, pinned by
# test/servers/mlserver-requirements.txt, into a cached virtualenv keyed by that
# file, and prints the virtualenv's bin folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
requirements="$root/test/servers/mlserver-requirements.txt"
cache="${BLUEGREEN_CACHE:-$HOME/.cache/bluegreen}"
venv="$cache/mlserver-$(sha256sum "$requirements" | cut -c1-16)"
if [ ! -x "$venv/bin/mlserver" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$requirements" >&2
fi
echo "$venv/bin"
