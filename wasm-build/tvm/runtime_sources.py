"""Lays out the sources of TVM's web runtime (what TVM's web/Makefile compiles) in one folder.

Most of them ship in the apache-tvm wheel (web/emcc, src/runtime, include) and the apache-tvm-ffi wheel
(include, src/ffi, dlpack). Eight small headers the runtime includes are in neither, and PyPI has no
apache-tvm sdist; they are taken from the tilelang sdist on PyPI, whose 3rdparty/tvm carries them
(byte-identical to apache/tvm's: none of them changed since v0.26). The sdist is fetched by its pinned
SHA-256 from PyPI's simple index (`pip download` would try to build it) and only those files are read.

    python runtime_sources.py <out-dir> <download-cache-dir>
"""

import hashlib
import json
import os
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

import tvm
import tvm_ffi

SDIST = "tilelang-0.1.14.tar.gz"
SDIST_SHA256 = "7ae0fba6c63dae80b3c9c5c11a70bb8d7165794994f290f36e2fe87bfb143cfc"
SDIST_TVM = "tilelang-0.1.14/3rdparty/tvm/"
MISSING_HEADERS = [
    "src/support/arena.h",
    "src/support/base64.h",
    "src/support/bytes_io.h",
    "src/support/ring_buffer.h",
    "src/support/utils.h",
    "include/tvm/support/io.h",
    "include/tvm/support/serializer.h",
    "3rdparty/compiler-rt/builtin_fp16.h",
]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_sdist(cache: Path) -> Path:
    path = cache / SDIST
    if path.exists() and sha256(path) == SDIST_SHA256:
        return path
    request = urllib.request.Request(
        "https://pypi.org/simple/tilelang/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        files = json.load(response)["files"]
    url = next((f["url"] for f in files if f["filename"] == SDIST), None)
    if url is None:
        sys.exit(f"runtime_sources: PyPI lists no {SDIST}")
    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    print(f"[toolchain] downloading {SDIST} (92 MB, for 8 headers of TVM's web runtime)", flush=True)
    with urllib.request.urlopen(url, timeout=600) as response, partial.open("wb") as out:
        shutil.copyfileobj(response, out, 1 << 20)
    if sha256(partial) != SDIST_SHA256:
        partial.unlink()
        sys.exit(f"runtime_sources: {SDIST} from PyPI does not have the pinned SHA-256 {SDIST_SHA256}")
    partial.rename(path)
    return path


def main() -> None:
    out, cache = Path(sys.argv[1]), Path(sys.argv[2])
    tvm_root = Path(tvm.__file__).parent
    ffi_root = Path(tvm_ffi.__file__).parent
    if out.exists():
        shutil.rmtree(out)
    for part in ["include", "src/runtime", "web/emcc"]:
        shutil.copytree(tvm_root / part, out / part)
    for part in ["include", "src", "3rdparty/dlpack"]:
        shutil.copytree(ffi_root / part, out / "3rdparty/tvm-ffi" / part)
    with tarfile.open(fetch_sdist(cache)) as tar:
        for header in MISSING_HEADERS:
            member = tar.extractfile(SDIST_TVM + header)
            if member is None:
                sys.exit(f"runtime_sources: {SDIST} has no {SDIST_TVM}{header}")
            target = out / header
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(member.read())
    nvtx = out / "include/tvm/support/cuda/nvtx.h"
    nvtx.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(__file__).with_name("nvtx.h"), nvtx)


if __name__ == "__main__":
    main()
