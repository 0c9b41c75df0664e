#include "llemma/eval/engine_backend.h"

#include <algorithm>
#include <cmath>

#include "llemma/core/timer.h"
#include "llemma/generate/generator.h"
#include "llemma/generate/perplexity.h"

namespace llemma::eval {

EngineBackend::EngineBackend(const Model& model, const Tokenizer& tok, std::string description,
                             const EngineOptions& opts)
    : model_(model), tok_(tok), description_(std::move(description)), opts_(opts) {
  max_length_ = model.config().n_ctx_train;
  if (opts.n_ctx > 0) max_length_ = std::min(max_length_, opts.n_ctx);
}

StatusOr<std::unique_ptr<EngineBackend>> EngineBackend::Create(const Model& model,
                                                               const Tokenizer& tok,
                                                               std::string description,
                                                               const EngineOptions& opts) {
  if (opts.parallel < 1) return InvalidArgumentError("--parallel must be at least 1");
  if (opts.n_threads < 0) return InvalidArgumentError("--threads must be >= 0");
  if (opts.n_ctx < 0) return InvalidArgumentError("--ctx must be >= 0");
  if (model.config().n_ctx_train < 2) {
    return InvalidArgumentError("config.json: max_position_embeddings must be at least 2");
  }
  return std::unique_ptr<EngineBackend>(
      new EngineBackend(model, tok, std::move(description), opts));
}

StatusOr<std::vector<int32_t>> EngineBackend::PromptTokens(std::string_view prompt,
                                                           int64_t max_tokens) const {
  const int64_t room = max_length_ - max_tokens - 1;  // BOS takes one position
  if (room < 1) {
    return InvalidArgumentError("--max-tokens " + std::to_string(max_tokens) +
                                " leaves no room for the prompt in the " +
                                std::to_string(max_length_) + "-token context; lower --max-tokens");
  }
  // The harness: encode without special tokens, keep the last
  // max_length - max_gen_toks tokens, decode to text; vLLM re-encodes it with BOS.
  std::vector<int32_t> ids = tok_.Encode(prompt, /*add_bos=*/false);
  const int64_t keep = max_length_ - max_tokens;
  if (static_cast<int64_t>(ids.size()) > keep) ids.erase(ids.begin(), ids.end() - keep);
  std::vector<int32_t> out = tok_.Encode(tok_.Decode(ids), /*add_bos=*/true);
  // The round trip can add a token or two; the prompt must still fit with max_tokens.
  if (static_cast<int64_t>(out.size()) > room + 1) {
    out.erase(out.begin() + 1, out.begin() + 1 + (static_cast<int64_t>(out.size()) - room - 1));
  }
  return out;
}

Status EngineBackend::Run(std::span<const GenRequest> requests, const OnRequestDone& on_done) {
  if (requests.empty()) return Status::Ok();
  std::vector<PromptJob> jobs;
  jobs.reserve(requests.size());
  int max_n = 1;
  int64_t need_ctx = 2;
  for (const GenRequest& r : requests) {
    const SamplingSpec& s = r.sampling;
    if (s.n < 1) return InvalidArgumentError("request " + r.id + ": n must be at least 1");
    if (s.max_tokens < 1)
      return InvalidArgumentError("request " + r.id + ": max_tokens must be >= 1");
    PromptJob job;
    if (!jobs.empty() && requests[jobs.size() - 1].prompt == r.prompt &&
        requests[jobs.size() - 1].sampling.max_tokens == s.max_tokens) {
      job.prompt = jobs.back().prompt;  // another request of the same problem
    } else {
      LLEMMA_ASSIGN_OR_RETURN(job.prompt, PromptTokens(r.prompt, s.max_tokens));
    }
    job.n = s.temperature == 0 ? 1 : s.n;  // greedy samples are all alike
    job.opts.max_new_tokens = s.max_tokens;
    job.opts.stop = s.stop;
    job.opts.sampling.temperature = static_cast<float>(s.temperature);
    job.opts.sampling.top_p = static_cast<float>(s.top_p);
    job.opts.sampling.seed = s.seed + static_cast<uint64_t>(s.first_sample);
    LLEMMA_RETURN_IF_ERROR(
        ValidateSamplingParams(job.opts.sampling).WithContext("request " + r.id));
    max_n = std::max(max_n, job.n);
    need_ctx = std::max<int64_t>(need_ctx, static_cast<int64_t>(job.prompt.size()) + s.max_tokens);
    jobs.push_back(std::move(job));
  }
  const int n_seq = std::max(opts_.parallel, max_n);
  if (!gen_ctx_ || gen_ctx_->n_ctx() < need_ctx || gen_ctx_->n_seq() < n_seq) {
    // Rounded up so that slightly longer prompts later do not make a new cache.
    ContextOptions co;
    co.n_ctx = std::min((need_ctx + 511) / 512 * 512, max_length_);
    if (gen_ctx_) co.n_ctx = std::max(co.n_ctx, gen_ctx_->n_ctx());
    co.n_threads = opts_.n_threads;
    co.kv_type = opts_.kv_type;
    co.n_batch = opts_.n_batch;
    co.n_seq = n_seq;
    gen_ctx_.reset();
    LLEMMA_ASSIGN_OR_RETURN(gen_ctx_, Context::Create(model_, co));
  }
  return GenerateMany(*gen_ctx_, tok_, jobs,
                      [&](size_t j, std::vector<GenerateResult> results) -> Status {
                        const GenRequest& r = requests[j];
                        const int n = r.sampling.n;
                        std::vector<GenSample> out;
                        out.reserve(n);
                        double seconds = 0;
                        for (const GenerateResult& g : results)
                          seconds += (g.t_prefill_us + g.t_decode_us) / 1e6;
                        for (int i = 0; i < n; ++i) {
                          const GenerateResult& g = results[results.size() == 1 ? 0 : i];
                          GenSample s;
                          s.index = r.sampling.first_sample + i;
                          s.text = g.text;
                          s.finish_reason = FinishReasonName(g.finish);
                          if (g.finish == FinishReason::kStop) s.stop_matched = g.stop_matched;
                          s.n_prompt_tokens = g.n_prompt;
                          s.n_tokens = static_cast<int64_t>(g.tokens.size());
                          s.seconds = seconds / static_cast<double>(results.size());
                          out.push_back(std::move(s));
                        }
                        if (results.size() == 1 && n > 1) {
                          // Greedy: one decode stands for all n samples; count its tokens once.
                          for (int i = 1; i < n; ++i) out[i].n_tokens = 0;
                        }
                        return on_done(r, std::move(out));
                      });
}

StatusOr<LogLikelihood> EngineBackend::Score(std::string_view context,
                                             std::string_view continuation) {
  if (continuation.empty())
    return InvalidArgumentError("nothing to score: the continuation is empty");
  const std::vector<int32_t> ctx_ids = tok_.Encode(context, /*add_bos=*/true);
  std::vector<int32_t> all = tok_.Encode(std::string(context) + std::string(continuation), true);
  size_t common = 0;
  while (common < ctx_ids.size() && common < all.size() && ctx_ids[common] == all[common]) ++common;
  common = std::max<size_t>(common, 1);  // BOS is never scored
  if (common >= all.size()) {
    return InvalidArgumentError("the continuation adds no token to the context");
  }
  // Longer than the model's context: keep the last max_length tokens.
  int64_t first = 0;
  if (static_cast<int64_t>(all.size()) > max_length_) {
    first = static_cast<int64_t>(all.size()) - max_length_;
  }
  const int64_t n = static_cast<int64_t>(all.size()) - first;
  if (!score_ctx_ || score_ctx_->n_ctx() < n) {
    ContextOptions co;
    co.n_ctx = max_length_;
    co.n_threads = opts_.n_threads;
    co.kv_type = opts_.kv_type;
    co.n_batch = opts_.n_batch;
    co.n_seq = 1;
    LLEMMA_ASSIGN_OR_RETURN(score_ctx_, Context::Create(model_, co));
  }
  Context& c = *score_ctx_;
  c.Rewind(0);
  const int64_t n_vocab = model_.config().n_vocab;
  const std::span<const int32_t> seq(all.data() + first, static_cast<size_t>(n));
  LogLikelihood ll;
  // Position p of the window predicts token p + 1; scored are the
  // continuation's tokens (absolute index >= common), except the window's first.
  const int64_t chunk = std::max<int64_t>(opts_.n_batch, 1);
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t len = std::min(chunk, n - begin);
    LLEMMA_ASSIGN_OR_RETURN(std::span<const float> logits,
                            c.Eval(seq.subspan(begin, len), /*all_logits=*/true));
    for (int64_t p = begin; p < begin + len; ++p) {
      const int64_t target = p + 1;
      if (target >= n || first + target < static_cast<int64_t>(common)) continue;
      ll.logprob -= TokenNll(logits.subspan((p - begin) * n_vocab, n_vocab), seq[target]);
      ll.n_tokens++;
    }
  }
  return ll;
}

}  // namespace llemma::eval
