#!/usr/bin/env bash
# Writes a docker-archive image (what `docker save` writes, and what
# `ctr images import` reads) from a root filesystem folder, with no registry
# and no Docker engine: one layer, a config, a manifest.
#   image.sh REF ROOTFS ENTRYPOINT_JSON ENV_JSON OUT.tar
set -euo pipefail
ref="$1" rootfs="$2" entrypoint="$3" env_json="$4" out="$5"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$work/layer.tar" .
layer="$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
mkdir "$work/$layer" && mv "$work/layer.tar" "$work/$layer/layer.tar"
cat > "$work/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z",
 "config":{"Entrypoint":$entrypoint,"Env":$env_json,"WorkingDir":"/"},
 "rootfs":{"type":"layers","diff_ids":["sha256:$layer"]},"history":[{"created":"1970-01-01T00:00:00Z"}]}
JSON
config="$(sha256sum "$work/config.json" | cut -d' ' -f1)"
mv "$work/config.json" "$work/$config.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]\n' "$config" "$ref" "$layer" > "$work/manifest.json"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work" -cf "$out" manifest.json "$config.json" "$layer"
