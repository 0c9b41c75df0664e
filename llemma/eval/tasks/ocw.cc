// ocw: OCW Courses, 4-shot (spec §2.4). Prompt: PROMPT + "\n\nProblem:\n" +
// problem + "\nSolution:" (one newline before Solution); stop "I hope it is
// correct."; the reference is the "answer" field.
#include "llemma/eval/tasks/common.h"
#include "llemma/eval/tasks/registry.h"

namespace llemma::eval {

namespace {
class OcwTask : public JsonlTask {
 public:
  OcwTask(const TaskArgs& args, TaskSpec spec)
      : JsonlTask(args, std::move(spec), "benchmarks/ocw_courses/test_deepseek.jsonl") {}

 protected:
  StatusOr<bool> MakeProblem(const Record& r, std::string_view prompt, Problem* p) const override {
    LLEMMA_ASSIGN_OR_RETURN(std::string problem, r.Get("problem"));
    LLEMMA_ASSIGN_OR_RETURN(p->reference, r.Get("answer"));
    p->prompt = std::string(prompt) + "\n\n" + "Problem:\n" + problem + "\nSolution:";
    return true;
  }
};
}  // namespace

StatusOr<std::unique_ptr<Task>> MakeOcwTask(const TaskArgs& args) {
  if (!args.option.empty()) {
    return InvalidArgumentError("task " + args.name +
                                ": ocw has no subjects (drop \":" + args.option + "\")");
  }
  TaskSpec s;
  s.name = args.name;
  s.description = "OCW Courses, 4-shot";
  s.scoring = math::Task::kOcw;
  s.stop = {"I hope it is correct."};
  s.max_tokens = 1024;
  s.paper = {100, 0.6, 0.95};
  s.prompt_file = "ocw_courses_4shot.txt";
  s.paper_key = "ocw";
  return std::unique_ptr<Task>(new OcwTask(args, std::move(s)));
}

}  // namespace llemma::eval
