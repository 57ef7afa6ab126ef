#!/bin/sh
# Runs the Baichuan-7B-shaped benchmark on a GPU machine with nothing installed (x86-64 Linux with
# an NVIDIA driver): unpacks payload/ (see prepare.sh), finds the NVIDIA Vulkan ICD, runs
# `webchuan bench --shape baichuan-7b --kernels all` (every candidate kernel set and the engine's own
# measured choice, `auto`), prints what auto chose against the fastest set, and writes the JSON
# (bench-all.json) and the log into $OUT (default: ./results).
#
#   sh packages/cli/scripts/gpu-machine/run.sh [extra bench options, e.g. --context 4096 --decode-at 4000]
#
# WEBCHUAN_FORCE_SWIFTSHADER=1 uses SwiftShader instead (to test this script without a GPU), with
# --layers 2 unless BENCH_LAYERS says otherwise.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
payload="$here/payload"
out=${OUT:-$here/results}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/app/dist/linux-x64" "$work/lib"

unxz_to() { # unxz_to FILE.xz DEST: xz if installed, Python's lzma otherwise
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" > "$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}
unxz_to "$payload/node.xz" "$work/node" && chmod +x "$work/node"
unxz_to "$payload/dawn.node.xz" "$work/app/dist/linux-x64/dawn.node"
unxz_to "$payload/webchuan.mjs.xz" "$work/app/webchuan.mjs"
unxz_to "$payload/libvulkan.so.1.xz" "$work/lib/libvulkan.so.1"
export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$work}"

layers=${BENCH_LAYERS:-32}
if [ "${WEBCHUAN_FORCE_SWIFTSHADER:-}" = 1 ]; then
  icd=$(ls /usr/lib/chromium/vk_swiftshader_icd.json /usr/lib/chromium-browser/vk_swiftshader_icd.json 2>/dev/null | head -n 1)
  layers=${BENCH_LAYERS:-2}
else
  icd=$(ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json /usr/local/share/vulkan/icd.d/nvidia_icd*.json 2>/dev/null | head -n 1 || true)
  if [ -z "$icd" ]; then
    # Containers often mount the driver's libraries without its ICD file: write one.
    glx=$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia.so.0/ { print $NF; exit }')
    [ -n "$glx" ] || { echo "no NVIDIA Vulkan driver found (nvidia_icd.json / libGLX_nvidia.so.0); with Docker, set NVIDIA_DRIVER_CAPABILITIES=all" >&2; exit 1; }
    icd="$work/nvidia_icd.json"
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$glx" > "$icd"
  fi
fi
[ -n "$icd" ] || { echo "no Vulkan ICD found" >&2; exit 1; }
export VK_ICD_FILENAMES="$icd"
echo "node $("$work/node" --version), ICD $icd, commit $(cat "$payload/commit.txt" 2>/dev/null || echo '?')" | tee "$out/run.log"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$out/run.log" || true

# Every candidate kernel set (each combination of the options of each step kind) and `auto`, the
# engine's own measurement, in one run on the same weights; then what auto chose, against the fastest.
"$work/node" "$work/app/webchuan.mjs" bench --shape "${BENCH_SHAPE:-baichuan-7b}" --layers "$layers" --kernels all --rounds "${BENCH_ROUNDS:-2}" \
  --prompt-tokens "${BENCH_PROMPT:-128}" --decode-tokens "${BENCH_DECODE:-32}" "$@" \
  > "$out/bench-all.json" 2>> "$out/run.log"
"$work/node" -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
for (const s of r.results) console.log(`${s.kernels.padEnd(30)} prefill ${String(s.prefill_tokens_per_s).padStart(10)} tok/s   decode ${String(s.decode_tokens_per_s).padStart(9)} tok/s   bandwidth ${(100 * s.bandwidth_fraction).toFixed(1)}%`);
const a = r.auto;
console.log(`auto chose ${a.set} (decode matvec / decode attention / prefill) in ${(a.measure_ms / 1000).toFixed(1)} s (${a.clock}); prefill ${(100 * a.prefill_vs_fastest).toFixed(0)}%, decode ${(100 * a.decode_vs_fastest).toFixed(0)}% of the fastest set`);
console.log(`auto estimates (ms per step, whole model): ${JSON.stringify(a.estimates_ms)}`);
' "$out/bench-all.json" | tee -a "$out/run.log"
