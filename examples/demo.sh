#!/usr/bin/env bash
# Runs two releases of the example fraud model on a local default setup, all on
# loopback: a Kubernetes test cluster (built from Go modules, cached), a Temporal
# dev server, the Bluegreen worker and two example model servers (v1, v2).
# First release bootstraps v1 into blue; the second moves traffic to v2 in green.
# Everything it started is stopped on exit. Needs Node 20+, Go and Python 3.
set -euo pipefail
cd "$(dirname "$0")/.."
export BLUEGREEN_CACHE="${BLUEGREEN_CACHE:-$HOME/.cache/bluegreen}"
export BLUEGREEN_CLUSTER=bluegreen-demo
export BLUEGREEN_KUBECONFIG="$BLUEGREEN_CACHE/kubeconfig-bluegreen-demo"
export KUBECONFIG="$BLUEGREEN_KUBECONFIG"
export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-127.0.0.1:7233}"
logs="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  bash test/cluster/stop.sh >/dev/null 2>&1 || true
  echo "logs: $logs"
}
trap cleanup EXIT

[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build
temporal="${TEMPORAL_CLI_PATH:-$(command -v temporal || echo "$(bash scripts/temporal-binaries.sh)/temporal")}"
echo "== starting the test cluster (the first run builds it from Go modules: several minutes)"
bash test/cluster/start.sh > "$logs/cluster.log" 2>&1 || { cat "$logs/cluster.log"; exit 1; }

echo "== starting Temporal dev server at $TEMPORAL_ADDRESS (UI at http://127.0.0.1:8233)"
"$temporal" server start-dev --ip 127.0.0.1 --port "${TEMPORAL_ADDRESS##*:}" --db-filename "$logs/temporal.db" --log-level error \
  --search-attribute BluegreenModel=Keyword --search-attribute BluegreenNamespace=Keyword \
  --search-attribute BluegreenPhase=Keyword --search-attribute BluegreenVersion=Keyword > "$logs/temporal.log" 2>&1 &
pids+=($!)
node examples/model-server/server.mjs --model examples/model-server/models/fraud-v1.json --port 9001 > "$logs/model-v1.log" 2>&1 &
pids+=($!)
node examples/model-server/server.mjs --model examples/model-server/models/fraud-v2.json --port 9002 > "$logs/model-v2.log" 2>&1 &
pids+=($!)
for _ in $(seq 60); do "$temporal" operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1 && break; sleep 0.5; done

node dist/worker.js > "$logs/worker.log" 2>&1 &
pids+=($!)

echo "== release 1: bootstrap fraud v1"
node dist/client/cli.js start -f examples/fraud-v1.yaml --wait
echo "== release 2: fraud v2 beside v1, then switch"
node dist/client/cli.js start -f examples/fraud-v2.yaml --wait
node dist/client/cli.js status fraud
node dist/client/cli.js list --all
