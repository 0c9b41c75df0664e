#include "llemma/agent/tool_loop.h"

#include <algorithm>

namespace llemma::agent {

GenerateStep ModelStep(Context& ctx, const Tokenizer& tok, const SamplingParams& sampling) {
  return [&ctx, &tok, sampling](
             const std::string& transcript, const std::vector<std::string>& stop,
             int64_t max_new_tokens,
             const std::function<void(std::string_view)>& on_text) -> StatusOr<StepOutput> {
    const std::vector<int32_t> ids = tok.Encode(transcript, /*add_bos=*/true);
    GenerateOptions o;
    o.sampling = sampling;
    o.stop = stop;
    o.max_new_tokens = std::max<int64_t>(
        0, std::min(max_new_tokens, ctx.n_ctx() - static_cast<int64_t>(ids.size())));
    if (o.max_new_tokens == 0) return StepOutput{};
    LLEMMA_ASSIGN_OR_RETURN(GenerateResult r, Generate(ctx, tok, ids, o, on_text));
    const auto n = static_cast<int64_t>(r.tokens.size());
    return StepOutput{std::move(r.text), r.finish == FinishReason::kStop ? r.stop_matched : "", n};
  };
}

std::string FormatToolOutput(const sandbox::RunResult& run, size_t max_chars) {
  std::string s = run.stdout_text;
  if (!run.stderr_text.empty()) {
    if (!s.empty() && s.back() != '\n') s += '\n';
    // Tracebacks: the last line says what went wrong; keep the tail.
    s += run.stderr_text;
  }
  if (run.outcome != sandbox::Outcome::kExited) {
    if (!s.empty() && s.back() != '\n') s += '\n';
    s += std::string("[") + sandbox::OutcomeName(run.outcome) + "]";
  }
  while (!s.empty() && s.back() == '\n') s.pop_back();
  if (s.size() > max_chars) {
    const size_t keep = max_chars / 2;
    s = s.substr(0, keep) + "\n...\n" + s.substr(s.size() - keep);
  }
  return s;
}

StatusOr<ToolLoopResult> RunToolLoop(const std::string& prompt, const GenerateStep& step,
                                     sandbox::Sandbox* sb, const ToolLoopOptions& options,
                                     const std::function<void(std::string_view)>& on_text) {
  if (sb == nullptr && options.max_rounds > 0)
    return InvalidArgumentError("RunToolLoop: no sandbox to run programs in");
  if (options.max_rounds < 0) return InvalidArgumentError("RunToolLoop: max_rounds must be >= 0");
  ToolLoopResult res;
  std::string transcript = prompt;
  int64_t budget = options.max_new_tokens;
  auto emit = [&](std::string_view s) {
    if (on_text && !s.empty()) on_text(s);
  };
  // Appends text that the model wrote (already streamed) or that the loop adds (streamed here).
  auto append = [&](ToolEvent::Kind kind, const std::string& text, bool streamed,
                    sandbox::Outcome outcome = sandbox::Outcome::kExited) {
    transcript += text;
    res.completion += text;
    if (!streamed) emit(text);
    res.events.push_back(ToolEvent{kind, text, outcome});
  };
  std::vector<std::string> prose_stops = options.stop;
  if (options.max_rounds > 0) prose_stops.push_back(kCodeOpen);
  std::vector<std::string> code_stops = options.stop;
  code_stops.push_back(kCodeClose);
  for (;;) {
    LLEMMA_ASSIGN_OR_RETURN(StepOutput prose, step(transcript, prose_stops, budget, emit));
    budget -= prose.n_tokens;
    append(ToolEvent::Kind::kText, prose.text, /*streamed=*/true);
    if (prose.stop_matched != kCodeOpen || budget <= 0) {
      res.stop_matched = prose.stop_matched == kCodeOpen ? "" : prose.stop_matched;
      return res;
    }
    // Inside the block: the code up to the closing fence.
    emit(kCodeOpen);
    LLEMMA_ASSIGN_OR_RETURN(StepOutput code,
                            step(transcript + kCodeOpen, code_stops, budget, emit));
    budget -= code.n_tokens;
    if (code.stop_matched != kCodeClose) {
      // The block never closed (EOS, token budget or a task stop): keep it, run nothing.
      append(ToolEvent::Kind::kCode, kCodeOpen + code.text, /*streamed=*/true);
      res.stop_matched = code.stop_matched;
      return res;
    }
    emit(std::string(kCodeClose) + "\n");
    append(ToolEvent::Kind::kCode, kCodeOpen + code.text + kCodeClose + "\n", /*streamed=*/true);
    if (res.rounds >= options.max_rounds) {
      // Out of rounds: the last block stays unrun and the model gets no output.
      return res;
    }
    ++res.rounds;
    LLEMMA_ASSIGN_OR_RETURN(sandbox::RunResult run, sb->Run(code.text, options.limits));
    append(ToolEvent::Kind::kOutput,
           "```output\n" + FormatToolOutput(run, options.max_output_chars) + "\n```\n",
           /*streamed=*/false, run.outcome);
    if (budget <= 0) return res;
  }
}

}  // namespace llemma::agent
