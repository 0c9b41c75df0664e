// Answer equivalence (our default checker): two final answers are the same
// when their canonical forms match, or their values match under the tolerance
// policy below, or their structures (tuples, sets, intervals, relations,
// matrices) match element by element.
//
//   llemma::math::Verdict v = llemma::math::CheckEquivalent("\\frac{1}{2}", "0.5");
//   // v.equivalent == true, v.reason == "equal values (exact)"
//
// Tolerance policy for numbers:
//   - exact values (integers, fractions, radicals, π, ...) compare exactly:
//     their difference must vanish (long double to 1e-12 relative, then GiNaC);
//   - a decimal answer against an exact value is accepted when it is that value
//     correctly rounded to the digits written (1/3 vs 0.333 yes, vs 0.33 yes,
//     vs 0.3334 no), and it carries at least two significant digits;
//   - two decimals compare as the exact rationals they denote;
//   - "28\%" matches 28 and 0.28.
// Expressions with variables are equal when GiNaC simplifies their
// difference to zero, or, failing that, when they agree at random points
// (real and complex), which catches identities GiNaC does not apply
// (tan²+1 = sec²).
//
// Thread-safe: parsing and numeric checks run concurrently; GiNaC is not
// thread-safe, so its part of a check holds a process-wide lock. Every check
// is bounded by a deadline (default 2 s) without signals: inputs above the
// size limits skip the symbolic stage, and the numeric stage checks the clock.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "llemma/math/latex.h"

namespace llemma::math {

struct CheckOptions {
  double deadline_seconds = 2.0;
  int spot_points = 8;          // random points for expressions with variables
  // A candidate "a \le x \le b" may match a reference "x \in [a, b]"; a
  // reference relation matches a candidate set either way.
  bool allow_set_relation = true;
};

struct Verdict {
  bool equivalent = false;
  bool timed_out = false;
  std::string reason;
};

// Cooperative deadline.
class Deadline {
 public:
  explicit Deadline(double seconds)
      : end_(std::chrono::steady_clock::now() + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6))) {}
  bool Expired() const { return std::chrono::steady_clock::now() >= end_; }

 private:
  std::chrono::steady_clock::time_point end_;
};

// Compares two answer strings (already extracted from completions).
Verdict CheckEquivalent(std::string_view reference, std::string_view candidate, const CheckOptions& options = {});

// Compares two parsed answers.
Verdict CompareAnswers(const Answer& reference, const Answer& candidate, const CheckOptions& options,
                       const Deadline& deadline);

}  // namespace llemma::math
