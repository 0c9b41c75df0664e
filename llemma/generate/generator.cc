#include "llemma/generate/generator.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "llemma/core/timer.h"
#include "llemma/generate/stop_matcher.h"

namespace llemma {

const char* FinishReasonName(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kEos:
      return "eos";
    case FinishReason::kLength:
      return "length";
  }
  return "?";
}

StatusOr<GenerateResult> Generate(Context& ctx, const Tokenizer& tok,
                                  std::span<const int32_t> prompt, const GenerateOptions& opts,
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

StatusOr<std::vector<GenerateResult>> GenerateN(Context& ctx, const Tokenizer& tok,
                                                std::span<const int32_t> prompt,
                                                const GenerateOptions& opts, int n) {
  LLEMMA_RETURN_IF_ERROR(ValidateSamplingParams(opts.sampling));
  if (n < 1 || n > ctx.n_seq()) {
    return InvalidArgumentError("GenerateN: n (" + std::to_string(n) + ") must be in [1, " +
                                std::to_string(ctx.n_seq()) + "], the context's sequence count");
  }
  if (prompt.empty()) return InvalidArgumentError("the prompt is empty; give at least one token");
  if (static_cast<int64_t>(prompt.size()) >= ctx.n_ctx()) {
    return OutOfRangeError("the prompt has " + std::to_string(prompt.size()) +
                           " tokens but the context holds " + std::to_string(ctx.n_ctx()) +
                           "; shorten the prompt or raise the context size");
  }
  const int64_t V = ctx.model().config().n_vocab;
  const int32_t eos = ctx.model().config().eos_id;
  ctx.Rewind(0);
  const int64_t t0 = NowMicros();
  LLEMMA_ASSIGN_OR_RETURN(std::span<const float> first, ctx.Eval(prompt));
  const std::vector<float> prompt_logits(first.end() - V, first.end());
  const int64_t t_prefill = NowMicros() - t0;

  struct Seq {
    Sampler sampler;
    StreamDecoder decoder;
    StopMatcher stops;
    GenerateResult result;
    bool done = false;
  };
  std::vector<Seq> seqs;
  seqs.reserve(n);
  for (int i = 0; i < n; ++i) {
    SamplingParams p = opts.sampling;
    p.seed += static_cast<uint64_t>(i);
    seqs.push_back(Seq{Sampler(p), StreamDecoder(tok, false), StopMatcher(opts.stop), {}, false});
    seqs.back().result.n_prompt = static_cast<int64_t>(prompt.size());
    seqs.back().result.t_prefill_us = t_prefill;
    if (i > 0) LLEMMA_RETURN_IF_ERROR(ctx.Fork(0, i));
  }
  // Samples the next token of sequence i from `logits`; returns false when it finished.
  auto advance = [&](Seq& s, std::span<const float> logits, int32_t* next) {
    const int32_t id = s.sampler.Sample(logits);
    s.result.tokens.push_back(id);
    if (opts.stop_at_eos && id == eos) {
      s.result.finish = FinishReason::kEos;
      return false;
    }
    s.result.text += s.stops.Push(s.decoder.Push(id));
    if (s.stops.stopped()) {
      s.result.finish = FinishReason::kStop;
      s.result.stop_matched = s.stops.matched();
      return false;
    }
    if (static_cast<int64_t>(s.result.tokens.size()) >= opts.max_new_tokens) return false;
    *next = id;
    return true;
  };
  std::vector<int32_t> tokens;
  std::vector<int> ids;
  const int64_t t1 = NowMicros();
  if (opts.max_new_tokens > 0) {
    for (int i = 0; i < n; ++i) {
      int32_t next;
      if (advance(seqs[i], prompt_logits, &next)) {
        tokens.push_back(next);
        ids.push_back(i);
      } else {
        seqs[i].done = true;
      }
    }
  }
  while (!tokens.empty()) {
    // Sequences that reached the end of the context stop with "length".
    std::vector<int32_t> t2;
    std::vector<int> i2;
    for (size_t j = 0; j < tokens.size(); ++j) {
      if (ctx.n_past(ids[j]) < ctx.n_ctx()) {
        t2.push_back(tokens[j]);
        i2.push_back(ids[j]);
      }
    }
    if (t2.empty()) break;
    LLEMMA_ASSIGN_OR_RETURN(std::span<const float> logits, ctx.EvalBatch(t2, i2));
    tokens.clear();
    ids.clear();
    for (size_t j = 0; j < t2.size(); ++j) {
      Seq& s = seqs[i2[j]];
      s.result.n_decode++;
      int32_t next;
      if (advance(s, logits.subspan(j * V, V), &next)) {
        tokens.push_back(next);
        ids.push_back(i2[j]);
      }
    }
  }
  const int64_t t_decode = NowMicros() - t1;
  std::vector<GenerateResult> out;
  for (Seq& s : seqs) {
    if (!s.stops.stopped()) {
      s.result.text += s.stops.Push(s.decoder.Flush());
      if (s.stops.stopped()) {
        s.result.finish = FinishReason::kStop;
        s.result.stop_matched = s.stops.matched();
      } else {
        s.result.text += s.stops.Flush();
      }
    }
    s.result.t_decode_us = t_decode;
    out.push_back(std::move(s.result));
  }
  return out;
}

}  // namespace llemma
