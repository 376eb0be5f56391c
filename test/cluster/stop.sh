#!/usr/bin/env bash
# Stops the test cluster and removes its state.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
: "${BLUEGREEN_CLUSTER:=bluegreen-test}"
: "${KWOK_WORKDIR:=$BLUEGREEN_CACHE/kwok}"
export KWOK_WORKDIR
[ -x "$K8S_BIN_DIR/kwokctl" ] && "$K8S_BIN_DIR/kwokctl" delete cluster --name "$BLUEGREEN_CLUSTER" || true
