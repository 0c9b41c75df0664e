// Majority voting over k sampled answers, as the LLEMMA harness does it
// (MajorityVotingMixin.majority_vote), with grouping by a canonical key first.
//
//   std::vector<std::optional<std::string>> answers = {"1/2", "0.5", std::nullopt, "3"};
//   llemma::math::VoteResult r = llemma::math::MajorityVote(answers, "\\frac12", rules);
//   // r.elected == "1/2" (2 votes: "0.5" joins its bucket), r.acc == true
//
// Rules: invalid samples (nullopt) never vote; each answer joins the bucket
// whose key equals its own, else the FIRST existing bucket (in order of
// creation) it is equivalent to, else opens a new bucket; buckets are ranked
// by votes with a stable sort, so ties go to the answer seen first; acc is
// equiv(correct, elected); pass_rate is the votes of the first bucket
// equivalent to the correct answer divided by all samples (invalid ones
// included) or by the valid ones only, as the task says; no valid sample
// gives acc = pass_rate = 0.
//
// Cost: O(k) key computations plus one equivalence check per pair of
// distinct keys that are compared before a match is found. Thread-safe when
// the rule functions are.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace llemma::math {

struct VoteRules {
  // Grouping key: answers with equal keys are the same answer. The harness
  // uses the string itself.
  std::function<std::string(const std::string&)> key = [](const std::string& s) { return s; };
  // Equivalence between two distinct keys' representatives (a, b) and
  // between the correct answer and the elected one.
  std::function<bool(const std::string& a, const std::string& b)> equiv = [](const std::string& a,
                                                                             const std::string& b) { return a == b; };
  bool pass_rate_over_all_samples = true;  // false: divide by valid samples (GSM8k, OCW)
  // Remember the bucket of an answer that joined a bucket by equivalence, so
  // its repeats cost nothing. The harness only remembers bucket founders
  // (repeats are compared again, in bucket order); set false to reproduce it
  // exactly when equivalence is not transitive.
  bool remember_merged_keys = true;
};

struct VoteBucket {
  std::string answer;  // first answer seen in the bucket
  int votes = 0;
};

struct VoteResult {
  std::optional<std::string> elected;  // nullopt when no sample was valid
  bool acc = false;
  double pass_rate = 0;
  int valid = 0;
  std::vector<VoteBucket> buckets;  // ranked, most votes first
};

VoteResult MajorityVote(const std::vector<std::optional<std::string>>& answers, const std::string& correct,
                        const VoteRules& rules);

}  // namespace llemma::math
