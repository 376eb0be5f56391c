#!/usr/bin/env bash
# Adds one real node to the running test cluster: containerd, kubelet and
# kube-proxy, started in the current network namespace (the test run's own, see
# test/cluster/netns.sh), with their config, root and state under $BLUEGREEN_NODE_DIR.
# The node is tainted and labelled bluegreen.dev/real-node, so only pods that ask
# for it run there; kwok keeps the fake nodes. Prints one line per step.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../versions.sh"
: "${BLUEGREEN_KUBECONFIG:?set BLUEGREEN_KUBECONFIG to the kubeconfig of the running test cluster}"
: "${BLUEGREEN_NODE_DIR:=$BLUEGREEN_CACHE/node}"
node_name="${BLUEGREEN_NODE_NAME:-real-node}"
node_ip="${BLUEGREEN_NODE_IP:-10.250.0.1}"
pod_cidr="${BLUEGREEN_POD_CIDR:-10.88.0.0/16}"
dir="$BLUEGREEN_NODE_DIR"
run="$dir/run"
mkdir -p "$dir/containerd-root" "$run/containerd" "$dir/cni" "$dir/kubelet" "$dir/logs" "$dir/pod-logs"
started=$(date +%s%N)

images="$(bash "$here/images.sh")"
# Pod sandboxes get network namespaces named cni-*: remember those that were here before, so stop.sh removes only ours.
ip netns list | awk '/^cni-/ {print $1}' > "$run/netns.before"

cat > "$dir/cni/10-bluegreen.conflist" <<JSON
{ "cniVersion": "1.0.0", "name": "bluegreen",
  "plugins": [
    { "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$pod_cidr" }]], "routes": [{ "dst": "0.0.0.0/0" }] } },
    { "type": "portmap", "capabilities": { "portMappings": true } },
    { "type": "loopback" } ] }
JSON
sock="$run/containerd/containerd.sock"
cat > "$dir/containerd.toml" <<TOML
version = 2
root = "$dir/containerd-root"
state = "$run/containerd/state"
[grpc]
  address = "$sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "bluegreen.local/pause:1"
  # Without it every sandbox fails here: runc cannot write oom_score_adj.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni"
TOML
containerd --config "$dir/containerd.toml" > "$dir/logs/containerd.log" 2>&1 &
echo $! > "$run/containerd.pid"
for _ in $(seq 100); do [ -S "$sock" ] && ctr --address "$sock" version >/dev/null 2>&1 && break; sleep 0.1; done
for image in pause model-server; do
  ctr --address "$sock" -n k8s.io images import --no-unpack=false "$images/$image.tar" >/dev/null
done
echo "real node: containerd up, images imported"

echo "nameserver 127.0.0.1" > "$dir/resolv.conf"
[ -f "$run/sysctl.saved" ] || sysctl -e kernel.panic kernel.panic_on_oops vm.overcommit_memory > "$run/sysctl.saved"
cat > "$dir/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix://$sock
imageServiceEndpoint: unix://$sock
address: $node_ip
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication: { anonymous: { enabled: true }, webhook: { enabled: false } }
authorization: { mode: AlwaysAllow }
localStorageCapacityIsolation: false
# kubelet sets these kernel settings (and refuses to start when told to protect
# different values); start.sh saves them first and stop.sh puts them back.
protectKernelDefaults: false
resolvConf: $dir/resolv.conf
podLogsDir: $dir/pod-logs
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%" }
serializeImagePulls: false
YAML
"$K8S_BIN_DIR/kubelet" --config "$dir/kubelet.yaml" --kubeconfig "$BLUEGREEN_KUBECONFIG" \
  --hostname-override "$node_name" --node-ip "$node_ip" --root-dir "$dir/kubelet" --cert-dir "$dir/kubelet/pki" \
  --node-labels "bluegreen.dev/real-node=true" --register-with-taints "bluegreen.dev/real-node=true:NoSchedule" \
  > "$dir/logs/kubelet.log" 2>&1 &
echo $! > "$run/kubelet.pid"
"$K8S_BIN_DIR/kube-proxy" --kubeconfig "$BLUEGREEN_KUBECONFIG" --hostname-override "$node_name" \
  --proxy-mode iptables --cluster-cidr "$pod_cidr" --conntrack-max-per-core 0 \
  --metrics-bind-address 127.0.0.1:10249 --healthz-bind-address 127.0.0.1:10256 \
  > "$dir/logs/kube-proxy.log" 2>&1 &
echo $! > "$run/kube-proxy.pid"

kubectl="$K8S_BIN_DIR/kubectl"
for _ in $(seq 120); do
  ready="$("$kubectl" --kubeconfig "$BLUEGREEN_KUBECONFIG" get node "$node_name" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)"
  [ "$ready" = True ] && break
  sleep 0.5
done
if [ "$ready" != True ]; then
  echo "real node $node_name did not become Ready; logs in $dir/logs" >&2
  tail -20 "$dir/logs/kubelet.log" >&2
  exit 1
fi
echo "real node: $node_name Ready at $node_ip after $(( ($(date +%s%N) - started) / 1000000 )) ms"
