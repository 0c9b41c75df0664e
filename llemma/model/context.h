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
  int64_t n_ctx = 0;      // KV cache capacity in tokens per sequence; 0 = max_position_embeddings
  int n_threads = 0;      // 0 = one per core
  int64_t n_batch = 256;  // prompt tokens per forward chunk (bounds scratch memory)
  int n_seq = 1;          // sequences that can decode together (EvalBatch)
};

class Context {
 public:
  static StatusOr<std::unique_ptr<Context>> Create(const Model& model, const ContextOptions& opts);

  // Runs `tokens` at positions n_past() .. n_past()+n-1, appending them to the
  // KV cache. Returns logits (n_vocab floats per row) for every position when
  // `all_logits`, else for the last one only. The span stays valid until the
  // next call. Errors: empty input, ids outside the vocabulary, context full.
  StatusOr<std::span<const float>> Eval(std::span<const int32_t> tokens, bool all_logits = false);

  // Forgets cache entries of sequence 0 at positions >= n_past (n_past <=
  // this->n_past()). Other sequences may share sequence 0's prefix, so they
  // are reset to empty.
  void Rewind(int64_t n_past);

  // Batched decoding. Eval and Rewind work on sequence 0; after prefilling a
  // prompt there, Fork(0, s) lets sequence s continue from the same prefix
  // without copying or recomputing it (its attention reads sequence 0's cache
  // below the fork point). EvalBatch then advances several sequences by one
  // token each in a single pass, reading the weights once for all of them.
  Status Fork(int src, int dst);
  // tokens[i] is appended to sequence seqs[i] (distinct); returns logits
  // (tokens.size() rows of n_vocab).
  StatusOr<std::span<const float>> EvalBatch(std::span<const int32_t> tokens,
                                             std::span<const int> seqs);
  int64_t n_past(int seq) const { return seq == 0 ? n_past_ : seq_past_[seq]; }
  int n_seq() const { return n_seq_; }

  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return n_ctx_; }
  const Model& model() const { return model_; }
  ThreadPool& pool() { return pool_; }

 private:
  Context(const Model& model, const ContextOptions& opts);
  void ForwardChunk(const int32_t* tokens, int64_t n, bool all_logits, float* logits_out);
  void ForwardBatch(const int32_t* tokens, const int* seqs, int64_t n, float* logits_out);
  void OutputAndFeedForward(const LayerWeights& w, int64_t m);
  // The K and V caches of one layer of one sequence: (n_head_kv, n_ctx, head_dim).
  float* KCache(int64_t layer, int seq);
  float* VCache(int64_t layer, int seq);

  const Model& model_;
  const int64_t n_ctx_;
  const int64_t n_batch_;
  ThreadPool pool_;
  const int n_seq_;
  int64_t n_past_ = 0;               // sequence 0
  std::vector<int64_t> seq_past_;    // positions held by each sequence (index 0 unused)
  std::vector<int64_t> prefix_len_;  // positions read from sequence 0 (0 = none)

  // KV cache, per layer and sequence: (n_head_kv, n_ctx, head_dim) floats each for K and V.
  AlignedBuffer k_cache_, v_cache_;
  // RoPE tables: (n_ctx, head_dim/2).
  std::vector<float> rope_cos_, rope_sin_;
  // Scratch for one chunk of up to n_batch tokens.
  AlignedBuffer x_, xb_, xb2_, q_, k_, v_, att_, hb_, hb2_, att_scratch_;
  std::vector<float> logits_;
};

}  // namespace llemma
