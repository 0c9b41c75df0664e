// Batch checking from JSONL files, for `llemma check`:
//
//   predictions (one object per line): {"id": "math/123", "reference": "...",
//     "completion": "..."} or "completions": ["...", ...]; the reference may
//     also be called "answer", "solution" or "target", or come from a
//     references file with the same ids.
//   pairs (one object per line): {"reference": "...", "candidate": "...",
//     "task": "math" (optional), "label": true (optional),
//     "compare_config": {"allow_set_relation_comp": false} (optional)}.
//
//   llemma::math::BatchOptions o;
//   o.task = Task::kMath;
//   auto summary = llemma::math::ScorePredictions("preds.jsonl", "", o, std::cout);
//
// Every input line is read and validated before anything is written, so bad
// input stops with the file and line named and no partial output.
#pragma once

#include <ostream>
#include <string>

#include "llemma/core/status.h"
#include "llemma/math/check.h"

namespace llemma::math {

struct BatchOptions {
  Task task = Task::kMath;
  Mode mode = Mode::kDefault;
  CheckOptions check;
  int threads = 0;  // 0: one per core
};

struct BatchSummary {
  int items = 0;
  int samples = 0;
  int invalid = 0;          // samples without an answer
  double acc = 0;           // mean over items of the elected answer's correctness (maj@k)
  double acc_first = 0;     // mean correctness of each item's first sample (greedy when k = 1)
  double pass_rate = 0;     // mean pass_rate
  int timed_out = 0;        // checks that hit the deadline
  double seconds = 0;
  double checks_per_second = 0;
  std::string ToJson() const;
};

StatusOr<BatchSummary> ScorePredictions(const std::string& predictions_path, const std::string& references_path,
                                        const BatchOptions& options, std::ostream& out);

struct PairsSummary {
  int pairs = 0;
  int labelled = 0;
  int agree = 0;  // verdicts equal to the label
  int equivalent = 0;
  double seconds = 0;
  std::string ToJson() const;
};

// Pairs without a task are compared as free text: the answer each side states
// (ExtractFreeform) is checked with the default equivalence.
StatusOr<PairsSummary> CheckPairs(const std::string& pairs_path, const BatchOptions& options, bool task_given,
                                  std::ostream& out);

}  // namespace llemma::math
