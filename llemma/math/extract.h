// Answer extraction from model completions and reference solutions, per task
// format: Minerva's "Final Answer: The final answer is … I hope it is
// correct." (OCW: "Final answer:"), the last \boxed{…} / \boxed … / \fbox{…},
// GSM8k's "The answer is N" and "#### N", multiple choice "(A)".."(D)".
//
//   auto a = llemma::math::LastBoxedAnswer("so $x = \\boxed{\\frac{1}{2}}$.");  // "\\frac{1}{2}"
//   auto g = llemma::math::ExtractGsm8k("... The answer is -1,250.5.");         // "-1250.5"
//
// The *Compat functions reproduce the LLEMMA harness' regular expressions
// exactly (including what they fail to read); the others are our defaults.
// No regular-expression engine is used: every scan is linear and total over
// arbitrary bytes. Thread-safe (pure functions).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace llemma::math {

// Minerva/Hendrycks last_boxed_only_string: with "\boxed " present, the text
// after the last "\boxed " up to the next '$' (prefixed with "\boxed ");
// otherwise the last \boxed{…} (else \fbox{…}) through its matching brace.
std::optional<std::string> LastBoxedOnlyString(std::string_view text);
// "\boxed x" → "x"; "\boxed{x}" / "\fbox{x}" → "x"; anything else → nullopt.
std::optional<std::string> RemoveBoxed(std::string_view s);
// RemoveBoxed(LastBoxedOnlyString(text)).
std::optional<std::string> LastBoxedAnswer(std::string_view text);

// re.search(r'Final Answer: The final answer is(.*?). I hope it is correct.',
// completion + "I hope it is correct.").group(1).strip() ("Final answer:" for OCW).
std::optional<std::string> ExtractMinervaCompat(std::string_view completion, bool ocw);
// Our default for MATH/OCW: the last final-answer sentence (either case of
// "answer:", spanning no line break, $…$ and a \boxed{} inside removed), else
// the last \boxed{} of the completion.
std::optional<std::string> ExtractMathAnswer(std::string_view completion);

// GSM8k harness: the first "The answer is (\d+)"; only unsigned integers (bug B5).
std::optional<std::string> ExtractGsm8kCompat(std::string_view completion);
// GSM8k reference: "#### (\-?[0-9\.\,]+)" with commas removed.
std::optional<std::string> ExtractGsm8kReference(std::string_view answer);
// Our default: the first "the answer is" (any case) followed by a number,
// allowing "$", "\$", a sign, thousands separators and decimals; else "#### N".
// Returns the number without separators or a leading '+'.
std::optional<std::string> ExtractGsm8k(std::string_view completion);

// MMLU/SAT harness: re.search(r"Final Answer: The final answer is \([ABCD]\).")
// cleaned with lstrip/rstrip character sets (bug B8), giving "(B)".
std::optional<std::string> ExtractChoiceCompat(std::string_view completion);
// Our default: the letter of the last final-answer sentence ("(B)", "B)",
// "B", "$B$", "\text{(B)}"), else of the last "answer is …"; 'A'..'E'.
std::optional<char> ExtractChoice(std::string_view completion);

// Python's str.strip / lstrip / rstrip with a character set.
std::string PyStrip(std::string_view s, std::string_view chars = " \t\n\r\x0b\x0c");
std::string PyLstrip(std::string_view s, std::string_view chars);
std::string PyRstrip(std::string_view s, std::string_view chars);

}  // namespace llemma::math
