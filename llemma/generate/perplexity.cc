#include "llemma/generate/perplexity.h"

#include <algorithm>
#include <vector>

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

namespace {
// log-softmax of a row in double precision.
void LogSoftmax(std::span<const float> logits, std::vector<double>* out) {
  double m = logits[0];
  for (float v : logits) m = std::max<double>(m, v);
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - m);
  const double lse = m + std::log(sum);
  out->resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) (*out)[i] = logits[i] - lse;
}
}  // namespace

StatusOr<PerplexityResult> ComputeChunkedPerplexity(Context& ctx, std::span<const int32_t> tokens, int64_t chunk,
                                                    int32_t bos_id, Context* base,
                                                    const std::function<void(int64_t, int64_t)>& progress) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (chunk < 4) return InvalidArgumentError("perplexity chunks must hold at least 4 tokens");
  if (chunk > ctx.n_ctx() || (base && chunk > base->n_ctx())) {
    return InvalidArgumentError("perplexity chunk (" + std::to_string(chunk) + ") exceeds the context size");
  }
  if (n < chunk) {
    return InvalidArgumentError("the text has " + std::to_string(n) + " tokens, fewer than one chunk of " +
                                std::to_string(chunk) + "; use a longer text or smaller chunks");
  }
  const int64_t V = ctx.model().config().n_vocab;
  if (base && base->model().config().n_vocab != V) {
    return InvalidArgumentError("the base model has a different vocabulary size");
  }
  PerplexityResult r;
  std::vector<int32_t> buf(chunk);
  std::vector<float> logits_copy;
  std::vector<double> lp, lq;
  const int64_t first = chunk / 2;
  for (int64_t start = 0; start + chunk <= n; start += chunk) {
    std::copy(tokens.begin() + start, tokens.begin() + start + chunk, buf.begin());
    buf[0] = bos_id;
    ctx.Rewind(0);
    LLEMMA_ASSIGN_OR_RETURN(std::span<const float> logits, ctx.Eval(buf, /*all_logits=*/true));
    if (base) logits_copy.assign(logits.begin(), logits.end());
    std::span<const float> base_logits;
    if (base) {
      base->Rewind(0);
      LLEMMA_ASSIGN_OR_RETURN(base_logits, base->Eval(buf, /*all_logits=*/true));
    }
    const std::span<const float> mine = base ? std::span<const float>(logits_copy) : logits;
    for (int64_t j = first; j < chunk - 1; ++j) {
      const int32_t target = tokens[start + j + 1];
      const auto row = mine.subspan(j * V, V);
      r.nll_sum += TokenNll(row, target);
      r.n_scored++;
      if (base) {
        const auto brow = base_logits.subspan(j * V, V);
        LogSoftmax(row, &lq);
        LogSoftmax(brow, &lp);
        double kl = 0;
        for (int64_t v = 0; v < V; ++v) kl += std::exp(lp[v]) * (lp[v] - lq[v]);
        r.kl_sum += kl;
        r.base_nll_sum -= lp[target];
        const auto top = [](std::span<const float> x) { return std::max_element(x.begin(), x.end()) - x.begin(); };
        if (top(row) == top(brow)) r.n_same_top1++;
      }
    }
    r.n_windows++;
    if (progress) progress(start + chunk, n);
  }
  return r;
}

}  // namespace llemma
