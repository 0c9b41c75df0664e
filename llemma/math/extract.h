// Answer extraction: pulls the final answer out of a model completion or a
// reference solution, per task format.
//
//   - MATH / OCW: Minerva's "Final Answer: The final answer is X. I hope it is
//     correct." (OCW spells it "Final answer:") and the last \boxed{X};
//   - GSM8k: "The answer is N" (completions) and "#### N" (references);
//   - MMLU-STEM / SAT: "Final Answer: The final answer is (B)."
//
//   auto a = llemma::math::LastBoxedAnswer("so $x = \\boxed{\\frac{1}{2}}$.");  // "\\frac{1}{2}"
//   auto g = llemma::math::ExtractGsm8k("... The answer is -1,250.5.");         // "-1250.5"
//   auto c = llemma::math::ExtractChoice("The answer is $\\text{(C)}$.");       // 'C'
//
// Functions named *Compat reproduce the LLEMMA harness' Python code exactly,
// failures included (spec §2.2-2.6; bugs B5 and B8 of §7); the others are our
// defaults. No regular-expression engine is used: every function is a
// hand-written scan, linear in the input (no recursion on input depth), total
// over arbitrary bytes (never throws), and thread-safe (pure).
//
// Where Python counts characters, a "character" here is one UTF-8 code point
// of a well-formed sequence, or one byte of a malformed one (PyCharLen).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace llemma::math {

// --- \boxed{} -------------------------------------------------------------

// Minerva/Hendrycks last_boxed_only_string. If "\boxed " occurs: "\boxed "
// plus the text after its last occurrence up to (not including) the next '$'.
// Otherwise the last "\boxed" (else "\fbox") through the brace that brings the
// brace depth counted from there back to zero; nullopt if there is none.
std::optional<std::string> LastBoxedOnlyString(std::string_view text);
// "\boxed x" → "x"; "\boxed{x}" / "\fbox{x}" → "x"; anything else → nullopt.
// (The harness' remove_boxed raises on \fbox{}; we unwrap it.)
std::optional<std::string> RemoveBoxed(std::string_view s);
// RemoveBoxed(LastBoxedOnlyString(text)).
std::optional<std::string> LastBoxedAnswer(std::string_view text);

// --- MATH / OCW ----------------------------------------------------------

// re.search(r'Final Answer: The final answer is(.*?). I hope it is correct.',
//           completion + "I hope it is correct.").group(1).strip()
// with "Final answer:" when `ocw`. No DOTALL: the match lies on one line.
std::optional<std::string> ExtractMinervaCompat(std::string_view completion, bool ocw);
// Our default for MATH/OCW: the last "final answer is" sentence (any case,
// "Final Answer: The final answer is", "final answer is:"), ending at the line
// break or at "I hope it is correct", with a trailing '.', one enclosing
// $…$ / $$…$$ / \(…\) / \[…\] and an enclosing \boxed{} removed; else the last
// \boxed{} of the completion; else nullopt.
std::optional<std::string> ExtractMathAnswer(std::string_view completion);

// --- GSM8k ---------------------------------------------------------------

// Harness: the first match of r"The answer is (\d+)" (ASCII digits). Only
// unsigned digit runs: "1,000" gives "1", "-5" nothing (bug B5).
std::optional<std::string> ExtractGsm8kCompat(std::string_view completion);
// Reference: re.search(r"#### (\-?[0-9\.\,]+)") with the commas removed.
std::optional<std::string> ExtractGsm8kReference(std::string_view answer);
// Our default (fixes B5): the first "the answer is" (any case, optional ':')
// followed, after spaces, '*', '$' or "\$", by a number: optional sign ('-',
// '+', U+2212), digits with optional thousands groups (",ddd", only after 1-3
// leading digits), optional decimals (".5" reads as "0.5"). Else the first
// "####" followed by such a number. Returns the number with separators and
// '+' removed; decimals are kept as written ("12.50" stays "12.50").
std::optional<std::string> ExtractGsm8k(std::string_view completion);

// --- Multiple choice (MMLU-STEM, SAT) -----------------------------------------

// Harness: m = re.search(r"Final Answer: The final answer is \([ABCD]\).");
// m.group(0).lstrip("Final Answer: The final answer is ")
//           .rstrip(". I hope it is correct.")
// Character-set strips (bug B8): usually "(B)", but "(B)," or "(B)x" when the
// character after ')' is outside the rstrip set.
std::optional<std::string> ExtractChoiceCompat(std::string_view completion);
// Our default: the letter after the last "final answer is" that has one,
// else after the last "answer is", else after the last "answer:". The letter
// may be written "(B)", "B)", "B", "$B$", "\text{(B)}", "\textbf{B}", "option
// B"; it must not begin a word ("Alice"). Returns 'A'..'E'.
std::optional<char> ExtractChoice(std::string_view completion);

// --- Python string semantics shared by the compat code ----------------------

// Bytes in the character at s[i] (i < s.size()): the length of a well-formed
// UTF-8 sequence, else 1.
size_t PyCharLen(std::string_view s, size_t i);
// Python's str.strip() with no argument: removes Unicode whitespace (ASCII
// " \t\n\r\v\f", \x1c-\x1f, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028,
// U+2029, U+202F, U+205F, U+3000) from both ends.
std::string PyStrip(std::string_view s);
// Python's str.strip/lstrip/rstrip(chars) for an ASCII character set.
std::string PyStrip(std::string_view s, std::string_view chars);
std::string PyLstrip(std::string_view s, std::string_view chars);
std::string PyRstrip(std::string_view s, std::string_view chars);

}  // namespace llemma::math
