// mmlu_stem: the 18 MMLU-STEM subjects with Minerva's 4-shot chain-of-thought
// prompt (spec §2.5), all or one (mmlu_stem:college_physics). Prompt: PROMPT
// + "\n\nProblem:\n" + question + "\nWhat of the following is the right
// choice? Explain your answer.\n(A) c0, (B) c1, (C) c2, (D) c3\nSolution:";
// stop "I hope it is correct." (harness master); the reference is the
// answer letter. The bundled copy went through pandas, which read the MMLU
// choice "None" as a missing value and wrote NaN (11 questions); it is read
// back as "None". --preset paper: maj@16 at T = 0.3 (master's configs/majk.json;
// the preprint branches used 0.6).
#include "llemma/eval/tasks/common.h"
#include "llemma/eval/tasks/registry.h"

namespace llemma::eval {

namespace {
constexpr const char* kSubjects[] = {"abstract_algebra",
                                     "college_mathematics",
                                     "college_physics",
                                     "elementary_mathematics",
                                     "high_school_mathematics",
                                     "high_school_physics",
                                     "high_school_statistics",
                                     "astronomy",
                                     "college_biology",
                                     "college_chemistry",
                                     "college_computer_science",
                                     "computer_security",
                                     "conceptual_physics",
                                     "electrical_engineering",
                                     "high_school_biology",
                                     "high_school_chemistry",
                                     "high_school_computer_science",
                                     "machine_learning"};

class MmluStemTask : public JsonlTask {
 public:
  MmluStemTask(const TaskArgs& args, TaskSpec spec, std::string subject)
      : JsonlTask(args, std::move(spec), "benchmarks/mmlu_stem/test_deepseek.jsonl"),
        subject_(std::move(subject)) {}

 protected:
  StatusOr<bool> MakeProblem(const Record& r, std::string_view prompt, Problem* p) const override {
    LLEMMA_ASSIGN_OR_RETURN(std::optional<std::string> topic, r.GetOptional("topic"));
    if (topic) p->subject = *topic;
    if (!subject_.empty()) {
      if (!topic)
        return InvalidArgumentError(r.Where() + "no field \"topic\" to select the subject by");
      if (*topic != subject_) return false;
    }
    LLEMMA_ASSIGN_OR_RETURN(std::string question, r.Get("question"));
    LLEMMA_ASSIGN_OR_RETURN(std::vector<std::string> options, r.GetStrings("options", "None"));
    if (options.size() != 4) {
      return InvalidArgumentError(r.Where() + "\"options\" must hold 4 choices, not " +
                                  std::to_string(options.size()));
    }
    LLEMMA_ASSIGN_OR_RETURN(p->reference, r.Get("answer"));
    p->prompt = std::string(prompt) + "\n\n" + "Problem:\n" + question +
                "\nWhat of the following is the right choice? Explain your answer.\n" + "(A) " +
                options[0] + ", (B) " + options[1] + ", (C) " + options[2] + ", (D) " + options[3] +
                "\nSolution:";
    return true;
  }

 private:
  std::string subject_;
};
}  // namespace

StatusOr<std::unique_ptr<Task>> MakeMmluStemTask(const TaskArgs& args) {
  if (!args.option.empty()) {
    bool known = false;
    std::string list;
    for (const char* s : kSubjects) {
      known = known || args.option == s;
      list += std::string(list.empty() ? "" : ", ") + s;
    }
    if (!known) {
      return InvalidArgumentError("task " + args.name + ": unknown MMLU-STEM subject \"" +
                                  args.option + "\"; subjects: " + list);
    }
  }
  TaskSpec s;
  s.name = args.name;
  s.description =
      args.option.empty() ? "MMLU-STEM, 4-shot CoT" : "MMLU " + args.option + ", 4-shot CoT";
  s.scoring = math::Task::kMmluStem;
  s.stop = {"I hope it is correct."};
  s.max_tokens = 1024;
  s.paper = {16, 0.3, 0.95};
  s.prompt_file = "mmlu_stem_4shot.txt";
  s.paper_key = "mmlu_stem";
  return std::unique_ptr<Task>(new MmluStemTask(args, std::move(s), args.option));
}

}  // namespace llemma::eval
