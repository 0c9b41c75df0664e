#!/usr/bin/env python3
"""Independent float64 reference of the Hugging Face LlamaForCausalLM forward,
written from the math (no transformers import), plus a safetensors reader and
writer. Used to make the test fixtures the C++ engine is checked against.

Requires Debian's python3-torch (call it with /usr/bin/python3).
"""
import json
import math
import os
import struct

import torch

DTYPE_NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64"}
NAME_DTYPES = {v: k for k, v in DTYPE_NAMES.items()}


# ---- safetensors -------------------------------------------------------------

def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, torch tensor) written in this order."""
    header, offset, blobs = {}, 0, []
    for name, t in tensors:
        b = tensor_bytes(t)
        header[name] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    header["__metadata__"] = metadata or {"format": "pt"}
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Returns {name: torch tensor} (an independent parser, used as a self-check)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    spans = []
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        dtype = NAME_DTYPES[e["dtype"]]
        raw = bytearray(data[base + b:base + end])
        if dtype == torch.bfloat16:
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(raw, dtype=dtype)
        out[name] = t.reshape(e["shape"]).clone()
        spans.append((b, end))
    spans.sort()
    for (b0, e0), (b1, _) in zip(spans, spans[1:]):
        assert e0 <= b1, f"{path}: overlapping tensors"
    assert not spans or spans[-1][1] == len(data) - base, f"{path}: trailing bytes"
    return out


def load_checkpoint(directory):
    """Reads config.json and all weights (single file or sharded) as float64."""
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    index = os.path.join(directory, "model.safetensors.index.json")
    weights = {}
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    for name in files:
        for k, v in read_safetensors(os.path.join(directory, name)).items():
            assert k not in weights, k
            weights[k] = v.to(torch.float64)
    return config, weights


# ---- the model ----------------------------------------------------------------

class Llama:
    """LlamaForCausalLM forward in float64 over weights given as float64 tensors."""

    def __init__(self, config, weights):
        self.c = config
        self.w = weights
        self.n_head = config["num_attention_heads"]
        self.n_kv = config.get("num_key_value_heads") or self.n_head
        self.hd = config.get("head_dim") or config["hidden_size"] // self.n_head
        self.eps = config["rms_norm_eps"]
        self.theta = config.get("rope_theta", 10000.0)
        rs = config.get("rope_scaling")
        self.scale = rs["factor"] if rs else 1.0
        self.lm_head = weights["lm_head.weight"] if "lm_head.weight" in weights else weights["model.embed_tokens.weight"]

    def rms_norm(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

    def rope(self, x, positions):
        """x: (T, heads, hd); HF rotate-half layout."""
        d = self.hd
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
        t = positions.to(torch.float64) / self.scale
        freqs = torch.outer(t, inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]
        x1, x2 = x[..., : d // 2], x[..., d // 2:]
        rotated = torch.cat([-x2, x1], dim=-1)
        return x * cos + rotated * sin

    def forward(self, ids, cache=None):
        """ids: list of token ids appended after the cached ones. Returns (T, vocab) logits.
        cache: a dict carrying per-layer K/V (mutated) for incremental decoding."""
        w = self.w
        past = cache["n"] if cache is not None else 0
        T = len(ids)
        positions = torch.arange(past, past + T)
        x = w["model.embed_tokens.weight"][torch.tensor(ids)]
        group = self.n_head // self.n_kv
        for i in range(self.c["num_hidden_layers"]):
            p = f"model.layers.{i}."
            h = self.rms_norm(x, w[p + "input_layernorm.weight"])
            q = (h @ w[p + "self_attn.q_proj.weight"].T).view(T, self.n_head, self.hd)
            k = (h @ w[p + "self_attn.k_proj.weight"].T).view(T, self.n_kv, self.hd)
            v = (h @ w[p + "self_attn.v_proj.weight"].T).view(T, self.n_kv, self.hd)
            q, k = self.rope(q, positions), self.rope(k, positions)
            if cache is not None:
                if i in cache:
                    k = torch.cat([cache[i][0], k], 0)
                    v = torch.cat([cache[i][1], v], 0)
                cache[i] = (k, v)
            S = k.shape[0]
            kk = k.repeat_interleave(group, dim=1)  # (S, n_head, hd)
            vv = v.repeat_interleave(group, dim=1)
            scores = torch.einsum("thd,shd->hts", q, kk) / math.sqrt(self.hd)
            mask = torch.arange(S)[None, :] > (positions[:, None])
            scores = scores.masked_fill(mask[None], float("-inf"))
            att = torch.softmax(scores, dim=-1)
            o = torch.einsum("hts,shd->thd", att, vv).reshape(T, self.n_head * self.hd)
            x = x + o @ w[p + "self_attn.o_proj.weight"].T
            h = self.rms_norm(x, w[p + "post_attention_layernorm.weight"])
            gate = h @ w[p + "mlp.gate_proj.weight"].T
            up = h @ w[p + "mlp.up_proj.weight"].T
            x = x + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
        if cache is not None:
            cache["n"] = past + T
        x = self.rms_norm(x, w["model.norm.weight"])
        return x @ self.lm_head.T


def new_cache():
    return {"n": 0}
