# Pinned versions of the test control plane; build.sh caches binaries keyed by them.
K8S_VERSION=v1.33.13
ETCD_VERSION=v3.5.24
KWOK_VERSION=v0.7.0
BLUEGREEN_CACHE="${BLUEGREEN_CACHE:-$HOME/.cache/bluegreen}"
K8S_BIN_DIR="$BLUEGREEN_CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION/bin"
