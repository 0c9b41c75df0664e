// Task-level scoring: extract the answer of a completion the way a benchmark
// expects, compare it with the reference, and vote over k samples. Two modes:
// kDefault (our checker) and kCompatLlemma (the LLEMMA harness at its pinned
// commit, quirks included; see README "Answer checking").
//
//   using namespace llemma::math;
//   ItemScore s = ScoreItem(Task::kGsm8k, Mode::kDefault, "... #### 1,234",
//                           {"... The answer is 1,234.", "... The answer is 1234."}, {});
//   // s.vote.acc == true, s.answers == {"1234", "1234"}
//
// Thread-safe: every function is a pure function of its arguments.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llemma/math/equiv.h"
#include "llemma/math/vote.h"

namespace llemma::math {

enum class Task { kMath, kGsm8k, kOcw, kMmluStem, kSat };
enum class Mode { kDefault, kCompatLlemma };

// "math", "math:algebra", "gsm8k", "ocw", "mmlu_stem", "sat" (also the
// harness' names: "minerva_math_algebra", "ocw_courses", "math_sat_cot",
// "minerva-hendrycksTest-<subject>").
std::optional<Task> ParseTask(std::string_view name);
std::string_view TaskName(Task t);
// "default" or "llemma".
std::optional<Mode> ParseMode(std::string_view name);

// The reference answer from a dataset field: a MATH solution (its last
// \boxed{}) or bare answer, a GSM8k answer ending in "#### N", an OCW answer,
// a choice ("B", "(B)", or the index 0-3).
std::string ReferenceAnswer(Task task, Mode mode, std::string_view field);

// The answer a completion gives, normalized as the task does; nullopt when
// the completion has none (the harness' "[invalidanswer]" / "[invalid]").
std::optional<std::string> ExtractAnswer(Task task, Mode mode, std::string_view completion);

// Whether an extracted answer matches the reference answer.
Verdict Judge(Task task, Mode mode, std::string_view reference, std::string_view answer, const CheckOptions& options);

struct ItemScore {
  std::string reference;
  std::vector<std::optional<std::string>> answers;  // one per completion
  VoteResult vote;                                  // acc of the elected answer (maj@k; k = 1 is greedy)
  // Whether each completion alone is correct, when the scorer found it out
  // anyway (tool-use tasks, whose programs run once); empty otherwise.
  std::vector<bool> correct;
};

ItemScore ScoreItem(Task task, Mode mode, std::string_view reference_field, const std::vector<std::string>& completions,
                    const CheckOptions& options);

// The answer stated in free text (Math-Verify's setting): the final-answer
// sentence, else the last \boxed{}, else "the answer is …", else the last math
// span ($…$, \(…\), \[…\]), else the last number. Text that is already a
// bare answer comes back as it is.
std::optional<std::string> ExtractFreeform(std::string_view text);

}  // namespace llemma::math
