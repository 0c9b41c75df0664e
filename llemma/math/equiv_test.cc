#include "llemma/math/equiv.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "llemma/math/latex.h"

namespace llemma::math {
namespace {

struct Case {
  const char* reference;
  const char* candidate;
  bool equivalent;
};

// Each verdict below is worked out by hand.
const Case kCases[] = {
    // Numbers: integers, decimals, fractions, thousands separators.
    {"5", "5", true},
    {"5", "5.0", true},
    {"-5", "- 5", true},
    {"7425000", "7,425,000", true},
    {"1000", "1{,}000", true},
    {"1000", "1,\\!000", true},
    {"0.4", ".4", true},
    {"\\frac{1}{2}", "0.5", true},
    {"\\frac12", "\\dfrac{1}{2}", true},
    {"\\frac{3}{4}", "\\tfrac34", true},
    {"\\frac{10}{9}", "10/9", true},
    {"-\\frac{10}{9}", "-10/9", true},
    {"\\frac{1}{3}", "0.333", true},     // rounded to 3 places
    {"\\frac{1}{3}", "0.33", true},      // rounded to 2 places
    {"\\frac{1}{3}", "0.3334", false},   // not a correct rounding
    {"\\frac{1}{3}", "0.3", false},      // one significant digit is not enough
    {"2.5", "2.47", false},              // decimals compare exactly
    {"7.78", "7.8", false},
    {"\\frac{1}{12}", "0.0833333333333333", true},
    {"2", "3", false},
    {"1/2", "2/4", true},
    {"3", "3.0001", false},
    // Percent and units.
    {"28\\%", "28", true},
    {"28\\%", "0.28", true},
    {"28\\%", "28 percent", true},
    {"28\\%", "29", false},
    {"10", "10\\text{ cm}", true},
    {"15\\mbox{ cm}^2", "15", true},
    {"125", "125\\textnormal{ miles}", true},
    {"90^\\circ", "90", true},
    {"90^{\\circ}", "\\frac{\\pi}{2}", false},  // degrees are not converted to radians
    // Radicals, powers, constants.
    {"\\sqrt{8}", "2\\sqrt{2}", true},
    {"\\sqrt3", "\\sqrt{3}", true},
    {"\\sqrt[3]{27}", "3", true},
    {"\\sqrt[3]{-8}", "-2", true},
    {"3\\sqrt{13}", "\\sqrt{117}", true},
    {"\\frac{\\sqrt{\\sqrt{11}+\\sqrt{194}}}{15+2\\sqrt{33}}", "\\frac{\\sqrt{\\sqrt{11}+\\sqrt{194}}}{2\\sqrt{33}+15}", true},
    {"4", "4\\sqrt{2}", false},
    {"2", "\\frac{1+\\sqrt{5}}{2}", false},
    {"\\frac{9}{4}\\pi", "\\frac94\\pi", true},
    {"2^{10}", "1024", true},
    {"e^{i\\pi}", "-1", true},
    {"5!", "120", true},
    {"\\binom{5}{2}", "10", true},
    {"|-3|", "3", true},
    {"\\log_2 8", "3", true},
    // Expressions with variables.
    {"\\frac{x+2}{7}", "\\frac{x}{7}+\\frac{2}{7}", true},
    {"\\tan^2(y)+1", "\\sec^2(y)", true},
    {"2 \\sin b \\cos a", "2\\cos a \\sin b", true},
    {"(x+1)^2", "x^2+2x+1", true},
    {"x+2n+1", "x+1", false},
    {"(a+5)(b+2)", "(+5)(b+2)", false},
    {"\\frac{\\pi r}{h+r}", "\\frac{r\\pi}{r+h}", true},
    {"2-2p", "-2p+2", true},
    {"\\sqrt{x^2}", "x", false},  // differs for negative and complex x
    // A computation with constant sides states its last member; an equation
    // with variables does not.
    {"\\frac{10}{9}", "\\frac{1}{2} + \\frac{1}{18} \\cdot 11 = \\frac{10}{9}", true},
    {"\\frac{10}{9}", "\\frac{1}{2} = \\frac{10}{8}", false},
    {"11a+c", "7 = 11a+c", false},
    // A trailing row separator before \end, also right after a row.
    {"\\begin{pmatrix}1&0\\\\0&1\\\\\\end{pmatrix}", "\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}", true},
    {"\\begin{pmatrix}1&0\\\\0&2\\\\\\end{pmatrix}", "\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}", false},
    // Matrix arithmetic: sums, differences and products (products first).
    {"\\begin{pmatrix}6&8\\\\10&12\\end{pmatrix}",
     "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix} + \\begin{pmatrix}5&6\\\\7&8\\end{pmatrix}", true},
    {"\\begin{pmatrix}6&8\\\\10&13\\end{pmatrix}",
     "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix} + \\begin{pmatrix}5&6\\\\7&8\\end{pmatrix}", false},
    {"\\begin{pmatrix}19&22\\\\43&50\\end{pmatrix}",
     "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}\\begin{pmatrix}5&6\\\\7&8\\end{pmatrix}", true},
    {"\\begin{pmatrix}23&26\\\\31&34\\end{pmatrix}",  // not commuted: BA
     "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}\\begin{pmatrix}5&6\\\\7&8\\end{pmatrix}", false},
    {"\\begin{pmatrix}18&22\\\\43&49\\end{pmatrix}",
     "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix} \\cdot \\begin{pmatrix}5&6\\\\7&8\\end{pmatrix} - "
     "\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}", true},
    {"\\begin{pmatrix}1\\end{pmatrix}", "\\begin{pmatrix}1&2\\end{pmatrix} + \\begin{pmatrix}1\\end{pmatrix}", false},
    // Tuples, intervals, sets, lists.
    {"(1, \\frac{9}{2})", "(1, 4.5)", true},
    {"(3, \\frac{\\pi}{2})", "\\left(3, \\frac{\\pi}{2}\\right)", true},
    {"(1,2)", "(2,1)", false},
    {"[0,1)", "[0,1)", true},
    {"[0,9)", "[0,1)", false},
    {"(0,9)", "[0,9)", false},
    {"[-1, -\\frac{1}{2}) \\cup (-\\frac{1}{2}, 0)", "(-\\tfrac12, 0) \\cup [-1, -\\tfrac12)", true},
    {"\\{1, 2, 3\\}", "\\{3, 1, 2\\}", true},
    {"\\{1, 2\\}", "\\{1, 2, 3\\}", false},
    {"-2, 1", "1, -2", true},
    {"1 \\pm \\sqrt{19}", "1+\\sqrt{19}, 1-\\sqrt{19}", true},
    {"\\{1\\pm\\sqrt{5},-2\\}", "-2, 1-\\sqrt5, 1+\\sqrt5", true},
    {"(-\\infty, 3]", "(-\\infty, 3]", true},
    {"x \\in [-2,7]", "-2 \\le x \\le 7", true},
    {"[5, \\infty)", "x \\geq 5", true},
    // Relations.
    {"x \\geq 5", "5 \\leq x", true},
    {"x < 1", "-x > -1", true},
    {"x < 1", "x > -1", false},
    {"x > 5", "x < 5", false},
    {"x \\le 5", "x < 5", false},
    {"x \\neq 3", "x != 3", true},
    {"2x+4y-3=0", "y=-\\frac{1}{2}x+\\frac{3}{4}", true},
    {"x^2/4 + y^2/3 = 1", "x^2/16 + y^2/12 = 1/4", true},
    {"34x+45y-20z+100=0", "-34x-45y+20z-100=0", true},
    {"k = \\frac{1}{3}", "\\frac13", true},
    {"11", "x = 5+5+1 = 11", true},
    {"\\frac13", "x=1/3\\approx0.3", true},
    {"7 = 11a+c", "11a+c", false},
    // Matrices.
    {"\\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix}", "\\begin{bmatrix}1&0\\\\0&1\\end{bmatrix}", true},
    {"\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}", "\\begin{pmatrix}1 & 2 \\\\ 3 & 5\\end{pmatrix}", false},
    {"\\begin{pmatrix}\\frac{1}{2} \\\\ 3\\end{pmatrix}", "(0.5, 3)", true},
    // Text.
    {"\\text{Evelyn}", "Evelyn", true},
    {"\\text{(C)}", "C", true},
    {"\\text{E}", "E", true},
    {"\\text{yes}", "\\text{no}", false},
};

TEST(Equivalence, HandCheckedCases) {
  for (const Case& c : kCases) {
    const Verdict v = CheckEquivalent(c.reference, c.candidate);
    EXPECT_EQ(v.equivalent, c.equivalent) << c.reference << " vs " << c.candidate << ": " << v.reason;
    EXPECT_FALSE(v.timed_out) << c.reference << " vs " << c.candidate;
  }
}

TEST(Equivalence, IsSymmetricOnHandCheckedCases) {
  for (const Case& c : kCases) {
    EXPECT_EQ(CheckEquivalent(c.candidate, c.reference).equivalent, c.equivalent)
        << c.candidate << " vs " << c.reference;
  }
}

TEST(Equivalence, GivesAReason) {
  const Verdict v = CheckEquivalent("\\frac{1}{3}", "0.3334");
  EXPECT_FALSE(v.equivalent);
  EXPECT_FALSE(v.reason.empty());
}

TEST(Equivalence, HugePowersEndWithinTheDeadline) {
  for (const char* s : {"10^{10^{10}}", "2^{2^{2^{2^{2}}}}", "9^{9^{9^{9}}}", "(x+1)^{100000}", "100000!"}) {
    const auto t0 = std::chrono::steady_clock::now();
    const Verdict v = CheckEquivalent(s, "1");
    const double s_taken = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_FALSE(v.equivalent) << s;
    EXPECT_LT(s_taken, 2.5) << s;
  }
  EXPECT_TRUE(CheckEquivalent("10^{10^{10}}", "10^{10^{10}}").equivalent);
}

TEST(Equivalence, SurvivesDeepNestingAndGarbage) {
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += "{(";
  deep += "1";
  for (int i = 0; i < 10000; ++i) deep += ")}";
  EXPECT_FALSE(CheckEquivalent(deep, "2").equivalent);
  EXPECT_TRUE(CheckEquivalent(deep, deep).equivalent);  // same text
  std::string bad = "\xff\xfe\x80 \\frac{\xc3(";
  EXPECT_FALSE(CheckEquivalent(bad, "1").equivalent);
  std::string big(1 << 20, '7');
  EXPECT_FALSE(CheckEquivalent(big, "7").equivalent);
  EXPECT_FALSE(CheckEquivalent("", "").equivalent);
  EXPECT_FALSE(CheckEquivalent("\\frac{", "}").equivalent);
  EXPECT_FALSE(CheckEquivalent("\\sqrt[", "\\begin{pmatrix}").equivalent);
}

TEST(Equivalence, RespectsTheDeadline) {
  CheckOptions o;
  o.deadline_seconds = 0;
  const Verdict v = CheckEquivalent("x^2+1", "x^2+2", o);
  EXPECT_FALSE(v.equivalent);
  EXPECT_TRUE(v.timed_out);
}

TEST(Equivalence, IsThreadSafe) {
  // The same checks from four threads give the single-thread verdicts.
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &wrong]() {
      for (int rep = 0; rep < 3; ++rep)
        for (const Case& c : kCases)
          if (CheckEquivalent(c.reference, c.candidate).equivalent != c.equivalent) ++wrong[t];
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(wrong[t], 0) << "thread " << t;
}

TEST(Latex, CanonicalizesNotation) {
  EXPECT_EQ(CanonicalizeLatex("$\\dfrac{1}{2}$"), "\\frac{1}{2}");
  EXPECT_EQ(CanonicalizeLatex("\\left( 1, 2 \\right)"), "( 1, 2 )");
  EXPECT_EQ(CanonicalizeLatex("\\boxed{12,345}."), "12345");
  EXPECT_EQ(CanonicalizeLatex("\\boxed{1}\\boxed{2}"), "1, 2");
  EXPECT_EQ(CanonicalizeLatex("32, 349"), "32, 349");  // a space after the comma: a list
}

TEST(Latex, ParsesStructures) {
  EXPECT_EQ(ParseAnswer("[0, 1)").kind, Answer::Kind::kInterval);
  EXPECT_EQ(ParseAnswer("(1, 2, 3)").kind, Answer::Kind::kTuple);
  EXPECT_EQ(ParseAnswer("\\{1, 2\\}").kind, Answer::Kind::kSet);
  EXPECT_EQ(ParseAnswer("x \\le 2").kind, Answer::Kind::kRelation);
  EXPECT_EQ(ParseAnswer("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}").kind, Answer::Kind::kMatrix);
  EXPECT_EQ(ParseAnswer("\\text{Monday}").kind, Answer::Kind::kText);
  const Answer a = ParseAnswer("\\frac{1}{2}\\text{ cm}");
  EXPECT_EQ(a.kind, Answer::Kind::kExpr);
  EXPECT_EQ(a.units, "cm");
}

TEST(Latex, EvaluatesTrees) {
  const Answer a = ParseAnswer("\\frac{\\sqrt{16}}{2} + 3^2");
  ASSERT_EQ(a.kind, Answer::Kind::kExpr);
  EXPECT_NEAR(static_cast<double>(Evaluate(a.expr, {}).real()), 11.0, 1e-12);
  const Answer b = ParseAnswer("2x+y");
  EXPECT_NEAR(static_cast<double>(Evaluate(b.expr, {{"x", 3.0L}, {"y", 1.0L}}).real()), 7.0, 1e-12);
  EXPECT_EQ(FreeSymbols(b.expr), (std::vector<std::string>{"x", "y"}));
}

}  // namespace
}  // namespace llemma::math
