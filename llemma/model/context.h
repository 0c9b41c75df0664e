// Context: one inference session over a shared, read-only Model — the KV
// cache, scratch activations, RoPE tables and the thread pool that runs the
// forward pass. Owned by one caller and not thread-safe; make one Context per
// concurrent session.
//
//   auto ctx = Context::Create(model, {.n_ctx = 2048, .n_threads = 4});
//   StatusOr<std::span<const float>> logits = (*ctx)->Eval(prompt_ids);  // last position
//   ... = (*ctx)->Eval({&next, 1});                                      // decode one token
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "llemma/core/aligned_buffer.h"
#include "llemma/core/status.h"
#include "llemma/core/thread_pool.h"
#include "llemma/model/model.h"

namespace llemma {

struct ContextOptions {
  int64_t n_ctx = 0;      // KV cache capacity in tokens; 0 = the model's max_position_embeddings
  int n_threads = 0;      // 0 = one per core
  int64_t n_batch = 256;  // prompt tokens per forward chunk (bounds scratch memory)
};

class Context {
 public:
  static StatusOr<std::unique_ptr<Context>> Create(const Model& model, const ContextOptions& opts);

  // Runs `tokens` at positions n_past() .. n_past()+n-1, appending them to the
  // KV cache. Returns logits (n_vocab floats per row) for every position when
  // `all_logits`, else for the last one only. The span stays valid until the
  // next call. Errors: empty input, ids outside the vocabulary, context full.
  StatusOr<std::span<const float>> Eval(std::span<const int32_t> tokens, bool all_logits = false);

  // Forgets cache entries at positions >= n_past (n_past <= this->n_past()).
  void Rewind(int64_t n_past);

  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return n_ctx_; }
  const Model& model() const { return model_; }
  ThreadPool& pool() { return pool_; }

 private:
  Context(const Model& model, const ContextOptions& opts);
  void ForwardChunk(const int32_t* tokens, int64_t n, bool all_logits, float* logits_out);

  const Model& model_;
  const int64_t n_ctx_;
  const int64_t n_batch_;
  ThreadPool pool_;
  int64_t n_past_ = 0;

  // KV cache, per layer: (n_head_kv, n_ctx, head_dim) floats each for K and V.
  AlignedBuffer k_cache_, v_cache_;
  // RoPE tables: (n_ctx, head_dim/2).
  std::vector<float> rope_cos_, rope_sin_;
  // Scratch for one chunk of up to n_batch tokens.
  AlignedBuffer x_, xb_, xb2_, q_, k_, v_, att_, hb_, hb2_, att_scratch_;
  std::vector<float> logits_;
};

}  // namespace llemma
