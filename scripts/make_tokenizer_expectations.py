#!/usr/bin/env python3
"""Writes tests/testdata/tokenizer/expected_<model>.json: encodings and
decodings of a varied corpus by the SentencePiece Python bindings (Debian's
python3-sentencepiece), which the C++ tokenizer tests compare against.

    /usr/bin/python3 scripts/make_tokenizer_expectations.py
"""
import json
import os
import random

import sentencepiece as spm

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "testdata", "tokenizer")

CORPUS = [
    "Hello world",
    "Problem:\nFind the value of $x$ such that $3x + 7 = 22$.\n\nSolution:",
    "Final Answer: The final answer is $\\frac{15}{3}$. I hope it is correct.",
    "\\boxed{\\sqrt{2}\\cdot\\pi^{2}}",
    "def solve():\n    x = sympy.Symbol('x')\n    return sympy.solve(x**2 - 4, x)\n",
    "theorem foo (n : ℕ) (h : 0 < n) : n ≥ 1 := by omega",
    "   leading spaces and  double  spaces   ",
    "tabs\tand\nnewlines\r\n",
    "Unicode: naïve café — ∑ᵢ aᵢ ≤ ∞, 漢字, 😀🧮",
    "The answer is 1,000,000.",
    "",
    " ",
    "▁<PRE> x ▁<SUF> y ▁<MID>",
    "a" * 50,
    "12345678901234567890",
]


def main():
    rng = random.Random(0)
    for name in ["tiny.model", "llama2-tokenizer.model"]:
        path = os.path.join(ROOT, name)
        if not os.path.exists(path):
            continue
        sp = spm.SentencePieceProcessor(model_file=path)
        cases = []
        for text in CORPUS:
            cases.append({"text": text, "ids": sp.encode(text)})
        decodes = []
        for _ in range(300):
            n = rng.randint(1, 12)
            ids = [rng.randrange(sp.vocab_size()) for _ in range(n)]
            # Bias towards byte pieces so multi-byte assembly is exercised.
            if rng.random() < 0.5:
                ids = [rng.choice([i for i in range(sp.vocab_size()) if sp.is_byte(i)][:256]) if rng.random() < 0.6 else i for i in ids]
            decodes.append({"ids": ids, "text": sp.decode(ids)})
        out = os.path.join(ROOT, "expected_" + name.replace(".model", "") + ".json")
        with open(out, "w", encoding="utf-8") as f:
            json.dump({"model": name, "vocab_size": sp.vocab_size(), "bos": sp.bos_id(), "eos": sp.eos_id(),
                       "encode": cases, "decode": decodes}, f, ensure_ascii=False, indent=0)
        print("wrote", out)


if __name__ == "__main__":
    main()
