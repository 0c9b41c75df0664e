// Exact reproductions of the answer normalizers that the LLEMMA evaluation
// and its ancestors use, for compatibility mode (spec §2.2, §2.4, §7):
//   - MinervaNormalizeTex: Minerva's normalize_final_answer (Lewkowycz et al.
//     2022, Appendix D), the harness' SymbolicMathMixin.normalize_tex;
//   - HendrycksStripString / HendrycksIsEquiv: hendrycks/math
//     modeling/math_equivalence.py (_strip_string, is_equiv);
//   - OcwNormalizeNumericCompat / OcwNumericEqualityCompat: the OCW task's
//     normalize_numeric (Python eval included, as a safe evaluator) and
//     numeric_equality (bug B2 included).
//
//   MinervaNormalizeTex("x = \\frac12\\text{ cm}");               // "\\frac{1}{2}"
//   HendrycksIsEquiv("\\tfrac83", "\\frac{8}{3}");                 // true
//   OcwNormalizeNumericCompat("$3 \\times 10^8$ m/s", nullptr);    // nullopt ("[invalidanswer]")
//   OcwNormalizeNumericCompat("3e8 m/s", nullptr);                 // 3e8
//
// Python's re.sub is reproduced by hand-written scans ('.' matches any
// character but '\n', '[^{]' any character including '\n'; matches are
// non-overlapping, left to right); a character is a UTF-8 code point as in
// PyCharLen (extract.h). Every function is total over arbitrary bytes, never
// throws, runs in linear time (PythonArithmetic: linear in the input, with
// parentheses nested at most 200 deep as in CPython's tokenizer) and is
// thread-safe (pure).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace llemma::math {

// normalize_tex: the part after the last '=', ordered replacements and
// deletions, the regex rewrites ($…$ span, \text{}, \textbf{}, \overline{},
// \boxed{}, \fracab, \sqrta), '$' removed, "1,000" → "1000".
std::string MinervaNormalizeTex(std::string_view s);

// _strip_string; nullopt where the Python code raises (two "\text{ " units,
// "\sqrt" or "\frac" at the very end).
std::optional<std::string> HendrycksTryStripString(std::string_view s);
// _strip_string, with the input returned unchanged where Python raises.
std::string HendrycksStripString(std::string_view s);
// is_equiv(a, b): both stripped, then ==; if either strip raises, a == b.
bool HendrycksIsEquiv(std::string_view a, std::string_view b);

// float(eval(s)) for Python arithmetic: int (decimal, 0x/0o/0b, '_'
// separators) and float literals (exponents, ".5", "5."), True/False,
// + - * / // % ** (right-associative, tighter than a unary sign on its left),
// unary + - ~, & ^ | on ints ("3*10^8" is (3*10) xor 8 = 22), parentheses.
// Ints are exact within 64 bits and approximated beyond. nullopt where
// Python raises (ZeroDivisionError, a complex result, a float overflow in
// '**', an int too large for a float) and for anything else (names, calls,
// strings, tuples, comparisons, shifts): the caller's fallback then applies.
std::optional<double> PythonArithmetic(std::string_view s);

// normalize_numeric: the unit strings removed in order (each followed by
// str.strip()), "\mathrm{m}" "\mathrm{~m}" (then s, cm) removed, '$'
// stripped, PythonArithmetic, else `latex_number(s)` (the harness'
// parse_latex(s) when the result is a number; may be empty). nullopt stands
// for "[invalidanswer]".
std::optional<double> OcwNormalizeNumericCompat(
    std::string_view s, const std::function<std::optional<double>(std::string_view)>& latex_number);

// numeric_equality as coded (bug B2): if isclose(n1, 0), isclose(n2, 0) or
// isclose(n1 - n2, 0), then |n1 - n2| < 0.01 * (n1 + n2) / 2 (so equal values
// with a sum <= 0 are unequal); else isclose(n1, n2). isclose is numpy's:
// |a - b| <= 1e-8 + 1e-5 * |b|, infinities close only to themselves, NaN to
// nothing.
bool OcwNumericEqualityCompat(double n1, double n2);

}  // namespace llemma::math
