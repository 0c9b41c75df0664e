#include "llemma/math/check.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "llemma/math/batch.h"
#include "llemma/math/vote.h"

namespace llemma::math {
namespace {

using std::nullopt;
using std::optional;
using std::string;

TEST(Vote, FirstSeenWinsTiesAndInvalidSamplesDoNotVote) {
  VoteRules rules;  // the harness: string keys, string equality
  const auto r =
      MajorityVote({string("3"), nullopt, string("5"), string("5"), string("3")}, "5", rules);
  ASSERT_TRUE(r.elected.has_value());
  EXPECT_EQ(*r.elected, "3");  // 2 votes each: "3" was seen first
  EXPECT_FALSE(r.acc);
  EXPECT_DOUBLE_EQ(r.pass_rate, 2.0 / 5);  // all samples in the denominator
  EXPECT_EQ(r.valid, 4);
  rules.pass_rate_over_all_samples = false;
  EXPECT_DOUBLE_EQ(
      MajorityVote({string("3"), nullopt, string("5"), string("5"), string("3")}, "5", rules)
          .pass_rate,
      2.0 / 4);
}

TEST(Vote, JoinsTheFirstEquivalentBucket) {
  VoteRules rules;
  rules.equiv = [](const string& a, const string& b) { return CheckEquivalent(a, b).equivalent; };
  const auto r = MajorityVote({string("7"), string("1/2"), string("0.5"), string("\\frac{1}{2}")},
                              "\\frac12", rules);
  ASSERT_TRUE(r.elected.has_value());
  EXPECT_EQ(*r.elected, "1/2");
  EXPECT_EQ(r.buckets.front().votes, 3);
  EXPECT_TRUE(r.acc);
  EXPECT_DOUBLE_EQ(r.pass_rate, 0.75);
}

TEST(Vote, NoValidSampleScoresZero) {
  const auto r = MajorityVote({nullopt, nullopt}, "1", VoteRules{});
  EXPECT_FALSE(r.elected.has_value());
  EXPECT_FALSE(r.acc);
  EXPECT_EQ(r.pass_rate, 0);
}

TEST(ScoreItem, MathDefaultAcceptsEquivalentForms) {
  const string solution = "We get $x = \\boxed{\\dfrac{1}{2}}$.";
  const auto s = ScoreItem(Task::kMath, Mode::kDefault, solution,
                           {"Final Answer: The final answer is $0.5$. I hope it is correct.",
                            "The answer is \\boxed{2}."},
                           {});
  EXPECT_EQ(s.reference, "\\dfrac{1}{2}");
  EXPECT_EQ(s.answers[0], optional<string>("0.5"));
  EXPECT_TRUE(s.vote.acc);  // 1 vote each, the first seen wins
}

TEST(ScoreItem, MathCompatIsExactMatchOnly) {
  const string solution = "We get $x = \\boxed{\\dfrac{1}{2}}$.";
  // Bug B1: at the pinned commit, different strings are never equivalent.
  auto s = ScoreItem(Task::kMath, Mode::kCompatLlemma, solution,
                     {"Final Answer: The final answer is $0.5$. I hope it is correct."}, {});
  EXPECT_FALSE(s.vote.acc);
  s = ScoreItem(Task::kMath, Mode::kCompatLlemma, solution,
                {"Final Answer: The final answer is $\\dfrac{1}{2}$. I hope it is correct."}, {});
  EXPECT_TRUE(s.vote.acc);
}

TEST(ScoreItem, Gsm8kDefaultFixesNegativeAnswers) {
  const string ref = "She loses 5 dollars.\n#### -5";
  EXPECT_TRUE(ScoreItem(Task::kGsm8k, Mode::kDefault, ref, {"The answer is -5."}, {}).vote.acc);
  EXPECT_FALSE(
      ScoreItem(Task::kGsm8k, Mode::kCompatLlemma, ref, {"The answer is -5."}, {}).vote.acc);  // B5
}

TEST(ScoreItem, OcwCompatKeepsItsBugsAndDefaultFixesThem) {
  // A negative numeric reference cannot be matched by the harness (B2).
  const string c = "Final answer: The final answer is -3.0. I hope it is correct.";
  EXPECT_FALSE(ScoreItem(Task::kOcw, Mode::kCompatLlemma, "-3", {c}, {}).vote.acc);
  EXPECT_TRUE(ScoreItem(Task::kOcw, Mode::kDefault, "-3", {c}, {}).vote.acc);
  // Within 1% counts in the default mode.
  const string c2 = "Final answer: The final answer is 1.005. I hope it is correct.";
  EXPECT_TRUE(ScoreItem(Task::kOcw, Mode::kDefault, "1", {c2}, {}).vote.acc);
  // Equation references always fail in the harness (B3).
  const string c3 = "Final answer: The final answer is $y = 2x$. I hope it is correct.";
  EXPECT_FALSE(ScoreItem(Task::kOcw, Mode::kCompatLlemma, "y = 2x", {c3}, {}).vote.acc);
  EXPECT_TRUE(ScoreItem(Task::kOcw, Mode::kDefault, "y = 2x", {c3}, {}).vote.acc);
}

TEST(ScoreItem, MultipleChoice) {
  const string c = "Final Answer: The final answer is (B). I hope it is correct.";
  EXPECT_TRUE(
      ScoreItem(Task::kMmluStem, Mode::kCompatLlemma, "1", {c}, {}).vote.acc);  // label index 1 = B
  EXPECT_TRUE(ScoreItem(Task::kSat, Mode::kDefault, "B", {c}, {}).vote.acc);
  EXPECT_FALSE(ScoreItem(Task::kSat, Mode::kDefault, "C", {c}, {}).vote.acc);
}

TEST(ParseTask, KnowsHarnessNames) {
  EXPECT_EQ(ParseTask("minerva_math_algebra"), optional<Task>(Task::kMath));
  EXPECT_EQ(ParseTask("ocw_courses"), optional<Task>(Task::kOcw));
  EXPECT_EQ(ParseTask("math_sat_cot"), optional<Task>(Task::kSat));
  EXPECT_EQ(ParseTask("nope"), nullopt);
}

TEST(Freeform, FindsTheStatedAnswer) {
  EXPECT_EQ(ExtractFreeform("Therefore $x \\geq 5$ is the solution."),
            optional<string>("x \\geq 5"));
  EXPECT_EQ(ExtractFreeform("Answer \\[ 9 \\]"), optional<string>("9"));
  EXPECT_EQ(ExtractFreeform("Answer $ \n 9 \n $"), nullopt);  // inline math may not span lines
  EXPECT_EQ(ExtractFreeform("the number is not 10 which is 1,000.99m"),
            optional<string>("1000.99"));
  EXPECT_EQ(ExtractFreeform("AZYUK2A"), optional<string>("AZYUK2A"));  // a bare answer as it is
  EXPECT_EQ(ExtractFreeform("[0,1)"), optional<string>("[0,1)"));
  // A single "$" is a currency sign, not an unclosed math span.
  EXPECT_EQ(ExtractFreeform("The total is $1,000.99 in all"), optional<string>("1000.99"));
  // The math names the quantity; the number after "is" states it.
  EXPECT_EQ(ExtractFreeform("Final Answer: The largest $n$ is 34."), optional<string>("34"));
  EXPECT_EQ(ExtractFreeform("Final Answer: The value of $k$ is $\\frac{1}{2}$."),
            optional<string>("\\frac{1}{2}"));
}

TEST(Freeform, ReadsNumbersStatedInWords) {
  // A closing sentence without math, after the last math span.
  EXPECT_EQ(ExtractFreeform("Let $d$ be the step, so $d = \\frac{90}{n}$. Therefore, there are 12 such "
                            "sequences. I hope it is correct."),
            optional<string>("12"));
  EXPECT_EQ(ExtractFreeform("We get $P = 1/2$. So, the probability is 2/3."), optional<string>("2/3"));
  // Not when more digits or math follow it, or when it has math itself.
  EXPECT_EQ(ExtractFreeform("Therefore, it has 3 sides. The side is $5$."), optional<string>("5"));
  EXPECT_EQ(ExtractFreeform("Thus $x = 4$ after 2 steps."), optional<string>("x = 4"));
  // A final answer in words with one number.
  EXPECT_EQ(ExtractFreeform("Final Answer: She started it 3 hours ago. I hope it is correct."),
            optional<string>("3"));
  EXPECT_EQ(ExtractFreeform("Final Answer: 3 cats and 4 dogs"), optional<string>("3 cats and 4 dogs"));
}

TEST(Pairs, ReferenceRelationsAreSetsEvenWhenCandidateRelationsMayNotBe) {
  CheckOptions strict;
  strict.allow_set_relation = false;
  EXPECT_TRUE(CheckEquivalent("-2 \\le x \\le 7", "x \\in [-2,7]", strict).equivalent);
  EXPECT_FALSE(CheckEquivalent("x \\in [-2,7]", "-2 \\le x \\le 7", strict).equivalent);
  EXPECT_TRUE(CheckEquivalent("x \\in [-2,7]", "-2 \\le x \\le 7").equivalent);
  EXPECT_FALSE(CheckEquivalent("-2 \\le x \\le 7", "x \\in [-2,8]", strict).equivalent);
}

TEST(Freeform, AdjacentBoxesStateAList) {
  EXPECT_EQ(ExtractFreeform("$\\boxed{1}\\boxed{2}$"), optional<string>("\\boxed{1}\\boxed{2}"));
  EXPECT_EQ(ExtractFreeform("so \\boxed{1}, \\boxed{-2}."), optional<string>("\\boxed{1}, \\boxed{-2}"));
  EXPECT_EQ(ExtractFreeform("First \\boxed{1}, then \\boxed{2}."), optional<string>("2"));
  EXPECT_TRUE(CheckEquivalent(*ExtractFreeform("$\\boxed{1}\\boxed{2}$"), "1,2").equivalent);
}

TEST(Freeform, SpacedLatexThousandsSeparator) {
  EXPECT_TRUE(CheckEquivalent("14{,}916", "14 {, }916").equivalent);
  EXPECT_FALSE(CheckEquivalent("14{,}916", "14 {, }917").equivalent);
}

// Agreement with the Math-Verify labels: the floor guards against regressions;
// the README lists every disagreement that remains.
TEST(Pairs, AgreeWithMathVerifyLabels) {
  std::ostringstream out;
  BatchOptions o;
  o.threads = 2;
  auto s = CheckPairs(LLEMMA_SOURCE_DIR "/tests/testdata/grading/pairs_math_verify_tests.jsonl", o,
                      false, out);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->pairs, 190);
  EXPECT_EQ(s->labelled, 190);
  EXPECT_GE(s->agree, 185) << "agreement fell to " << s->agree << "/190";
}

TEST(Pairs, BadInputNamesTheLine) {
  const string path = ::testing::TempDir() + "/bad_pairs.jsonl";
  {
    std::ofstream f(path);
    f << "{\"reference\": \"1\", \"candidate\": \"1\"}\nnot json\n";
  }
  std::ostringstream out;
  auto s = CheckPairs(path, BatchOptions{}, false, out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().ToString().find(":2: not valid JSON"), string::npos)
      << s.status().ToString();
  EXPECT_TRUE(out.str().empty());  // nothing written before the input is known good
}

}  // namespace
}  // namespace llemma::math
