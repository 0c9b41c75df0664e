#include "llemma/math/vote.h"

#include <algorithm>
#include <unordered_map>

namespace llemma::math {

VoteResult MajorityVote(const std::vector<std::optional<std::string>>& answers, const std::string& correct,
                        const VoteRules& rules) {
  VoteResult r;
  std::vector<VoteBucket> buckets;
  std::unordered_map<std::string, size_t> bucket_of_key;  // every key seen → its bucket
  for (const auto& a : answers) {
    if (!a) continue;
    ++r.valid;
    const std::string key = rules.key(*a);
    auto it = bucket_of_key.find(key);
    if (it != bucket_of_key.end()) {
      ++buckets[it->second].votes;
      continue;
    }
    // A new key: the first earlier bucket it is equivalent to, else a new one.
    size_t target = buckets.size();
    for (size_t b = 0; b < buckets.size(); ++b) {
      if (rules.equiv(*a, buckets[b].answer)) {
        target = b;
        break;
      }
    }
    const bool founder = target == buckets.size();
    if (founder) buckets.push_back({*a, 0});
    ++buckets[target].votes;
    if (founder || rules.remember_merged_keys) bucket_of_key.emplace(key, target);
  }
  if (r.valid == 0) return r;
  std::stable_sort(buckets.begin(), buckets.end(),
                   [](const VoteBucket& x, const VoteBucket& y) { return x.votes > y.votes; });
  r.elected = buckets.front().answer;
  r.acc = rules.equiv(correct, *r.elected);
  const double denom = rules.pass_rate_over_all_samples ? static_cast<double>(answers.size()) : r.valid;
  for (const VoteBucket& b : buckets) {
    if (rules.equiv(correct, b.answer)) {
      r.pass_rate = b.votes / denom;
      break;
    }
  }
  r.buckets = std::move(buckets);
  return r;
}

}  // namespace llemma::math
