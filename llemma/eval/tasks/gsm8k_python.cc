// gsm8k_python: GSM8k test solved by PAL programs (spec §2.7). Prompt: the
// 8-shot PAL template filled with .format(question=...); stop "Q:"; each
// completion is a `def solution(): ...` that runs in the shared sandbox with
// "print(solution())" appended, and is right when it prints the reference
// number (the lila output_answer, i.e. the number after "####"). The paper
// reports it greedy only (configs/majk.json has no entry); with --k the
// printed numbers are voted on as GSM8k answers are.
#include "llemma/agent/tool_tasks.h"
#include "llemma/eval/tasks/common.h"
#include "llemma/eval/tasks/registry.h"
#include "llemma/eval/tasks/tool_use.h"

namespace llemma::eval {

namespace {
class Gsm8kPythonTask : public ProgramTask {
 public:
  Gsm8kPythonTask(const TaskArgs& args, TaskSpec spec)
      : ProgramTask(args, std::move(spec), "benchmarks/gsm8k/test.jsonl") {}

  math::ItemScore Score(const Problem& p, math::Mode mode,
                        const std::vector<std::string>& completions,
                        const math::CheckOptions& options) const override {
    StatusOr<sandbox::Sandbox*> sb = ToolSandbox();
    if (!sb.ok()) return SandboxFailedScore(p.reference, completions.size(), sb.status());
    return ScorePalPrograms(**sb, Gsm8kPythonLimits(), mode, p.reference, completions);
  }

 protected:
  StatusOr<bool> MakeProblem(const Record& r, std::string_view prompt, Problem* p) const override {
    LLEMMA_ASSIGN_OR_RETURN(std::string question, r.Get("question"));
    LLEMMA_ASSIGN_OR_RETURN(std::string answer, r.Get("answer"));
    p->reference = Gsm8kReferenceNumber(answer);
    p->prompt = agent::Gsm8kPythonPrompt(prompt, question);
    return true;
  }
};
}  // namespace

StatusOr<std::unique_ptr<Task>> MakeGsm8kPythonTask(const TaskArgs& args) {
  if (!args.option.empty()) {
    return InvalidArgumentError("task " + args.name +
                                ": gsm8k_python has no subjects (drop \":" + args.option + "\")");
  }
  TaskSpec s;
  s.name = args.name;
  s.description = "GSM8k, 8-shot PAL programs run in the sandbox";
  s.scoring = math::Task::kGsm8k;
  s.stop = {agent::kGsm8kPythonStop};
  s.max_tokens = 1024;
  s.paper = {1, 0.0, 1.0};  // greedy only: python_gsm8k has no maj@k entry
  s.prompt_file = "gsm8k_python_pal_8shot_template.txt";
  s.tool_use = true;
  return std::unique_ptr<Task>(new Gsm8kPythonTask(args, std::move(s)));
}

}  // namespace llemma::eval
