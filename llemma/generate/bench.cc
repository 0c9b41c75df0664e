#include "llemma/generate/bench.h"

#include <cmath>
#include <numeric>

#include "llemma/core/timer.h"
#include "llemma/generate/sampler.h"
#include "llemma/model/context.h"

namespace llemma {

namespace {

void Summarize(BenchResult& r) {
  const double n = static_cast<double>(r.samples_ts.size());
  r.avg_ts = std::accumulate(r.samples_ts.begin(), r.samples_ts.end(), 0.0) / n;
  double var = 0;
  for (double s : r.samples_ts) var += (s - r.avg_ts) * (s - r.avg_ts);
  r.stddev_ts = r.samples_ts.size() > 1 ? std::sqrt(var / (n - 1)) : 0.0;
}

}  // namespace

StatusOr<std::vector<BenchResult>> RunBench(const Model& model, const BenchOptions& opts) {
  if (opts.repetitions < 1) return InvalidArgumentError("repetitions must be >= 1");
  if (opts.prompt_tokens < 0 || opts.gen_tokens < 0 || opts.depth < 0) {
    return InvalidArgumentError("token counts must be >= 0");
  }
  const Config& c = model.config();
  const int64_t n_ctx = opts.depth + std::max<int64_t>({opts.prompt_tokens, opts.gen_tokens, 1});
  if (n_ctx > c.n_ctx_train) {
    return InvalidArgumentError("the test needs " + std::to_string(n_ctx) +
                                " positions but the model allows " + std::to_string(c.n_ctx_train));
  }
  if (opts.batch < 1) return InvalidArgumentError("batch must be >= 1");
  LLEMMA_ASSIGN_OR_RETURN(auto ctx, Context::Create(model, {.n_ctx = n_ctx + 1, .n_threads = opts.n_threads,
                                                            .n_batch = std::max<int64_t>(opts.prompt_tokens, 1),
                                                            .n_seq = opts.batch, .kv_type = opts.kv_type}));
  // Random token ids (never BOS/EOS), like llama-bench.
  Rng rng(1234);
  auto random_tokens = [&](int64_t n) {
    std::vector<int32_t> t(n);
    for (auto& id : t) id = 3 + static_cast<int32_t>(rng.Next() % static_cast<uint64_t>(c.n_vocab - 3));
    return t;
  };
  // --depth: a context already holding `depth` tokens, evaluated once; each
  // repetition rewinds to it.
  const std::string at_depth = opts.depth > 0 ? " @ d" + std::to_string(opts.depth) : "";
  if (opts.depth > 0) LLEMMA_RETURN_IF_ERROR(ctx->Eval(random_tokens(opts.depth)).status());
  std::vector<BenchResult> results;
  if (opts.prompt_tokens > 0) {
    BenchResult r;
    r.test = "pp" + std::to_string(opts.prompt_tokens) + at_depth;
    r.n_prompt = opts.prompt_tokens;
    const std::vector<int32_t> tokens = random_tokens(opts.prompt_tokens);
    for (int rep = -1; rep < opts.repetitions; ++rep) {  // rep -1 warms up
      ctx->Rewind(opts.depth);
      const int64_t t0 = NowMicros();
      LLEMMA_RETURN_IF_ERROR(ctx->Eval(tokens).status());
      const double secs = (NowMicros() - t0) / 1e6;
      if (rep >= 0) r.samples_ts.push_back(opts.prompt_tokens / secs);
    }
    r.n_depth = opts.depth;
    Summarize(r);
    results.push_back(std::move(r));
  }
  if (opts.gen_tokens > 0) {
    BenchResult r;
    r.test = "tg" + std::to_string(opts.gen_tokens) + at_depth;
    r.n_gen = opts.gen_tokens;
    for (int rep = -1; rep < opts.repetitions; ++rep) {
      ctx->Rewind(opts.depth);
      int32_t token = random_tokens(1)[0];
      const int64_t t0 = NowMicros();
      for (int64_t i = 0; i < (rep < 0 ? 4 : opts.gen_tokens); ++i) {
        LLEMMA_ASSIGN_OR_RETURN(std::span<const float> logits, ctx->Eval({&token, 1}));
        token = Sampler::Argmax(logits);
      }
      const double secs = (NowMicros() - t0) / 1e6;
      if (rep >= 0) r.samples_ts.push_back(opts.gen_tokens / secs);
    }
    r.n_depth = opts.depth;
    Summarize(r);
    results.push_back(std::move(r));
  }
  if (opts.gen_tokens > 0 && opts.batch > 1) {
    BenchResult r;
    r.test = "tg" + std::to_string(opts.gen_tokens) + "@b" + std::to_string(opts.batch) + at_depth;
    r.n_gen = opts.gen_tokens;
    r.n_batch = opts.batch;
    std::vector<int> seqs(opts.batch);
    for (int i = 0; i < opts.batch; ++i) seqs[i] = i;
    for (int rep = -1; rep < opts.repetitions; ++rep) {
      ctx->Rewind(opts.depth);
      if (opts.depth == 0) LLEMMA_RETURN_IF_ERROR(ctx->Eval(random_tokens(1)).status());
      for (int i = 1; i < opts.batch; ++i) LLEMMA_RETURN_IF_ERROR(ctx->Fork(0, i));
      std::vector<int32_t> tokens = random_tokens(opts.batch);
      const int64_t steps = rep < 0 ? 2 : opts.gen_tokens;
      const int64_t t0 = NowMicros();
      for (int64_t i = 0; i < steps; ++i) {
        LLEMMA_ASSIGN_OR_RETURN(std::span<const float> logits, ctx->EvalBatch(tokens, seqs));
        for (int b = 0; b < opts.batch; ++b) tokens[b] = Sampler::Argmax(logits.subspan(b * c.n_vocab, c.n_vocab));
      }
      const double secs = (NowMicros() - t0) / 1e6;
      if (rep >= 0) r.samples_ts.push_back(static_cast<double>(opts.gen_tokens) * opts.batch / secs);
    }
    r.n_depth = opts.depth;
    Summarize(r);
    results.push_back(std::move(r));
  }
  return results;
}

double DecodeBytesPerToken(const Model& model, int64_t depth, int64_t n_gen, DType kv_type) {
  const Config& c = model.config();
  const double emb_row = static_cast<double>(RowBytes(model.token_embd().dtype, c.n_embd));
  const bool tied = model.output().data == model.token_embd().data;
  const double weights = model.load_stats().bytes_weights - (tied ? 0 : c.n_vocab * emb_row) + emb_row;
  const double per_position = 2.0 * static_cast<double>(c.n_layer) * c.n_head_kv * c.head_dim * DTypeSize(kv_type);
  const double mean_positions = static_cast<double>(depth) + static_cast<double>(std::max<int64_t>(n_gen, 1) + 1) / 2;
  return weights + per_position * mean_positions;
}

}  // namespace llemma
