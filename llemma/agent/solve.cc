#include "llemma/agent/solve.h"

#include "llemma/math/check.h"

namespace llemma::agent {

std::string MinervaPrompt(std::string_view prompt, std::string_view problem) {
  return std::string(prompt) + "\n\nProblem:\n" + std::string(problem) + "\n\nSolution:";
}

StatusOr<SolveResult> Solve(const GenerateStep& step, sandbox::Sandbox* sb,
                            std::string_view minerva_prompt, std::string_view problem,
                            const SolveOptions& options,
                            const std::function<void(std::string_view)>& on_text) {
  ToolLoopOptions o;
  o.max_rounds = options.tools ? options.max_rounds : 0;
  o.max_new_tokens = options.max_new_tokens;
  o.stop = {kMinervaStop};
  o.limits = options.limits;
  SolveResult r;
  LLEMMA_ASSIGN_OR_RETURN(
      r.loop, RunToolLoop(MinervaPrompt(minerva_prompt, problem), step, sb, o, on_text));
  // The stop string is cut from the text; the extraction expects it back.
  std::string text = r.loop.completion;
  if (r.loop.stop_matched == kMinervaStop) text += kMinervaStop;
  r.answer = math::ExtractAnswer(math::Task::kMath, math::Mode::kDefault, text);
  return r;
}

}  // namespace llemma::agent
