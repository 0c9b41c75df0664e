// Tool-integrated solving: the model writes prose and ```python blocks; at the
// end of each block generation pauses, the code runs in the sandbox, its
// output is appended as a ```output block, and generation resumes, for up to
// max_rounds programs. The generation step is injectable (a scripted step in
// tests, ModelStep for a real model), so the same loop serves `llemma solve`
// and the evaluation harness.
//
//   auto lm = ...;  // Model + Tokenizer
//   auto ctx = Context::Create(*lm.model, {});
//   GenerateStep step = ModelStep(**ctx, *lm.tokenizer, sampling);
//   ToolLoopOptions o;
//   o.max_rounds = 4;
//   StatusOr<ToolLoopResult> r = RunToolLoop(prompt, step, &sandbox, o,
//                                            [](std::string_view s) { std::cout << s; });
//
// Stateless; RunToolLoop is as thread-safe as the step and sandbox it is given.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "llemma/core/status.h"
#include "llemma/generate/generator.h"
#include "llemma/model/context.h"
#include "llemma/sandbox/sandbox.h"
#include "llemma/tokenizer/tokenizer.h"

namespace llemma::agent {

// What one generation step produced: text continuing `transcript` up to (not
// including) a stop string, and which stop string ended it ("" for EOS or
// the token budget).
struct StepOutput {
  std::string text;
  std::string stop_matched;
  int64_t n_tokens = 0;  // tokens generated (counts against ToolLoopOptions::max_new_tokens)
};
// Continues `transcript` (the prompt and everything so far), stopping at any of
// `stop`, writing at most max_new_tokens; streams text through on_text.
using GenerateStep = std::function<StatusOr<StepOutput>(
    const std::string& transcript, const std::vector<std::string>& stop, int64_t max_new_tokens,
    const std::function<void(std::string_view)>& on_text)>;

// A GenerateStep over a real model: re-encodes the transcript (with BOS) and
// decodes with `sampling` in `ctx` (which must hold the whole transcript).
// `ctx`, `tok` must outlive the step.
GenerateStep ModelStep(Context& ctx, const Tokenizer& tok, const SamplingParams& sampling);

inline constexpr const char* kCodeOpen = "```python";
inline constexpr const char* kCodeClose = "```";

struct ToolLoopOptions {
  int max_rounds = 4;              // programs run at most; after that the block's code is not run
  int64_t max_new_tokens = 1024;   // over all steps together
  std::vector<std::string> stop;   // the task's own stop strings (end the whole loop)
  size_t max_output_chars = 2000;  // of a program's output shown to the model (the rest elided)
  sandbox::Limits limits;
};

// One piece of the transcript, in order, for display and logs.
struct ToolEvent {
  enum class Kind { kText, kCode, kOutput };
  Kind kind = Kind::kText;
  std::string text;  // exactly what was appended to the transcript
  sandbox::Outcome outcome = sandbox::Outcome::kExited;  // kOutput: how the program ended
};

struct ToolLoopResult {
  std::string completion;  // everything after the prompt
  std::vector<ToolEvent> events;
  int rounds = 0;            // programs run
  std::string stop_matched;  // the task stop string that ended it, if any
};

// The text shown to the model for a run: stdout, then stderr, then the limit
// hit ("timeout", ...), cut to max_chars.
std::string FormatToolOutput(const sandbox::RunResult& run, size_t max_chars);

// Runs the loop from `prompt`. `on_text` receives every piece of the
// completion as it comes: the model's text while it is decoded, then the
// closing fence and each output block. A sandbox failure (not a program's)
// or a step error ends the loop with that status.
StatusOr<ToolLoopResult> RunToolLoop(const std::string& prompt, const GenerateStep& step,
                                     sandbox::Sandbox* sb, const ToolLoopOptions& options,
                                     const std::function<void(std::string_view)>& on_text = {});

}  // namespace llemma::agent
