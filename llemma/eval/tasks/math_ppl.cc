// math_ppl: perplexity of MATH reference solutions (spec §2.11), as the
// harness' hendrycks_math_ppl task measures it: zero-shot, context
// "Problem: " + problem + "\nAnswer:", continuation " " + solution +
// " The answer is " + last_boxed_only_string(solution) + ".```", and the
// metric exp(-Σ log-likelihood / Σ UTF-8 bytes of the continuations)
// (weighted_perplexity over bytes). math_ppl:<subject> scores one subject.
#include "llemma/eval/tasks/common.h"
#include "llemma/eval/tasks/math_subjects.h"
#include "llemma/eval/tasks/registry.h"
#include "llemma/math/extract.h"

namespace llemma::eval {

namespace {
class MathPplTask : public JsonlTask {
 public:
  MathPplTask(const TaskArgs& args, TaskSpec spec, std::string subject)
      : JsonlTask(args, std::move(spec), "benchmarks/math/test.jsonl"),
        subject_(std::move(subject)) {}

  math::ItemScore Score(const Problem&, math::Mode, const std::vector<std::string>&,
                        const math::CheckOptions&) const override {
    return {};  // scored by log-likelihood (the report reads the stored scores)
  }

 protected:
  StatusOr<bool> MakeProblem(const Record& r, std::string_view, Problem* p) const override {
    LLEMMA_ASSIGN_OR_RETURN(const bool selected, ReadMathSubjectAndId(r, subject_, args().file.empty(), p));
    if (!selected) return false;
    LLEMMA_ASSIGN_OR_RETURN(std::string problem, r.Get("problem"));
    LLEMMA_ASSIGN_OR_RETURN(std::string solution, r.Get("solution"));
    const std::optional<std::string> boxed = math::LastBoxedOnlyString(solution);
    if (!boxed) {
      return InvalidArgumentError(
          r.Where() + "the solution has no \\boxed{} answer (the continuation ends with it)");
    }
    p->prompt = "Problem: " + problem + "\nAnswer:";
    p->continuation = " " + solution + " The answer is " + *boxed + ".```";
    p->reference = solution;
    return true;
  }

 private:
  std::string subject_;
};
}  // namespace

StatusOr<std::unique_ptr<Task>> MakeMathPplTask(const TaskArgs& args) {
  std::string subject;
  if (!args.option.empty()) {
    LLEMMA_ASSIGN_OR_RETURN(subject, ParseMathSubject(args.option, args.name));
  }
  TaskSpec s;
  s.name = args.name;
  s.description = "perplexity of MATH reference solutions";
  s.scoring = math::Task::kMath;
  s.max_tokens = 0;
  s.perplexity = true;
  return std::unique_ptr<Task>(new MathPplTask(args, std::move(s), subject));
}

}  // namespace llemma::eval
