// The parts the tool-use tasks (gsm8k_python, math_python) share: one
// process-wide sandbox, started on first use, and the scoring of k
// completions by running their programs in it. The task logic itself
// (prompts, program extraction, compat rules, the MATH vote) is
// llemma/agent/tool_tasks.h; this only runs it over a problem's samples.
//
//   StatusOr<sandbox::Sandbox*> sb = ToolSandbox();   // error: bubblewrap cannot start
//   math::ItemScore s = ScorePalPrograms(**sb, Gsm8kPythonLimits(), math::Mode::kDefault, "18",
//                                        completions);
//   // s.answers: what each program printed; s.correct: each alone; s.vote: maj@k
//
// Compiled only when llemma/agent is built. Thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "llemma/core/status.h"
#include "llemma/eval/tasks/common.h"
#include "llemma/math/check.h"
#include "llemma/sandbox/sandbox.h"

namespace llemma::eval {

// The sandbox every tool-use task runs its programs in: started on the first
// call (a few warm zygotes, thread-safe), then the same one. A sandbox that
// cannot start gives the same error on every call.
StatusOr<sandbox::Sandbox*> ToolSandbox();

// Limits of one PAL program (the harness has none; ours: 5 s of CPU, 10 s
// of wall clock, the sandbox's memory and output caps).
sandbox::Limits Gsm8kPythonLimits();

// The number a GSM8k reference field states: the one after "#### " (commas
// removed, as the harness' `#### (\-?[0-9\.\,]+)`), else the stripped field
// itself (a lila output_answer).
std::string Gsm8kReferenceNumber(std::string_view field);

// Runs the PAL program of each completion (agent::Gsm8kPythonProgram) and
// scores it (agent::ScoreGsm8kPython) against `reference` (a number). The
// answer of a sample is what its program printed (default: the last line;
// compat: all of stdout, when Python's float() reads it), nullopt when it
// failed. maj@k as the harness' GSM8k vote: failed programs do not vote,
// answers equal as floats (compat) or by the GSM8k checker (default),
// pass_rate over the valid samples. Programs run in parallel on the
// sandbox's workers.
math::ItemScore ScorePalPrograms(sandbox::Sandbox& sb, const sandbox::Limits& limits,
                                 math::Mode mode, std::string_view reference,
                                 const std::vector<std::string>& completions);

// Extracts (agent::ExtractMathProgram) and runs (agent::RunMathProgram) the
// SymPy program of each completion against a MATH solution field, and votes
// with agent::VoteMathPython. A sample's answer is its program's answer
// (compat: str() of the cast answer; default: its LaTeX), nullopt when the
// program set none.
math::ItemScore ScoreSympyPrograms(sandbox::Sandbox& sb, math::Mode mode, std::string_view solution,
                                   const std::vector<std::string>& completions);

// Base of the tasks whose completions are programs: they need the sandbox
// before generating, and Score() (which runs every program once) keeps each
// sample's verdict in ItemScore::correct, which SampleCorrect returns.
class ProgramTask : public JsonlTask {
 public:
  using JsonlTask::JsonlTask;
  Status Prepare() const override { return ToolSandbox().status(); }
  std::vector<bool> SampleCorrect(const Problem& p, math::Mode mode, const std::vector<std::string>& completions,
                                  const math::ItemScore& all, const math::CheckOptions& options) const override {
    std::vector<bool> out = all.correct;
    out.resize(completions.size(), false);
    return out;
  }
};

// Every sample failed, because the sandbox could not start (`why`, printed
// once per process on stderr).
math::ItemScore SandboxFailedScore(std::string reference, size_t n, const Status& why);

}  // namespace llemma::eval
