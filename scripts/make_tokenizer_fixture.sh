#!/usr/bin/env bash
# Trains the tiny SentencePiece BPE model used by tokenizer and model tests
# (tests/testdata/tokenizer/tiny.model). Same options as LLaMA's tokenizer
# (BPE, byte fallback, digits split, unk/bos/eos = 0/1/2) plus Code Llama style
# user-defined infill pieces. Needs Debian's `sentencepiece` package.
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/testdata/tokenizer
mkdir -p "$out"
corpus=$(mktemp)
trap 'rm -f "$corpus"' EXIT
for i in $(seq 1 60); do
  cat >> "$corpus" <<TXT
Problem: Find the value of \$x\$ such that \$${i}x + 3 = $((i * 7))\$.
Solution: Subtracting 3 from both sides gives \$${i}x = $((i * 7 - 3))\$, so \$x = \\frac{$((i * 7 - 3))}{${i}}\$.
Final Answer: The final answer is \$\\frac{$((i * 7 - 3))}{${i}}\$. I hope it is correct.
Q: Natalia sold clips to $((i * 3)) of her friends in April. How many clips did she sell? The answer is $((i * 5)).
theorem mathd_algebra_${i} (x : ℝ) (h : x + ${i} = $((i * 2))) : x = ${i} := by linarith
def solve(): return sympy.simplify(sympy.sqrt(${i}) ** 2)
Ünïcödé tëxt — naïve café, π ≈ 3.14159, ∑ᵢ aᵢ ≤ ∞.
TXT
done
spm_train --input="$corpus" --model_prefix="$out/tiny" --model_type=bpe --vocab_size=400 \
  --character_coverage=0.9995 --byte_fallback=true --split_digits=true \
  --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 \
  --user_defined_symbols="▁<PRE>,▁<MID>,▁<SUF>,▁<EOT>" \
  --add_dummy_prefix=true --remove_extra_whitespaces=false --allow_whitespace_only_pieces=true \
  --normalization_rule_name=identity --num_threads=1 --seed_sentencepiece_size=100000 \
  --minloglevel=2
rm -f "$out/tiny.vocab"
echo "wrote $out/tiny.model"
