#include "llemma/math/minerva.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace llemma::math {
namespace {

// Each expected value was worked out by hand from the Python code's steps.
TEST(MinervaNormalize, ReproducesNormalizeFinalAnswer) {
  const std::pair<const char*, const char*> cases[] = {
      {"\\frac12", "\\frac{1}{2}"},          // (frac)([^{])(.)
      {"\\sqrt2", "\\sqrt{2}"},              // (sqrt)([^{])
      {"x = 5", "5"},                        // last '=' part, spaces removed
      {"10 \\text{ inches}", "10"},          // "inches" deleted, \text{} deleted
      {"\\$1,000", "1000"},                  // "\$" removed, then digits-only commas dropped
      {"1,000", "1000"},
      {"1, 2", "12"},                        // digits once commas go: the list becomes 12 (quirk)
      {"\\boxed{5}", "5"},
      {"5^\\circ", "5"},
      {"\\tan x", "\\tx"},                    // "an " is removed even inside \tan: a quirk kept
      {"$4$ and $5$", "4"},                  // the first $…$ span of the line
      {"\\text{Evelyn}", "Evelyn"},
      {"\\dfrac{3}{4}", "\\dfrac{3}{4}"},    // \dfrac is left alone
      {"\\frac{1}{2}", "\\frac{1}{2}"},
      {"12 \\text{ cm}^2", "12"},            // "cm" deleted, then "\text{}^2"
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(MinervaNormalizeTex(in), want) << in;
}

TEST(Hendrycks, MatchesTheLabelledPairs) {
  std::ifstream f(LLEMMA_SOURCE_DIR "/tests/testdata/grading/pairs_hendrycks_math_equivalence_tests.jsonl");
  ASSERT_TRUE(f.good());
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    const auto j = nlohmann::json::parse(line);
    const std::string ref = j["reference"], cand = j["candidate"];
    EXPECT_EQ(HendrycksIsEquiv(cand, ref), j["label"].get<bool>()) << cand << " vs " << ref;
    ++n;
  }
  EXPECT_EQ(n, 16);
}

TEST(Hendrycks, StripStringSteps) {
  EXPECT_EQ(HendrycksStripString("\\dfrac{1}{2}"), std::optional<std::string>("\\frac{1}{2}"));
  EXPECT_EQ(HendrycksStripString("0.5"), std::optional<std::string>("\\frac{1}{2}"));
  EXPECT_EQ(HendrycksStripString("3/4"), std::optional<std::string>("\\frac{3}{4}"));
  EXPECT_EQ(HendrycksStripString("k = 7"), std::optional<std::string>("7"));
  EXPECT_EQ(HendrycksStripString("10\\text{ cm}"), std::optional<std::string>("10"));
  EXPECT_EQ(HendrycksStripString("1\\text{ a}\\text{ b}"), std::nullopt);  // the assert fails
  EXPECT_TRUE(HendrycksIsEquiv("1\\text{ a}\\text{ b}", "1\\text{ a}\\text{ b}"));  // raw fallback
}

TEST(OcwCompat, EvaluatesLikePythonEval) {
  EXPECT_EQ(PythonArithmetic("3*10**8"), std::optional<double>(3e8));
  EXPECT_EQ(PythonArithmetic("2^3"), std::optional<double>(1));  // xor
  EXPECT_EQ(PythonArithmetic("-2**2"), std::optional<double>(-4));
  EXPECT_EQ(PythonArithmetic("7//2"), std::optional<double>(3));
  EXPECT_EQ(PythonArithmetic("-7//2"), std::optional<double>(-4));
  EXPECT_EQ(PythonArithmetic("1.5e3"), std::optional<double>(1500));
  EXPECT_EQ(PythonArithmetic("1/0"), std::nullopt);
  EXPECT_EQ(PythonArithmetic("2.0^3"), std::nullopt);  // TypeError
  EXPECT_EQ(PythonArithmetic("x+1"), std::nullopt);
  EXPECT_EQ(PythonArithmetic("__import__('os')"), std::nullopt);
}

TEST(OcwCompat, NormalizesUnitsAndFallsBackToLatex) {
  EXPECT_EQ(OcwNormalizeNumericCompat("5 kg", nullptr), std::optional<double>(5));
  EXPECT_EQ(OcwNormalizeNumericCompat("$3.2$ eV", nullptr), std::optional<double>(3.2));
  EXPECT_EQ(OcwNormalizeNumericCompat("\\frac{1}{2}", nullptr), std::nullopt);
  EXPECT_EQ(OcwNormalizeNumericCompat("\\frac{1}{2}", [](std::string_view) { return std::optional<double>(0.5); }),
            std::optional<double>(0.5));
}

TEST(OcwCompat, NumericEqualityKeepsBugB2) {
  EXPECT_TRUE(OcwNumericEqualityCompat(2.0, 2.0));
  EXPECT_TRUE(OcwNumericEqualityCompat(100000.0, 100000.5));  // np.isclose
  EXPECT_FALSE(OcwNumericEqualityCompat(100.0, 100.5));       // the 1% tolerance never applies
  EXPECT_FALSE(OcwNumericEqualityCompat(-3.0, -3.0));         // equal negatives are "unequal"
  EXPECT_FALSE(OcwNumericEqualityCompat(0.0, 0.0));
}

}  // namespace
}  // namespace llemma::math
