#include "llemma/eval/tasks/math_subjects.h"

namespace llemma::eval {

namespace {
constexpr const char* kSubjects[] = {"algebra",       "counting_and_probability",
                                     "geometry",      "intermediate_algebra",
                                     "number_theory", "prealgebra",
                                     "precalculus"};
}  // namespace

std::span<const char* const> MathSubjects() { return kSubjects; }

StatusOr<std::string> ParseMathSubject(std::string_view name, std::string_view task) {
  if (name == "counting_and_prob") return std::string("counting_and_probability");
  if (name == "num_theory") return std::string("number_theory");
  if (name == "precalc") return std::string("precalculus");
  std::string known;
  for (const char* s : kSubjects) {
    if (name == s) return std::string(s);
    known += std::string(known.empty() ? "" : ", ") + s;
  }
  return InvalidArgumentError("task " + std::string(task) + ": unknown MATH subject \"" +
                              std::string(name) + "\"; subjects: " + known);
}

std::string MinervaMathPrompt(std::string_view prompt, std::string_view problem) {
  return std::string(prompt) + "\n\n" + "Problem:\n" + std::string(problem) + "\n\nSolution:";
}

StatusOr<bool> ReadMathSubjectAndId(const Record& r, std::string_view subject, bool use_idx, Problem* p) {
  LLEMMA_ASSIGN_OR_RETURN(std::optional<std::string> type, r.GetOptional("type"));
  p->subject = type ? SubjectKey(*type) : "";
  if (!subject.empty()) {
    if (!type) return InvalidArgumentError(r.Where() + "no field \"type\" to select the subject by");
    if (p->subject != subject) return false;
  }
  LLEMMA_ASSIGN_OR_RETURN(std::optional<std::string> idx, r.GetOptional("idx"));
  if (idx && use_idx) p->id = *idx;
  return true;
}

}  // namespace llemma::eval
