#!/usr/bin/env bash
# Builds the real node's images locally, keyed by their inputs and cached:
#   bluegreen.local/pause:1          busybox-static sleeping (the pod sandbox)
#   bluegreen.local/model-server:1   this machine's node binary, its libraries and
#                                    examples/model-server (the same server the
#                                    examples/model-server/Dockerfile packages)
# Prints the folder that holds pause.tar and model-server.tar.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
: "${BLUEGREEN_CACHE:=$HOME/.cache/bluegreen}"
node_bin="$(command -v node)"
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "busybox-static is not installed (apt-get install busybox-static)" >&2; exit 1; }
key="$( { sha256sum "$node_bin" "$busybox" "$here/image.sh" "$here/images.sh"; find "$root/examples/model-server" -type f -print0 | sort -z | xargs -0 sha256sum; } | sha256sum | cut -c1-16)"
out="$BLUEGREEN_CACHE/images-$key"
if [ -f "$out/pause.tar" ] && [ -f "$out/model-server.tar" ]; then echo "$out"; exit 0; fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

mkdir -p "$work/pause/bin" "$work/pause/tmp"
cp "$busybox" "$work/pause/bin/busybox"
bash "$here/image.sh" bluegreen.local/pause:1 "$work/pause" '["/bin/busybox","sleep","2147483647"]' '[]' "$out/pause.tar"

ms="$work/model-server"
mkdir -p "$ms/usr/bin" "$ms/app" "$ms/tmp" "$ms/etc"
cp "$node_bin" "$ms/usr/bin/node"
# The dynamic loader and every library node links against, at the same paths.
for lib in $(ldd "$node_bin" | grep -oE '/[^ ]+'); do
  mkdir -p "$ms$(dirname "$lib")" && cp -L "$lib" "$ms$lib"
done
cp -r "$root/examples/model-server/server.mjs" "$root/examples/model-server/models" "$ms/app/"
echo 'nobody:x:65534:65534::/:/bin/false' > "$ms/etc/passwd"
bash "$here/image.sh" bluegreen.local/model-server:1 "$ms" '["/usr/bin/node","/app/server.mjs"]' \
  '["HOST=0.0.0.0","PORT=8080","MODEL_FILE=/app/models/fraud-v1.json"]' "$out/model-server.tar"
echo "$out"
