#include "llemma/generate/generator.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "llemma/core/timer.h"
#include "llemma/generate/stop_matcher.h"

namespace llemma {

const char* FinishReasonName(FinishReason r) {
  switch (r) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kEos: return "eos";
    case FinishReason::kLength: return "length";
  }
  return "?";
}

StatusOr<GenerateResult> Generate(Context& ctx, const Tokenizer& tok, std::span<const int32_t> prompt,
                                  const GenerateOptions& opts,
                                  const std::function<void(std::string_view)>& on_text) {
  LLEMMA_RETURN_IF_ERROR(ValidateSamplingParams(opts.sampling));
  if (opts.max_new_tokens < 0) return InvalidArgumentError("max new tokens must be >= 0");
  if (prompt.empty()) return InvalidArgumentError("the prompt is empty; give at least one token");
  const Config& cfg = ctx.model().config();
  if (static_cast<int64_t>(prompt.size()) >= ctx.n_ctx()) {
    return OutOfRangeError("the prompt has " + std::to_string(prompt.size()) +
                           " tokens but the context holds " + std::to_string(ctx.n_ctx()) +
                           "; shorten the prompt or raise the context size");
  }
  GenerateResult result;
  result.n_prompt = static_cast<int64_t>(prompt.size());

  ctx.Rewind(0);
  const int64_t t0 = NowMicros();
  LLEMMA_ASSIGN_OR_RETURN(std::span<const float> logits, ctx.Eval(prompt));
  result.t_prefill_us = NowMicros() - t0;

  Sampler sampler(opts.sampling);
  StreamDecoder decoder(tok, /*at_start=*/false);
  StopMatcher stops(opts.stop);
  auto emit = [&](const std::string& s) {
    if (s.empty()) return;
    result.text += s;
    if (on_text) on_text(s);
  };
  const int64_t t1 = NowMicros();
  for (int64_t i = 0; i < opts.max_new_tokens; ++i) {
    // Like the reference, every id of the model's vocabulary can be chosen; ids
    // the tokenizer cannot spell (padding rows) produce no text.
    const int32_t id = sampler.Sample(logits.subspan(logits.size() - cfg.n_vocab));
    result.tokens.push_back(id);
    if (opts.stop_at_eos && id == cfg.eos_id) {
      result.finish = FinishReason::kEos;
      break;
    }
    emit(stops.Push(decoder.Push(id)));
    if (stops.stopped()) {
      result.finish = FinishReason::kStop;
      result.stop_matched = stops.matched();
      break;
    }
    if (i + 1 == opts.max_new_tokens || ctx.n_past() >= ctx.n_ctx()) break;  // length
    LLEMMA_ASSIGN_OR_RETURN(logits, ctx.Eval(std::span<const int32_t>(&id, 1)));
    result.n_decode++;
  }
  if (!stops.stopped()) {
    emit(stops.Push(decoder.Flush()));
    if (stops.stopped()) {
      result.finish = FinishReason::kStop;
      result.stop_matched = stops.matched();
    } else {
      emit(stops.Flush());
    }
  }
  result.t_decode_us = NowMicros() - t1;
  return result;
}

}  // namespace llemma
