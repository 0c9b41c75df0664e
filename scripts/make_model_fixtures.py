#!/usr/bin/env python3
"""Writes the small random LLaMA checkpoints in tests/testdata/models, in the
exact Hugging Face layout, with the expected outputs of the float64 reference
(scripts/reference_llama.py): logits at every prompt position, greedy
continuations and windowed perplexity. Deterministic.

    /usr/bin/python3 scripts/make_model_fixtures.py
"""
import json
import math
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_llama as ref  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "testdata")
VOCAB = 400  # tests/testdata/tokenizer/tiny.model has 400 pieces

FIXTURES = [
    dict(name="tiny-mha-f32", hidden=64, heads=4, kv=4, layers=2, ffn=172, theta=1e4, dtype=torch.float32,
         shards=1, rope_scaling=None, tie=False, vocab=VOCAB),
    dict(name="tiny-gqa-bf16-sharded", hidden=96, heads=6, kv=2, layers=3, ffn=250, theta=1e6,
         dtype=torch.bfloat16, shards=3, rope_scaling=None, tie=False, vocab=416),
    dict(name="tiny-mqa-f16-ropescale", hidden=48, heads=3, kv=1, layers=2, ffn=130, theta=1e4,
         dtype=torch.float16, shards=1, rope_scaling={"type": "linear", "factor": 2.0}, tie=True, vocab=VOCAB),
    dict(name="tiny-gqa-f32-theta1e6", hidden=64, heads=8, kv=4, layers=2, ffn=176, theta=1e6,
         dtype=torch.float32, shards=2, rope_scaling=None, tie=False, vocab=VOCAB),
]


def make_weights(f, gen):
    h, hd = f["hidden"], f["hidden"] // f["heads"]
    kv, ffn, v = f["kv"] * hd, f["ffn"], f["vocab"]

    def normal(*shape, std):
        return torch.randn(*shape, generator=gen, dtype=torch.float64) * std

    def norm_weight():
        return 1.0 + normal(h, std=0.1)

    # Tied models use the embedding as the LM head: keep its logits O(1..10).
    ws = [("model.embed_tokens.weight", normal(v, h, std=2.5 / math.sqrt(h) if f["tie"] else 1.0))]
    for i in range(f["layers"]):
        p = f"model.layers.{i}."
        ws += [
            (p + "input_layernorm.weight", norm_weight()),
            (p + "self_attn.q_proj.weight", normal(h, h, std=1.5 / math.sqrt(h))),
            (p + "self_attn.k_proj.weight", normal(kv, h, std=1.5 / math.sqrt(h))),
            (p + "self_attn.v_proj.weight", normal(kv, h, std=1.0 / math.sqrt(h))),
            (p + "self_attn.o_proj.weight", normal(h, h, std=1.0 / math.sqrt(h))),
            (p + "post_attention_layernorm.weight", norm_weight()),
            (p + "mlp.gate_proj.weight", normal(ffn, h, std=1.0 / math.sqrt(h))),
            (p + "mlp.up_proj.weight", normal(ffn, h, std=1.0 / math.sqrt(h))),
            (p + "mlp.down_proj.weight", normal(h, ffn, std=1.0 / math.sqrt(ffn))),
        ]
    ws.append(("model.norm.weight", norm_weight()))
    if not f["tie"]:
        ws.append(("lm_head.weight", normal(v, h, std=2.5 / math.sqrt(h))))
    # Store in the checkpoint dtype; the reference then runs on exactly these values.
    return [(n, t.to(f["dtype"])) for n, t in ws]


def write_checkpoint(f, out, weights):
    os.makedirs(out, exist_ok=True)
    for old in os.listdir(out):
        os.remove(os.path.join(out, old))
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": f["hidden"], "intermediate_size": f["ffn"], "num_hidden_layers": f["layers"],
        "num_attention_heads": f["heads"], "num_key_value_heads": f["kv"], "rms_norm_eps": 1e-5,
        "rope_theta": f["theta"], "rope_scaling": f["rope_scaling"], "vocab_size": f["vocab"],
        "max_position_embeddings": 256, "tie_word_embeddings": f["tie"], "bos_token_id": 1,
        "eos_token_id": 2, "hidden_act": "silu",
        "torch_dtype": {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}[f["dtype"]],
    }
    with open(os.path.join(out, "config.json"), "w") as fp:
        json.dump(config, fp, indent=2)
    if f["shards"] == 1:
        ref.write_safetensors(os.path.join(out, "model.safetensors"), weights)
    else:
        n = f["shards"]
        per = math.ceil(len(weights) / n)
        weight_map, total = {}, 0
        for s in range(n):
            fname = f"model-{s + 1:05d}-of-{n:05d}.safetensors"
            part = weights[s * per:(s + 1) * per]
            ref.write_safetensors(os.path.join(out, fname), part)
            for name, t in part:
                weight_map[name] = fname
                total += t.numel() * t.element_size()
        with open(os.path.join(out, "model.safetensors.index.json"), "w") as fp:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, fp, indent=2)
    shutil.copy(os.path.join(ROOT, "tokenizer", "tiny.model"), os.path.join(out, "tokenizer.model"))


def greedy(model, prompt, n):
    cache = ref.new_cache()
    logits = model.forward(prompt, cache)[-1]
    out, margin = [], float("inf")
    for _ in range(n):
        top2 = torch.topk(logits, 2).values
        margin = min(margin, float(top2[0] - top2[1]))
        tok = int(torch.argmax(logits))
        out.append(tok)
        logits = model.forward([tok], cache)[-1]
    return out, margin


def windowed_nll(model, tokens, window, stride):
    nll, scored, prev_end = 0.0, 0, 0
    for begin in range(0, len(tokens), stride):
        end = min(begin + window, len(tokens))
        logits = model.forward(tokens[begin:end])
        logp = torch.log_softmax(logits, dim=-1)
        for idx in range(max(begin + 1, prev_end), end):
            nll -= float(logp[idx - 1 - begin, tokens[idx]])
            scored += 1
        prev_end = end
        if end == len(tokens):
            break
    return nll, scored


def main():
    torch.manual_seed(0)
    for fi, f in enumerate(FIXTURES):
        out = os.path.join(ROOT, "models", f["name"])
        for attempt in range(50):
            gen = torch.Generator().manual_seed(1000 * fi + attempt)
            weights = make_weights(f, gen)
            write_checkpoint(f, out, weights)
            config, w64 = ref.load_checkpoint(out)  # re-read: the reference sees the stored values
            assert set(w64) == {n for n, _ in weights}
            model = ref.Llama(config, w64)
            lengths = [1, 7, 30]
            prompts = [[1] + [int(x) for x in torch.randint(3, VOCAB, (n - 1,), generator=gen)] for n in lengths]
            conts, margin = [], float("inf")
            for p in prompts:
                c, m = greedy(model, p, 16)
                conts.append(c)
                margin = min(margin, m)
            if margin > 1e-3:
                break
        else:
            raise SystemExit(f"{f['name']}: no seed gave greedy margins > 1e-3")
        # Self-check: incremental decoding with the cache equals the full forward.
        full = model.forward(prompts[-1])
        cache = ref.new_cache()
        inc = torch.cat([model.forward([t], cache) for t in prompts[-1]])
        assert torch.allclose(full, inc, rtol=0, atol=1e-12), "reference cache mismatch"
        ppl_tokens = [1] + [int(x) for x in torch.randint(3, VOCAB, (79,), generator=gen)]
        nll, scored = windowed_nll(model, ppl_tokens, 32, 16)
        assert scored == len(ppl_tokens) - 1
        ref.write_safetensors(os.path.join(out, "expected.safetensors"),
                              [(f"logits.{i}", model.forward(p).to(torch.float32)) for i, p in enumerate(prompts)])
        with open(os.path.join(out, "expected.json"), "w") as fp:
            json.dump({"prompts": prompts, "greedy": conts, "greedy_min_margin": margin,
                       "perplexity": {"tokens": ppl_tokens, "window": 32, "stride": 16,
                                      "nll_sum": nll, "n_scored": scored}}, fp)
        size = sum(os.path.getsize(os.path.join(out, x)) for x in os.listdir(out))
        print(f"{f['name']}: margin {margin:.4g}, ppl {math.exp(nll / scored):.2f}, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
