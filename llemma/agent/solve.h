// Solving one problem with a model: plain chain of thought with the Minerva
// prompt (spec §2.2 assembly, answer read with llemma/math's MATH
// extraction), or tool-integrated solving (RunToolLoop) where the model may
// run Python blocks. Used by `llemma solve`.
//
//   SolveOptions o;
//   o.tools = true;
//   StatusOr<SolveResult> r = Solve(step, &sandbox, minerva_prompt, "What is 3^4?", o,
//                                   [](std::string_view s) { std::cout << s; });
//   r->answer  // "81", or nullopt when no final answer was found
//
// Stateless; as thread-safe as the step and sandbox given.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "llemma/agent/tool_loop.h"

namespace llemma::agent {

inline constexpr const char* kMinervaStop = "I hope it is correct.";

// PROMPT + "\n\nProblem:\n" + problem + "\n\nSolution:"
std::string MinervaPrompt(std::string_view prompt, std::string_view problem);

struct SolveOptions {
  bool tools = false;  // allow ```python blocks (run in the sandbox)
  int max_rounds = 4;
  int64_t max_new_tokens = 1024;
  sandbox::Limits limits;
};

struct SolveResult {
  ToolLoopResult loop;                // the transcript (rounds = 0 without tools)
  std::optional<std::string> answer;  // "Final Answer: The final answer is X" or the last \boxed{}
};

StatusOr<SolveResult> Solve(const GenerateStep& step, sandbox::Sandbox* sb,
                            std::string_view minerva_prompt, std::string_view problem,
                            const SolveOptions& options,
                            const std::function<void(std::string_view)>& on_text = {});

}  // namespace llemma::agent
