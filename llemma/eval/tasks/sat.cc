// sat: SAT math, May 2023 (spec §2.6), with the MMLU prompt. Prompt: PROMPT +
// "\n\nProblem:\n" + question + "\nWhat of the following is the right
// choice? Explain your answer.\n" + options (verbatim) + "\nSolution:"; stop
// "I hope it is correct."; the reference is the "Answer" letter.
// --preset paper: maj@16 at T = 0.3 (master; the preprint branches used 0.6).
#include "llemma/eval/tasks/common.h"
#include "llemma/eval/tasks/registry.h"

namespace llemma::eval {

namespace {
class SatTask : public JsonlTask {
 public:
  SatTask(const TaskArgs& args, TaskSpec spec)
      : JsonlTask(args, std::move(spec), "benchmarks/sat/test.jsonl") {}

 protected:
  StatusOr<bool> MakeProblem(const Record& r, std::string_view prompt, Problem* p) const override {
    LLEMMA_ASSIGN_OR_RETURN(std::string question, r.Get("question"));
    LLEMMA_ASSIGN_OR_RETURN(std::string options, r.Get("options"));
    LLEMMA_ASSIGN_OR_RETURN(p->reference, r.Get("Answer"));
    p->prompt = std::string(prompt) + "\n\n" + "Problem:\n" + question +
                "\nWhat of the following is the right choice? Explain your answer.\n" + options +
                "\nSolution:";
    return true;
  }
};
}  // namespace

StatusOr<std::unique_ptr<Task>> MakeSatTask(const TaskArgs& args) {
  if (!args.option.empty()) {
    return InvalidArgumentError("task " + args.name +
                                ": sat has no subjects (drop \":" + args.option + "\")");
  }
  TaskSpec s;
  s.name = args.name;
  s.description = "SAT math (May 2023), 4-shot CoT";
  s.scoring = math::Task::kSat;
  s.stop = {"I hope it is correct."};
  s.max_tokens = 1024;
  s.paper = {16, 0.3, 0.95};
  s.prompt_file = "sat_4shot.txt";
  s.paper_key = "sat";
  return std::unique_ptr<Task>(new SatTask(args, std::move(s)));
}

}  // namespace llemma::eval
