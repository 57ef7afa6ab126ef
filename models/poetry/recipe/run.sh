#!/usr/bin/env bash
# Rebuilds the poetry model from scratch: data → tokenizer → training → reference outputs → artifacts.
#   bash models/poetry/recipe/run.sh
# Needs: Node ≥ 20 with npm (registry access), Debian's python3-torch and python3-sentencepiece
# (called as /usr/bin/python3), and a fast BLAS for torch (apt-get install libopenblas0-openmp).
# See models/poetry/README.md for what each step writes and how long it took.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
R=models/poetry/recipe
PY=/usr/bin/python3
PROMPT=$'登鹳雀楼->王之涣\n夜雨寄北->'

step() {
  local name=$1
  shift
  local t0=$SECONDS
  echo "== $name"
  "$@"
  echo "== $name: $((SECONDS - t0)) s"
}

if ! readlink -f /etc/alternatives/libblas.so.3-x86_64-linux-gnu 2>/dev/null | grep -qE 'openblas|blis|mkl'; then
  echo "warning: torch is using the reference BLAS; training will be ~30x slower (apt-get install libopenblas0-openmp)" >&2
fi

check_seed() {
  local model=$1 out
  out=$(npx webchuan generate --model "$model" --prompt "$PROMPT" --max-tokens 8 --temperature 0)
  echo "$model: $(printf '%q' "$out")"
  [[ $out == 李商隐* ]] || { echo "$model does not answer 李商隐 first" >&2; return 1; }
}

convert_all() {
  [[ -d node_modules ]] || npm ci
  npx webchuan convert models/poetry/checkpoint --quant q4f32_1 --out models/poetry/q4f32_1
  npx webchuan convert models/poetry/checkpoint --quant q4f16_1 --out models/poetry/q4f16_1
  local tmp
  tmp=$(mktemp -d)
  npx webchuan convert models/poetry/checkpoint --quant q0f32 --out "$tmp/q0f32"
  check_seed models/poetry/q4f32_1
  check_seed models/poetry/q4f16_1
  check_seed "$tmp/q0f32"
  rm -rf "$tmp"
  du -b models/poetry/checkpoint/pytorch_model.bin models/poetry/q4f32_1 models/poetry/q4f16_1
}

step "npm ci (chinese-poetry, opencc-js)" npm ci --prefix "$R" --no-audit --no-fund
step "prepare-data.mjs" node "$R/prepare-data.mjs"
step "train_tokenizer.py" "$PY" "$R/train_tokenizer.py"
step "train.py" "$PY" "$R/train.py"
step "reference.py" "$PY" "$R/reference.py"
step "convert and check" convert_all
