// Exact reproductions of the reference normalizers the LLEMMA evaluation and
// its ancestors used, for compatibility mode:
//   - MinervaNormalizeTex: Minerva's normalize_final_answer (Lewkowycz et al.,
//     Appendix D), the LLEMMA harness' normalize_tex;
//   - Hendrycks' MATH is_equiv with its strip_string;
//   - the OCW task's normalize_numeric and numeric_equality (bug B2 included).
//
//   llemma::math::MinervaNormalizeTex("x = \\frac12\\text{ cm}");  // "\\frac{1}{2}"
//
// Python's re.sub semantics are reproduced by hand ('.' does not match a line
// break, '[^{]' does). Thread-safe (pure functions).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace llemma::math {

std::string MinervaNormalizeTex(std::string_view s);

// Hendrycks' strip_string; nullopt where the Python code raises (is_equiv then
// falls back to comparing the raw strings).
std::optional<std::string> HendrycksStripString(std::string_view s);
bool HendrycksIsEquiv(std::string_view a, std::string_view b);

// OCW normalize_numeric: unit strings removed in order, '$' stripped, then
// Python float(eval(s)) over arithmetic (ints, floats, + - * / // % **, '^'
// as integer XOR, parentheses), then `latex_number(s)` (the harness'
// parse_latex) when given; nullopt is "[invalidanswer]".
std::optional<double> OcwNormalizeNumericCompat(std::string_view s,
                                                const std::function<std::optional<double>(std::string_view)>& latex_number);
// OCW numeric_equality as coded (bug B2): np.isclose semantics.
bool OcwNumericEqualityCompat(double n1, double n2);

// Python float(eval(s)) for arithmetic expressions; nullopt when Python
// would raise or the expression is not plain arithmetic.
std::optional<double> PythonArithmetic(std::string_view s);

}  // namespace llemma::math
