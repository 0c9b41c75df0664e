// Tool-use tasks of the LLEMMA evaluation (spec §2.7, §2.8): GSM8k solved by
// PAL programs (`def solution(): ... return result`) and MATH solved by
// SymPy programs that set `answer`. The pure parts live here: prompt
// assembly, program extraction, the Python wrapper that runs a program and
// prints its answer in a parseable form, and the scoring. Programs run in a
// sandbox::Sandbox.
//
//   std::string program = Gsm8kPythonProgram(completion);
//   StatusOr<sandbox::RunResult> run = sb.Run(program);
//   bool correct = ScoreGsm8kPython(math::Mode::kDefault, "18", *run);
//
//   MathProgram p = ExtractMathProgram(completion);      // header + body
//   MathPythonAnswer a = RunMathProgram(sb, p.code, reference, mode);
//   a.correct   // default: our checker on a.latex; compat: the harness's rules
//
// Modes: kDefault scores with llemma/math (numeric tolerance, symbolic
// equivalence, a one-element solve() list read as its element);
// kCompatLlemma reproduces the harness: exact float equality for GSM8k,
// np.isclose / simplify(a - b) == 0 for MATH, lists never equal, a failed
// program's None can win maj@k (bug B6). Stateless functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llemma/core/status.h"
#include "llemma/math/check.h"
#include "llemma/sandbox/sandbox.h"

namespace llemma::agent {

// Python's str.strip(): s without leading and trailing ASCII whitespace.
std::string_view PyStrip(std::string_view s);

// --- GSM8k + Python (PAL) ---------------------------------------------------

// template.format(question=question): "{question}" replaced, "{{"/"}}" → "{"/"}".
std::string Gsm8kPythonPrompt(std::string_view pal_template, std::string_view question);
inline constexpr const char* kGsm8kPythonStop = "Q:";
// completion.strip() + "\nprint(solution())".
std::string Gsm8kPythonProgram(std::string_view completion);
// Python's float() of stdout.strip(); nullopt when it is not a number.
std::optional<double> PythonFloat(std::string_view s);
// What a PAL program's run states as its answer: compat: all of stdout
// (stripped) when Python's float() reads it; default: the last line of
// stdout. nullopt for a run that did not exit normally, and (default) for an
// empty answer or "None". The view points into run.stdout_text.
std::optional<std::string_view> PalPrintedAnswer(math::Mode mode, const sandbox::RunResult& run);
// Whether the program's run answers `reference` (the lila output_answer):
// compat: float(reference) == float(stdout.strip()), exactly; default: the
// GSM8k checker of llemma/math on the last line of stdout. A run that did not
// exit normally is wrong in both modes.
bool ScoreGsm8kPython(math::Mode mode, std::string_view reference, const sandbox::RunResult& run);

// --- MATH + Python (SymPy) --------------------------------------------------

// PROMPT + "\n\nProblem:\n" + problem + "\n\nYou are an expert programmer. ... SymPy object.\n```".
std::string MathPythonPrompt(std::string_view prompt, std::string_view problem);
inline constexpr const char* kMathPythonStop = "I hope my solution is correct.";

struct MathProgram {
  std::string code;  // header + "\n\n" + body (the harness's literal failure strings when missing)
  bool has_body = false;
  bool has_header = false;
};
// body: the text up to the first ``` (stripped); header: the block after
// "The imports required for this program are" + one whitespace + ```.
MathProgram ExtractMathProgram(std::string_view completion);

// The Python program that runs `code` (compat: wrapped in try/except with a
// one-space indent, as the harness does) under a 5 s alarm, reads `answer`,
// compares it with the reference in compat mode, and prints one line
// "__LLEMMA_ANSWER__ {json}" last.
std::string MathPythonWrapper(std::string_view code, math::Mode mode,
                              std::string_view reference_latex, std::string_view reference_expr);

struct MathPythonAnswer {
  std::string kind;              // "none", "number", "sympy", "list", "other"
  std::string text;              // str(answer)
  std::string latex;             // the answer as LaTeX for our checker (numbers: repr)
  std::string vote_key;          // what maj@k groups by: compat str(cast(answer)), default `latex`
  std::optional<double> number;  // kind == "number"
  bool correct = false;
  std::string error;  // why the program produced no answer ("" when it did)
};

// Runs one extracted program in the sandbox and scores it against the MATH
// reference field (the full solution or its answer).
StatusOr<MathPythonAnswer> RunMathProgram(sandbox::Sandbox& sb, std::string_view code,
                                          std::string_view reference_field, math::Mode mode);

// maj@k over k programs' answers. Compat: the harness's vote without an
// invalid answer (None votes and can win), equality of str() of the cast
// answers or np.isclose for two numbers; default: llemma/math's MATH vote
// over the LaTeX answers, failed programs not voting.
math::VoteResult VoteMathPython(const std::vector<MathPythonAnswer>& answers,
                                std::string_view reference_field, math::Mode mode);

}  // namespace llemma::agent
