// math: the Hendrycks MATH test set with the Minerva 4-shot prompt (spec
// §2.2), all 7 subjects or one (math:algebra). Prompt: PROMPT +
// "\n\nProblem:\n" + problem + "\n\nSolution:"; stop "I hope it is
// correct."; the reference is the solution (its last \boxed{}).
#include "llemma/eval/tasks/common.h"
#include "llemma/eval/tasks/math_subjects.h"
#include "llemma/eval/tasks/registry.h"

namespace llemma::eval {

namespace {
class MathTask : public JsonlTask {
 public:
  MathTask(const TaskArgs& args, TaskSpec spec, std::string subject)
      : JsonlTask(args, std::move(spec), "benchmarks/math/test.jsonl"),
        subject_(std::move(subject)) {}

 protected:
  StatusOr<bool> MakeProblem(const Record& r, std::string_view prompt, Problem* p) const override {
    LLEMMA_ASSIGN_OR_RETURN(const bool selected, ReadMathSubjectAndId(r, subject_, args().file.empty(), p));
    if (!selected) return false;
    LLEMMA_ASSIGN_OR_RETURN(std::string problem, r.Get("problem"));
    LLEMMA_ASSIGN_OR_RETURN(p->reference, r.Get("solution"));
    p->prompt = MinervaMathPrompt(prompt, problem);
    return true;
  }

 private:
  std::string subject_;
};
}  // namespace

StatusOr<std::unique_ptr<Task>> MakeMathTask(const TaskArgs& args) {
  std::string subject;
  if (!args.option.empty()) {
    LLEMMA_ASSIGN_OR_RETURN(subject, ParseMathSubject(args.option, args.name));
  }
  TaskSpec s;
  s.name = args.name;
  s.description = subject.empty() ? "MATH, Minerva 4-shot" : "MATH " + subject + ", Minerva 4-shot";
  s.scoring = math::Task::kMath;
  s.stop = {"I hope it is correct."};
  s.max_tokens = 1024;
  s.paper = {256, 0.6, 0.95};
  s.prompt_file = "minerva_math_4shot.txt";
  s.paper_key = "math";
  return std::unique_ptr<Task>(new MathTask(args, std::move(s), subject));
}

}  // namespace llemma::eval
