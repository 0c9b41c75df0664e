#include "llemma/agent/tool_tasks.h"

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "llemma/agent/sandbox_test_util.h"

namespace llemma::agent {
namespace {

using math::Mode;

std::string ReadRepoFile(const std::string& rel) {
  std::ifstream f(std::string(LLEMMA_SOURCE_DIR) + "/" + rel, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(Gsm8kPython, PromptFillsTheQuestionIntoThePalTemplate) {
  const std::string tmpl = ReadRepoFile("data/prompts/gsm8k_python_pal_8shot_template.txt");
  ASSERT_NE(tmpl.find("{question}"), std::string::npos);
  const std::string p = Gsm8kPythonPrompt(tmpl, "What is 2+2?");
  EXPECT_EQ(p.find("{question}"), std::string::npos);
  const std::string tail = "Q: What is 2+2?\n\n# solution in Python:";
  ASSERT_GE(p.size(), tail.size());
  EXPECT_EQ(p.substr(p.size() - tail.size()), tail);
  EXPECT_EQ(Gsm8kPythonPrompt("{{a}} {question}", "q"), "{a} q");
}

TEST(Gsm8kPython, ProgramIsTheStrippedCompletionThenPrintSolution) {
  EXPECT_EQ(Gsm8kPythonProgram("\n\n\ndef solution():\n    return 3\n\n\n\n"),
            "def solution():\n    return 3\nprint(solution())");
}

TEST(Gsm8kPython, PythonFloatAcceptsWhatPythonAccepts) {
  struct Case {
    const char* in;
    std::optional<double> want;
  } cases[] = {{"18", 18},        {" 18.0\n", 18}, {"1_000", 1000}, {"1e3", 1000},
               {"-2.5", -2.5},    {"0x10", {}},    {"1__0", {}},    {"_1", {}},
               {"18 apples", {}}, {"", {}},        {"None", {}},    {"1,000", {}}};
  for (const auto& c : cases) {
    EXPECT_EQ(PythonFloat(c.in), c.want) << c.in;
  }
}

sandbox::RunResult Exited(std::string out) {
  sandbox::RunResult r;
  r.stdout_text = std::move(out);
  return r;
}

TEST(Gsm8kPython, CompatIsExactFloatEqualityOfAllStdout) {
  EXPECT_TRUE(ScoreGsm8kPython(Mode::kCompatLlemma, "18", Exited("18.0\n")));
  EXPECT_FALSE(ScoreGsm8kPython(Mode::kCompatLlemma, "18", Exited("17.999999\n")));
  // Intermediate prints break the harness's float(stdout.strip()); our default reads the last line.
  EXPECT_FALSE(ScoreGsm8kPython(Mode::kCompatLlemma, "18", Exited("debug\n18\n")));
  EXPECT_TRUE(ScoreGsm8kPython(Mode::kDefault, "18", Exited("debug\n18\n")));
  EXPECT_FALSE(ScoreGsm8kPython(Mode::kDefault, "18", Exited("19\n")));
  EXPECT_FALSE(ScoreGsm8kPython(Mode::kDefault, "18", Exited("None\n")));
  sandbox::RunResult timeout = Exited("18\n");
  timeout.outcome = sandbox::Outcome::kTimeout;
  EXPECT_FALSE(ScoreGsm8kPython(Mode::kDefault, "18", timeout));
  EXPECT_FALSE(ScoreGsm8kPython(Mode::kCompatLlemma, "18", timeout));
}

TEST(Gsm8kPython, KnownGoodAndKnownBadProgramsRunInTheSandbox) {
  NEED_SANDBOX();
  const std::string good =
      "\ndef solution():\n    eggs = 16 - 3 - 4\n    result = eggs * 2\n    return result\n\n\n";
  const std::string bad = "\ndef solution():\n    return 16 - 3 - 4\n";
  const std::string loops = "\ndef solution():\n    while True:\n        pass\n";
  sandbox::Limits l;
  l.wall_seconds = 2;
  l.cpu_seconds = 1;
  for (Mode m : {Mode::kDefault, Mode::kCompatLlemma}) {
    auto r = sb->Run(Gsm8kPythonProgram(good), l);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(ScoreGsm8kPython(m, "18", *r));
    r = sb->Run(Gsm8kPythonProgram(bad), l);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(ScoreGsm8kPython(m, "18", *r));
    r = sb->Run(Gsm8kPythonProgram(loops), l);
    ASSERT_TRUE(r.ok());
    EXPECT_NE(r->outcome, sandbox::Outcome::kExited);
    EXPECT_FALSE(ScoreGsm8kPython(m, "18", *r));
  }
}

const char* kFirstShotCompletion =
    "\n# Initialize x\nx = symbols('x')\n\n# Define the equation\n"
    "equation = Eq(sqrt(3*x + 5)/sqrt(6*x + 5), sqrt(5)/3)\n\n# Solve for x\nanswer = "
    "solve(equation, x)\n```\n"
    "The imports required for this program are\n```\nfrom sympy import symbols, Eq, solve, "
    "sqrt\n```\n"
    "I hope my solution is correct.";

TEST(MathPython, ExtractsHeaderThenBody) {
  MathProgram p = ExtractMathProgram(kFirstShotCompletion);
  EXPECT_TRUE(p.has_body);
  EXPECT_TRUE(p.has_header);
  EXPECT_EQ(p.code.substr(0, 46), "from sympy import symbols, Eq, solve, sqrt\n\n# ");
  EXPECT_NE(p.code.find("answer = solve(equation, x)"), std::string::npos);
  EXPECT_EQ(p.code.back(), ')');
}

TEST(MathPython, MissingPartsBecomeTheHarnessFailureStrings) {
  EXPECT_EQ(ExtractMathProgram("answer = 3\n```\nno imports").code,
            "failed to get header\n\nanswer = 3");
  EXPECT_EQ(ExtractMathProgram("answer = 3").code, "failed to get header\n\nfailed to get program");
  // \s is exactly one whitespace character before the fence.
  EXPECT_FALSE(
      ExtractMathProgram("a\n```\nThe imports required for this program are\n\n```\nimport x\n```")
          .has_header);
  EXPECT_EQ(
      ExtractMathProgram("a\n```\nThe imports required for this program are ```import math```")
          .code,
      "import math\n\na");
}

TEST(MathPython, PromptEndsWithTheOpenFence) {
  const std::string p = MathPythonPrompt("SHOTS", "What is $1+1$?");
  EXPECT_EQ(p.substr(0, 27), "SHOTS\n\nProblem:\nWhat is $1+");
  EXPECT_EQ(p.substr(p.size() - 22), "or a SymPy object.\n```");
}

TEST(MathPython, ScoresGoodBadAndFailedPrograms) {
  NEED_SANDBOX();
  const std::string ref = "\\boxed{\\frac{20}{17}}";
  const std::string rational = "from sympy import Rational\n\nanswer = Rational(20, 17)";
  const std::string wrong = "from sympy import Rational\n\nanswer = Rational(20, 19)";
  const std::string float_answer = "answer = 20 / 17";
  const std::string failed = "failed to get header\n\nanswer = n_value";
  for (Mode m : {Mode::kDefault, Mode::kCompatLlemma}) {
    SCOPED_TRACE(m == Mode::kDefault ? "default" : "compat");
    auto a = RunMathProgram(*sb, rational, ref, m);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_EQ(a->kind, m == Mode::kDefault ? "sympy" : "number");  // compat casts to float
    EXPECT_TRUE(a->correct) << a->latex << " " << a->error;
    a = RunMathProgram(*sb, wrong, ref, m);
    ASSERT_TRUE(a.ok());
    EXPECT_FALSE(a->correct);
    a = RunMathProgram(*sb, float_answer, ref, m);
    ASSERT_TRUE(a.ok());
    EXPECT_TRUE(a->correct) << a->latex;
    a = RunMathProgram(*sb, failed, ref, m);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->kind, "none");
    EXPECT_FALSE(a->correct);
    EXPECT_FALSE(a->error.empty());
  }
}

TEST(MathPython, SolveListsAreWrongInCompatAndReadAsTheirElementByDefault) {
  NEED_SANDBOX();
  MathProgram p = ExtractMathProgram(kFirstShotCompletion);
  auto compat = RunMathProgram(*sb, p.code, "\\boxed{\\frac{20}{3}}", Mode::kCompatLlemma);
  auto ours = RunMathProgram(*sb, p.code, "\\boxed{\\frac{20}{3}}", Mode::kDefault);
  ASSERT_TRUE(compat.ok() && ours.ok());
  EXPECT_EQ(compat->kind, "list");
  EXPECT_FALSE(compat->correct);
  EXPECT_TRUE(ours->correct) << ours->latex << " " << ours->error;
}

TEST(MathPython, SymbolicAnswersAreComparedBySimplify) {
  NEED_SANDBOX();
  const std::string code =
      "from sympy import symbols, sqrt\n\nx = symbols('x')\nanswer = 2*sqrt(2)";
  for (Mode m : {Mode::kDefault, Mode::kCompatLlemma}) {
    auto a = RunMathProgram(*sb, code, "\\boxed{\\sqrt{8}}", m);
    ASSERT_TRUE(a.ok());
    EXPECT_TRUE(a->correct) << a->latex << " " << a->error;
  }
}

TEST(MathPython, CompatMajorityCanElectNone) {
  MathPythonAnswer none, good;
  none.kind = "none";
  none.text = none.vote_key = "None";
  good.kind = "number";
  good.text = "0.5";
  good.latex = good.vote_key = "0.5";
  good.number = 0.5;
  good.correct = true;
  MathPythonAnswer none_default = none;
  none_default.vote_key = "";
  const auto compat = VoteMathPython({none, none, good}, "\\boxed{\\frac12}", Mode::kCompatLlemma);
  EXPECT_EQ(compat.elected, std::optional<std::string>("None"));
  EXPECT_FALSE(compat.acc);
  const auto ours =
      VoteMathPython({none_default, none_default, good}, "\\boxed{\\frac12}", Mode::kDefault);
  EXPECT_EQ(ours.elected, std::optional<std::string>("0.5"));
  EXPECT_TRUE(ours.acc);
}

}  // namespace
}  // namespace llemma::agent
