// Perplexity of a token sequence under a model, over sliding windows in the
// manner of the Hugging Face perplexity guide (and the data-mixture
// ablations): windows of `window` tokens advance by `stride`; each window
// scores only the targets not scored by an earlier window, so every token
// after the first is scored exactly once, with up to window-stride tokens of
// context carried over.
//
//   StatusOr<PerplexityResult> r = ComputePerplexity(*ctx, ids, {.window = 2048, .stride = 1024});
//   r->Perplexity();   // exp(nll_sum / n_scored)
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <span>

#include "llemma/core/status.h"
#include "llemma/model/context.h"

namespace llemma {

struct PerplexityOptions {
  int64_t window = 0;  // tokens per forward pass; must fit in the context
  int64_t stride = 0;  // 0 = window (disjoint windows)
};

struct PerplexityResult {
  double nll_sum = 0;   // Σ -log p(token | preceding tokens in its window), natural log
  int64_t n_scored = 0;
  int64_t n_windows = 0;
  // Filled when a base model is compared (ComputeChunkedPerplexity with `base`):
  int64_t n_same_top1 = 0;  // scored positions where both models' most likely token agree
  double kl_sum = 0;        // Σ KL(base ‖ model) over scored positions
  double base_nll_sum = 0;
  double MeanNll() const { return n_scored ? nll_sum / n_scored : 0.0; }
  double Perplexity() const { return std::exp(MeanNll()); }
};

// `progress(done_tokens, total_tokens)` is called after each window.
StatusOr<PerplexityResult> ComputePerplexity(
    Context& ctx, std::span<const int32_t> tokens, const PerplexityOptions& opts,
    const std::function<void(int64_t, int64_t)>& progress = {});

// llama.cpp's perplexity protocol (llama-perplexity), for side-by-side
// numbers: the tokens are cut into chunks of `chunk` tokens (a trailing
// remainder is dropped); each chunk starts with `bos_id` in place of its first
// token, is evaluated from an empty cache, and only its second half is scored
// (positions chunk/2+1 .. chunk-1). With `base`, the same chunks also run on
// a second model and the result carries top-1 agreement and KL divergence.
StatusOr<PerplexityResult> ComputeChunkedPerplexity(Context& ctx, std::span<const int32_t> tokens, int64_t chunk,
                                                    int32_t bos_id, Context* base = nullptr,
                                                    const std::function<void(int64_t, int64_t)>& progress = {});

// -log softmax(logits)[target], computed stably in double precision.
double TokenNll(std::span<const float> logits, int32_t target);

}  // namespace llemma
