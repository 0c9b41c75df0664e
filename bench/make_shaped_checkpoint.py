#!/usr/bin/env python3
"""Writes a LLaMA checkpoint with the exact shapes and layout of a published
model (default: LLEMMA 7B, float32, 3 shards) filled with random-looking
values, for load-time and memory benchmarks. Uses only numpy.

    /usr/bin/python3 bench/make_shaped_checkpoint.py --out /tmp/llemma7b-f32
"""
import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np

SHAPES = {
    "llemma-7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                      num_attention_heads=32, num_key_value_heads=32, vocab_size=32016,
                      rope_theta=10000.0, max_position_embeddings=4096),
    "llemma-34b": dict(hidden_size=8192, intermediate_size=22016, num_hidden_layers=48,
                       num_attention_heads=64, num_key_value_heads=8, vocab_size=32000,
                       rope_theta=1000000.0, max_position_embeddings=16384),
    "small": dict(hidden_size=512, intermediate_size=1536, num_hidden_layers=4,
                  num_attention_heads=8, num_key_value_heads=8, vocab_size=32016,
                  rope_theta=10000.0, max_position_embeddings=4096),
}
DTYPES = {"F32": (np.float32, 4), "F16": (np.float16, 2), "BF16": (np.uint16, 2)}


def tensor_list(c):
    h, f, v = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    hd = h // c["num_attention_heads"]
    kv = c["num_key_value_heads"] * hd
    out = [("model.embed_tokens.weight", (v, h))]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out += [(p + "self_attn.q_proj.weight", (h, h)), (p + "self_attn.k_proj.weight", (kv, h)),
                (p + "self_attn.v_proj.weight", (kv, h)), (p + "self_attn.o_proj.weight", (h, h)),
                (p + "mlp.gate_proj.weight", (f, h)), (p + "mlp.up_proj.weight", (f, h)),
                (p + "mlp.down_proj.weight", (h, f)), (p + "input_layernorm.weight", (h,)),
                (p + "post_attention_layernorm.weight", (h,))]
    out += [("model.norm.weight", (h,)), ("lm_head.weight", (v, h))]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--shape", default="llemma-7b", choices=sorted(SHAPES))
    ap.add_argument("--dtype", default="F32", choices=sorted(DTYPES))
    ap.add_argument("--shards", type=int, default=3)
    ap.add_argument("--tokenizer", help="tokenizer.model to copy into the checkpoint")
    args = ap.parse_args()

    c = SHAPES[args.shape]
    np_dtype, es = DTYPES[args.dtype]
    tensors = tensor_list(c)
    total = sum(int(np.prod(s)) * es for _, s in tensors)
    per_shard = total / args.shards
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(0)
    block = (rng.standard_normal(1 << 20) * 0.02).astype(np.float32)
    if args.dtype == "BF16":
        block = (block.view(np.uint32) >> 16).astype(np.uint16)
    else:
        block = block.astype(np_dtype)

    # Assign tensors to shards in order, about total/shards bytes each.
    shards, cur, acc = [[]], 0, 0
    for name, shape in tensors:
        nbytes = int(np.prod(shape)) * es
        if acc + nbytes > per_shard * (cur + 1) and shards[-1] and len(shards) < args.shards:
            shards.append([])
            cur += 1
        shards[-1].append((name, shape))
        acc += nbytes
    n = len(shards)
    weight_map = {}
    for si, shard in enumerate(shards):
        fname = f"model-{si + 1:05d}-of-{n:05d}.safetensors"
        header, off = {}, 0
        for name, shape in shard:
            nbytes = int(np.prod(shape)) * es
            header[name] = {"dtype": args.dtype, "shape": list(shape), "data_offsets": [off, off + nbytes]}
            off += nbytes
            weight_map[name] = fname
        header["__metadata__"] = {"format": "pt"}
        hj = json.dumps(header).encode()
        hj += b" " * ((8 - len(hj) % 8) % 8)
        with open(os.path.join(args.out, fname), "wb") as f:
            f.write(struct.pack("<Q", len(hj)))
            f.write(hj)
            for name, shape in shard:
                remaining = int(np.prod(shape))
                while remaining:
                    k = min(remaining, block.size)
                    f.write(block[:k].tobytes())
                    remaining -= k
        print(f"wrote {fname} ({off / 2**30:.2f} GiB)", file=sys.stderr)
    with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)
    cfg = dict(architectures=["LlamaForCausalLM"], model_type="llama", rms_norm_eps=1e-5,
               rope_scaling=None, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
               hidden_act="silu", torch_dtype={"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[args.dtype],
               **c)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    if args.tokenizer:
        shutil.copy(args.tokenizer, os.path.join(args.out, "tokenizer.model"))
    print(f"total {total / 2**30:.2f} GiB in {n} shards", file=sys.stderr)


if __name__ == "__main__":
    main()
