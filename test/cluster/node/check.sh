#!/usr/bin/env bash
# Says why this machine cannot run the real node (one line), or nothing when it can:
# root on Linux with iproute2, nsenter and Debian's containerd, runc, CNI plugins,
# iptables, conntrack and busybox-static.
why=""
[ "$(id -u)" = 0 ] || why="not root"
for tool in ip nsenter containerd runc ctr iptables conntrack; do
  [ -n "$why" ] || command -v "$tool" >/dev/null || why="$tool is not installed"
done
[ -n "$why" ] || [ -x /usr/lib/cni/bridge ] || why="the CNI plugins are not installed (/usr/lib/cni)"
[ -n "$why" ] || [ -x /bin/busybox ] || why="busybox-static is not installed"
[ -n "$why" ] && echo "$why; on Debian as root: apt-get install containerd runc containernetworking-plugins iptables conntrack busybox-static"
exit 0
