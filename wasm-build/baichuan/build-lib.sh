#!/usr/bin/env bash
# Baichuan-7B (or any Baichuan checkpoint) as an artifact plus the WebGPU model library WebLLM runs it
# with: webchuan's converter, then webchuan's TVM compile (which checks the library against the
# artifact and exits 1 naming the first difference). See README.md beside this file.
#
#   wasm-build/baichuan/build-lib.sh <hf-checkpoint-dir> <out-dir> [quantization]
#
# quantization: q4f32_1 (default: runs on any WebGPU), q4f16_1 (needs shader-f16 for WebLLM) or q0f32.
set -euo pipefail

hf=${1:?usage: build-lib.sh <hf-checkpoint-dir> <out-dir> [quantization]}
out=${2:?usage: build-lib.sh <hf-checkpoint-dir> <out-dir> [quantization]}
quant=${3:-q4f32_1}
repo=$(cd "$(dirname "$0")/../.." && pwd)
webchuan() { node "$repo/packages/cli/bin/webchuan.js" "$@"; }
name=$(basename "$(cd "$hf" && pwd)")
artifact="$out/$name-$quant"
mkdir -p "$out"

echo "== 1. webchuan's artifact (the weights both engines load)"
webchuan convert "$hf" --quant "$quant" --out "$artifact"

echo "== 2. the WebGPU model library, compiled by TVM from the artifact's config and checked against it"
webchuan compile-lib "$artifact" --out "$artifact-webgpu.wasm"

echo "done: serve $artifact/ and $artifact-webgpu.wasm, then (with @mlc-ai/web-llm 0.2.85)"
echo "      createEngine({ model, backend: 'webllm', modelLib })"
