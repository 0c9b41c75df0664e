// The seven MATH subjects and the Minerva prompt shared by the MATH-based
// tasks (math, math500, math_ppl).
//
//   StatusOr<std::string> s = ParseMathSubject("num_theory", "math:num_theory");  //
//   "number_theory"
//
// Pure functions; thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "llemma/core/status.h"
#include "llemma/eval/tasks/common.h"

namespace llemma::eval {

// Our subject keys, in the harness' task order: algebra,
// counting_and_probability, geometry, intermediate_algebra, number_theory,
// prealgebra, precalculus.
std::span<const char* const> MathSubjects();

// A subject key from ours or the harness' short names (counting_and_prob,
// num_theory, precalc); errors list the valid ones and name `task`.
StatusOr<std::string> ParseMathSubject(std::string_view name, std::string_view task);

// The fields of a MATH line that every MATH-based task reads: p->subject
// from "type", and p->id from "idx" when `use_idx` (the bundled file). False
// when `subject` is set and the line belongs to another one; an error when a
// subject is asked for and the line has no "type".
StatusOr<bool> ReadMathSubjectAndId(const Record& r, std::string_view subject, bool use_idx, Problem* p);

// PROMPT + "\n\n" + "Problem:\n" + problem + "\n\nSolution:" (minerva_math.py).
std::string MinervaMathPrompt(std::string_view prompt, std::string_view problem);

}  // namespace llemma::eval
