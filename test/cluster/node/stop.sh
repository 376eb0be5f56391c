#!/usr/bin/env bash
# Stops the real node and leaves nothing behind: its processes (by PID), the
# pod sandboxes and their mounts, and the runtime state.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../versions.sh"
: "${BLUEGREEN_NODE_DIR:=$BLUEGREEN_CACHE/node}"
run="$BLUEGREEN_NODE_DIR/run"
for p in kube-proxy kubelet; do
  [ -f "$run/$p.pid" ] && kill "$(cat "$run/$p.pid")" 2>/dev/null
done
sleep 0.5
# Containers go with their shims; then containerd.
if [ -S "$run/containerd/containerd.sock" ]; then
  for c in $(ctr --address "$run/containerd/containerd.sock" -n k8s.io tasks ls -q 2>/dev/null); do
    ctr --address "$run/containerd/containerd.sock" -n k8s.io tasks kill -s KILL "$c" >/dev/null 2>&1
  done
fi
# Without containerd (a Ctrl-C reaches it too) the shims' bundles still name every
# container: kill each one's first process (its PID namespace goes with it) and
# anything left in its cgroups.
bundles="$run/containerd/state/io.containerd.runtime.v2.task/k8s.io"
ids="$(ls "$bundles" 2>/dev/null)"
for id in $ids; do
  [ -f "$bundles/$id/init.pid" ] && kill -KILL "$(cat "$bundles/$id/init.pid")" 2>/dev/null
  for procs in /sys/fs/cgroup/*/k8s.io/"$id"/cgroup.procs; do
    [ -f "$procs" ] && xargs -r kill -KILL < "$procs" 2>/dev/null
  done
done
pkill -f "containerd-shim-runc-v2 -namespace k8s.io.*-address $run/containerd/containerd.sock" 2>/dev/null
[ -f "$run/containerd.pid" ] && kill "$(cat "$run/containerd.pid")" 2>/dev/null
sleep 0.5
# Mounts under the node's folders (sandboxes' shm, overlay rootfs, volumes), deepest first.
grep -E " ($BLUEGREEN_NODE_DIR|$run)/" /proc/self/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
for id in $ids; do rmdir /sys/fs/cgroup/*/k8s.io/"$id" 2>/dev/null; done
# The pods' network namespaces this node made.
if [ -f "$run/netns.before" ]; then
  for ns in $(ip netns list | awk '/^cni-/ {print $1}'); do grep -qx "$ns" "$run/netns.before" || ip netns del "$ns"; done
fi
# The kernel settings kubelet changed, back to what they were.
[ -f "$run/sysctl.saved" ] && sed 's/ //g' "$run/sysctl.saved" | while read -r kv; do sysctl -qw "$kv"; done
rm -rf "$run" "$BLUEGREEN_NODE_DIR/kubelet" /var/lib/kubelet/device-plugins/kubelet.sock
exit 0
