#!/usr/bin/env bash
# Builds the test control plane from Go modules (no binary downloads):
# kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok, kwokctl,
# and the real node's kubelet, kube-proxy and kubectl.
# Binaries are cached in $K8S_BIN_DIR and reused while the pinned versions hold.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"

k8s_cmds=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
bins=("${k8s_cmds[@]}" etcd kwok kwokctl)
missing=0
for b in "${bins[@]}"; do [ -x "$K8S_BIN_DIR/$b" ] || missing=1; done
if [ "$missing" = 0 ]; then echo "control plane binaries: $K8S_BIN_DIR (cached)"; exit 0; fi

mkdir -p "$K8S_BIN_DIR"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=auto
minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
staging_tag="v0.${K8S_VERSION#v1.}"

# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
# ./staging paths that the published module lacks: replace each with its tag.
k8s_missing=()
for b in "${k8s_cmds[@]}"; do [ -x "$K8S_BIN_DIR/$b" ] || k8s_missing+=("$b"); done
if [ "${#k8s_missing[@]}" -gt 0 ]; then
  mkdir -p "$work/k8s" && cd "$work/k8s"
  go mod init bluegreen.test/k8s >/dev/null 2>&1
  go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
  modfile="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod"
  staging=$(grep -E '=> \./staging/' "$modfile" | awk '{print $1}')
  {
    echo "module bluegreen.test/k8s"
    echo "go 1.24.0"
    echo "require k8s.io/kubernetes $K8S_VERSION"
    for m in $staging; do echo "replace $m => $m $staging_tag"; done
  } > go.mod
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for b in "${k8s_cmds[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$b"; done
    printf ')\n'
  } > tools.go
  go mod tidy -e >/dev/null 2>&1 || true
  go get $(for b in "${k8s_cmds[@]}"; do printf 'k8s.io/kubernetes/cmd/%s@%s ' "$b" "$K8S_VERSION"; done)
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags="$ldflags -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for b in "${k8s_missing[@]}"; do
    echo "building $b $K8S_VERSION"
    go build -tags selinux,notest -ldflags "$ldflags" -o "$K8S_BIN_DIR/$b" "k8s.io/kubernetes/cmd/$b"
  done
fi

# etcd's server/go.mod has replace directives, so `go install` refuses it:
# a main of our own that calls etcdmain.Main, like etcd's server/main.go.
if [ ! -x "$K8S_BIN_DIR/etcd" ]; then
  mkdir -p "$work/etcd" && cd "$work/etcd"
  cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go mod init bluegreen.test/etcd >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go mod tidy
  echo "building etcd $ETCD_VERSION"
  go build -ldflags "-s -w" -o "$K8S_BIN_DIR/etcd" .
fi

for b in kwok kwokctl; do
  if [ ! -x "$K8S_BIN_DIR/$b" ]; then
    echo "building $b $KWOK_VERSION"
    GOBIN="$K8S_BIN_DIR" go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/$b@$KWOK_VERSION"
  fi
done
"$K8S_BIN_DIR/kube-apiserver" --version
echo "control plane binaries: $K8S_BIN_DIR"
