#!/usr/bin/env bash
# A network namespace for the test run, with no interface leading out of it:
# loopback, and a veth pair whose both ends stay inside (kube-apiserver wants a
# default route; it points at an address nothing answers). Pod and Service
# addresses exist only in here, so no test traffic can leave the machine.
#   netns.sh up NAME | down NAME
#   netns.sh run NAME CMD...   up, CMD inside with BLUEGREEN_NETNS=NAME, then down
set -euo pipefail
cmd="$1" name="$2"
node_ip="${BLUEGREEN_NODE_IP:-10.250.0.1}"
case "$cmd" in
  up)
    ip netns del "$name" 2>/dev/null || true
    ip netns add "$name"
    ip -n "$name" link set lo up
    ip -n "$name" link add bg0 type veth peer name bg1
    ip -n "$name" addr add "$node_ip/24" dev bg0
    ip -n "$name" link set bg0 up
    ip -n "$name" link set bg1 up
    ip -n "$name" route add default via "${node_ip%.*}.2" dev bg0
    ip netns exec "$name" sysctl -qw net.ipv4.ip_forward=1
    ;;
  down)
    ip netns del "$name" 2>/dev/null || true
    ;;
  run)
    shift 2
    bash "$0" up "$name"
    trap 'bash "$0" down "$name"' EXIT
    # nsenter --net, not `ip netns exec`: that one remounts /sys and hides the cgroups kubelet needs.
    BLUEGREEN_NETNS="$name" nsenter --net="/var/run/netns/$name" "$@"
    ;;
  *) echo "usage: netns.sh up|down NAME, or run NAME CMD..." >&2; exit 2 ;;
esac
