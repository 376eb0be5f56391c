#!/usr/bin/env bash
# Starts the test cluster on loopback with kwokctl's binary runtime and the
# binaries build.sh made: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok, plus fake nodes that kwok marks Ready.
# Prints nothing but progress; the kubeconfig is at $BLUEGREEN_KUBECONFIG.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
: "${BLUEGREEN_CLUSTER:=bluegreen-test}"
: "${KWOK_WORKDIR:=$BLUEGREEN_CACHE/kwok}"
: "${BLUEGREEN_KUBECONFIG:=$BLUEGREEN_CACHE/kubeconfig-$BLUEGREEN_CLUSTER}"
: "${BLUEGREEN_NODES:=3}"
# kube-apiserver's default Service range is a /24: about 250 Services. The
# benchmarks, with two Services per release, ask for more.
: "${BLUEGREEN_SERVICE_CIDR:=}"
export KWOK_WORKDIR

"$here/build.sh"
kwokctl="$K8S_BIN_DIR/kwokctl"
"$kwokctl" delete cluster --name "$BLUEGREEN_CLUSTER" >/dev/null 2>&1 || true
rm -f "$BLUEGREEN_KUBECONFIG"
"$kwokctl" create cluster --name "$BLUEGREEN_CLUSTER" --runtime binary \
  --kube-apiserver-binary "$K8S_BIN_DIR/kube-apiserver" \
  --kube-controller-manager-binary "$K8S_BIN_DIR/kube-controller-manager" \
  --kube-scheduler-binary "$K8S_BIN_DIR/kube-scheduler" \
  --kwok-controller-binary "$K8S_BIN_DIR/kwok" \
  --etcd-binary "$K8S_BIN_DIR/etcd" \
  --kubeconfig "$BLUEGREEN_KUBECONFIG" \
  --disable-qps-limits \
  --config "$here/kwok-stages.yaml" \
  ${BLUEGREEN_SERVICE_CIDR:+--extra-args "kube-apiserver=service-cluster-ip-range=$BLUEGREEN_SERVICE_CIDR"} \
  --wait 2m
# Fake nodes' pod addresses must not overlap the Service range (10.0.0.0/24 is kwok's default for both);
# each fake node takes 110 pods.
"$kwokctl" scale node --name "$BLUEGREEN_CLUSTER" --replicas "$BLUEGREEN_NODES" --param '.podCIDR="10.244.0.0/24"'
echo "cluster $BLUEGREEN_CLUSTER is up; KUBECONFIG=$BLUEGREEN_KUBECONFIG"
