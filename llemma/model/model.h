// Model: the weights of a LLaMA-family decoder in the compute dtype, plus its
// Config. Read-only after Load and shared by any number of Contexts (which hold
// the per-session KV cache and scratch), so one Model serves many threads.
//
//   LoadOptions opts;  opts.dtype = DType::kBF16;
//   StatusOr<std::unique_ptr<Model>> m = Model::Load("/models/llemma_7b", opts);
//   auto ctx = Context::Create(**m, {.n_ctx = 4096});
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "llemma/backend/cpu/ops.h"
#include "llemma/core/aligned_buffer.h"
#include "llemma/core/dtype.h"
#include "llemma/core/status.h"
#include "llemma/model/config.h"

namespace llemma {

struct LoadOptions {
  DType dtype = DType::kBF16;  // storage type of the matrices of a Hugging Face checkpoint
                               // (f32/f16/bf16, or q8_0/q4_0 quantized while loading);
                               // GGUF files keep the types they were saved with
  int n_threads = 0;           // threads converting tensors (0 = all cores)
};

// Per-layer weights. Matrices are [out, in]; norms are f32.
struct LayerWeights {
  cpu::Matrix wq;      // (n_head * head_dim, n_embd)
  cpu::Matrix wk;      // (n_head_kv * head_dim, n_embd)
  cpu::Matrix wv;      // (n_head_kv * head_dim, n_embd)
  cpu::Matrix wo;      // (n_embd, n_head * head_dim)
  cpu::Matrix w_gate;  // (n_ff, n_embd)
  cpu::Matrix w_up;    // (n_ff, n_embd)
  cpu::Matrix w_down;  // (n_embd, n_ff)
  const float* attn_norm = nullptr;  // (n_embd)
  const float* ffn_norm = nullptr;   // (n_embd)
};

// Timings and sizes of the last load, for the stderr report and benchmarks.
struct LoadStats {
  int64_t t_load_us = 0;
  int64_t bytes_read = 0;      // checkpoint bytes converted
  int64_t bytes_weights = 0;   // bytes held by the loaded model
};

class Model {
 public:
  // Loads a Hugging Face checkpoint directory (config.json + safetensors) or a
  // GGUF file (llama architecture).
  static StatusOr<std::unique_ptr<Model>> Load(const std::string& path, const LoadOptions& opts);

  const Config& config() const { return config_; }
  DType dtype() const { return dtype_; }  // type of the layer matrices
  const LoadStats& load_stats() const { return stats_; }

  const cpu::Matrix& token_embd() const { return token_embd_; }  // (n_vocab, n_embd)
  const cpu::Matrix& output() const { return output_; }          // (n_vocab, n_embd)
  const float* output_norm() const { return output_norm_; }       // (n_embd)
  const LayerWeights& layer(int64_t i) const { return layers_[i]; }

 private:
  friend class ModelBuilder;
  Model() = default;

  Config config_;
  DType dtype_ = DType::kBF16;
  LoadStats stats_;
  cpu::Matrix token_embd_;
  cpu::Matrix output_;
  const float* output_norm_ = nullptr;
  std::vector<LayerWeights> layers_;
  std::vector<AlignedBuffer> buffers_;  // owns every tensor's bytes
};

}  // namespace llemma
