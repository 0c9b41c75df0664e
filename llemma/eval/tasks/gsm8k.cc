// gsm8k: GSM8k test, 8-shot chain of thought (spec §2.3).
// Prompt: PROMPT + "\n\nQ: " + question + "\nA:"; stop "\n\n"; the reference
// is the "answer" field ("... #### N").
#include "llemma/eval/tasks/common.h"
#include "llemma/eval/tasks/registry.h"

namespace llemma::eval {

namespace {
class Gsm8kTask : public JsonlTask {
 public:
  Gsm8kTask(const TaskArgs& args, TaskSpec spec)
      : JsonlTask(args, std::move(spec), "benchmarks/gsm8k/test.jsonl") {}

 protected:
  StatusOr<bool> MakeProblem(const Record& r, std::string_view prompt, Problem* p) const override {
    LLEMMA_ASSIGN_OR_RETURN(std::string question, r.Get("question"));
    LLEMMA_ASSIGN_OR_RETURN(p->reference, r.Get("answer"));
    p->prompt = std::string(prompt) + "\n\n" + "Q: " + question + "\nA:";
    return true;
  }
};
}  // namespace

StatusOr<std::unique_ptr<Task>> MakeGsm8kTask(const TaskArgs& args) {
  if (!args.option.empty()) {
    return InvalidArgumentError("task " + args.name +
                                ": gsm8k has no subjects (drop \":" + args.option + "\")");
  }
  TaskSpec s;
  s.name = args.name;
  s.description = "GSM8k, 8-shot chain of thought";
  s.scoring = math::Task::kGsm8k;
  s.stop = {"\n\n"};
  s.max_tokens = 1024;
  s.paper = {100, 0.6, 0.95};
  s.prompt_file = "gsm8k_8shot.txt";
  s.paper_key = "gsm8k";
  return std::unique_ptr<Task>(new Gsm8kTask(args, std::move(s)));
}

}  // namespace llemma::eval
