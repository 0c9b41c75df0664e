// Config: the hyper-parameters of a LLaMA-family decoder, read from a Hugging
// Face `config.json` (LlamaForCausalLM) or built in code. Value type.
//
//   StatusOr<Config> c = LoadConfig("/models/llemma_7b/config.json");
//   c->n_head_kv   // 32 for LLEMMA 7B, 8 for LLEMMA 34B
#pragma once

#include <cstdint>
#include <string>

#include "llemma/core/status.h"

namespace llemma {

struct Config {
  int64_t n_embd = 0;          // hidden_size
  int64_t n_ff = 0;            // intermediate_size
  int64_t n_layer = 0;         // num_hidden_layers
  int64_t n_head = 0;          // num_attention_heads
  int64_t n_head_kv = 0;       // num_key_value_heads (defaults to n_head)
  int64_t head_dim = 0;        // head_dim, or n_embd / n_head
  int64_t n_vocab = 0;         // vocab_size
  int64_t n_ctx_train = 0;     // max_position_embeddings
  float rms_norm_eps = 1e-6f;
  double rope_theta = 10000.0;
  double rope_scale = 1.0;     // rope_scaling {"type": "linear", "factor": f}: positions / f
  bool tie_word_embeddings = false;
  int32_t bos_id = 1;
  int32_t eos_id = 2;

  // Checks internal consistency (positive sizes, heads divide, even head_dim).
  // `source` names the file for messages.
  Status Validate(const std::string& source) const;
  // Number of parameters implied by the shapes.
  int64_t ParameterCount() const;
};

// Parses config.json text; `source` is used in error messages.
StatusOr<Config> ParseConfig(const std::string& json_text, const std::string& source);
StatusOr<Config> LoadConfig(const std::string& path);

}  // namespace llemma
