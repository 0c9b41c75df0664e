#include "llemma/math/extract.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace llemma::math {
namespace {

using std::nullopt;
using std::optional;
using std::string;

struct Case {
  const char* in;
  optional<string> want;
};

// Expected values of the *Compat functions were worked out from the Python
// code and checked against CPython 3.11's `re`; "quirk" marks a result the
// Python code produces that a person would not.

TEST(ExtractBoxed, LastBoxedOnlyStringMatchesBracesFromTheLastBox) {
  const Case cases[] = {
      {"x \\boxed{a{b}c} y", "\\boxed{a{b}c}"},
      {"\\boxed{1} and \\boxed{2}", "\\boxed{2}"},
      {"\\boxed{1}\\fbox{2}", "\\boxed{1}"},  // \fbox only when there is no \boxed
      {"\\fbox{2}", "\\fbox{2}"},
      {"so \\boxed 5$ done", "\\boxed 5"},      // "\boxed " form: up to the next '$'
      {"a\\boxed 1 b \\boxed 2", "\\boxed 2"},  // … after the last "\boxed "
      {"\\boxed{x} \\boxed 3", "\\boxed 3"},    // "\boxed " wins over a later-checked brace form
      {"\\boxed\\frac{1}{2}", "\\boxed\\frac{1}"},  // the first '}' that closes
      {"\\boxed}{}", nullopt},                      // depth goes -1, 0, -1: never closes at 0
      {"\\boxed{unclosed", nullopt},
      {"no box", nullopt},
      {"", nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(LastBoxedOnlyString(c.in), c.want) << c.in;
}

TEST(ExtractBoxed, RemoveBoxedUnwrapsOnlyWholeBoxes) {
  const Case cases[] = {
      {"\\boxed{5}", "5"},   {"\\boxed{}", ""},     {"\\fbox{x}", "x"},
      {"\\boxed x", "x"},    {"\\boxed{", nullopt}, {"\\boxed\\frac{1}", nullopt},
      {"boxed{5}", nullopt}, {"", nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(RemoveBoxed(c.in), c.want) << c.in;
}

TEST(ExtractBoxed, LastBoxedAnswerComposesBoth) {
  const Case cases[] = {
      {"a \\boxed{1} b \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}"},
      {"\\fbox{7}", "7"},
      {"so \\boxed 5$ done", "5"},
      {"\\boxed{\\boxed 3}", "3}"},  // quirk: "\boxed " anywhere takes over
      {"\\boxed\\frac{1}{2}", nullopt},
      {"\\boxed{unclosed", nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(LastBoxedAnswer(c.in), c.want) << c.in;
}

TEST(ExtractMinervaCompat, ReproducesTheHarnessRegex) {
  const Case cases[] = {
      // The engine stripped the stop string; the harness appends it again.
      {"Final Answer: The final answer is $5$. ", "$5$"},
      // No space before the appended stop string: " I hope" cannot match.
      {"Final Answer: The final answer is $5$.", nullopt},
      // No DOTALL: the answer may not span lines.
      {"Final Answer: The final answer is\n$5$. ", nullopt},
      {"Final Answer: The final answer is. I hope it is correct.", ""},
      // The regex' '.' before " I hope" is any one character (here 'é').
      {"Final Answer: The final answer is 3\xc3\xa9 I hope it is correct.", "3"},
      // The first line that matches wins …
      {"Final Answer: The final answer is $x$ I hope it is correct\nFinal Answer: The final answer "
       "is 7. ",
       "7"},
      {"Final Answer: The final answer is $x$. I hope it is correct.\nFinal Answer: The final "
       "answer is 2. ",
       "$x$"},
      // … with the shortest group; the last '.' is any character too.
      {"Final Answer: The final answer is a. I hope it is correct! b. I hope it is correct.", "a"},
      {"Final Answer: The final answer is 5xI hope it is correct", nullopt},
      // str.strip() removes Unicode whitespace (U+00A0 here).
      {"Final Answer: The final answer is \xc2\xa0"
       "5\xc2\xa0. ",
       "5"},
      {"Final answer: The final answer is 3 m. ", nullopt},  // the OCW spelling
      {"", nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(ExtractMinervaCompat(c.in, /*ocw=*/false), c.want) << c.in;
  EXPECT_EQ(ExtractMinervaCompat("Final answer: The final answer is 3 m. ", /*ocw=*/true),
            optional<string>("3 m"));
  EXPECT_EQ(ExtractMinervaCompat("Final Answer: The final answer is 3 m. ", /*ocw=*/true), nullopt);
}

TEST(ExtractMathAnswer, PrefersTheFinalAnswerSentenceThenTheLastBox) {
  const Case cases[] = {
      {"... Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.",
       "\\frac{1}{2}"},
      {"Final Answer: The final answer is 3.5. I hope it is correct.", "3.5"},
      {"The final answer is: 12.", "12"},
      {"The final answer is $$x^2$$", "x^2"},
      {"The final answer is \\(5\\).", "5"},
      {"final answer is $5.$", "5"},
      {"The final answer is $a$ and $b$.", "$a$ and $b$"},  // not one math span: left alone
      {"final answer is \\boxed{4}", "4"},
      {"The final answer is $x = \\boxed{7}$.", "7"},
      {"Final Answer: The final answer is 1.\nFinal Answer: The final answer is 2.",
       "2"},                                                   // the last
      {"The final answer is 6.\nThe final answer is\n", "6"},  // an empty one is skipped
      {"Thus $x = \\boxed{3}$.", "3"},
      {"The final answer is\n\\boxed{9}", "9"},
      {"nothing here", nullopt},
      {"", nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(ExtractMathAnswer(c.in), c.want) << c.in;
}

TEST(ExtractGsm8kCompat, ReadsOnlyUnsignedDigitRuns) {
  const Case cases[] = {
      {"The answer is 42.", "42"},
      {"The answer is 1,000.", "1"},   // bug B5
      {"The answer is -5.", nullopt},  // bug B5
      {"The answer is $5.", nullopt},
      {"the answer is 5", nullopt},  // case-sensitive
      {"The answer is x. The answer is 7", "7"},
      {"", nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(ExtractGsm8kCompat(c.in), c.want) << c.in;
}

TEST(ExtractGsm8kReference, ReadsTheHashMarkedNumber) {
  const Case cases[] = {
      {"so 3 + 4 = 7\n#### 7", "7"},
      {"#### -1,250.5", "-1250.5"},
      {"#### -x #### 7", "7"},  // the first position where the regex matches
      {"####  5", nullopt},     // exactly one space
      {"#### ..,", ".."},       // quirk: any run of digits, dots and commas
      {"no marker", nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(ExtractGsm8kReference(c.in), c.want) << c.in;
}

TEST(ExtractGsm8k, ReadsSignsSeparatorsAndDecimals) {
  const Case cases[] = {
      {"The answer is 1,000.", "1000"},
      {"The answer is: 1,234,567", "1234567"},
      {"The answer is -5.", "-5"},
      {"The answer is +3", "3"},
      {"The answer is \xe2\x88\x92"
       "4",
       "-4"},                              // U+2212 MINUS SIGN
      {"the answer is $12.50.", "12.50"},  // decimals kept as written
      {"The answer is \\$7.", "7"},
      {"The answer is -$5", "-5"},
      {"The answer is **8**", "8"},
      {"The answer is .5", "0.5"},
      {"The answer is 1,23.", "1"},        // "1,23" is no thousands group
      {"The answer is 1234,567", "1234"},  // nor is a group after four digits
      {"The answer is x. So the answer is 9.", "9"},
      {"work...\n#### 15", "15"},
      {"#### 1,000", "1000"},
      {"The answer is unknown.", nullopt},
      {"", nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(ExtractGsm8k(c.in), c.want) << c.in;
}

TEST(ExtractChoiceCompat, ReproducesTheCharacterSetStrips) {
  const Case cases[] = {
      {"Final Answer: The final answer is (B). I hope it is correct.", "(B)"},
      {"Final Answer: The final answer is (B)e", "(B)"},   // 'e' is in the rstrip set
      {"Final Answer: The final answer is (B),", "(B),"},  // quirk (B8): ',' is not
      {"Final Answer: The final answer is (B)x", "(B)x"},
      {"Final Answer: The final answer is (B)\xc3\xa9", "(B)\xc3\xa9"},  // one character, two bytes
      {"Final Answer: The final answer is (B)", nullopt},  // the '.' needs a character
      {"Final Answer: The final answer is (B)\n.", nullopt},
      {"Final Answer: The final answer is (E).", nullopt},  // [ABCD] only
      {"Final Answer: The final answer is  (B).", nullopt},
      {"Final Answer: The final answer is B.", nullopt},
      {"", nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(ExtractChoiceCompat(c.in), c.want) << c.in;
}

TEST(ExtractChoiceCompat, PythonStripsUseCharacterSets) {
  EXPECT_EQ(
      PyLstrip("Final Answer: The final answer is (A).", "Final Answer: The final answer is "),
      "(A).");
  EXPECT_EQ(PyRstrip("(A). I hope", ". I hope it is correct."), "(A)");
  EXPECT_EQ(PyStrip("xxaxx", "x"), "a");
  EXPECT_EQ(PyStrip(" \t\x1c\xc2\xa0"
                    "a b\xe3\x80\x80\n"),
            "a b");                    // Unicode whitespace
  EXPECT_EQ(PyStrip("\xc2"), "\xc2");  // a stray byte is no whitespace
  EXPECT_EQ(PyStrip(""), "");
}

struct ChoiceCase {
  const char* in;
  optional<char> want;
};

TEST(ExtractChoice, ReadsCommonLetterForms) {
  const ChoiceCase cases[] = {
      {"Final Answer: The final answer is (C). I hope it is correct.", 'C'},
      {"The final answer is $\\text{(D)}$.", 'D'},
      {"The answer is $B$", 'B'},
      {"so the answer is B) 12.", 'B'},
      {"The answer is \\textbf{E}", 'E'},
      {"The answer is option C", 'C'},
      {"Answer: D", 'D'},
      {"The answer is (A). Wait, the answer is (D).", 'D'},  // the last one
      {"The final answer is (B). Some more text: the answer is C",
       'B'},                                                // the final-answer sentence first
      {"The final answer is 12. The answer is (C).", 'C'},  // no letter there: the next cue
      {"The answer is Alice.", nullopt},                    // a word, not a letter
      {"The answer is (F).", nullopt},
      {"", nullopt},
  };
  for (const ChoiceCase& c : cases) EXPECT_EQ(ExtractChoice(c.in), c.want) << c.in;
}

TEST(ExtractRobustness, HostileInputsFinishWithSaneResults) {
  // 10000 nested braces.
  const string nested = string(10000, '{') + "5" + string(10000, '}');
  EXPECT_EQ(LastBoxedAnswer("\\boxed" + nested), string(9999, '{') + "5" + string(9999, '}'));
  EXPECT_EQ(LastBoxedAnswer("\\boxed" + string(20000, '{')), nullopt);
  // 1 MB inputs.
  const string big(1 << 20, 'x');
  EXPECT_EQ(ExtractGsm8k(big + "The answer is 3."), optional<string>("3"));
  EXPECT_EQ(ExtractGsm8kCompat(big), nullopt);
  EXPECT_EQ(ExtractMathAnswer(big), nullopt);
  EXPECT_EQ(ExtractChoice(big), nullopt);
  EXPECT_EQ(LastBoxedAnswer(big + "\\boxed{1}"), optional<string>("1"));
  // Repetitions that make a naive scan quadratic.
  string prefixes;
  for (int i = 0; i < 30000; ++i) prefixes += "Final Answer: The final answer is ";
  EXPECT_TRUE(ExtractMinervaCompat(prefixes, false).has_value());
  string cues, empty_answers, gsm_cues, hashes;
  for (int i = 0; i < 30000; ++i) {
    cues += "answer is ";
    empty_answers += "final answer is i hope it is correct ";
    gsm_cues += "The answer is ";
    hashes += "#### ";
  }
  EXPECT_EQ(ExtractChoice(cues), nullopt);
  EXPECT_EQ(ExtractMathAnswer(empty_answers), nullopt);
  EXPECT_EQ(ExtractGsm8k(gsm_cues), nullopt);
  EXPECT_EQ(ExtractGsm8kCompat(gsm_cues), nullopt);
  EXPECT_EQ(ExtractGsm8kReference(hashes), nullopt);
  EXPECT_EQ(ExtractChoiceCompat(prefixes), nullopt);
  // Invalid UTF-8 and empty strings.
  const string bad = "\xff\xfe\x80 Final Answer: The final answer is \xc3(. ";
  EXPECT_EQ(ExtractMinervaCompat(bad, false),
            optional<string>("\xc3("));  // a stray byte is one character
  EXPECT_EQ(ExtractMathAnswer(bad), optional<string>("\xc3("));
  EXPECT_EQ(ExtractGsm8k("\xff The answer is \xff"), nullopt);
  EXPECT_EQ(ExtractChoice("\xff answer is (\xc3"), nullopt);
  EXPECT_EQ(LastBoxedAnswer("\\boxed{\xff\xfe}"), optional<string>("\xff\xfe"));
  EXPECT_EQ(ExtractMathAnswer(""), nullopt);
  EXPECT_EQ(ExtractChoiceCompat(""), nullopt);
}

}  // namespace
}  // namespace llemma::math
