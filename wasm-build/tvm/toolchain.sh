#!/usr/bin/env bash
# Makes (once) the toolchain `webchuan compile-lib` compiles model libraries with, in one folder:
#   venv/      Python venv with the pinned requirements.txt (apache-tvm 0.27.0.post1 and its deps)
#   runtime/   TVM's web runtime compiled by Emscripten (wasm objects linked into every library)
#   ready      written last: the folder is complete
# and prints that folder. Rerunning is a no-op while `ready` names the same inputs.
#
#   wasm-build/tvm/toolchain.sh [folder]   # default: $WEBCHUAN_TVM_HOME, else ~/.cache/webchuan/tvm-<version>
#
# Needs python3 (>= 3.10, with venv) and Debian's emscripten (emcc 3.1.6): `apt-get install python3-venv emscripten`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=0.27.0.post1
home=${1:-${WEBCHUAN_TVM_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/webchuan/tvm-$version}}
say() { echo "[toolchain] $*" >&2; }
fail() { echo "toolchain: $*" >&2; exit 2; }

inputs=$(cat "$here/requirements.txt" "$here/toolchain.sh" "$here/runtime_sources.py" "$here/nvtx.h" | sha256sum | cut -c1-16)
if [ -f "$home/ready" ] && [ "$(cat "$home/ready")" = "$inputs" ]; then echo "$home"; exit 0; fi
# One maker at a time (two compiles, say two test files, may ask at once): the others wait, then find it ready.
mkdir -p "$(dirname "$home")"
exec 9>"$home.lock"
flock 9
if [ -f "$home/ready" ] && [ "$(cat "$home/ready")" = "$inputs" ]; then echo "$home"; exit 0; fi

command -v python3 >/dev/null || fail "python3 is not installed (apt-get install python3 python3-venv)"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' || fail "python3 is $(python3 -V 2>&1 | cut -d' ' -f2); apache-tvm needs 3.10 or newer"
command -v emcc >/dev/null || fail "emcc is not on PATH: install Debian's emscripten (apt-get install emscripten)"
mkdir -p "$home"
rm -f "$home/ready"

if [ ! -x "$home/venv/bin/python" ]; then
  say "1/3 creating the Python venv in $home/venv"
  python3 -m venv "$home/venv" || fail "python3 -m venv failed (apt-get install python3-venv)"
fi
say "1/3 installing apache-tvm $version into the venv (about 105 MB of wheels, once)"
"$home/venv/bin/python" -m pip install --disable-pip-version-check -q --progress-bar off -r "$here/requirements.txt" >&2

say "2/3 laying out the sources of TVM's web runtime"
"$home/venv/bin/python" "$here/runtime_sources.py" "$home/runtime-src" "$home/downloads" >&2

say "3/3 compiling TVM's web runtime with $(emcc --version | head -1 | cut -d' ' -f1-2,10) (a few minutes, once)"
src=$home/runtime-src
mkdir -p "$home/runtime"
flags=(-O3 -std=c++17 -Wno-ignored-attributes -I"$src" -I"$src/include" -I"$src/3rdparty/tvm-ffi/include"
  -I"$src/3rdparty/tvm-ffi/3rdparty/dlpack/include" -I"$src/3rdparty/compiler-rt")
pids=()
for unit in wasm_runtime tvmjs_support webgpu_runtime; do
  emcc "${flags[@]}" -c "$src/web/emcc/$unit.cc" -o "$home/runtime/$unit.o" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || fail "emcc could not compile TVM's web runtime (see above)"; done

echo "$inputs" >"$home/ready"
say "ready: $home"
echo "$home"
