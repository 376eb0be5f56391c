#!/usr/bin/env bash
# Runs two releases of the example fraud model on a local default setup: a
# Kubernetes test cluster (built from Go modules, cached), a Temporal dev server
# and the Bluegreen worker. Where the machine allows it (root on Linux with
# containerd and friends, see test/cluster/node/check.sh), all of it runs in a
# network namespace of its own with a real node, and the releases are real
# model-server pods answering through their Services; otherwise pods run on fake
# nodes and the checks go to two example model servers on loopback.
# First release bootstraps v1 into blue; the second moves traffic to v2 in green.
# Then the stack stays up, with the Temporal UI and the commands to try next,
# until Ctrl-C stops everything it started. Needs Node 20+, Go and Python 3.
#   --once                     run the two releases, stop everything, exit (CI does this)
#   --context                  release into namespace bluegreen-demo of the current kube
#                              context (KUBECONFIG) instead of the local cluster; it says
#                              what is missing there, and deletes the namespace at the end
#   BLUEGREEN_DEMO_NODE=fake   use the fake nodes even where a real node could run
set -euo pipefail
cd "$(dirname "$0")/.."
once="${CI:+yes}" context=""
for arg in "$@"; do
  case "$arg" in
    --once) once=yes ;;
    --context) context=yes ;;
    *) echo "usage: npm run demo [-- --once] [--context]" >&2; exit 2 ;;
  esac
done
# The ports the host reaches the demo's Temporal on (the UI, and the CLI's gRPC).
ui_port=8233 grpc_port=7233

if [ -z "$context" ] && [ -z "${BLUEGREEN_NETNS:-}" ] && [ "${BLUEGREEN_DEMO_NODE:-real}" != fake ]; then
  why="$(bash test/cluster/node/check.sh)"
  if [ -z "$why" ]; then
    [ -d node_modules ] || npm ci --no-audit --no-fund
    npm run --silent build
    bash test/cluster/build.sh >/dev/null
    # Things that need the network happen before entering the namespace, which has none.
    TEMPORAL_CLI_PATH="${TEMPORAL_CLI_PATH:-$(command -v temporal || echo "$(bash scripts/temporal-binaries.sh)/temporal")}"
    echo "== a real node: everything runs in network namespace bluegreen-demo"
    # The namespace has no way out; the host reaches its Temporal through Unix sockets.
    sockets="$(mktemp -d)" forwards=()
    trap 'kill "${forwards[@]}" 2>/dev/null || true; rm -rf "$sockets"' EXIT
    if [ -z "$once" ]; then
      for port in "$ui_port" "$grpc_port"; do
        node scripts/forward.mjs "127.0.0.1:$port" "$sockets/$port.sock" &
        forwards+=($!)
      done
    fi
    BLUEGREEN_DEMO_SOCKETS="$sockets" TEMPORAL_CLI_PATH="$TEMPORAL_CLI_PATH" bash test/cluster/netns.sh run bluegreen-demo bash "$0" "$@"
    exit
  fi
  echo "== fake nodes: no real node here ($why)"
fi
export BLUEGREEN_CACHE="${BLUEGREEN_CACHE:-$HOME/.cache/bluegreen}"
ns=default
if [ -n "$context" ]; then
  ns=bluegreen-demo
else
  export BLUEGREEN_CLUSTER=bluegreen-demo
  export BLUEGREEN_KUBECONFIG="$BLUEGREEN_CACHE/kubeconfig-bluegreen-demo"
  export KUBECONFIG="$BLUEGREEN_KUBECONFIG"
fi
export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-127.0.0.1:7233}"
logs="$(mktemp -d)"
pids=()
real=""
# In a network namespace of its own (see above), the local cluster gets a real node.
[ -n "$context" ] || real="${BLUEGREEN_NETNS:+yes}"
export BLUEGREEN_NODE_DIR="$logs/node"
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "$context" ]; then
    [ -z "$prepared" ] || node scripts/demo-context.mjs clean "$ns" || true
  else
    [ -z "$real" ] || bash test/cluster/node/stop.sh >/dev/null 2>&1 || true
    bash test/cluster/stop.sh >/dev/null 2>&1 || true
  fi
  echo "logs: $logs"
}
prepared=
trap cleanup EXIT

[ -d node_modules ] || npm ci --no-audit --no-fund
# BLUEGREEN_DEMO_BUILT: dist/ is fresh already (the tests build it once for every file).
[ -n "${BLUEGREEN_DEMO_BUILT:-}" ] || npm run --silent build
temporal="${TEMPORAL_CLI_PATH:-$(command -v temporal || echo "$(bash scripts/temporal-binaries.sh)/temporal")}"
if [ -n "$context" ]; then
  # Says what is missing on that cluster, before anything starts.
  prepared=yes
  node scripts/demo-context.mjs prepare "$ns" || { prepared=""; exit 1; }
else
  echo "== starting the test cluster (the first run builds it from Go modules: several minutes)"
  bash test/cluster/start.sh > "$logs/cluster.log" 2>&1 || { cat "$logs/cluster.log"; exit 1; }
fi
if [ -n "$real" ]; then
  echo "== adding the real node (containerd, kubelet, kube-proxy)"
  bash test/cluster/node/start.sh > "$logs/node.log" 2>&1 || { cat "$logs/node.log"; exit 1; }
fi

echo "== starting Temporal dev server at $TEMPORAL_ADDRESS (UI at http://127.0.0.1:8233)"
"$temporal" server start-dev --ip 127.0.0.1 --port "${TEMPORAL_ADDRESS##*:}" --db-filename "$logs/temporal.db" --log-level error \
  --search-attribute BluegreenModel=Keyword --search-attribute BluegreenNamespace=Keyword \
  --search-attribute BluegreenPhase=Keyword --search-attribute BluegreenVersion=Keyword \
  --search-attribute BluegreenCluster=Keyword > "$logs/temporal.log" 2>&1 &
pids+=($!)
node examples/model-server/server.mjs --model examples/model-server/models/fraud-v1.json --port 9001 > "$logs/model-v1.log" 2>&1 &
pids+=($!)
node examples/model-server/server.mjs --model examples/model-server/models/fraud-v2.json --port 9002 > "$logs/model-v2.log" 2>&1 &
pids+=($!)
for _ in $(seq 60); do "$temporal" operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1 && break; sleep 0.5; done

BLUEGREEN_VERIFY_HOSTS=127.0.0.1 BLUEGREEN_NAMESPACES="$ns" node dist/worker.js > "$logs/worker.log" 2>&1 &
pids+=($!)
# The first release starts once the worker polls (it bundles the workflow code first, a few seconds).
for _ in $(seq 180); do grep -q 'bluegreen worker: Temporal' "$logs/worker.log" && break; sleep 0.5; done

specs=examples
[ -z "$real" ] || specs=examples/real-node
[ -z "$context" ] || specs=examples/context
# A few answers through the live Service, each on a new connection, as a client sees them.
ask() {
  [ -n "$real" ] || return 0
  ip="$("$K8S_BIN_DIR/kubectl" get svc fraud -o 'jsonpath={.spec.clusterIP}')"
  node -e '
    const [host, n] = [process.argv[1], Number(process.argv[2])];
    const body = JSON.stringify({ inputs: [{ name: "features", shape: [1, 3], datatype: "FP32", data: [1, 2, 3] }] });
    (async () => { for (let i = 0; i < n; i += 1) {
      const r = await fetch(`http://${host}:8080/v2/models/fraud/infer`, { method: "POST", body, headers: { "content-type": "application/json", connection: "close" } });
      const a = await r.json(); console.log(`   answer from ${a.model_version}: ${a.outputs[0].data[0]}`); } })();' "$ip" 3
}
. test/cluster/versions.sh

echo "== release 1: bootstrap fraud v1"
node dist/client/cli.js start -f "$specs/fraud-v1.yaml" --wait
ask
echo "== release 2: fraud v2 beside v1, then switch"
node dist/client/cli.js start -f "$specs/fraud-v2.yaml" --wait
ask
node dist/client/cli.js status fraud -n "$ns"
node dist/client/cli.js list --all

[ -z "$once" ] || exit 0
if [ -n "${BLUEGREEN_DEMO_SOCKETS:-}" ]; then
  for port in "$ui_port" "$grpc_port"; do
    node scripts/forward.mjs "$BLUEGREEN_DEMO_SOCKETS/$port.sock" "127.0.0.1:$port" &
    pids+=($!)
  done
fi
cli="node dist/client/cli.js"
gated="$cli start -f $specs/fraud-v1-gated.yaml"
try() { printf '     %-*s  %s\n' "${#gated}" "$1" "$2"; }
echo
echo "== the stack stays up until Ctrl-C here; logs in $logs"
echo "   the releases in the Temporal UI: http://127.0.0.1:$ui_port/namespaces/default/workflows/bluegreen%2F$ns%2Ffraud/history"
echo "   try, in another terminal in this folder:"
flags=""
[ "$ns" = default ] || flags=" -n $ns"
try "$cli history fraud$flags" "past releases, who approved or aborted"
try "$gated" "v1 again beside v2; waits for you after monitoring"
try "$cli status fraud$flags --watch" "its timeline as it goes"
try "$cli approve fraud$flags" "promote it, or:"
try "$cli abort fraud$flags --reason \"try it\"" "back to v2, exactly as it was"
try "$cli rollback fraud$flags --wait" "the version live before this one, from the history"
[ -z "$context" ] || echo "   Ctrl-C also deletes namespace $ns on the current kube context."
while :; do sleep 3600 & wait $!; done
