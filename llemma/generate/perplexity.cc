#include "llemma/generate/perplexity.h"

#include <algorithm>

namespace llemma {

double TokenNll(std::span<const float> logits, int32_t target) {
  double m = logits[0];
  for (float v : logits) m = std::max<double>(m, v);
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - m);
  return (m + std::log(sum)) - logits[target];
}

StatusOr<PerplexityResult> ComputePerplexity(Context& ctx, std::span<const int32_t> tokens,
                                             const PerplexityOptions& opts,
                                             const std::function<void(int64_t, int64_t)>& progress) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t window = opts.window;
  const int64_t stride = opts.stride > 0 ? opts.stride : window;
  if (window < 2) return InvalidArgumentError("perplexity window must be at least 2 tokens");
  if (window > ctx.n_ctx()) {
    return InvalidArgumentError("perplexity window (" + std::to_string(window) +
                                ") exceeds the context size (" + std::to_string(ctx.n_ctx()) + ")");
  }
  if (stride > window) return InvalidArgumentError("perplexity stride must not exceed the window");
  if (n < 2) return InvalidArgumentError("need at least 2 tokens to measure perplexity");
  const int64_t n_vocab = ctx.model().config().n_vocab;
  PerplexityResult r;
  int64_t prev_end = 0;
  for (int64_t begin = 0; begin < n; begin += stride) {
    const int64_t end = std::min(begin + window, n);
    ctx.Rewind(0);
    LLEMMA_ASSIGN_OR_RETURN(std::span<const float> logits,
                            ctx.Eval(tokens.subspan(begin, end - begin), /*all_logits=*/true));
    // Window position p predicts the token at absolute index begin + p + 1.
    for (int64_t idx = std::max(begin + 1, prev_end); idx < end; ++idx) {
      const int64_t p = idx - 1 - begin;
      r.nll_sum += TokenNll(logits.subspan(p * n_vocab, n_vocab), tokens[idx]);
      r.n_scored++;
    }
    r.n_windows++;
    prev_end = end;
    if (progress) progress(end, n);
    if (end == n) break;
  }
  return r;
}

}  // namespace llemma
