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
  --wait 2m
"$kwokctl" scale node --name "$BLUEGREEN_CLUSTER" --replicas "$BLUEGREEN_NODES"
echo "cluster $BLUEGREEN_CLUSTER is up; KUBECONFIG=$BLUEGREEN_KUBECONFIG"
