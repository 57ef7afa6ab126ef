"""Compiles a WebGPU model library (the .wasm WebLLM runs) for a webchuan Baichuan artifact.

    python compile_lib.py <mlc-chat-config.json> <out.wasm> <toolchain-dir> [--quick]

Reads only the config (no weights): the model's shape, quantization, context window and prefill chunk.
--quick links with emcc -O1 instead of -O3: Binaryen's wasm-opt -O3 pass over the linked library takes
minutes on a 2-core machine and makes it 22% smaller gzipped (0.67 vs 0.86 MB for a one-matmul module);
the WebGPU kernels and the runtime are compiled the same either way. Writes <out.wasm>; prints `[compile-lib] …` progress lines on stderr. Exit status 2 with one line on
stderr for input it cannot compile. Run by `webchuan compile-lib` with the toolchain's venv.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tvm
from tvm import relax
from tvm.s_tir import dlight as dl

sys.path.insert(0, str(Path(__file__).parent))
import sampling  # noqa: E402
from baichuan import QUANTIZATIONS, BaichuanConfig, BaichuanForCausalLM  # noqa: E402

START = time.time()


def say(message: str) -> None:
    print(f"[compile-lib] {time.time() - START:6.1f}s {message}", file=sys.stderr, flush=True)


def refuse(message: str) -> None:
    print(f"compile-lib: {message}", file=sys.stderr)
    sys.exit(2)


def read_config(path: Path) -> BaichuanConfig:
    chat = json.loads(path.read_text())
    if chat.get("model_type") != "baichuan":
        refuse(f"{path}: model_type is {chat.get('model_type')!r}; only 'baichuan' can be compiled")
    quantization = chat.get("quantization")
    if quantization not in QUANTIZATIONS:
        refuse(f"{path}: quantization {quantization!r} cannot be compiled (one of {', '.join(QUANTIZATIONS)})")
    m = chat.get("model_config") or {}
    try:
        heads = int(m["num_attention_heads"])
        hidden = int(m["hidden_size"])
        config = BaichuanConfig(
            vocab_size=int(m["vocab_size"]),
            hidden_size=hidden,
            intermediate_size=int(m["intermediate_size"]),
            num_hidden_layers=int(m["num_hidden_layers"]),
            num_attention_heads=heads,
            head_dim=int(m.get("head_dim") or hidden // heads),
            rms_norm_eps=float(m["rms_norm_eps"]),
            rope_theta=float(m.get("position_embedding_base", 10000)),
            context_window_size=int(chat.get("context_window_size") or m["context_window_size"]),
            prefill_chunk_size=int(chat.get("prefill_chunk_size") or m["prefill_chunk_size"]),
            quantization=quantization,
        )
    except (KeyError, TypeError, ValueError) as error:
        refuse(f"{path}: model_config lacks or mangles {error}")
    if m.get("tie_word_embeddings"):
        refuse(f"{path}: tie_word_embeddings is true; Baichuan's lm_head is its own matrix")
    if int(m.get("num_key_value_heads", heads)) != heads:
        refuse(f"{path}: num_key_value_heads differs from num_attention_heads; Baichuan has no grouped-query attention")
    if config.head_dim * heads != hidden:
        refuse(f"{path}: head_dim · num_attention_heads ({config.head_dim}·{heads}) is not hidden_size ({hidden})")
    return config


def metadata(config: BaichuanConfig, params: list) -> str:
    """The JSON WebLLM reads from `_metadata` (and `webchuan check-lib` from the wasm's data): model_type first."""
    return json.dumps(
        {
            "model_type": "baichuan",
            "quantization": config.quantization,
            "context_window_size": config.context_window_size,
            "prefill_chunk_size": config.prefill_chunk_size,
            "sliding_window_size": -1,
            "attention_sink_size": -1,
            "tensor_parallel_shards": 1,
            "pipeline_parallel_stages": 1,
            "kv_state_kind": "kv_cache",
            "params": [
                {"name": name, "shape": [int(d) for d in p.shape], "dtype": p.dtype, "preprocs": []} for name, p in params
            ],
            "memory_usage": {},
        },
        separators=(",", ":"),
    )


def build_module(config: BaichuanConfig, target: tvm.target.Target) -> tvm.IRModule:
    model = BaichuanForCausalLM(config, target)
    mod, params = model.export_tvm(spec=model.spec())
    bb = relax.BlockBuilder(mod)
    sampling.attach(bb, config.vocab_size)
    with bb.function("_metadata", []):
        bb.emit_func_output(tvm.ir.StringImm(metadata(config, params)))
    mod = bb.finalize()
    # Upper bounds let the memory planner allocate each function's buffers once, at their largest.
    bounds = {"seq_len": config.prefill_chunk_size, "batch_size": 1, "num_samples": 1, "num_positions": 1}
    for name in ["embed", "prefill", "decode", "softmax_with_temperature", "argsort_probs", "sample_with_top_p"]:
        mod[name] = mod[name].with_attr("tir_var_upper_bound", bounds).with_attr("tir_non_negative_var", ["vocab_size"])
    return mod


class _Tolerant(dl.ScheduleRule):
    """A dlight rule that declines (None) where it would fail: its `normalize` asserts on some
    reductions it claims (a row count against a per-row threshold), which the next rule schedules."""

    def __init__(self, rule: dl.ScheduleRule):
        self.rule = rule

    def apply(self, func, target, tunable):
        try:
            return self.rule.apply(func, target, tunable)
        except Exception:  # noqa: BLE001 - any failure means "not this rule"
            return None


def pipeline(target: tvm.target.Target) -> tvm.transform.Pass:
    """TVM's generic GPU pipeline (relax.backend.gpu_generic), with every dlight rule tolerant."""
    gpu = relax.backend.gpu_generic
    rules = [dl.gpu.Matmul(), dl.gpu.GEMV(), dl.gpu.Reduction(), dl.gpu.GeneralReduction(), dl.gpu.Fallback()]
    legalize = [
        relax.transform.LegalizeOps(),
        relax.transform.AnnotateTIROpPattern(),
        relax.transform.FoldConstant(),
        relax.transform.FuseOps(),
        relax.transform.FuseTIR(),
        dl.ApplyDefaultSchedule(*[_Tolerant(rule) for rule in rules]),
    ]
    return tvm.transform.Sequential(
        gpu.library_dispatch_passes(target) + legalize + gpu.dataflow_lower_passes(target) + gpu.finalize_passes(target)
    )


def link(out: str, objects: list, toolchain: Path, opt: str) -> None:
    runtime = [str(toolchain / "runtime" / f"{unit}.o") for unit in ("wasm_runtime", "tvmjs_support", "webgpu_runtime")]
    # The flags of tvm.support.emcc.create_tvmjs_wasm. Objects, not LLVM bitcode: TVM's LLVM is 22,
    # Debian's emcc links with LLVM 14, which reads wasm objects of the MVP feature set.
    command = ["emcc", opt, "-std=c++17", "--no-entry", "-s", "WASM_BIGINT=1", "-s", "ERROR_ON_UNDEFINED_SYMBOLS=0",
               "-s", "STANDALONE_WASM=1", "-s", "ALLOW_MEMORY_GROWTH=1", "-s", "TOTAL_MEMORY=160MB", "-o", out, *runtime, *objects]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"emcc failed to link the library:\n{result.stdout}{result.stderr}")


def main() -> None:
    config_path, out, toolchain = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    link_opt = "-O1" if "--quick" in sys.argv[4:] else "-O3"
    config = read_config(config_path)
    say(f"baichuan {config.quantization}: {config.num_hidden_layers} layers, hidden {config.hidden_size}, "
        f"vocab {config.vocab_size}, context {config.context_window_size}, prefill chunk {config.prefill_chunk_size}")
    target = tvm.target.Target(
        {"kind": "webgpu", "max_num_threads": 256},
        host={"kind": "llvm", "mtriple": "wasm32-unknown-unknown-wasm", "mcpu": "mvp"},
    )
    mod = build_module(config, target)
    say(f"1/3 Relax module: {len(mod.functions)} functions; optimizing and generating WGSL + wasm32 code")
    with target:
        executable = relax.build(mod, target, relax_pipeline=pipeline(target), system_lib=True)
    say(f"2/3 linking with TVM's web runtime (emcc {link_opt}{'' if link_opt == '-O1' else ': minutes, for its wasm-opt pass'})")
    def fcompile(output: str, objects: list, **_unused) -> None:
        link(output, objects, toolchain, link_opt)

    fcompile.object_format = "o"  # wasm objects, not LLVM bitcode (see link)
    with tempfile.TemporaryDirectory() as work:
        executable.export_library(str(out), fcompile=fcompile, workspace_dir=work)
    say(f"3/3 wrote {out} ({os.path.getsize(out) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
