#include "llemma/generate/generator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <list>
#include <string>
#include <utility>

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

namespace {

// One sample in flight: its sampler, detokenizer, stop matcher and result so far.
struct Sample {
  Sampler sampler;
  StreamDecoder decoder;
  StopMatcher stops;
  GenerateResult result;
  int seq = -1;      // the context sequence it decodes in
  int32_t next = 0;  // the token to feed at the next step
  bool live = false;
};

// Samples the next token from `logits`; false when the sample is finished.
bool Advance(Sample& s, std::span<const float> logits, const GenerateOptions& opts, int32_t eos) {
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
  s.next = id;
  return true;
}

// Releases the text still held by the decoder and the stop matcher.
void FlushSample(Sample& s) {
  if (s.stops.stopped()) return;
  s.result.text += s.stops.Push(s.decoder.Flush());
  if (s.stops.stopped()) {
    s.result.finish = FinishReason::kStop;
    s.result.stop_matched = s.stops.matched();
  } else {
    s.result.text += s.stops.Flush();
  }
}

// A job whose prompt is in the context.
struct ActiveJob {
  size_t index = 0;
  const PromptJob* job = nullptr;
  int prompt_seq = -1;  // holds the prompt; the other samples' sequences read from it
  std::vector<Sample> samples;
  int live = 0;
  int64_t t_start_us = 0;  // end of the prefill
};

Status ValidateJob(const Context& ctx, const PromptJob& j, const std::string& what) {
  Status s = ValidateSamplingParams(j.opts.sampling);
  if (!s.ok()) return s.WithContext(what);
  if (j.opts.max_new_tokens < 0)
    return InvalidArgumentError(what + ": max new tokens must be >= 0");
  if (j.n < 1 || j.n > ctx.n_seq()) {
    return InvalidArgumentError(what + ": n (" + std::to_string(j.n) + ") must be in [1, " +
                                std::to_string(ctx.n_seq()) + "], the context's sequence count");
  }
  if (j.prompt.empty())
    return InvalidArgumentError(what + ": the prompt is empty; give at least one token");
  if (static_cast<int64_t>(j.prompt.size()) >= ctx.n_ctx()) {
    return OutOfRangeError(what + ": the prompt has " + std::to_string(j.prompt.size()) +
                           " tokens but the context holds " + std::to_string(ctx.n_ctx()) +
                           "; shorten the prompt or raise the context size");
  }
  return Status::Ok();
}

}  // namespace

Status GenerateMany(Context& ctx, const Tokenizer& tok, std::span<const PromptJob> jobs,
                    const OnJobDone& on_done) {
  for (size_t i = 0; i < jobs.size(); ++i) {
    LLEMMA_RETURN_IF_ERROR(ValidateJob(ctx, jobs[i], "job " + std::to_string(i)));
  }
  const int64_t V = ctx.model().config().n_vocab;
  const int32_t eos = ctx.model().config().eos_id;
  ctx.Rewind(0);

  std::vector<bool> busy(ctx.n_seq(), false);
  int n_free = ctx.n_seq();
  auto take_seq = [&] {
    const int s = static_cast<int>(std::find(busy.begin(), busy.end(), false) - busy.begin());
    LLEMMA_CHECK(s < ctx.n_seq());
    busy[s] = true;
    --n_free;
    return s;
  };
  auto release_seq = [&](int s) -> Status {
    LLEMMA_RETURN_IF_ERROR(ctx.Clear(s));
    busy[s] = false;
    ++n_free;
    return Status::Ok();
  };
  // A sample is done: flush its text and hand back its sequence unless other
  // samples of the job read their prefix from it.
  auto sample_done = [&](ActiveJob& a, Sample& s) -> Status {
    s.live = false;
    FlushSample(s);
    --a.live;
    return s.seq == a.prompt_seq ? Status::Ok() : release_seq(s.seq);
  };
  auto complete = [&](ActiveJob& a) -> Status {
    LLEMMA_RETURN_IF_ERROR(release_seq(a.prompt_seq));
    const int64_t t_decode = NowMicros() - a.t_start_us;
    std::vector<GenerateResult> results;
    results.reserve(a.samples.size());
    for (Sample& s : a.samples) {
      s.result.t_decode_us = t_decode;
      results.push_back(std::move(s.result));
    }
    return on_done(a.index, std::move(results));
  };

  std::list<ActiveJob> active;
  size_t next_job = 0;

  // Prompts that begin alike (a benchmark's few-shot examples) share the
  // work: the common start of a prompt and the queued ones after it is saved
  // once and copied into the cache of each later prompt that begins with it.
  // Only whole chunks of n_batch tokens are shared, so the remaining chunks
  // line up with those of a whole-prompt prefill and the logits are the same
  // bit for bit.
  const int64_t nb = ctx.n_batch();
  std::vector<int32_t> saved;  // the tokens whose cache ctx holds as its saved prefix
  auto common = [](std::span<const int32_t> x, std::span<const int32_t> y) {
    return static_cast<int64_t>(
        std::mismatch(x.begin(), x.begin() + std::min(x.size(), y.size()), y.begin()).first -
        x.begin());
  };
  auto Prefill = [&](int seq, const std::vector<int32_t>& prompt,
                     int64_t* reused) -> StatusOr<std::span<const float>> {
    const std::span<const int32_t> pr(prompt);
    // Whole chunks, leaving at least the last token to evaluate (for the logits).
    auto chunks = [&](int64_t len) { return std::min<int64_t>(len, pr.size() - 1) / nb * nb; };
    const int64_t reuse = saved.empty() ? 0 : chunks(common(saved, pr));
    if (reuse > 0) {
      LLEMMA_RETURN_IF_ERROR(ctx.LoadPrefix(seq, reuse));
      *reused = reuse;
      return ctx.EvalSeq(seq, pr.subspan(reuse));
    }
    int64_t keep = 0;  // the longest start shared with one of the next queued prompts
    for (size_t k = next_job; k < jobs.size() && k < next_job + 16; ++k) {
      keep = std::max(keep, chunks(common(pr, jobs[k].prompt)));
    }
    if (keep == 0) return ctx.EvalSeq(seq, pr);
    LLEMMA_RETURN_IF_ERROR(ctx.EvalSeq(seq, pr.first(keep)).status());
    if (ctx.SavePrefix(seq, keep).ok()) {  // out of memory: simply not shared
      saved.assign(pr.begin(), pr.begin() + keep);
    } else {
      saved.clear();
    }
    return ctx.EvalSeq(seq, pr.subspan(keep));
  };
  // Prefills queued jobs (in order) while their samples fit in free sequences.
  auto admit = [&]() -> Status {
    while (next_job < jobs.size() && n_free >= jobs[next_job].n) {
      const PromptJob& j = jobs[next_job];
      ActiveJob a;
      a.index = next_job++;
      a.job = &j;
      a.prompt_seq = take_seq();
      const int64_t t0 = NowMicros();
      int64_t reused = 0;
      LLEMMA_ASSIGN_OR_RETURN(std::span<const float> logits,
                              Prefill(a.prompt_seq, j.prompt, &reused));
      a.t_start_us = NowMicros();
      a.samples.reserve(j.n);
      for (int i = 0; i < j.n; ++i) {
        SamplingParams p = j.opts.sampling;
        p.seed += static_cast<uint64_t>(i);
        a.samples.push_back(Sample{
            Sampler(p), StreamDecoder(tok, false), StopMatcher(j.opts.stop), {}, -1, 0, true});
        Sample& s = a.samples.back();
        s.result.n_prompt = static_cast<int64_t>(j.prompt.size());
        s.result.t_prefill_us = a.t_start_us - t0;
        s.result.n_prompt_reused = reused;
        s.seq = i == 0 ? a.prompt_seq : take_seq();
        if (i > 0) LLEMMA_RETURN_IF_ERROR(ctx.Fork(a.prompt_seq, s.seq));
      }
      a.live = j.n;
      // The first token of every sample comes from the prompt's logits.
      const std::span<const float> last = logits.subspan(logits.size() - V);
      for (Sample& s : a.samples) {
        if (j.opts.max_new_tokens == 0 || !Advance(s, last, j.opts, eos)) {
          LLEMMA_RETURN_IF_ERROR(sample_done(a, s));
        }
      }
      if (a.live == 0) {
        LLEMMA_RETURN_IF_ERROR(complete(a));
      } else {
        active.push_back(std::move(a));
      }
    }
    return Status::Ok();
  };

  LLEMMA_RETURN_IF_ERROR(admit());
  std::vector<int32_t> tokens;
  std::vector<int> seqs;
  std::vector<std::pair<ActiveJob*, Sample*>> who;
  while (!active.empty()) {
    tokens.clear();
    seqs.clear();
    who.clear();
    for (ActiveJob& a : active) {
      for (Sample& s : a.samples) {
        if (!s.live) continue;
        if (ctx.n_past(s.seq) >= ctx.n_ctx()) {  // the end of the context: "length"
          LLEMMA_RETURN_IF_ERROR(sample_done(a, s));
          continue;
        }
        tokens.push_back(s.next);
        seqs.push_back(s.seq);
        who.emplace_back(&a, &s);
      }
    }
    if (!tokens.empty()) {
      LLEMMA_ASSIGN_OR_RETURN(std::span<const float> logits, ctx.EvalBatch(tokens, seqs));
      for (size_t j = 0; j < who.size(); ++j) {
        auto [a, s] = who[j];
        s->result.n_decode++;
        if (!Advance(*s, logits.subspan(j * V, V), a->job->opts, eos)) {
          LLEMMA_RETURN_IF_ERROR(sample_done(*a, *s));
        }
      }
    }
    for (auto it = active.begin(); it != active.end();) {
      if (it->live > 0) {
        ++it;
        continue;
      }
      LLEMMA_RETURN_IF_ERROR(complete(*it));
      it = active.erase(it);
    }
    LLEMMA_RETURN_IF_ERROR(admit());
  }
  return Status::Ok();
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
  if (opts.max_new_tokens < 0) return InvalidArgumentError("max new tokens must be >= 0");
  const PromptJob job{std::vector<int32_t>(prompt.begin(), prompt.end()), n, opts};
  std::vector<GenerateResult> out;
  LLEMMA_RETURN_IF_ERROR(GenerateMany(ctx, tok, std::span<const PromptJob>(&job, 1),
                                      [&](size_t, std::vector<GenerateResult> r) {
                                        out = std::move(r);
                                        return Status::Ok();
                                      }));
  return out;
}

}  // namespace llemma
