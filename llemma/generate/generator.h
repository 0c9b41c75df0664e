// Generate: the decoding loop for one sequence. Prefills the prompt as one
// batched pass, then decodes token by token with a Sampler, turning tokens
// into text with a StreamDecoder and cutting at stop strings with a
// StopMatcher. Text is handed to `on_text` as soon as it is final (never a
// broken UTF-8 sequence, never part of a stop string).
//
//   GenerateOptions opts;
//   opts.max_new_tokens = 512;
//   opts.stop = {"I hope it is correct."};
//   StatusOr<GenerateResult> r = Generate(*ctx, *tok, tok->Encode(prompt, true), opts,
//                                         [](std::string_view s) { std::cout << s; });
//
// GenerateN draws n samples of one prompt as a batch; GenerateMany runs many
// prompts (each with its n samples) through one Context together:
//
//   std::vector<PromptJob> jobs = {{tok->Encode(a, true), 4, opts}, {tok->Encode(b, true), 4,
//   opts}}; Status s = GenerateMany(*ctx, *tok, jobs, [&](size_t j, std::vector<GenerateResult> r)
//   {
//     return Store(j, std::move(r));
//   });
//
// Stateless apart from the Context it is given (which it rewinds to empty).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llemma/core/status.h"
#include "llemma/generate/sampler.h"
#include "llemma/model/context.h"
#include "llemma/tokenizer/tokenizer.h"

namespace llemma {

struct GenerateOptions {
  SamplingParams sampling;
  int64_t max_new_tokens = 256;
  std::vector<std::string> stop;  // stop strings, matched on the generated text
  bool stop_at_eos = true;
};

enum class FinishReason { kStop, kEos, kLength };
const char* FinishReasonName(FinishReason r);  // "stop", "eos", "length"

struct GenerateResult {
  std::string text;             // the continuation, without any stop string
  std::vector<int32_t> tokens;  // generated ids (including the one that completed a stop string)
  FinishReason finish = FinishReason::kLength;
  std::string stop_matched;  // which stop string ended generation
  int64_t n_prompt = 0;
  int64_t t_prefill_us = 0;
  int64_t t_decode_us = 0;
  int64_t n_decode = 0;  // forward passes of single tokens
  int64_t n_prompt_reused =
      0;  // GenerateMany: prompt tokens whose cache was copied from an earlier prompt
};

StatusOr<GenerateResult> Generate(Context& ctx, const Tokenizer& tok,
                                  std::span<const int32_t> prompt, const GenerateOptions& opts,
                                  const std::function<void(std::string_view)>& on_text = {});

// n samples of one prompt (the n > 1 case of majority voting): the prompt is
// prefilled once, the samples fork from it, and all unfinished samples
// advance together, one batched forward pass per step. Sample i uses the seed
// opts.sampling.seed + i, so it equals Generate() with that seed. `ctx` needs
// n_seq >= n.
StatusOr<std::vector<GenerateResult>> GenerateN(Context& ctx, const Tokenizer& tok,
                                                std::span<const int32_t> prompt,
                                                const GenerateOptions& opts, int n);

// One prompt of a GenerateMany call and the samples wanted from it.
struct PromptJob {
  std::vector<int32_t> prompt;  // token ids, BOS included when wanted
  int n = 1;                    // samples; sample i is drawn with seed opts.sampling.seed + i
  GenerateOptions opts;         // sampling, max new tokens, stops of this job
};

// Called once per job, as soon as all its samples are done (jobs finish in
// any order): the job's index in `jobs` and its n results, sample i at [i].
// A non-OK status stops GenerateMany, which returns it.
using OnJobDone = std::function<Status(size_t job, std::vector<GenerateResult> results)>;

// Several prompts in flight at once (continuous batching). Each job's prompt
// is prefilled into a free sequence of `ctx`, its other samples fork from it,
// and every unfinished sample of every admitted job advances in one
// EvalBatch per step. A sequence is handed to the next queued job as soon as
// its sample is done (a job's prompt sequence once the whole job is done).
// Jobs are admitted in order, each when n of its sequences are free. Prompts
// that begin alike (the few-shot examples of a benchmark) are prefilled
// once: the shared start, in whole chunks of ctx.n_batch() tokens, is saved
// and copied into each later prompt's cache (n_prompt_reused says how much).
// Results equal, token for token, GenerateN(ctx, tok, job.prompt, job.opts,
// job.n) for each job alone (and so Generate() with seed + i for sample i, on
// a context with the same n_batch).
// Needs ctx.n_seq() >= every job's n; rewinds `ctx` to empty first. Timing:
// t_prefill_us is the job's prefill, t_decode_us the time from then to its end
// (shared with the other jobs in flight).
Status GenerateMany(Context& ctx, const Tokenizer& tok, std::span<const PromptJob> jobs,
                    const OnJobDone& on_done);

}  // namespace llemma
