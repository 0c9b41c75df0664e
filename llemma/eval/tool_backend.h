// ToolLoopBackend: tool-integrated evaluation (`llemma eval --tools python`).
// A Backend decorator that turns every sample of a request into a tool loop
// (llemma/agent/tool_loop.h): the model writes prose and ```python blocks; at
// the end of each block generation pauses, the code runs in the sandbox, its
// output is appended as a ```output block and generation resumes, for up to
// max_rounds programs. Each generation step is one single-sample request to
// the wrapped backend (the built-in engine or an OpenAI-compatible server):
//
//   prompt      the transcript so far (the task's prompt, then everything written)
//   stop        the task's stop strings + "```python" (prose) or "```" (inside a block)
//   max_tokens  what is left of the sample's budget (the task's max_tokens, over all steps)
//   seed        step 0 of sample j: seed + j, as without tools (a sample that never
//               opens a block is the same text); step s > 0: StepSeed(seed, s) + j
//
// The sample handed back is the whole transcript after the prompt (the
// model's text, the code blocks and their ```output blocks), without the
// task's stop string, so the task's own answer extraction scores it; its
// n_tokens are summed over the steps. Greedy requests run one loop and copy
// it to all n samples (the copies count no tokens), as the backends do.
//
//   ToolLoopBackendOptions o;
//   o.max_rounds = 4;
//   o.parallel = 16;                       // sample loops in flight
//   ToolLoopBackend tools(inner, sandbox, o);
//   Status s = tools.Run(requests, on_done);
//
// Up to `parallel` loops run at once on worker threads; their pending steps
// are gathered and handed to the inner backend together in one Run call
// (which batches them: the engine decodes them as one batch, a server gets
// them concurrently), while other loops run their programs in the sandbox.
// Programs go through the one sandbox given (thread-safe; runs queue for its
// workers).
//
// Needs a server that reports which stop string ended a completion (vLLM's
// stop_reason) or that returns the text with the stop string in it; otherwise
// a ```python fence cannot be told from the task's own stop.
//
// Owned by its caller; `inner` and `sb` must outlive it. As any Backend, one
// Run at a time; on_done is called on the caller's thread, never concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "llemma/core/status.h"
#include "llemma/eval/backend.h"
#include "llemma/sandbox/sandbox.h"

namespace llemma::eval {

struct ToolLoopBackendOptions {
  int max_rounds = 4;              // programs run per sample at most (>= 1)
  int parallel = 8;                // sample loops in flight at once (>= 1)
  size_t max_output_chars = 2000;  // of a program's output shown to the model
  sandbox::Limits limits;          // of each program
};

// The seed of step `step` (> 0) of a tool loop whose samples are drawn from
// `seed` (sample j then uses the result + j). Below 2^62, so + j stays a
// valid server seed.
uint64_t ToolStepSeed(uint64_t seed, int step);

class ToolLoopBackend : public Backend {
 public:
  ToolLoopBackend(Backend& inner, sandbox::Sandbox* sb, const ToolLoopBackendOptions& options);

  // The inner backend's (the model is the same; the store keeps the tool setting apart).
  std::string Describe() const override { return inner_.Describe(); }

  // Every sample of every request as a tool loop; a request is reported when
  // all its samples' loops have ended. Invalid options, a sandbox failure
  // (not a program's) or a failed step stop the run with an error naming the
  // request.
  Status Run(std::span<const GenRequest> requests, const OnRequestDone& on_done) override;

  // The inner backend's (tool loops do not apply to scoring).
  StatusOr<LogLikelihood> Score(std::string_view context, std::string_view continuation) override {
    return inner_.Score(context, continuation);
  }

 private:
  Backend& inner_;
  sandbox::Sandbox* sb_;
  ToolLoopBackendOptions options_;
};

}  // namespace llemma::eval
