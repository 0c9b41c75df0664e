#include "llemma/math/extract.h"

#include <gtest/gtest.h>

#include <string>

#include "llemma/math/minerva.h"

namespace llemma::math {
namespace {

using std::nullopt;
using std::optional;
using std::string;

TEST(ExtractBoxed, FindsTheLastBoxWithBraceMatching) {
  EXPECT_EQ(LastBoxedAnswer("a \\boxed{1} b \\boxed{\\frac{1}{2}}."), optional<string>("\\frac{1}{2}"));
  EXPECT_EQ(LastBoxedAnswer("\\fbox{7}"), optional<string>("7"));
  EXPECT_EQ(LastBoxedAnswer("so \\boxed 5$ done"), optional<string>("5"));  // "\boxed " form ends at '$'
  EXPECT_EQ(LastBoxedAnswer("\\boxed{unclosed"), nullopt);
  EXPECT_EQ(LastBoxedAnswer("no box"), nullopt);
  EXPECT_EQ(LastBoxedOnlyString("x \\boxed{a{b}c} y"), optional<string>("\\boxed{a{b}c}"));
}

TEST(ExtractMinerva, ReproducesTheHarnessRegex) {
  // The stop string was stripped by the engine; the harness appends it again.
  EXPECT_EQ(ExtractMinervaCompat("Final Answer: The final answer is $5$. ", false), optional<string>("$5$"));
  // No space before the appended stop string: the regex needs " I hope".
  EXPECT_EQ(ExtractMinervaCompat("Final Answer: The final answer is $5$.", false), nullopt);
  // The answer may not span lines.
  EXPECT_EQ(ExtractMinervaCompat("Final Answer: The final answer is\n$5$. ", false), nullopt);
  // OCW spells "answer:" in lower case; the MATH pattern does not match it.
  EXPECT_EQ(ExtractMinervaCompat("Final answer: The final answer is 3 m. ", true), optional<string>("3 m"));
  EXPECT_EQ(ExtractMinervaCompat("Final answer: The final answer is 3 m. ", false), nullopt);
  // The first occurrence wins; the group is the shortest possible.
  EXPECT_EQ(ExtractMinervaCompat("Final Answer: The final answer is 1. I hope it is correct. "
                                 "Final Answer: The final answer is 2. ",
                                 false),
            optional<string>("1"));
}

TEST(ExtractMath, PrefersTheFinalAnswerThenTheLastBox) {
  EXPECT_EQ(ExtractMathAnswer("... Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct."),
            optional<string>("\\frac{1}{2}"));
  EXPECT_EQ(ExtractMathAnswer("Thus $x = \\boxed{3}$."), optional<string>("3"));
  EXPECT_EQ(ExtractMathAnswer("final answer is \\boxed{4}"), optional<string>("4"));
  EXPECT_EQ(ExtractMathAnswer("nothing here"), nullopt);
}

TEST(ExtractGsm8k, CompatReadsOnlyUnsignedIntegers) {
  EXPECT_EQ(ExtractGsm8kCompat("The answer is 42."), optional<string>("42"));
  EXPECT_EQ(ExtractGsm8kCompat("The answer is 1,000."), optional<string>("1"));  // bug B5
  EXPECT_EQ(ExtractGsm8kCompat("The answer is -5."), nullopt);                   // bug B5
  EXPECT_EQ(ExtractGsm8kCompat("The answer is $5."), nullopt);
  EXPECT_EQ(ExtractGsm8kReference("so 3 + 4 = 7\n#### 7"), optional<string>("7"));
  EXPECT_EQ(ExtractGsm8kReference("#### -1,250.5"), optional<string>("-1250.5"));
}

TEST(ExtractGsm8k, DefaultReadsSignsSeparatorsAndDecimals) {
  EXPECT_EQ(ExtractGsm8k("The answer is 1,000."), optional<string>("1000"));
  EXPECT_EQ(ExtractGsm8k("The answer is -5."), optional<string>("-5"));
  EXPECT_EQ(ExtractGsm8k("the answer is $12.50."), optional<string>("12.50"));
  EXPECT_EQ(ExtractGsm8k("The answer is \\$7."), optional<string>("7"));
  EXPECT_EQ(ExtractGsm8k("The answer is 1,23."), optional<string>("1"));  // "1,23" is not a thousands group
  EXPECT_EQ(ExtractGsm8k("work...\n#### 15"), optional<string>("15"));
  EXPECT_EQ(ExtractGsm8k("The answer is unknown."), nullopt);
}

TEST(ExtractChoice, CompatKeepsTheParenthesizedLetter) {
  EXPECT_EQ(ExtractChoiceCompat("Final Answer: The final answer is (B). I hope it is correct."),
            optional<string>("(B)"));
  EXPECT_EQ(ExtractChoiceCompat("Final Answer: The final answer is B."), nullopt);
  EXPECT_EQ(ExtractChoiceCompat("Final Answer: The final answer is (E)."), nullopt);  // [ABCD] only
  EXPECT_EQ(PyLstrip("Final Answer: The final answer is (A).", "Final Answer: The final answer is "), "(A).");
  EXPECT_EQ(PyRstrip("(A).", ". I hope it is correct."), "(A)");
}

TEST(ExtractChoice, DefaultReadsCommonForms) {
  EXPECT_EQ(ExtractChoice("Final Answer: The final answer is (C)."), optional<char>('C'));
  EXPECT_EQ(ExtractChoice("The final answer is $\\text{(D)}$."), optional<char>('D'));
  EXPECT_EQ(ExtractChoice("so the answer is B) 12."), optional<char>('B'));
  EXPECT_EQ(ExtractChoice("The answer is Alice."), nullopt);  // a word, not a letter
}

TEST(ExtractRobustness, HandlesHostileInput) {
  string deep(20000, '{');
  deep = "\\boxed" + deep;
  EXPECT_EQ(LastBoxedAnswer(deep), nullopt);
  string big(1 << 20, 'x');
  big += "The answer is 3.";
  EXPECT_EQ(ExtractGsm8k(big), optional<string>("3"));
  const string bad = "\xff\xfe Final Answer: The final answer is \xc3(. ";
  EXPECT_TRUE(ExtractMinervaCompat(bad, false).has_value());
  EXPECT_EQ(ExtractMathAnswer(""), nullopt);
  EXPECT_EQ(MinervaNormalizeTex(""), "");
}

}  // namespace
}  // namespace llemma::math
