// math500: the 500-problem PRM800K test split of MATH, with MATH's Minerva
// prompt, stop and scoring (not in the LLEMMA paper; --preset paper uses
// MATH's maj@256 settings). Problem ids are the split's unique_id.
#include "llemma/eval/tasks/common.h"
#include "llemma/eval/tasks/math_subjects.h"
#include "llemma/eval/tasks/registry.h"

namespace llemma::eval {

namespace {
class Math500Task : public JsonlTask {
 public:
  Math500Task(const TaskArgs& args, TaskSpec spec)
      : JsonlTask(args, std::move(spec), "benchmarks/math/math500_prm800k_test.jsonl") {}

 protected:
  StatusOr<bool> MakeProblem(const Record& r, std::string_view prompt, Problem* p) const override {
    LLEMMA_ASSIGN_OR_RETURN(std::optional<std::string> uid, r.GetOptional("unique_id"));
    if (uid) p->id = *uid;
    LLEMMA_ASSIGN_OR_RETURN(std::optional<std::string> subject, r.GetOptional("subject"));
    if (subject) p->subject = SubjectKey(*subject);
    LLEMMA_ASSIGN_OR_RETURN(std::string problem, r.Get("problem"));
    LLEMMA_ASSIGN_OR_RETURN(p->reference, r.Get("solution"));
    p->prompt = MinervaMathPrompt(prompt, problem);
    return true;
  }
};
}  // namespace

StatusOr<std::unique_ptr<Task>> MakeMath500Task(const TaskArgs& args) {
  if (!args.option.empty()) {
    return InvalidArgumentError("task " + args.name + ": math500 has no subject tasks (drop \":" +
                                args.option + "\"; the report lists subjects)");
  }
  TaskSpec s;
  s.name = args.name;
  s.description = "MATH500, Minerva 4-shot";
  s.scoring = math::Task::kMath;
  s.stop = {"I hope it is correct."};
  s.max_tokens = 1024;
  s.paper = {256, 0.6, 0.95};
  s.prompt_file = "minerva_math_4shot.txt";
  return std::unique_ptr<Task>(new Math500Task(args, std::move(s)));
}

}  // namespace llemma::eval
