#!/usr/bin/env bash
# Compiles a WebGPU model library (for @mlc-ai/web-llm) for a Baichuan checkpoint with MLC's
# toolchain, converts the same checkpoint with webchuan's converter, and checks that the library fits
# that artifact (parameter names, shapes, dtypes, quantization) — `webchuan check-lib` names the first
# difference and exits 1 if not. See README.md beside this file for the toolchain.
#
#   wasm-build/baichuan/build-lib.sh <hf-checkpoint-dir> <out-dir> [quantization] [context-window]
#
# quantization: q4f16_1 (default), q4f32_1 or q0f32; context window: 4096 (default), as Baichuan-7B.
set -euo pipefail

hf=${1:?usage: build-lib.sh <hf-checkpoint-dir> <out-dir> [quantization] [context-window]}
out=${2:?usage: build-lib.sh <hf-checkpoint-dir> <out-dir> [quantization] [context-window]}
quant=${3:-q4f16_1}
ctx=${4:-4096}
prefill=1024
repo=$(cd "$(dirname "$0")/../.." && pwd)
webchuan() { node "$repo/packages/cli/bin/webchuan.js" "$@"; }
name=$(basename "$(cd "$hf" && pwd)")
lib="$out/$name-$quant-ctx$((ctx / 1024))k_cs$((prefill / 1024))k-webgpu.wasm"
artifact="$out/$name-$quant"

# The toolchain, checked first so a missing piece says what is missing (README.md says how to get it).
python3 -c 'import mlc_llm, tvm' 2>/dev/null || { echo "build-lib: python3 cannot import mlc_llm and tvm (pip install the mlc-llm / mlc-ai wheels)" >&2; exit 2; }
command -v emcc >/dev/null || { echo "build-lib: emcc is not on PATH (source emsdk_env.sh of emsdk 3.1.56)" >&2; exit 2; }
# MLC's docs name these TVM_SOURCE_DIR / MLC_LLM_SOURCE_DIR, newer ones TVM_HOME / MLC_LLM_HOME.
export TVM_SOURCE_DIR=${TVM_SOURCE_DIR:-${TVM_HOME:-}} MLC_LLM_SOURCE_DIR=${MLC_LLM_SOURCE_DIR:-${MLC_LLM_HOME:-}}
export TVM_HOME=$TVM_SOURCE_DIR MLC_LLM_HOME=$MLC_LLM_SOURCE_DIR
[ -f "$TVM_SOURCE_DIR/web/dist/wasm/wasm_runtime.bc" ] || { echo "build-lib: no \$TVM_SOURCE_DIR/web/dist/wasm/wasm_runtime.bc: run mlc-llm's ./web/prep_emcc_deps.sh" >&2; exit 2; }
mkdir -p "$out"

echo "== 1. webchuan's artifact (the weights WebLLM will load)"
webchuan convert "$hf" --quant "$quant" --out "$artifact"

echo "== 2. MLC's config for the same checkpoint (model shape, context window, a plain LM template)"
python3 -m mlc_llm gen_config "$hf" --quantization "$quant" --conv-template LM \
  --context-window-size "$ctx" --prefill-chunk-size "$prefill" --output "$out/mlc-config"

echo "== 3. the WebGPU model library"
python3 -m mlc_llm compile "$out/mlc-config/mlc-chat-config.json" --device webgpu --output "$lib"

echo "== 4. the check: the library's embedded parameter list against the artifact's tensor-cache.json"
webchuan check-lib "$lib" "$artifact"

if [ "${MLC_WEIGHTS:-0}" = 1 ]; then
  echo "== 5. MLC's own converter on the same checkpoint: its artifact must fit the library too"
  python3 -m mlc_llm convert_weight "$hf" --quantization "$quant" --output "$out/mlc-weights"
  cp "$out/mlc-config/mlc-chat-config.json" "$out/mlc-weights/"
  webchuan check-lib "$lib" "$out/mlc-weights"
fi

echo "done: serve $artifact/ and $lib, then createEngine({ model, backend: 'webllm', modelLib })"
