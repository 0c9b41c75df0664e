// The tool-use tasks (gsm8k_python, math_python) as eval tasks: prompts byte
// for byte, and scoring of programs run in the sandbox (skipped where
// bubblewrap cannot run).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "llemma/agent/sandbox_test_util.h"
#include "llemma/eval/runner.h"
#include "llemma/eval/task.h"
#include "llemma/eval/tasks/tasks_test_util.h"
#include "llemma/eval/tasks/tool_use.h"

namespace llemma::eval {
namespace {

using agent::SharedTestSandbox;
using json = nlohmann::json;
using math::Mode;

using task_testing::kData;
using task_testing::Line;
using task_testing::PromptFile;

std::unique_ptr<Task> Make(const std::string& name) {
  auto t = MakeTask(name, kData);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(*t) : nullptr;
}

std::vector<Problem> LoadTask(const std::string& name) {
  auto t = Make(name);
  if (!t) return {};
  auto p = t->Load();
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? *p : std::vector<Problem>{};
}

TEST(Gsm8kPythonTask, FillsThePalTemplateByteForByteAndKeepsTheNumber) {
  const auto ps = LoadTask("gsm8k_python");
  ASSERT_EQ(ps.size(), 1319u);
  const std::string tmpl = PromptFile("gsm8k_python_pal_8shot_template.txt");
  // The template has no escaped braces, so .format(question=q) is one replacement.
  ASSERT_EQ(tmpl.find("{{"), std::string::npos);
  const size_t field = tmpl.find("{question}");
  ASSERT_NE(field, std::string::npos);
  ASSERT_EQ(tmpl.find("{question}", field + 1), std::string::npos);
  for (int n : {0, 1, 1318}) {
    const json doc = Line("gsm8k/test.jsonl", n);
    const std::string question = doc["question"].get<std::string>();
    std::string want = tmpl;
    want.replace(field, 10, question);
    EXPECT_EQ(ps[n].prompt, want) << n;
    std::smatch m;
    const std::string answer = doc["answer"].get<std::string>();
    ASSERT_TRUE(std::regex_search(answer, m, std::regex("#### (\\-?[0-9\\.\\,]+)")));
    const std::string number = std::regex_replace(m[1].str(), std::regex(","), "");
    EXPECT_EQ(ps[n].reference, number) << n;
    EXPECT_EQ(ps[n].id, std::to_string(n));
  }
  EXPECT_EQ(ps[0].reference, "18");
}

TEST(Gsm8kPythonTask, ReferenceIsTheNumberAfterTheHashes) {
  EXPECT_EQ(Gsm8kReferenceNumber("so 1,000 + 234\n#### 1,234"), "1234");
  EXPECT_EQ(Gsm8kReferenceNumber("#### -5"), "-5");
  EXPECT_EQ(Gsm8kReferenceNumber("#### 2.5"), "2.5");
  EXPECT_EQ(Gsm8kReferenceNumber(" 18\n"), "18");  // a lila output_answer as it is
}

TEST(MathPythonTask, AssemblesTheSympyPromptByteForByteAndKeepsTheSolution) {
  const auto ps = LoadTask("math_python");
  ASSERT_EQ(ps.size(), 5000u);
  const json doc = Line("math/test.jsonl", 4321);
  const std::string id = std::to_string(doc["idx"].get<int>());
  const Problem* p = nullptr;
  for (const Problem& q : ps) {
    if (q.id == id) p = &q;
  }
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->prompt, PromptFile("math_sympy_5shot.txt") + "\n\nProblem:\n" +
                           doc["problem"].get<std::string>() +
                           "\n\nYou are an expert programmer. Solve the above mathematical "
                           "problem by writing a Python program. Express your answer as a "
                           "numeric type or a SymPy object.\n```");
  EXPECT_EQ(p->reference, doc["solution"].get<std::string>());
  EXPECT_EQ(LoadTask("math_python:num_theory").size(), 540u);
  EXPECT_EQ(LoadTask("math_python:algebra").size(), 1187u);
  auto bad = MakeTask("math_python:calculus", kData);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("intermediate_algebra"), std::string::npos);
}

TEST(ToolTaskSpecs, StopStringsAndPaperSettingsFollowTheHarness) {
  auto gsm = Make("gsm8k_python"), math = Make("math_python:geometry");
  ASSERT_TRUE(gsm && math);
  EXPECT_TRUE(gsm->spec().tool_use);
  EXPECT_EQ(gsm->spec().stop, std::vector<std::string>{"Q:"});
  EXPECT_EQ(gsm->spec().max_tokens, 1024);
  EXPECT_EQ(gsm->spec().paper.k, 1);  // python_gsm8k has no maj@k entry
  EXPECT_DOUBLE_EQ(gsm->spec().paper.temperature, 0.0);
  EXPECT_TRUE(math->spec().tool_use);
  EXPECT_EQ(math->spec().stop, std::vector<std::string>{"I hope my solution is correct."});
  EXPECT_EQ(math->spec().max_tokens, 1024);
  EXPECT_EQ(math->spec().paper.k, 16);
  EXPECT_DOUBLE_EQ(math->spec().paper.temperature, 0.6);
  EXPECT_DOUBLE_EQ(math->spec().paper.top_p, 0.95);
  EXPECT_FALSE(MakeTask("gsm8k_python:algebra", kData).ok());
}

// PAL completions as the model writes them (the prompt ends in "# solution in Python:").
const char* kGood = "\n\n\ndef solution():\n    eggs = 16 - 3 - 4\n    return eggs * 2\n\n\n\n";
const char* kWrong = "\n\n\ndef solution():\n    return 16 - 3 - 4\n";
const char* kRaises = "\n\n\ndef solution():\n    return eggs * 2\n";
const char* kLoops = "\n\n\ndef solution():\n    while True:\n        pass\n";
const char* kFloatNoise =
    "\n\n\ndef solution():\n    return (0.1 + 0.2) * 60\n";  // 18.000000000000004
const char* kDebugPrint = "\n\n\ndef solution():\n    print('eggs left', 9)\n    return 18\n";

sandbox::Limits ShortLimits() {
  sandbox::Limits l;
  l.wall_seconds = 3;
  l.cpu_seconds = 1;
  return l;
}

TEST(PalScoring, GoodWrongRaisingAndLoopingProgramsInBothModes) {
  NEED_SANDBOX();
  for (Mode m : {Mode::kDefault, Mode::kCompatLlemma}) {
    SCOPED_TRACE(ModeName(m));
    const auto t0 = std::chrono::steady_clock::now();
    const math::ItemScore s =
        ScorePalPrograms(*sb, ShortLimits(), m, "18", {kGood, kWrong, kRaises, kLoops});
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(seconds, 8.0);  // the loop is cut at 1 s of CPU
    ASSERT_EQ(s.correct.size(), 4u);
    EXPECT_EQ(s.correct, (std::vector<bool>{true, false, false, false}));
    ASSERT_EQ(s.answers.size(), 4u);
    EXPECT_EQ(s.answers[0], std::optional<std::string>("18"));
    EXPECT_EQ(s.answers[1], std::optional<std::string>("9"));
    EXPECT_FALSE(s.answers[2].has_value());
    EXPECT_FALSE(s.answers[3].has_value());
    // maj@4: the two valid answers tie, the first seen wins; pass_rate over valid samples.
    EXPECT_EQ(s.vote.valid, 2);
    EXPECT_EQ(s.vote.elected, std::optional<std::string>("18"));
    EXPECT_TRUE(s.vote.acc);
    EXPECT_DOUBLE_EQ(s.vote.pass_rate, 0.5);
  }
}

TEST(PalScoring, CompatIsExactFloatEqualityOfAllStdout) {
  NEED_SANDBOX();
  const std::vector<std::string> c = {kFloatNoise, kDebugPrint};
  const math::ItemScore ours = ScorePalPrograms(*sb, ShortLimits(), Mode::kDefault, "18", c);
  const math::ItemScore compat = ScorePalPrograms(*sb, ShortLimits(), Mode::kCompatLlemma, "18", c);
  EXPECT_EQ(ours.correct, (std::vector<bool>{true, true}));
  EXPECT_EQ(compat.correct, (std::vector<bool>{false, false}));
  EXPECT_EQ(ours.answers[0], std::optional<std::string>("18.000000000000004"));
  EXPECT_EQ(ours.answers[1], std::optional<std::string>("18"));  // the last line
  EXPECT_FALSE(compat.answers[1].has_value());                   // float("eggs left 9\n18") fails
}

TEST(PalScoring, MajorityOfPrintedNumbersDiffersByMode) {
  NEED_SANDBOX();
  // 9 first; 18.000000000000004 and 18 are one answer by default, two in compat.
  const std::vector<std::string> c = {kWrong, kFloatNoise, kGood};
  const math::ItemScore ours = ScorePalPrograms(*sb, ShortLimits(), Mode::kDefault, "18", c);
  const math::ItemScore compat = ScorePalPrograms(*sb, ShortLimits(), Mode::kCompatLlemma, "18", c);
  EXPECT_TRUE(ours.vote.acc);
  EXPECT_NEAR(ours.vote.pass_rate, 2.0 / 3, 1e-12);
  EXPECT_EQ(ours.vote.elected, std::optional<std::string>("18.000000000000004"));
  EXPECT_FALSE(compat.vote.acc);
  EXPECT_EQ(compat.vote.elected, std::optional<std::string>("9"));
  EXPECT_NEAR(compat.vote.pass_rate, 1.0 / 3, 1e-12);
  // "18.0" and "18" are the same float in compat.
  const math::ItemScore same =
      ScorePalPrograms(*sb, ShortLimits(), Mode::kCompatLlemma, "18",
                       {kWrong, "def solution():\n    return 18.0\n", kGood});
  EXPECT_TRUE(same.vote.acc);
  EXPECT_EQ(same.vote.elected, std::optional<std::string>("18.0"));
}

// A SymPy completion after the prompt's opening fence.
std::string SympyCompletion(const std::string& body, const std::string& imports) {
  return "\n" + body + "\n```\nThe imports required for this program are\n```\n" + imports +
         "\n```\n";
}

TEST(SympyScoring, OneElementSolveListIsWrongInCompatAndItsElementByDefault) {
  NEED_SANDBOX();
  const std::string solution = "So $x = \\boxed{\\frac{20}{3}}$.";
  const std::vector<std::string> c = {
      SympyCompletion("x = symbols('x')\nanswer = solve(Eq(3*x, 20), x)",
                      "from sympy import symbols, Eq, solve"),
      SympyCompletion("answer = Rational(20, 3)", "from sympy import Rational"),
      SympyCompletion("answer = Rational(7, 3)", "from sympy import Rational"),
      SympyCompletion("answer = n_value", "import math"), "no program at all"};
  const math::ItemScore ours = ScoreSympyPrograms(*sb, Mode::kDefault, solution, c);
  const math::ItemScore compat = ScoreSympyPrograms(*sb, Mode::kCompatLlemma, solution, c);
  EXPECT_EQ(ours.correct, (std::vector<bool>{true, true, false, false, false}));
  EXPECT_EQ(compat.correct, (std::vector<bool>{false, true, false, false, false}));
  EXPECT_FALSE(ours.answers[3].has_value());
  EXPECT_FALSE(ours.answers[4].has_value());
  EXPECT_EQ(ours.reference, "\\frac{20}{3}");
  // Default: [20/3] and 20/3 are one answer with 2 of 5 votes.
  EXPECT_TRUE(ours.vote.acc);
  EXPECT_DOUBLE_EQ(ours.vote.pass_rate, 0.4);
  EXPECT_EQ(ours.vote.valid, 3);
  // Compat: the list, 6.666…, 2.333… and two Nones: the two failed programs' None wins (B6).
  EXPECT_FALSE(compat.vote.acc);
  EXPECT_EQ(compat.vote.elected, std::optional<std::string>("None"));
  EXPECT_DOUBLE_EQ(compat.vote.pass_rate, 0.2);
}

TEST(ToolTasks, ScoreRunsEachProgramOnceAndSampleCorrectReusesItsVerdicts) {
  NEED_SANDBOX();
  auto task = Make("gsm8k_python");
  ASSERT_TRUE(task);
  ASSERT_TRUE(task->Prepare().ok());
  Problem p;
  p.id = "0";
  p.reference = "18";
  const ProblemVerdict v = ScoreProblem(*task, p, Mode::kDefault, {kWrong, kGood, kGood}, {});
  EXPECT_TRUE(v.acc);
  EXPECT_EQ(v.valid, 3);
  ASSERT_EQ(v.samples.size(), 3u);
  EXPECT_FALSE(v.samples[0].correct);
  EXPECT_TRUE(v.samples[1].correct);
  EXPECT_TRUE(v.samples[2].correct);
  EXPECT_EQ(v.samples[0].answer, std::optional<std::string>("9"));
  // SampleCorrect reads Score's verdicts: a forged one shows it runs nothing again.
  math::ItemScore forged = task->Score(p, Mode::kDefault, {kWrong}, {});
  forged.correct = {true};
  EXPECT_EQ(task->SampleCorrect(p, Mode::kDefault, {kWrong}, forged, {}), std::vector<bool>{true});

  auto math_task = Make("math_python");
  ASSERT_TRUE(math_task);
  Problem q;
  q.id = "0";
  q.reference = "The answer is $\\boxed{2}$.";
  const ProblemVerdict w = ScoreProblem(
      *math_task, q, Mode::kCompatLlemma,
      {SympyCompletion("answer = 2", "import math"), SympyCompletion("answer = 3", "import math")},
      {});
  ASSERT_EQ(w.samples.size(), 2u);
  EXPECT_TRUE(w.samples[0].correct);
  EXPECT_FALSE(w.samples[1].correct);
  EXPECT_EQ(w.samples[0].answer, std::optional<std::string>("2"));
  EXPECT_TRUE(w.acc);
}

TEST(ToolTasks, WithoutTheSandboxEverySampleFailsWithTheReason) {
  const math::ItemScore s =
      SandboxFailedScore("18", 3, FailedPreconditionError("sandbox: bubblewrap is not installed"));
  EXPECT_EQ(s.correct, (std::vector<bool>{false, false, false}));
  ASSERT_EQ(s.answers.size(), 3u);
  EXPECT_FALSE(s.answers[0].has_value());
  EXPECT_FALSE(s.vote.acc);
  EXPECT_EQ(s.vote.valid, 0);
}

}  // namespace
}  // namespace llemma::eval
