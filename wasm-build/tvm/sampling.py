"""The logit and sampling functions WebLLM calls on a model library, with its argument conventions
(see its llm_chat.ts, `sampleTokenFromLogits`): written here as Relax functions (sorting and scans
dispatched to TVM's GPU kernels) and as TIR kernels for the in-place logit edits.

- softmax_with_temperature(logits [b, n, v], temperature [b]) → probs [b, n, v]
- argsort_probs(probs [b, v]) → (probs sorted descending [b, v], their token ids [b, v] int32)
- sample_with_top_p(sorted_probs, sorted_ids, uniform [s], sample_rows [s] int32, top_p [b]) → tokens [s] int32
  (nucleus sampling: the smallest prefix of the sorted distribution whose mass reaches top_p, sampled
  with the uniform draw; greedy decoding is WebLLM's temperature 1e-6, a one-hot distribution)
- apply_logit_bias_inplace, apply_penalty_inplace, apply_bitmask_inplace: logits [b, v] edited in place.
"""

from tvm import relax as rx
from tvm import te, tirx
from tvm.script import tirx as T
from tvm.script.ir_builder import IRBuilder
from tvm.script.ir_builder import tirx as IB

# The greatest threads per workgroup WebGPU guarantees (maxComputeInvocationsPerWorkgroup).
THREADS = 256


def _softmax_with_temperature(bb: rx.BlockBuilder) -> None:
    b, n, v = tirx.Var("batch_size", "int64"), tirx.Var("num_positions", "int64"), tirx.Var("vocab_size", "int64")
    logits = rx.Var("logits", rx.TensorType((b, n, v), "float32"))
    temperature = rx.Var("temperature", rx.TensorType((b,), "float32"))
    with bb.function("softmax_with_temperature", [logits, temperature]):
        with bb.dataflow():
            t = bb.emit(rx.op.reshape(temperature, rx.ShapeExpr([b, 1, 1])))
            probs = bb.emit_output(rx.op.nn.softmax(bb.emit(rx.op.divide(logits, t)), axis=-1))
        bb.emit_func_output(probs)


def _bitonic_sort_ir(probs, keys, ids, vocab: int, padded: int):
    """Sorts each row of `probs` descending into `keys` (padded to a power of two with -1, below any
    probability) and their token ids into `ids`: a bitonic network, one comparator per thread, one
    kernel launch per step (log₂(padded)·(log₂(padded)+1)/2 launches of one shader)."""
    threads = min(THREADS, padded // 2)
    steps = padded.bit_length() - 1
    with IRBuilder() as ib:
        batch = tirx.Cast("int32", probs.shape[0])
        src, key, idx = IB.buffer_proxy(probs), IB.buffer_proxy(keys), IB.buffer_proxy(ids)

        def launch(blocks: int):
            tx, bx, by = te.thread_axis("threadIdx.x"), te.thread_axis("blockIdx.x"), te.thread_axis("blockIdx.y")
            scope = IB.frame_scope(
                [IB.attr(tx, "thread_extent", threads), IB.attr(bx, "thread_extent", blocks), IB.attr(by, "thread_extent", batch)]
            )
            return scope, bx * threads + tx, by

        with IB.If(batch > 0):  # one root statement for the builder
            with IB.Then():
                scope, i, row = launch(padded // threads)
                with scope:
                    with IB.If(i < vocab):
                        with IB.Then():
                            key[row, i] = src[row, i]
                        with IB.Else():
                            key[row, i] = tirx.const(-1.0, "float32")
                    idx[row, i] = i
                with IB.serial(0, tirx.const(steps, "int32")) as stage:  # merging runs of 2 << stage
                    with IB.serial(0, stage + 1) as step:  # comparing elements 1 << (stage - step) apart
                        scope, i, row = launch(padded // 2 // threads)
                        with scope:
                            shift = stage - step
                            a = ((i >> shift) << (shift + 1)) + (i & ((1 << shift) - 1))
                            b = a + (1 << shift)
                            # Runs whose bit (2 << stage) is clear end up descending, the others ascending;
                            # the last stage's single run is descending.
                            descending = (a & (2 << stage)) == 0
                            swap = tirx.Select(descending, key[row, a] < key[row, b], key[row, a] > key[row, b])
                            kept_key = IB.buffer_proxy(IB.decl_buffer([1], "float32", scope="local"))
                            kept_id = IB.buffer_proxy(IB.decl_buffer([1], "int32", scope="local"))
                            with IB.If(swap):
                                with IB.Then():
                                    kept_key[0] = key[row, a]
                                    kept_id[0] = idx[row, a]
                                    key[row, a] = key[row, b]
                                    idx[row, a] = idx[row, b]
                                    key[row, b] = kept_key[0]
                                    idx[row, b] = kept_id[0]
        return ib.get()


def _argsort_probs(bb: rx.BlockBuilder, vocab: int) -> None:
    """TVM's own GPU sort (topi.gpu.sort) launches with blockIdx.z, which its WebGPU code generator
    refuses; this one sorts with a bitonic network over the model's vocabulary, a size known here."""
    padded = 1 << (vocab - 1).bit_length()
    b = tirx.Var("batch_size", "int64")
    probs = rx.Var("probs", rx.TensorType((b, vocab), "float32"))

    def sort(probs: te.Tensor):
        shape = (probs.shape[0], padded)
        keys = tirx.decl_buffer(shape, "float32", "keys")
        ids = tirx.decl_buffer(shape, "int32", "ids")
        return te.extern(
            [shape, shape],
            [probs],
            lambda ins, outs: _bitonic_sort_ir(ins[0], outs[0], outs[1], vocab, padded),
            out_buffers=[keys, ids],
            name="bitonic_argsort",
        )

    with bb.function("argsort_probs", [probs]):
        with bb.dataflow():
            padded_out = bb.emit_te(sort, probs, primfunc_name_hint="bitonic_argsort")
            keys = bb.emit(rx.op.strided_slice(rx.TupleGetItem(padded_out, 0), [1], [0], [vocab]))
            ids = bb.emit(rx.op.strided_slice(rx.TupleGetItem(padded_out, 1), [1], [0], [vocab]))
            out = bb.emit_output(rx.Tuple([keys, ids]))
        bb.emit_func_output(out)


def _sample_with_top_p(bb: rx.BlockBuilder) -> None:
    b, v, s = tirx.Var("batch_size", "int64"), tirx.Var("vocab_size", "int64"), tirx.Var("num_samples", "int64")
    sorted_probs = rx.Var("sorted_probs", rx.TensorType((b, v), "float32"))
    sorted_ids = rx.Var("sorted_indices", rx.TensorType((b, v), "int32"))
    uniform = rx.Var("uniform_samples", rx.TensorType((s,), "float32"))
    rows = rx.Var("sample_indices", rx.TensorType((s,), "int32"))
    top_p = rx.Var("top_p", rx.TensorType((b,), "float32"))
    with bb.function("sample_with_top_p", [sorted_probs, sorted_ids, uniform, rows, top_p]):
        with bb.dataflow():
            cumulative = bb.emit(rx.op.cumsum(sorted_probs, axis=1))
            # The nucleus' mass: the first running sum that reaches top_p (running sums only grow, so
            # the least of those that do); all of the mass when rounding keeps every sum below top_p.
            # 2 stands for "not reached" (sums stay ≤ 1; WGSL has no infinity literal).
            reached = bb.emit(rx.op.greater_equal(cumulative, rx.op.reshape(top_p, rx.ShapeExpr([b, 1]))))
            candidates = bb.emit(rx.op.where(reached, cumulative, rx.const(2.0, "float32")))
            nucleus = bb.emit(rx.op.min(candidates, axis=1))
            total = bb.emit(rx.op.reshape(rx.op.strided_slice(cumulative, [1], [v - 1], [v]), rx.ShapeExpr([b])))
            mass = bb.emit(rx.op.minimum(nucleus, total))
            # The token: the first whose running sum exceeds uniform · mass (< the last sum, as the
            # uniform draw is < 1: always within the vocabulary).
            threshold = bb.emit(rx.op.multiply(uniform, rx.op.take(mass, rows, axis=0)))
            row_sums = bb.emit(rx.op.take(cumulative, rows, axis=0))
            below = bb.emit(rx.op.less_equal(row_sums, rx.op.reshape(threshold, rx.ShapeExpr([s, 1]))))
            count = bb.emit(rx.op.sum(rx.op.astype(below, "int32"), axis=1))
            position = bb.emit(rx.op.reshape(count, rx.ShapeExpr([s, 1])))
            tokens = bb.emit(rx.op.gather_elements(rx.op.take(sorted_ids, rows, axis=0), position, axis=1))
            out = bb.emit_output(rx.op.reshape(tokens, rx.ShapeExpr([s])))
        bb.emit_func_output(out)


@T.prim_func(s_tir=True)
def apply_logit_bias_inplace(var_logits: T.handle, var_pos2seq_id: T.handle, var_token_ids: T.handle, var_bias: T.handle):
    T.func_attr({"global_symbol": "apply_logit_bias_inplace", "tirx.noalias": True, "tirx.is_scheduled": True})
    batch_size, vocab_size, num_token = T.int32(), T.int32(), T.int32()
    logits = T.match_buffer(var_logits, (batch_size, vocab_size), "float32")
    pos2seq_id = T.match_buffer(var_pos2seq_id, (num_token,), "int32")
    token_ids = T.match_buffer(var_token_ids, (num_token,), "int32")
    bias = T.match_buffer(var_bias, (num_token,), "float32")
    for bx in T.thread_binding((num_token + THREADS - 1) // THREADS, "blockIdx.x"):
        for tx in T.thread_binding(THREADS, "threadIdx.x"):
            with T.sblock("bias"):
                i = T.axis.spatial(num_token, bx * THREADS + tx)
                T.where(bx * THREADS + tx < num_token)
                logits[pos2seq_id[i], token_ids[i]] = logits[pos2seq_id[i], token_ids[i]] + bias[i]


@T.prim_func(s_tir=True)
def apply_penalty_inplace(
    var_logits: T.handle, var_seq_ids: T.handle, var_pos2seq_id: T.handle, var_token_ids: T.handle, var_token_cnt: T.handle, var_penalties: T.handle
):
    """Per seen token: minus presence + count · frequency, then (OpenAI's and MLC's) repetition
    penalty: divide a positive logit, multiply a negative one. penalties[seq] = (presence, frequency, repetition)."""
    T.func_attr({"global_symbol": "apply_penalty_inplace", "tirx.noalias": True, "tirx.is_scheduled": True})
    batch_size, vocab_size, num_token, num_seq = T.int32(), T.int32(), T.int32(), T.int32()
    logits = T.match_buffer(var_logits, (batch_size, vocab_size), "float32")
    seq_ids = T.match_buffer(var_seq_ids, (num_seq,), "int32")
    pos2seq_id = T.match_buffer(var_pos2seq_id, (num_token,), "int32")
    token_ids = T.match_buffer(var_token_ids, (num_token,), "int32")
    token_cnt = T.match_buffer(var_token_cnt, (num_token,), "int32")
    penalties = T.match_buffer(var_penalties, (num_seq, 3), "float32")
    for bx in T.thread_binding((num_token + THREADS - 1) // THREADS, "blockIdx.x"):
        for tx in T.thread_binding(THREADS, "threadIdx.x"):
            with T.sblock("penalty"):
                i = T.axis.spatial(num_token, bx * THREADS + tx)
                T.where(bx * THREADS + tx < num_token)
                logits[seq_ids[pos2seq_id[i]], token_ids[i]] = logits[seq_ids[pos2seq_id[i]], token_ids[i]] - (
                    penalties[pos2seq_id[i], 0] + T.Cast("float32", token_cnt[i]) * penalties[pos2seq_id[i], 1]
                )
                logits[seq_ids[pos2seq_id[i]], token_ids[i]] = T.if_then_else(
                    logits[seq_ids[pos2seq_id[i]], token_ids[i]] < T.float32(0),
                    logits[seq_ids[pos2seq_id[i]], token_ids[i]] * penalties[pos2seq_id[i], 2],
                    logits[seq_ids[pos2seq_id[i]], token_ids[i]] / penalties[pos2seq_id[i], 2],
                )


@T.prim_func(s_tir=True)
def apply_bitmask_inplace(var_logits: T.handle, var_seq_ids: T.handle, var_bitmask: T.handle):
    """Tokens whose bit is 0 in the (grammar's) bitmask get the lowest float."""
    T.func_attr({"global_symbol": "apply_bitmask_inplace", "tirx.noalias": True, "tirx.is_scheduled": True})
    batch_size, vocab_size, num_seq = T.int32(), T.int32(), T.int32()
    logits = T.match_buffer(var_logits, (batch_size, vocab_size), "float32")
    seq_ids = T.match_buffer(var_seq_ids, (num_seq,), "int32")
    bitmask = T.match_buffer(var_bitmask, (batch_size, (vocab_size + 31) // 32), "int32")
    for bx in T.thread_binding((num_seq * vocab_size + THREADS - 1) // THREADS, "blockIdx.x"):
        for tx in T.thread_binding(THREADS, "threadIdx.x"):
            with T.sblock("mask"):
                s = T.axis.spatial(num_seq, (bx * THREADS + tx) // vocab_size)
                t = T.axis.spatial(vocab_size, (bx * THREADS + tx) % vocab_size)
                T.where(bx * THREADS + tx < num_seq * vocab_size)
                logits[seq_ids[s], t] = T.if_then_else(
                    (bitmask[seq_ids[s], t // 32] >> (t % 32)) & 1 == 1, logits[seq_ids[s], t], T.min_value("float32")
                )


def attach(bb: rx.BlockBuilder, vocab: int) -> None:
    """Adds the functions to the module being built by `bb` (before it is finalized)."""
    _softmax_with_temperature(bb)
    _argsort_probs(bb, vocab)
    _sample_with_top_p(bb)
    for func in (apply_logit_bias_inplace, apply_penalty_inplace, apply_bitmask_inplace):
        bb.add_func(func, func.attrs["global_symbol"])
