#include "llemma/model/tensor_names.h"

#include <cstring>

namespace llemma {

std::vector<TensorSpec> LlamaTensorSpecs(const Config& c, bool with_lm_head) {
  const int64_t q_dim = c.n_head * c.head_dim, kv_dim = c.n_head_kv * c.head_dim;
  std::vector<TensorSpec> s;
  auto matrix = [&](std::string hf, std::string gg, int64_t rows, int64_t cols, int64_t rope_heads = 0) {
    s.push_back({std::move(hf), std::move(gg), {rows, cols}, true, rope_heads});
  };
  auto norm = [&](std::string hf, std::string gg) {
    s.push_back({std::move(hf), std::move(gg), {c.n_embd}, false, 0});
  };
  matrix("model.embed_tokens.weight", "token_embd.weight", c.n_vocab, c.n_embd);
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    const std::string b = "blk." + std::to_string(i) + ".";
    norm(p + "input_layernorm.weight", b + "attn_norm.weight");
    matrix(p + "self_attn.q_proj.weight", b + "attn_q.weight", q_dim, c.n_embd, c.n_head);
    matrix(p + "self_attn.k_proj.weight", b + "attn_k.weight", kv_dim, c.n_embd, c.n_head_kv);
    matrix(p + "self_attn.v_proj.weight", b + "attn_v.weight", kv_dim, c.n_embd);
    matrix(p + "self_attn.o_proj.weight", b + "attn_output.weight", c.n_embd, q_dim);
    norm(p + "post_attention_layernorm.weight", b + "ffn_norm.weight");
    matrix(p + "mlp.gate_proj.weight", b + "ffn_gate.weight", c.n_ff, c.n_embd);
    matrix(p + "mlp.up_proj.weight", b + "ffn_up.weight", c.n_ff, c.n_embd);
    matrix(p + "mlp.down_proj.weight", b + "ffn_down.weight", c.n_embd, c.n_ff);
  }
  norm("model.norm.weight", "output_norm.weight");
  if (with_lm_head) matrix("lm_head.weight", "output.weight", c.n_vocab, c.n_embd);
  return s;
}

void PermuteRopeRows(const uint8_t* src, uint8_t* dst, int64_t n_heads, int64_t head_dim,
                     size_t row_bytes, bool to_gguf) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t j = 0; j < half; ++j) {
      for (int64_t s = 0; s < 2; ++s) {
        const int64_t hf_row = h * head_dim + s * half + j;
        const int64_t gg_row = h * head_dim + 2 * j + s;
        const int64_t from = to_gguf ? hf_row : gg_row, to = to_gguf ? gg_row : hf_row;
        std::memcpy(dst + to * row_bytes, src + from * row_bytes, row_bytes);
      }
    }
  }
}

}  // namespace llemma
