// Context: one inference session over a shared, read-only Model — the KV
// cache, scratch activations, RoPE tables and the thread pool that runs the
// forward pass. Owned by one caller and not thread-safe; make one Context per
// concurrent session.
//
//   auto ctx = Context::Create(model, {.n_ctx = 2048, .n_threads = 4});
//   StatusOr<std::span<const float>> logits = (*ctx)->Eval(prompt_ids);  // last position
//   ... = (*ctx)->Eval({&next, 1});                                      // decode one token
//
// With n_seq > 1, several sequences live in one cache: prefill a prompt into
// each with EvalSeq, Fork a prefilled one to share its prefix, advance them
// all with EvalBatch, Clear a finished one to reuse it:
//
//   (*ctx)->EvalSeq(1, prompt_b);              // sequence 0 holds prompt A, 1 holds B
//   (*ctx)->Fork(1, 2);                        // 2 continues from B's prefix
//   (*ctx)->EvalBatch(next_tokens, {0, 1, 2});  // one step of all three
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
  // Values of the KV cache: kF16 (half the memory and the bytes attention
  // reads, as llama.cpp's default) or kF32 (exact).
  DType kv_type = DType::kF16;
};

class Context {
 public:
  static StatusOr<std::unique_ptr<Context>> Create(const Model& model, const ContextOptions& opts);

  // Runs `tokens` on sequence 0 at positions n_past() .. n_past()+n-1,
  // appending them to the KV cache. Returns logits (n_vocab floats per row)
  // for every position when `all_logits`, else for the last one only. The
  // span stays valid until the next call. Errors: empty input, ids outside
  // the vocabulary, context full.
  StatusOr<std::span<const float>> Eval(std::span<const int32_t> tokens, bool all_logits = false) {
    return EvalSeq(0, tokens, all_logits);
  }
  // The same on any sequence that holds its own cache (was not forked): this
  // is how a different prompt is prefilled into each sequence.
  StatusOr<std::span<const float>> EvalSeq(int seq, std::span<const int32_t> tokens,
                                           bool all_logits = false);

  // Forgets cache entries of sequence 0 at positions >= n_past (n_past <=
  // this->n_past()). Other sequences may share sequence 0's prefix, so they
  // are reset to empty.
  void Rewind(int64_t n_past);
  // Empties sequence `seq`. Fails while another non-empty sequence reads its
  // prefix from `seq` (clear that one first).
  Status Clear(int seq);

  // Batched decoding. After prefilling a prompt into sequence `src`,
  // Fork(src, dst) lets sequence dst continue from the same prefix without
  // copying or recomputing it (its attention reads src's cache below the
  // fork point; src may keep appending). `src` must hold its own cache (not
  // be forked itself) and no sequence may be reading from `dst`. EvalBatch
  // then advances several sequences (forked or not, of one prompt or of
  // many) by one token each in a single pass, reading the weights once for
  // all of them.
  Status Fork(int src, int dst);
  // tokens[i] is appended to sequence seqs[i] (distinct); returns logits
  // (tokens.size() rows of n_vocab).
  StatusOr<std::span<const float>> EvalBatch(std::span<const int32_t> tokens,
                                             std::span<const int> seqs);
  int64_t n_past(int seq) const { return seq_past_[seq]; }

  // A saved prefix, for prompts that begin alike (a benchmark's few-shot
  // examples): SavePrefix keeps a copy of the first n cache positions of
  // `seq` (which must hold its own cache); LoadPrefix(dst, n) empties dst and
  // puts the first n saved positions (n <= saved_prefix()) in its cache, as
  // if those tokens had been evaluated there. Evaluating the rest of a
  // prompt then gives bit for bit what evaluating the whole prompt gives,
  // provided n is a multiple of n_batch() (the chunks line up). Errors: bad
  // sequence or length, a sequence others read from, out of memory.
  Status SavePrefix(int seq, int64_t n);
  Status LoadPrefix(int dst, int64_t n);
  int64_t saved_prefix() const { return saved_n_; }
  int n_seq() const { return n_seq_; }

  int64_t n_past() const { return seq_past_[0]; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_batch() const { return n_batch_; }
  DType kv_type() const { return kv_type_; }
  const Model& model() const { return model_; }
  ThreadPool& pool() { return pool_; }

 private:
  Context(const Model& model, const ContextOptions& opts);
  void ForwardChunk(int seq, const int32_t* tokens, int64_t n, bool all_logits, float* logits_out);
  void ForwardBatch(const int32_t* tokens, const int* seqs, int64_t n, float* logits_out);
  void OutputAndFeedForward(const LayerWeights& w, int64_t m);
  // The K and V caches of one layer of one sequence: (n_head_kv, n_ctx,
  // head_dim) values of kv_type_, and the address of value i of one.
  uint8_t* KCache(int64_t layer, int seq);
  uint8_t* VCache(int64_t layer, int seq);
  uint8_t* KvAt(uint8_t* cache, int64_t i) const { return cache + static_cast<size_t>(i) * kv_bytes_; }
  // Cache positions pos.. of token rows (n_tokens, n_head_kv, head_dim) of k_ / v_.
  void StoreKv(int64_t layer, int seq, int64_t pos, int64_t t0, int64_t n_tokens);

  const Model& model_;
  const int64_t n_ctx_;
  const int64_t n_batch_;
  ThreadPool pool_;
  const int n_seq_;
  const DType kv_type_;
  const size_t kv_bytes_;
  std::vector<int64_t> seq_past_;    // positions held by each sequence
  std::vector<int64_t> prefix_len_;  // positions read from another sequence's cache (0 = none)
  std::vector<int> prefix_src_;      // the sequence they are read from (-1 = none)

  // KV cache, per layer and sequence: (n_head_kv, n_ctx, head_dim) values each for K and V.
  AlignedBuffer k_cache_, v_cache_;
  // The saved prefix: (n_layer, n_head_kv, saved_n_, head_dim) values each for K and V.
  AlignedBuffer saved_k_, saved_v_;
  int64_t saved_n_ = 0;
  // RoPE tables: (n_ctx, head_dim/2).
  std::vector<float> rope_cos_, rope_sin_;
  // Scratch for one chunk of up to n_batch tokens.
  AlignedBuffer x_, xb_, xb2_, q_, k_, v_, att_, hb_, hb2_;
  std::vector<float> logits_;
};

}  // namespace llemma
