#!/usr/bin/env python3
"""Trains a small LLaMA (Hugging Face layout, float32 safetensors) on a text
file for a fixed time, so quantization quality (perplexity, top-1 agreement
with the unquantized model) can be compared between engines on a model with
real, peaked next-token distributions rather than random weights.

    /usr/bin/python3 bench/train_tiny_llama.py --text train.txt \\
        --tokenizer tests/testdata/tokenizer/llama2-tokenizer.model --out /tmp/tiny --minutes 12

Uses python3-torch and python3-sentencepiece (Debian). Hidden and feed-forward
sizes are multiples of 256, so every GGUF block type (Q4_K included) applies.
"""
import argparse
import json
import math
import os
import shutil
import struct
import time

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F


class Llama(torch.nn.Module):
    def __init__(self, vocab, dim, layers, heads, ffn, theta=10000.0):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.embed = torch.nn.Embedding(vocab, dim)
        self.blocks = torch.nn.ModuleList()
        for _ in range(layers):
            b = torch.nn.Module()
            b.q, b.k, b.v, b.o = (torch.nn.Linear(dim, dim, bias=False) for _ in range(4))
            b.gate, b.up = torch.nn.Linear(dim, ffn, bias=False), torch.nn.Linear(dim, ffn, bias=False)
            b.down = torch.nn.Linear(ffn, dim, bias=False)
            b.n1, b.n2 = torch.nn.Parameter(torch.ones(dim)), torch.nn.Parameter(torch.ones(dim))
            self.blocks.append(b)
        self.norm = torch.nn.Parameter(torch.ones(dim))
        self.head = torch.nn.Linear(dim, vocab, bias=False)
        inv = 1.0 / theta ** (torch.arange(0, self.hd, 2).float() / self.hd)
        self.register_buffer("inv", inv, persistent=False)

    @staticmethod
    def rms(x, w, eps=1e-5):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    def rope(self, x, T):
        # Hugging Face convention: the two halves of each head rotate together.
        ang = torch.outer(torch.arange(T, dtype=torch.float32), self.inv)
        cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
        x1, x2 = x[..., : self.hd // 2], x[..., self.hd // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def forward(self, ids):
        B, T = ids.shape
        h = self.embed(ids)
        for b in self.blocks:
            x = self.rms(h, b.n1)
            q, k, v = (m(x).view(B, T, self.heads, self.hd).transpose(1, 2) for m in (b.q, b.k, b.v))
            q, k = self.rope(q, T), self.rope(k, T)
            s = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
            s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
            a = torch.softmax(s, -1) @ v
            h = h + b.o(a.transpose(1, 2).reshape(B, T, -1))
            x = self.rms(h, b.n2)
            h = h + b.down(F.silu(b.gate(x)) * b.up(x))
        return self.head(self.rms(h, self.norm))


def write_safetensors(path, tensors):
    header, off, blobs = {}, 0, []
    for name, t in tensors:
        a = t.detach().contiguous().float().numpy()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
        blobs.append(a.tobytes())
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=12)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=768)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    sp = spm.SentencePieceProcessor(model_file=args.tokenizer)
    with open(args.text, encoding="utf-8") as f:
        ids = np.array([sp.bos_id()] + sp.encode(f.read()), dtype=np.int64)
    print(f"{len(ids)} training tokens", flush=True)
    vocab = sp.get_piece_size()
    model = Llama(vocab, args.dim, args.layers, args.heads, args.ffn)
    for n, p in model.named_parameters():
        if p.dim() == 2:
            torch.nn.init.normal_(p, std=0.02)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
    budget, t0, step = args.minutes * 60, time.time(), 0
    rng = np.random.default_rng(args.seed)
    while time.time() - t0 < budget:
        frac = (time.time() - t0) / budget
        lr = args.lr * min(1.0, (step + 1) / 30) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = rng.integers(0, len(ids) - args.seq - 1, args.batch)
        x = torch.from_numpy(np.stack([ids[s:s + args.seq] for s in starts]))
        y = torch.from_numpy(np.stack([ids[s + 1:s + args.seq + 1] for s in starts]))
        loss = F.cross_entropy(model(x).view(-1, vocab), y.view(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 20 == 0:
            print(f"step {step} loss {loss.item():.3f} lr {lr:.2e} {time.time() - t0:.0f}s", flush=True)
        step += 1

    os.makedirs(args.out, exist_ok=True)
    t = [("model.embed_tokens.weight", model.embed.weight)]
    for i, b in enumerate(model.blocks):
        p = f"model.layers.{i}."
        t += [(p + "self_attn.q_proj.weight", b.q.weight), (p + "self_attn.k_proj.weight", b.k.weight),
              (p + "self_attn.v_proj.weight", b.v.weight), (p + "self_attn.o_proj.weight", b.o.weight),
              (p + "mlp.gate_proj.weight", b.gate.weight), (p + "mlp.up_proj.weight", b.up.weight),
              (p + "mlp.down_proj.weight", b.down.weight), (p + "input_layernorm.weight", b.n1),
              (p + "post_attention_layernorm.weight", b.n2)]
    t += [("model.norm.weight", model.norm), ("lm_head.weight", model.head.weight)]
    write_safetensors(os.path.join(args.out, "model.safetensors"), t)
    config = dict(architectures=["LlamaForCausalLM"], model_type="llama", hidden_size=args.dim,
                  intermediate_size=args.ffn, num_hidden_layers=args.layers, num_attention_heads=args.heads,
                  num_key_value_heads=args.heads, vocab_size=vocab, rms_norm_eps=1e-5, rope_theta=10000.0,
                  max_position_embeddings=2048, bos_token_id=sp.bos_id(), eos_token_id=sp.eos_id(),
                  tie_word_embeddings=False, torch_dtype="float32")
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    shutil.copy(args.tokenizer, os.path.join(args.out, "tokenizer.model"))
    print(f"{step} steps, final loss {loss.item():.3f}; wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
