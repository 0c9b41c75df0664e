#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "llemma/eval/task.h"
#include "llemma/eval/tasks/tasks_test_util.h"
#include "llemma/eval/tasks/common.h"

namespace llemma::eval {
namespace {

using json = nlohmann::json;

using task_testing::kData;
using task_testing::Line;
using task_testing::PromptFile;

std::vector<Problem> LoadTask(const std::string& name, const std::string& fields = "") {
  auto t = MakeTask(name, kData, fields);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  if (!t.ok()) return {};
  auto p = (*t)->Load();
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? *p : std::vector<Problem>{};
}

const Problem* FindId(const std::vector<Problem>& ps, const std::string& id) {
  for (const Problem& p : ps) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

TEST(Gsm8kTask, AssemblesThePromptByteForByte) {
  const auto ps = LoadTask("gsm8k");
  ASSERT_EQ(ps.size(), 1319u);
  for (int n : {0, 1318}) {
    const json doc = Line("gsm8k/test.jsonl", n);
    const std::string want =
        PromptFile("gsm8k_8shot.txt") + "\n\nQ: " + doc["question"].get<std::string>() + "\nA:";
    EXPECT_EQ(ps[n].prompt, want);
    EXPECT_EQ(ps[n].reference, doc["answer"].get<std::string>());
    EXPECT_EQ(ps[n].id, std::to_string(n));
  }
}

TEST(MathTask, AssemblesTheMinervaPromptAndKeepsTheSolution) {
  const auto ps = LoadTask("math");
  ASSERT_EQ(ps.size(), 5000u);
  const json doc = Line("math/test.jsonl", 4321);
  const Problem* p = FindId(ps, std::to_string(doc["idx"].get<int>()));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->prompt, PromptFile("minerva_math_4shot.txt") + "\n\nProblem:\n" +
                           doc["problem"].get<std::string>() + "\n\nSolution:");
  EXPECT_EQ(p->reference, doc["solution"].get<std::string>());
}

TEST(MathTask, HasTheSubjectCountsOfTheTestSet) {
  std::map<std::string, int> count;
  for (const Problem& p : LoadTask("math")) count[p.subject]++;
  const std::map<std::string, int> want = {
      {"algebra", 1187},      {"counting_and_probability", 474},
      {"geometry", 479},      {"intermediate_algebra", 903},
      {"number_theory", 540}, {"prealgebra", 871},
      {"precalculus", 546}};
  EXPECT_EQ(count, want);
  // One subject by our name or the harness' short name.
  EXPECT_EQ(LoadTask("math:num_theory").size(), 540u);
  EXPECT_EQ(LoadTask("math:precalculus").size(), 546u);
}

TEST(MathTask, UnknownSubjectListsTheValidOnes) {
  auto t = MakeTask("math:calculus", kData);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("calculus"), std::string::npos);
  EXPECT_NE(t.status().message().find("intermediate_algebra"), std::string::npos);
}

TEST(Math500Task, UsesTheMinervaPromptAndUniqueIds) {
  const auto ps = LoadTask("math500");
  ASSERT_EQ(ps.size(), 500u);
  const json doc = Line("math/math500_prm800k_test.jsonl", 17);
  EXPECT_EQ(ps[17].id, doc["unique_id"].get<std::string>());
  EXPECT_EQ(ps[17].prompt, PromptFile("minerva_math_4shot.txt") + "\n\nProblem:\n" +
                               doc["problem"].get<std::string>() + "\n\nSolution:");
}

TEST(OcwTask, HasOneNewlineBeforeSolution) {
  const auto ps = LoadTask("ocw");
  ASSERT_EQ(ps.size(), 272u);
  const json doc = Line("ocw_courses/test_deepseek.jsonl", 100);
  EXPECT_EQ(ps[100].prompt, PromptFile("ocw_courses_4shot.txt") + "\n\nProblem:\n" +
                                doc["problem"].get<std::string>() + "\nSolution:");
  EXPECT_EQ(ps[100].reference, doc["answer"].get<std::string>());
}

TEST(MmluStemTask, ListsTheFourChoicesAfterTheQuestion) {
  const auto ps = LoadTask("mmlu_stem");
  ASSERT_EQ(ps.size(), 3018u);
  const json doc = Line("mmlu_stem/test_deepseek.jsonl", 2000);
  const auto& o = doc["options"];
  const std::string want =
      PromptFile("mmlu_stem_4shot.txt") + "\n\nProblem:\n" + doc["question"].get<std::string>() +
      "\nWhat of the following is the right choice? Explain your answer.\n(A) " +
      o[0].get<std::string>() + ", (B) " + o[1].get<std::string>() + ", (C) " +
      o[2].get<std::string>() + ", (D) " + o[3].get<std::string>() + "\nSolution:";
  EXPECT_EQ(ps[2000].prompt, want);
  EXPECT_EQ(ps[2000].reference, doc["answer"].get<std::string>());
  EXPECT_EQ(ps[2000].subject, doc["topic"].get<std::string>());
  std::set<std::string> subjects;
  for (const Problem& p : ps) subjects.insert(p.subject);
  EXPECT_EQ(subjects.size(), 18u);
  EXPECT_EQ(LoadTask("mmlu_stem:astronomy").size(),
            static_cast<size_t>(std::count_if(
                ps.begin(), ps.end(), [](const Problem& p) { return p.subject == "astronomy"; })));
}

TEST(MmluStemTask, ReadsPandasNaNChoicesAsNone) {
  const auto ps = LoadTask("mmlu_stem");
  const Problem* p = FindId(ps, "121");  // options [NaN, "One", "Four", "Five"]
  ASSERT_NE(p, nullptr);
  EXPECT_NE(p->prompt.find("\n(A) None, (B) One, (C) Four, (D) Five\nSolution:"),
            std::string::npos);
  EXPECT_EQ(BareNanToNull(R"({"a": "NaN x", "b": [NaN, 1]})"), R"({"a": "NaN x", "b": [null, 1]})");
}

TEST(SatTask, AppendsTheChoicesVerbatim) {
  const auto ps = LoadTask("sat");
  ASSERT_EQ(ps.size(), 32u);
  const json doc = Line("sat/test.jsonl", 5);
  EXPECT_EQ(ps[5].prompt,
            PromptFile("sat_4shot.txt") + "\n\nProblem:\n" + doc["question"].get<std::string>() +
                "\nWhat of the following is the right choice? Explain your answer.\n" +
                doc["options"].get<std::string>() + "\nSolution:");
  EXPECT_EQ(ps[5].reference, "C");
}

TEST(MathPplTask, ScoresTheSolutionWithTheBoxedAnswerAppended) {
  auto t = MakeTask("math_ppl", kData);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE((*t)->spec().perplexity);
  const auto ps = LoadTask("math_ppl");
  ASSERT_EQ(ps.size(), 5000u);
  EXPECT_EQ(ps[0].prompt,
            "Problem: How many vertical asymptotes does the graph of $y=\\frac{2}{x^2+x-6}$ "
            "have?\nAnswer:");
  const std::string sol = Line("math/test.jsonl", 0)["solution"].get<std::string>();
  EXPECT_EQ(ps[0].continuation, " " + sol + " The answer is \\boxed{2}.```");
}

TEST(TaskSpecs, StopStringsAndPaperSettingsFollowTheHarness) {
  struct Want {
    std::string name, stop;
    int k;
    double t;
  };
  for (const Want& w : std::vector<Want>{{"gsm8k", "\n\n", 100, 0.6},
                                         {"math", "I hope it is correct.", 256, 0.6},
                                         {"ocw", "I hope it is correct.", 100, 0.6},
                                         {"mmlu_stem", "I hope it is correct.", 16, 0.3},
                                         {"sat", "I hope it is correct.", 16, 0.3}}) {
    auto t = MakeTask(w.name, kData);
    ASSERT_TRUE(t.ok()) << w.name;
    const TaskSpec& s = (*t)->spec();
    EXPECT_EQ(s.stop, std::vector<std::string>{w.stop}) << w.name;
    EXPECT_EQ(s.max_tokens, 1024) << w.name;
    EXPECT_EQ(s.paper.k, w.k) << w.name;
    EXPECT_DOUBLE_EQ(s.paper.temperature, w.t) << w.name;
    EXPECT_DOUBLE_EQ(s.paper.top_p, 0.95) << w.name;
  }
}

TEST(TaskRegistry, UnknownTaskNamesTheKnownOnes) {
  auto t = MakeTasks("gsm8k,gsm9k", kData);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("gsm9k"), std::string::npos);
  EXPECT_NE(t.status().message().find("mmlu_stem"), std::string::npos);
  auto twice = MakeTasks("sat, sat", kData);
  EXPECT_FALSE(twice.ok());
  auto two = MakeTasks("sat, math:algebra", kData);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ((*two)[1]->spec().name, "math:algebra");
}

TEST(CustomFile, ReadsTheUsersJsonlThroughTheFieldMapping) {
  const std::string file = LLEMMA_TESTDATA_DIR "/eval/custom_gsm.jsonl";
  const auto ps = LoadTask("gsm8k@" + file, "question=q,answer=ans,id=qid");
  ASSERT_EQ(ps.size(), 3u);
  EXPECT_EQ(ps[2].id, "a3");
  EXPECT_EQ(ps[2].prompt, PromptFile("gsm8k_8shot.txt") + "\n\nQ: What is 10 minus 4?\nA:");
  EXPECT_EQ(ps[2].reference, "#### 6");
  // Without the mapping the task's own field names are missing: the error says where and how.
  auto t = MakeTask("gsm8k@" + file, kData);
  ASSERT_TRUE(t.ok());
  auto bad = (*t)->Load();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("custom_gsm.jsonl:1"), std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("--fields question="), std::string::npos);
}

TEST(CustomFile, AMissingFieldNamesFileAndLine) {
  auto t = MakeTask(std::string("gsm8k@") + LLEMMA_TESTDATA_DIR "/eval/bad_field.jsonl", kData);
  ASSERT_TRUE(t.ok());
  auto ps = (*t)->Load();
  ASSERT_FALSE(ps.ok());
  EXPECT_NE(ps.status().message().find("bad_field.jsonl:2: no field \"answer\""), std::string::npos)
      << ps.status().message();
  EXPECT_FALSE(ParseFieldMap("question").ok());
}

TEST(SubjectKey, MakesSnakeCaseKeys) {
  EXPECT_EQ(SubjectKey("Counting & Probability"), "counting_and_probability");
  EXPECT_EQ(SubjectKey("Intermediate Algebra"), "intermediate_algebra");
  EXPECT_EQ(SubjectKey("Precalculus"), "precalculus");
}

}  // namespace
}  // namespace llemma::eval
