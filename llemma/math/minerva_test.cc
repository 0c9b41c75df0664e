#include "llemma/math/minerva.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace llemma::math {
namespace {

using std::nullopt;
using std::optional;
using std::string;

struct TexCase {
  const char* in;
  const char* want;
};

// Each expected value was worked out from the Python code step by step (and
// checked against CPython 3.11's re.sub); "quirk" marks a result the Python
// code produces that a person would not.
TEST(MinervaNormalizeTex, ReproducesNormalizeFinalAnswer) {
  const TexCase cases[] = {
      {"\\frac12", "\\frac{1}{2}"},  // (frac)([^{])(.)
      {"\\sqrt2", "\\sqrt{2}"},      // (sqrt)([^{])
      {"\\sqrtx+1", "\\sqrt{x}+1"},
      {"\\frac{1}{2}", "\\frac{1}{2}"},
      {"\\frac1{72}", "\\frac{1}{{}72}"},  // quirk: (.) takes the '{'
      {"\\dfrac{3}{4}", "\\dfrac{3}{4}"},  // \dfrac is left alone
      {"x = 5", "5"},                      // the part after the last '='
      {"x = \\text{5 dollars}", "5"},      // "dollars" deleted, spaces removed, \text{} unwrapped
      {"10 \\text{ inches}", "10"},        // "inches" deleted, then "\text{}"
      {"100\\text{ meters}", "100"},
      {"12 \\text{ cm}^2", "12"},  // "cm" deleted, then "\text{}^2"
      {"\\$1,000", "1000"},        // "\$" removed, then the digits-only commas
      {"\\$ 5.00", "5.00"},
      {"1,000", "1000"},
      {"1, 2", "12"},  // quirk: a list of digits becomes one number
      {"\\boxed{5}", "5"},
      {"\\boxed{\\frac{1}{2}}\\text{ or }\\boxed{3}", "\\frac{1}{2}}or\\boxed{3"},  // quirk: greedy
      {"5^\\circ", "5"},
      {"an apple", "apple"},  // "an " deleted
      {"a b", "b"},
      {"\\tan x", "\\tx"},                          // quirk: "an " inside \tan
      {"\\left(1, 2\\right)", "\\le(1,2\\right)"},  // quirk: "ft" deleted from \left
      {"$4$ and $5$", "4"},                         // the first $…$ span of the line
      {"$a$\n$b$ and $c$", "a\nb"},                 // per line
      {"\\text{Evelyn}", "Evelyn"},
      {"\\textbf{(B)}", "(B)"},
      {"\\text{(A)}", "(A)"},
      {"\\overline{AB}", "AB"},
      {"\\text{a\n}b}", "\\text{a\n}b}"},  // '.' stops at the line break: no match
      {"\\text{\n}5", "5"},                // deleted as a whole (a real line break)
      {"5\\text{\ns}", "5"},
      {"\\fracé2", "\\frac{é}{2}"},  // one character is one code point
      {"50\\%", "50\\%"},
      {"x \\in [1, 2]", "x\\in[1,2]"},
      {"\\mathbf{5}", "\\mathbf{5}"},
      {"0.5", "0.5"},
      {"frac", "frac"},
      {"", ""},
  };
  for (const TexCase& c : cases) EXPECT_EQ(MinervaNormalizeTex(c.in), c.want) << c.in;
}

struct StripCase {
  const char* in;
  optional<string> want;  // nullopt: the Python code raises
};

TEST(HendrycksStripString, ReproducesStripString) {
  const StripCase cases[] = {
      {"\\dfrac{1}{2}", "\\frac{1}{2}"},
      {"\\tfrac83", "\\frac{8}{3}"},
      {"0.5", "\\frac{1}{2}"},
      {".5", "\\frac{1}{2}"},  // "0" prepended, then 0.5
      {" .5", "\\frac{1}{2}"},
      {"{.5}", "{0.5}"},
      {"3/4", "\\frac{3}{4}"},
      {"3 / 4", "\\frac{3}{4}"},  // spaces go before a/b
      {"-3/4", "\\frac{-3}{4}"},
      {"03/4", "03/4"},  // int("03") prints as "3": not canonical
      {"-0/1", "-0/1"},
      {"k = 7", "7"},  // at most two characters before the one '='
      {"é=5", "5"},    // characters, not bytes
      {"éé=5", "5"},
      {"ééé=5", "ééé=5"},
      {"abc=5", "abc=5"},
      {"x=y=3", "x=y=3"},
      {"10\\text{ cm}", "10"},
      {"1\\text{ a}\\text{ b}", nullopt},  // assert len(splits) == 2
      {"\\sqrt", nullopt},                 // split[0] on an empty split
      {"\\frac", nullopt},                 // substr[0] on an empty part
      {"\\frac1", "\\frac1"},              // one character after \frac: returned unchanged
      {"\\frac1{72}", "\\frac{1}{72}"},
      {"\\frac{72}1", "\\frac{72}1"},
      {"\\fracé2", "\\frac{é}{2}"},
      {"\\sqrt3x", "\\sqrt{3}x"},
      {"50\\%", "50"},
      {"\\left( 1 \\right)", "(1)"},
      {"1\\\\2", "1\\2"},
      {"\\$10", "10"},
      {"10^\\circ", "10"},
      {"2^{\\circ}", "2"},
      {"a\nb", "ab"},
      {"x\\!y", "xy"},
      {"", ""},
  };
  for (const StripCase& c : cases) EXPECT_EQ(HendrycksTryStripString(c.in), c.want) << c.in;
  EXPECT_EQ(HendrycksStripString("\\sqrt"), "\\sqrt");  // raises: the input comes back
  EXPECT_EQ(HendrycksStripString("\\dfrac12"), "\\frac{1}{2}");
}

TEST(HendrycksIsEquiv, FallsBackToRawEqualityWhereStrippingRaises) {
  EXPECT_TRUE(HendrycksIsEquiv("1\\text{ a}\\text{ b}", "1\\text{ a}\\text{ b}"));
  EXPECT_FALSE(HendrycksIsEquiv("1\\text{ a}\\text{ b}", "1"));
  EXPECT_FALSE(HendrycksIsEquiv("\\sqrt", "\\sqrt{}"));
  EXPECT_TRUE(HendrycksIsEquiv("\\tfrac{1}{2}", "0.5"));
}

TEST(HendrycksIsEquiv, MatchesTheLabelledPairsOfTheHendrycksTests) {
  std::ifstream f(LLEMMA_SOURCE_DIR
                  "/tests/testdata/grading/pairs_hendrycks_math_equivalence_tests.jsonl");
  ASSERT_TRUE(f.good());
  string line;
  int rows = 0;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line);
    const string reference = j.at("reference"), candidate = j.at("candidate");
    EXPECT_EQ(HendrycksIsEquiv(candidate, reference), j.at("label").get<bool>())
        << j.at("test") << ": " << candidate << " vs " << reference;
    ++rows;
  }
  EXPECT_EQ(rows, 16);
}

struct ArithCase {
  const char* in;
  optional<double> want;  // nullopt: Python raises, or not plain arithmetic
};

TEST(OcwPythonArithmetic, EvaluatesLikeFloatOfEval) {
  const ArithCase cases[] = {
      {"3*10**8", 3e8},
      {"3*10^8", 22},  // quirk: '^' is xor, (3*10) ^ 8
      {"2^3", 1},
      {"-2**2", -4},     // ** binds tighter than the unary minus on its left
      {"2**-1", 0.5},    // and takes a signed exponent
      {"2**3**2", 512},  // right-associative
      {"(-2)**2", 4},
      {"7//2", 3},
      {"-7//2", -4},  // floor division
      {"-7%3", 2},
      {"7.5//2", 3},
      {"-7.5%2", 0.5},
      {"1/4", 0.25},
      {"1.5e3", 1500},
      {".5", 0.5},
      {"5.", 5},
      {"1_000", 1000},
      {"0x1f", 31},
      {"0b101", 5},
      {"00", 0},
      {"~5", -6},
      {"True+1", 2},
      {" 42 ", 42},
      {"(1\n+2)", 3},  // line breaks inside parentheses are fine
      {"1e400", std::numeric_limits<double>::infinity()},
      {"9223372036854775807+1", 9223372036854775808.0},  // beyond 64 bits
      {"1/0", nullopt},                                  // ZeroDivisionError
      {"0**-1", nullopt},
      {"(-8)**(1/3)", nullopt},  // complex: float() raises
      {"10.0**400", nullopt},    // OverflowError
      {"10**400", nullopt},      // int too large to convert to float
      {"2.0^3", nullopt},        // TypeError
      {"012", nullopt},          // SyntaxError
      {"1_", nullopt},
      {"5j", nullopt},
      {"1\n+2", nullopt},
      {"x+1", nullopt},
      {"__import__('os')", nullopt},
      {"1,2", nullopt},  // a tuple
      {"'5'", nullopt},  // a string: float('5') would work; we do not evaluate strings
      {"3 \\times 10^8", nullopt},
      {"", nullopt},
      {"()", nullopt},
  };
  for (const ArithCase& c : cases) EXPECT_EQ(PythonArithmetic(c.in), c.want) << c.in;
}

TEST(OcwPythonArithmetic, SurvivesDeepAndLongInput) {
  EXPECT_EQ(PythonArithmetic(string(199, '(') + "1" + string(199, ')')), optional<double>(1));
  EXPECT_EQ(PythonArithmetic(string(200, '(') + "1" + string(200, ')')),
            nullopt);  // CPython's limit
  EXPECT_EQ(PythonArithmetic(string(100000, '(')), nullopt);
  EXPECT_EQ(PythonArithmetic(string(100000, '-') + "1"), optional<double>(1));
  string chain = "2";
  for (int i = 0; i < 50000; ++i) chain += "**1";
  EXPECT_EQ(PythonArithmetic(chain), optional<double>(2));
  string sum = "1";
  for (int i = 0; i < 200000; ++i) sum += "+1";
  EXPECT_EQ(PythonArithmetic(sum), optional<double>(200001));
}

TEST(OcwNormalizeNumericCompat, RemovesUnitsThenEvaluates) {
  EXPECT_EQ(OcwNormalizeNumericCompat("5 kg", nullptr), optional<double>(5));
  EXPECT_EQ(OcwNormalizeNumericCompat("$3.2$ eV", nullptr), optional<double>(3.2));
  EXPECT_EQ(OcwNormalizeNumericCompat("3e8 m/s", nullptr), optional<double>(3e8));
  EXPECT_EQ(OcwNormalizeNumericCompat("4 \\mathrm{~m}", nullptr), optional<double>(4));
  // Quirk: the unit "cm" goes first, leaving "4 \mathrm{~}".
  EXPECT_EQ(OcwNormalizeNumericCompat("4 \\mathrm{~cm}", nullptr), nullopt);
  EXPECT_EQ(OcwNormalizeNumericCompat("7 \\mathrm{s}", nullptr), optional<double>(7));
  EXPECT_EQ(OcwNormalizeNumericCompat("1.5 years", nullptr), optional<double>(1.5));
  EXPECT_EQ(OcwNormalizeNumericCompat("2 W", nullptr), optional<double>(2));
  EXPECT_EQ(OcwNormalizeNumericCompat("6\u00a0", nullptr),
            optional<double>(6));  // str.strip() is Unicode-aware
  // "Wb" loses its 'W' (quirk); "b" is then a name.
  EXPECT_EQ(OcwNormalizeNumericCompat("3 Wb", nullptr), nullopt);
  EXPECT_EQ(OcwNormalizeNumericCompat("\\frac{1}{2}", nullptr), nullopt);  // "[invalidanswer]"
}

TEST(OcwNormalizeNumericCompat, FallsBackToTheLatexParser) {
  string seen;
  auto latex = [&seen](std::string_view s) -> optional<double> {
    seen = string(s);
    return 0.5;
  };
  EXPECT_EQ(OcwNormalizeNumericCompat("$\\frac{1}{2}$ m/s", latex), optional<double>(0.5));
  EXPECT_EQ(seen, "\\frac{1}{2}");  // the parser sees the normalized string
  EXPECT_EQ(OcwNormalizeNumericCompat("2", latex), optional<double>(2));  // eval first
}

struct EqualityCase {
  double n1, n2;
  bool want;
};

TEST(OcwNumericEqualityCompat, KeepsBugB2) {
  const double inf = std::numeric_limits<double>::infinity();
  const EqualityCase cases[] = {
      {2.0, 2.0, true},            // equal: |0| < 0.01 * 2
      {100000.0, 100000.5, true},  // np.isclose: 0.5 <= 1e-8 + 1e-5 * 100000.5
      {100.0, 100.5, false},       // the intended 1% tolerance never applies
      {100.0, 100.0009, true},     // within rtol
      {-3.0, -3.0, false},         // B2: equal values with a negative sum
      {0.0, 0.0, false},           // B2: zero never matches
      {1e-9, 1e-9, true},          // sum > 0
      {inf, inf, true},            // numpy: infinities close to themselves
      {inf, -inf, false},         {std::nan(""), std::nan(""), false},
  };
  for (const EqualityCase& c : cases)
    EXPECT_EQ(OcwNumericEqualityCompat(c.n1, c.n2), c.want) << c.n1 << " " << c.n2;
}

TEST(MinervaRobustness, HostileInputsFinishWithSaneResults) {
  EXPECT_EQ(MinervaNormalizeTex(string(1 << 20, 'x')), string(1 << 20, 'x'));
  // Patterns that make a naive scan quadratic.
  string opens;
  for (int i = 0; i < 100000; ++i) opens += "\\text{";
  EXPECT_EQ(MinervaNormalizeTex(opens + "}"), opens.substr(0, opens.size() - 6));
  string boxes;
  for (int i = 0; i < 100000; ++i) boxes += "\\boxed{\n";
  EXPECT_EQ(MinervaNormalizeTex(boxes).size(), boxes.size());
  string braces = string(10000, '{') + "5" + string(10000, '}');
  // The greedy \boxed{ rewrite takes the outermost pair.
  EXPECT_EQ(MinervaNormalizeTex("\\boxed" + braces), string(9999, '{') + "5" + string(9999, '}'));
  EXPECT_EQ(HendrycksStripString(braces), braces);
  const string bad = "\xff\xfe\\frac\xc3\x28=\xe2\x82";
  EXPECT_EQ(MinervaNormalizeTex(bad), "\xe2\x82");
  EXPECT_EQ(MinervaNormalizeTex("\\frac\xff\xfe"),
            "\\frac{\xff}{\xfe}");  // a stray byte is one character
  EXPECT_TRUE(HendrycksTryStripString(bad).has_value());
  string fracs;
  for (int i = 0; i < 100000; ++i) fracs += "\\frac12";
  EXPECT_EQ(HendrycksStripString(fracs).size(), fracs.size() + 4 * 100000);
  EXPECT_EQ(OcwNormalizeNumericCompat(string(1 << 20, '9'), nullptr),
            nullopt);  // an int too large for a float
  EXPECT_EQ(OcwNormalizeNumericCompat("", nullptr), nullopt);
  EXPECT_EQ(HendrycksStripString(""), "");
}

}  // namespace
}  // namespace llemma::math
