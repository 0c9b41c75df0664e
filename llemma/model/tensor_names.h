// The tensors of a LLaMA checkpoint under their Hugging Face and GGUF names,
// with shapes implied by the Config, and the row permutation between the two
// RoPE layouts: Hugging Face q/k rows are in rotate-half order (all first
// halves of the pairs, then all second halves, per head); GGUF files store
// them interleaved (pair by pair), as llama.cpp's converter permutes them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llemma/model/config.h"

namespace llemma {

struct TensorSpec {
  std::string hf_name;           // "model.layers.0.self_attn.q_proj.weight"
  std::string gguf_name;         // "blk.0.attn_q.weight"
  std::vector<int64_t> shape;    // [out, in] for matrices, [n] for norms
  bool is_matrix = false;
  int64_t rope_heads = 0;        // q: n_head, k: n_head_kv; 0 for other tensors
};

// Every tensor of the model; `with_lm_head` adds lm_head/output.weight.
std::vector<TensorSpec> LlamaTensorSpecs(const Config& c, bool with_lm_head);

// Reorders the rows of a q/k matrix of `n_heads` heads of `head_dim` rows each.
// to_gguf: Hugging Face row s·(d/2) + j  →  GGUF row 2j + s; otherwise the inverse.
void PermuteRopeRows(const uint8_t* src, uint8_t* dst, int64_t n_heads, int64_t head_dim,
                     size_t row_bytes, bool to_gguf);

}  // namespace llemma
