// math_python: the MATH test set solved by SymPy programs (spec §2.8), all 7
// subjects or one (math_python:algebra). Prompt: PROMPT + "\n\nProblem:\n" +
// problem + "\n\nYou are an expert programmer. ... SymPy object.\n```"; stop
// "I hope my solution is correct."; each completion's program (header of
// imports + body) runs in the shared sandbox and its `answer` is compared
// with the solution's last \boxed{}; maj@16 in the paper.
#include "llemma/agent/tool_tasks.h"
#include "llemma/eval/tasks/common.h"
#include "llemma/eval/tasks/math_subjects.h"
#include "llemma/eval/tasks/registry.h"
#include "llemma/eval/tasks/tool_use.h"

namespace llemma::eval {

namespace {
class MathPythonTask : public ProgramTask {
 public:
  MathPythonTask(const TaskArgs& args, TaskSpec spec, std::string subject)
      : ProgramTask(args, std::move(spec), "benchmarks/math/test.jsonl"),
        subject_(std::move(subject)) {}

  math::ItemScore Score(const Problem& p, math::Mode mode,
                        const std::vector<std::string>& completions,
                        const math::CheckOptions& options) const override {
    StatusOr<sandbox::Sandbox*> sb = ToolSandbox();
    if (!sb.ok()) {
      return SandboxFailedScore(math::ReferenceAnswer(math::Task::kMath, mode, p.reference),
                                completions.size(), sb.status());
    }
    return ScoreSympyPrograms(**sb, mode, p.reference, completions);
  }

 protected:
  StatusOr<bool> MakeProblem(const Record& r, std::string_view prompt, Problem* p) const override {
    LLEMMA_ASSIGN_OR_RETURN(const bool selected, ReadMathSubjectAndId(r, subject_, args().file.empty(), p));
    if (!selected) return false;
    LLEMMA_ASSIGN_OR_RETURN(std::string problem, r.Get("problem"));
    LLEMMA_ASSIGN_OR_RETURN(p->reference, r.Get("solution"));
    p->prompt = agent::MathPythonPrompt(prompt, problem);
    return true;
  }

 private:
  std::string subject_;
};
}  // namespace

StatusOr<std::unique_ptr<Task>> MakeMathPythonTask(const TaskArgs& args) {
  std::string subject;
  if (!args.option.empty()) {
    LLEMMA_ASSIGN_OR_RETURN(subject, ParseMathSubject(args.option, args.name));
  }
  TaskSpec s;
  s.name = args.name;
  s.description = subject.empty()
                      ? "MATH, 5-shot SymPy programs run in the sandbox"
                      : "MATH " + subject + ", 5-shot SymPy programs run in the sandbox";
  s.scoring = math::Task::kMath;
  s.stop = {agent::kMathPythonStop};
  s.max_tokens = 1024;
  s.paper = {16, 0.6, 0.95};  // configs/majk.json: sympy_math_*
  s.prompt_file = "math_sympy_5shot.txt";
  s.tool_use = true;
  return std::unique_ptr<Task>(new MathPythonTask(args, std::move(s), subject));
}

}  // namespace llemma::eval
