"""Baichuan (the architecture of Baichuan-7B) in TVM's relax.frontend.nn, written for webchuan's artifacts.

The parameter names, shapes and dtypes are exactly those `webchuan convert` writes
(packages/sdk/src/model/params.ts, encode.ts, quant.ts), so one artifact runs on webchuan's WGSL engine
and on WebLLM with the library compiled from this module:

- `model.embed_tokens`, per layer `self_attn.W_pack` (q, k, v rows fused), `self_attn.o_proj`,
  `mlp.gate_up_proj` (gate rows, then up rows), `mlp.down_proj`, `input_layernorm`,
  `post_attention_layernorm`; `model.norm`; an untied `lm_head`;
- q0f32: every matrix as `.weight` in float32;
- q4f32_1 / q4f16_1: every matrix (the embedding too) as `.q_weight` (uint32 [rows, ceil(cols/32)·4],
  eight 4-bit codes per word, element j in bits [4j, 4j+4)) and `.q_scale` ([rows, ceil(cols/32)],
  float32 or float16); w = (code − 7) · scale. Norm weights in the scheme's float dtype.

Attention goes through TVM's paged KV cache (TIRPagedKVCache: its own prefill/decode attention kernels
and rotate-half RoPE θ = 10000 applied to q and k as Baichuan-7B does).
"""

from dataclasses import dataclass

from tvm import relax as rx
from tvm import te, tirx
from tvm.relax.frontend import nn
from tvm.relax.frontend.nn import Tensor, op
from tvm.relax.frontend.nn.llm.kv_cache import PagedKVCache, RopeMode, TIRPagedKVCache

GROUP_SIZE = 32
MAX_INT = 7
VALUES_PER_WORD = 8
QUANTIZATIONS = ("q0f32", "q4f32_1", "q4f16_1")


@dataclass
class BaichuanConfig:
    """The shape of a model, from the `model_config` of an artifact's mlc-chat-config.json."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    context_window_size: int
    prefill_chunk_size: int
    quantization: str

    @property
    def dtype(self) -> str:
        """Activations, norm weights and the KV cache: float16 under q4f16_1, else float32."""
        return "float16" if self.quantization == "q4f16_1" else "float32"

    @property
    def quantized(self) -> bool:
        return self.quantization != "q0f32"


def groups_per_row(cols: int) -> int:
    return (cols + GROUP_SIZE - 1) // GROUP_SIZE


def _dequantized(q_weight: te.Tensor, q_scale: te.Tensor, row, col, dtype: str):
    """The float value of element (row, col) of a 4-bit matrix."""
    word = q_weight[row, col // VALUES_PER_WORD]
    shift = tirx.Cast("uint32", (col % VALUES_PER_WORD) * 4)
    code = tirx.Cast(dtype, (word >> shift) & tirx.const(15, "uint32"))
    return (code - tirx.const(MAX_INT, dtype)) * q_scale[row, col // GROUP_SIZE]


class Q4Linear(nn.Module):
    """y = x · Wᵀ with W in 4-bit groups, dequantized inside the matmul kernel (never stored whole)."""

    def __init__(self, in_features: int, out_features: int, dtype: str):
        self.in_features = in_features
        self.out_features = out_features
        self.dtype = dtype
        groups = groups_per_row(in_features)
        self.q_weight = nn.Parameter((out_features, groups * GROUP_SIZE // VALUES_PER_WORD), "uint32")
        self.q_scale = nn.Parameter((out_features, groups), dtype)

    def forward(self, x: Tensor) -> Tensor:
        n, k_total, dtype = self.out_features, self.in_features, self.dtype

        def compute(x: te.Tensor, q_weight: te.Tensor, q_scale: te.Tensor):
            w = te.compute((n, k_total), lambda r, c: _dequantized(q_weight, q_scale, r, c, dtype), name="dequantize")
            k = te.reduce_axis((0, k_total), name="k")
            return te.compute(
                (*x.shape[:-1], n),
                lambda *i: te.sum(x[(*i[:-1], k)] * w[i[-1], k], axis=k),
                name="matmul",
            )

        return op.tensor_expr_op(compute, "q4_matmul", [x, self.q_weight, self.q_scale])


class Q4Embedding(nn.Module):
    """Rows of a 4-bit table: only the rows asked for are dequantized."""

    def __init__(self, num: int, dim: int, dtype: str):
        self.num, self.dim, self.dtype = num, dim, dtype
        groups = groups_per_row(dim)
        self.q_weight = nn.Parameter((num, groups * GROUP_SIZE // VALUES_PER_WORD), "uint32")
        self.q_scale = nn.Parameter((num, groups), dtype)

    def forward(self, ids: Tensor) -> Tensor:
        dim, dtype = self.dim, self.dtype

        def compute(ids: te.Tensor, q_weight: te.Tensor, q_scale: te.Tensor):
            return te.compute(
                (ids.shape[0], dim), lambda i, c: _dequantized(q_weight, q_scale, ids[i], c, dtype), name="embed"
            )

        return op.tensor_expr_op(compute, "q4_embed", [ids, self.q_weight, self.q_scale])


def linear(config: BaichuanConfig, in_features: int, out_features: int) -> nn.Module:
    if config.quantized:
        return Q4Linear(in_features, out_features, config.dtype)
    return nn.Linear(in_features, out_features, bias=False, dtype=config.dtype)


class BaichuanAttention(nn.Module):
    def __init__(self, config: BaichuanConfig):
        self.num_heads = config.num_attention_heads
        self.head_dim = config.head_dim
        width = self.num_heads * self.head_dim
        self.W_pack = linear(config, config.hidden_size, 3 * width)
        self.o_proj = linear(config, width, config.hidden_size)

    def forward(self, x: Tensor, kv_cache: PagedKVCache, layer_id: int) -> Tensor:
        b, s, _ = x.shape
        h, d = self.num_heads, self.head_dim
        qkv = op.reshape(self.W_pack(x), (b, s, 3 * h, d))
        out = kv_cache.attention_with_fused_qkv(layer_id, qkv, h, sm_scale=d**-0.5)
        return self.o_proj(op.reshape(out, (b, s, h * d)))


class BaichuanMLP(nn.Module):
    def __init__(self, config: BaichuanConfig):
        self.gate_up_proj = linear(config, config.hidden_size, 2 * config.intermediate_size)
        self.down_proj = linear(config, config.intermediate_size, config.hidden_size)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = op.split(self.gate_up_proj(x), 2, axis=-1)
        return self.down_proj(op.silu(gate) * up)


class BaichuanDecoderLayer(nn.Module):
    def __init__(self, config: BaichuanConfig):
        # Declared in this order (attention, MLP, then the norms) like MLC's, so the parameter list
        # reads as MLC's libraries do.
        self.self_attn = BaichuanAttention(config)
        self.mlp = BaichuanMLP(config)
        eps, dtype = config.rms_norm_eps, config.dtype
        self.input_layernorm = nn.RMSNorm(config.hidden_size, -1, eps, bias=False, dtype=dtype)
        self.post_attention_layernorm = nn.RMSNorm(config.hidden_size, -1, eps, bias=False, dtype=dtype)

    def forward(self, x: Tensor, kv_cache: PagedKVCache, layer_id: int) -> Tensor:
        x = x + self.self_attn(self.input_layernorm(x), kv_cache, layer_id)
        return x + self.mlp(self.post_attention_layernorm(x))


class BaichuanModel(nn.Module):
    def __init__(self, config: BaichuanConfig):
        if config.quantized:
            self.embed_tokens = Q4Embedding(config.vocab_size, config.hidden_size, config.dtype)
        else:
            self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, dtype=config.dtype)
        self.layers = nn.ModuleList([BaichuanDecoderLayer(config) for _ in range(config.num_hidden_layers)])
        self.norm = nn.RMSNorm(config.hidden_size, -1, config.rms_norm_eps, bias=False, dtype=config.dtype)

    def forward(self, x: Tensor, kv_cache: PagedKVCache) -> Tensor:
        for layer_id, layer in enumerate(self.layers):
            x = layer(x, kv_cache, layer_id)
        return self.norm(x)


def _last_position(x: Tensor) -> Tensor:
    """x[:, -1:, :] — prefill needs logits for the last prompt token only."""

    def compute(x: te.Tensor):
        return te.compute((x.shape[0], 1, x.shape[2]), lambda b, _, c: x[b, x.shape[1] - 1, c], name="last")

    return op.tensor_expr_op(compute, "last_position", [x])


class BaichuanForCausalLM(nn.Module):
    """The functions WebLLM calls: embed, prefill, decode and create_tir_paged_kv_cache."""

    def __init__(self, config: BaichuanConfig, target):
        self.config = config
        self.target = target
        self.model = BaichuanModel(config)
        self.lm_head = linear(config, config.hidden_size, config.vocab_size)

    def _logits(self, hidden: Tensor) -> Tensor:
        logits = self.lm_head(hidden)
        return logits if logits.dtype == "float32" else logits.astype("float32")

    def embed(self, input_ids: Tensor) -> Tensor:
        return self.model.embed_tokens(input_ids)

    def prefill(self, input_embed: Tensor, kv_cache: PagedKVCache):
        return self._logits(_last_position(self.model(input_embed, kv_cache))), kv_cache

    def decode(self, input_embed: Tensor, kv_cache: PagedKVCache):
        return self._logits(self.model(input_embed, kv_cache)), kv_cache

    def create_tir_paged_kv_cache(
        self, max_batch_size, max_total_seq_len, prefill_chunk_size, page_size, support_sliding_window
    ) -> PagedKVCache:
        c = self.config
        return TIRPagedKVCache(
            attn_kind="mha",
            max_batch_size=max_batch_size,
            max_total_seq_len=max_total_seq_len,
            prefill_chunk_size=prefill_chunk_size,
            page_size=page_size,
            support_sliding_window=support_sliding_window,
            layer_partition=rx.ShapeExpr([0, c.num_hidden_layers]),
            num_hidden_layers=c.num_hidden_layers,
            num_attention_heads=c.num_attention_heads,
            num_key_value_heads=c.num_attention_heads,
            qk_head_dim=c.head_dim,
            v_head_dim=c.head_dim,
            mla_original_qk_head_dim=0,
            mla_original_v_head_dim=0,
            rope_mode=RopeMode.NORMAL,
            rope_scale=1,
            rope_theta=c.rope_theta,
            rope_scaling={},
            rope_ext_factors=rx.prim_value(0),
            rotary_dim=c.head_dim,
            enable_disaggregation=False,
            dtype=c.dtype,
            target=self.target,
        )

    def spec(self) -> nn.spec.ModuleSpec:
        h, dtype = self.config.hidden_size, self.config.dtype
        packed = {"param_mode": "packed", "effect_mode": "none"}
        return nn.spec.ModuleSpec.from_raw(
            {
                "embed": {"input_ids": nn.spec.Tensor(["seq_len"], "int32"), "$": packed},
                "prefill": {
                    "input_embed": nn.spec.Tensor([1, "seq_len", h], dtype),
                    "kv_cache": nn.spec.Object(object_type=PagedKVCache),
                    "$": packed,
                },
                "decode": {
                    "input_embed": nn.spec.Tensor([1, 1, h], dtype),
                    "kv_cache": nn.spec.Object(object_type=PagedKVCache),
                    "$": packed,
                },
                "create_tir_paged_kv_cache": {
                    "max_batch_size": int,
                    "max_total_seq_len": int,
                    "prefill_chunk_size": int,
                    "page_size": int,
                    "support_sliding_window": int,
                    "$": {"param_mode": "none", "effect_mode": "none"},
                },
            },
            self,
        )
