"""Baichuan-7B's architecture (modeling_baichuan.py, v1) in plain PyTorch, at any size.

Per layer: RMSNorm (float32, eps 1e-6) → W_pack (q|k|v rows) → rotate-half RoPE θ=10000 → causal
softmax attention → o_proj → residual; RMSNorm → SwiGLU (down(silu(gate(x)) * up(x))) → residual.
Then the final norm and an untied lm_head. Parameter names are Baichuan's, so `state_dict()` is a
Hugging Face checkpoint as it is.
"""
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Config:
    vocab_size: int = 5000
    hidden_size: int = 256
    intermediate_size: int = 704
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    max_position_embeddings: int = 512
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0

    @property
    def head_dim(self):
        return self.hidden_size // self.num_attention_heads

    def hf_config(self):
        """config.json of the checkpoint, as Baichuan-7B writes it."""
        c = asdict(self)
        del c['rope_theta']  # Baichuan-7B's config has none; 10000 is fixed in its code
        return {
            'architectures': ['BaiChuanForCausalLM'],
            'auto_map': {
                'AutoConfig': 'configuration_baichuan.BaiChuanConfig',
                'AutoModelForCausalLM': 'modeling_baichuan.BaiChuanForCausalLM',
            },
            'model_type': 'baichuan',
            **c,
            'hidden_act': 'silu',
            'initializer_range': 0.02,
            'use_cache': True,
            'pad_token_id': 0,
            'bos_token_id': 1,
            'eos_token_id': 2,
            'tie_word_embeddings': False,
            'torch_dtype': 'float16',
        }

    @staticmethod
    def from_hf(c):
        return Config(**{k: c[k] for k in ('vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers',
                                           'num_attention_heads', 'max_position_embeddings', 'rms_norm_eps')})


class RMSNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return xf.to(x.dtype) * self.weight


def rope_tables(cfg, length, device=None):
    """cos/sin [length, head_dim] for rotate-half RoPE: dimension j pairs with j + head_dim/2."""
    d = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float32, device=device) / d))
    t = torch.arange(length, dtype=torch.float32, device=device)
    freqs = torch.outer(t, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden_size
        self.W_pack = nn.Linear(h, 3 * h, bias=False)
        self.o_proj = nn.Linear(h, h, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, H = x.shape
        nh, hd = self.cfg.num_attention_heads, self.cfg.head_dim
        q, k, v = self.W_pack(x).unflatten(-1, (3, H)).unbind(-2)
        q = q.view(B, T, nh, hd).transpose(1, 2)
        k = k.view(B, T, nh, hd).transpose(1, 2)
        v = v.view(B, T, nh, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        att = att.masked_fill(mask, float('-inf'))
        att = torch.softmax(att.float(), dim=-1).to(q.dtype)
        y = (att @ v).transpose(1, 2).reshape(B, T, H)
        return self.o_proj(y)


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class BaiChuanForCausalLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.model = Decoder(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        cos, sin = rope_tables(cfg, cfg.max_position_embeddings)
        self.register_buffer('rope_cos', cos, persistent=False)
        self.register_buffer('rope_sin', sin, persistent=False)

    def init_weights(self, generator):
        std = 0.02
        for name, p in self.named_parameters():
            if name.endswith('layernorm.weight') or name == 'model.norm.weight':
                nn.init.ones_(p)
            elif name.endswith(('o_proj.weight', 'down_proj.weight')):
                with torch.no_grad():
                    p.normal_(0.0, std / math.sqrt(2 * self.cfg.num_hidden_layers), generator=generator)
            else:
                with torch.no_grad():
                    p.normal_(0.0, std, generator=generator)

    def forward(self, ids):
        """ids [B, T] → logits [B, T, vocab] (float32 when the weights are float32)."""
        T = ids.shape[1]
        if T > self.cfg.max_position_embeddings:
            raise ValueError(f'{T} tokens exceed the context of {self.cfg.max_position_embeddings}')
        x = self.model.embed_tokens(ids)
        cos, sin = self.rope_cos[:T].to(x.dtype), self.rope_sin[:T].to(x.dtype)
        mask = torch.ones(T, T, dtype=torch.bool, device=ids.device).triu(1)
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.model.norm(x))


@torch.no_grad()
def greedy(model, ids, n, stop=None):
    """n greedy tokens after ids; each step is a full forward pass over prompt + output so far."""
    out = []
    seq = list(ids)
    for _ in range(n):
        logits = model(torch.tensor([seq[-model.cfg.max_position_embeddings:]]))[0, -1]
        t = int(torch.argmax(logits))
        out.append(t)
        seq.append(t)
        if stop is not None and stop(out):
            break
    return out
