#include "llemma/eval/runner.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "llemma/eval/report.h"

namespace llemma::eval {
namespace {

using json = nlohmann::json;

const std::string kData = LLEMMA_SOURCE_DIR "/data";
// Three GSM8k-style problems, ids a1 a2 a3, answers 7, 24, 6.
const std::string kCustom = "gsm8k@" LLEMMA_TESTDATA_DIR "/eval/custom_gsm.jsonl";
const std::string kFields = "question=q,answer=ans,id=qid";

std::string TempDb(const std::string& name) {
  const std::string p = ::testing::TempDir() + "/runner_test_" + name + ".db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p + suffix);
  return p;
}

// A backend whose completions are a function of (problem id, sample index),
// recording every request it is given. After `fail_after` requests it stops
// with an error, as a killed server would.
class ScriptedBackend : public Backend {
 public:
  using Script = std::function<std::string(const std::string& problem, int sample)>;
  explicit ScriptedBackend(Script script) : script_(std::move(script)) {}
  std::string Describe() const override { return "scripted"; }
  Status Run(std::span<const GenRequest> requests, const OnRequestDone& on_done) override {
    calls++;
    for (const GenRequest& r : requests) {
      if (fail_after >= 0 && static_cast<int>(seen.size()) >= fail_after) {
        return UnavailableError("scripted failure");
      }
      seen.push_back(r);
      // The request id is task/problem/first.
      const std::string rest = r.id.substr(r.id.rfind('/', r.id.rfind('/') - 1) + 1);
      const std::string problem = rest.substr(0, rest.find('/'));
      std::vector<GenSample> out;
      for (int i = 0; i < r.sampling.n; ++i) {
        GenSample s;
        s.index = r.sampling.first_sample + i;
        s.text = script_(problem, s.index);
        s.finish_reason = "stop";
        s.n_tokens = 10;
        out.push_back(s);
      }
      LLEMMA_RETURN_IF_ERROR(on_done(r, std::move(out)));
    }
    return Status::Ok();
  }
  StatusOr<LogLikelihood> Score(std::string_view context, std::string_view continuation) override {
    scored++;
    return LogLikelihood{-0.5 * static_cast<double>(continuation.size()), 7};
  }
  std::vector<GenRequest> seen;
  int fail_after = -1;
  int scored = 0;
  int calls = 0;

 private:
  Script script_;
};

std::vector<std::unique_ptr<Task>> Tasks(const std::string& names, const std::string& fields = "") {
  auto t = MakeTasks(names, kData, fields);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(*t) : std::vector<std::unique_ptr<Task>>{};
}

json ReportJson(Store& st, std::optional<math::Mode> mode = std::nullopt) {
  ReportOptions ro;
  ro.data_dir = kData;
  ro.mode = mode;
  auto r = BuildReport(st, ro);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? json::parse(RenderJson(*r)) : json();
}

// Correct answers of the custom file.
const std::map<std::string, std::string> kAnswer = {{"a1", "7"}, {"a2", "24"}, {"a3", "6"}};

TEST(Runner, ScoresMajorityVotesAndFirstSamples) {
  // a1: samples 7, 5, 7 (maj@1 right, vote right); a2: 3, 24, 24 (maj@1 wrong, vote
  // right); a3: nothing, nothing, 2 (invalid twice, vote wrong).
  ScriptedBackend b([](const std::string& p, int j) -> std::string {
    if (p == "a1") return j == 1 ? " 2 + 3 = 5. The answer is 5." : " 3 + 4 = 7. The answer is 7.";
    if (p == "a2") return j == 0 ? " The answer is 3." : " 12 * 2 = 24. The answer is 24.";
    return j < 2 ? " I do not know" : " The answer is 2.";
  });
  auto st = Store::Open(TempDb("votes"));
  ASSERT_TRUE(st.ok());
  EvalOptions o;
  o.preset = "paper";
  o.k = 3;
  o.fields = kFields;
  ASSERT_TRUE(RunEvaluation(b, **st, Tasks(kCustom, kFields), o).ok());
  const json r = ReportJson(**st);
  ASSERT_EQ(r["tasks"].size(), 1u);
  const json& t = r["tasks"][0];
  EXPECT_EQ(t["task"], kCustom);
  EXPECT_EQ(t["n_problems"], 3);
  EXPECT_EQ(t["n_samples"], 9);
  EXPECT_EQ(t["k"], 3);
  EXPECT_DOUBLE_EQ(t["temperature"].get<double>(), 0.6);  // the paper's GSM8k settings
  EXPECT_NEAR(t["maj1"].get<double>(), 100.0 / 3, 1e-9);
  EXPECT_NEAR(t["majk"].get<double>(), 200.0 / 3, 1e-9);
  EXPECT_NEAR(t["accuracy"].get<double>(), 200.0 / 3, 1e-9);
  EXPECT_NEAR(t["invalid_rate"].get<double>(), 200.0 / 9, 1e-9);
  // GSM8k pass rate counts valid samples only: a1 2/3, a2 2/3, a3 0/1.
  EXPECT_NEAR(t["pass_rate"].get<double>(), 100.0 * (2.0 / 3 + 2.0 / 3 + 0) / 3, 1e-9);
  EXPECT_TRUE(t["paper"].empty());  // a user's file has no paper numbers
  // The verdicts the run stored per sample.
  auto v = (*st)->Verdicts(kCustom, "default");
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->size(), 3u);
  const ProblemVerdict& a2 = v->at("a2");
  ASSERT_EQ(a2.samples.size(), 3u);
  EXPECT_FALSE(a2.samples[0].correct);
  EXPECT_TRUE(a2.samples[1].correct);
  EXPECT_EQ(a2.elected, "24");
  EXPECT_FALSE(v->at("a3").samples[0].answer.has_value());
}

TEST(Runner, RequestsCarryPerProblemSeedsAndSplitSamples) {
  ScriptedBackend b([](const std::string&, int) { return " The answer is 1."; });
  auto st = Store::Open(TempDb("seeds"));
  ASSERT_TRUE(st.ok());
  EvalOptions o;
  o.k = 5;
  o.temperature = 0.7;
  o.samples_per_request = 2;
  o.seed = 99;
  o.fields = kFields;
  o.requests_per_call = 4;
  ASSERT_TRUE(RunEvaluation(b, **st, Tasks(kCustom, kFields), o).ok());
  ASSERT_EQ(b.seen.size(), 9u);  // 3 problems x (2 + 2 + 1)
  EXPECT_EQ(b.calls, 3);         // in waves of 4, 4 and 1 requests
  std::set<uint64_t> seeds;
  for (size_t i = 0; i < b.seen.size(); ++i) {
    const GenRequest& r = b.seen[i];
    const std::string id = i < 3 ? "a1" : i < 6 ? "a2" : "a3";
    EXPECT_EQ(r.sampling.seed, ProblemSeed(99, kCustom, id)) << r.id;
    EXPECT_EQ(r.sampling.first_sample, static_cast<int>(i % 3) * 2) << r.id;
    EXPECT_EQ(r.sampling.n, i % 3 == 2 ? 1 : 2) << r.id;
    EXPECT_DOUBLE_EQ(r.sampling.temperature, 0.7);
    EXPECT_EQ(r.sampling.stop, std::vector<std::string>{"\n\n"});
    EXPECT_EQ(r.sampling.max_tokens, 1024);
    seeds.insert(r.sampling.seed);
  }
  EXPECT_EQ(seeds.size(), 3u);
  EXPECT_NE(ProblemSeed(99, "gsm8k", "1"), ProblemSeed(100, "gsm8k", "1"));
  EXPECT_NE(ProblemSeed(99, "gsm8k", "1"), ProblemSeed(99, "math", "1"));
}

TEST(Runner, ResumesWithOnlyTheMissingSamples) {
  const std::string db = TempDb("resume");
  const auto script = [](const std::string& p, int j) {
    return " The answer is " + std::to_string(j) + ".";
  };
  EvalOptions o;
  o.k = 4;
  o.temperature = 0.5;
  o.samples_per_request = 2;
  o.fields = kFields;
  {
    ScriptedBackend first(script);
    first.fail_after = 3;  // a1 complete, a2 half
    auto st = Store::Open(db);
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE((*st)->BeginSession("first").ok());
    EXPECT_FALSE(RunEvaluation(first, **st, Tasks(kCustom, kFields), o).ok());
  }
  auto st = Store::Open(db);
  ASSERT_TRUE(st.ok());
  auto before = (*st)->Samples(kCustom);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->size(), 6u);
  ASSERT_TRUE((*st)->BeginSession("second").ok());
  ScriptedBackend second(script);
  ASSERT_TRUE(RunEvaluation(second, **st, Tasks(kCustom, kFields), o).ok());
  // Exactly the missing requests: a2 samples 2-3, a3 samples 0-1 and 2-3.
  ASSERT_EQ(second.seen.size(), 3u);
  EXPECT_EQ(second.seen[0].id, kCustom + "/a2/2");
  EXPECT_EQ(second.seen[1].id, kCustom + "/a3/0");
  EXPECT_EQ(second.seen[2].id, kCustom + "/a3/2");
  auto after = (*st)->Samples(kCustom);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 12u);
  std::map<std::pair<std::string, int>, StoredSample> by_key;
  for (const StoredSample& s : *after) by_key[{s.problem_id, s.sample.index}] = s;
  EXPECT_EQ(by_key.size(), 12u);
  for (const StoredSample& s : *before) {
    const StoredSample& now = by_key.at({s.problem_id, s.sample.index});
    EXPECT_EQ(now.rowid, s.rowid);
    EXPECT_EQ(now.session, 1);
  }
  EXPECT_EQ(by_key.at({"a3", 3}).session, 2);
  // A third run has nothing left to ask.
  ScriptedBackend third(script);
  ASSERT_TRUE(RunEvaluation(third, **st, Tasks(kCustom, kFields), o).ok());
  EXPECT_TRUE(third.seen.empty());
  EXPECT_EQ(ReportJson(**st)["tasks"][0]["n_complete"], 3);
}

TEST(Runner, OtherSettingsOnTheSameFileAreRefused) {
  const std::string db = TempDb("mismatch");
  ScriptedBackend b([](const std::string&, int) { return " The answer is 7."; });
  auto st = Store::Open(db);
  ASSERT_TRUE(st.ok());
  EvalOptions o;
  o.fields = kFields;
  ASSERT_TRUE(RunEvaluation(b, **st, Tasks(kCustom, kFields), o).ok());
  o.preset = "paper";
  const Status s = RunEvaluation(b, **st, Tasks(kCustom, kFields), o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("k=1"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("use the same settings or a new --db"), std::string::npos);
}

TEST(Runner, ShardsSplitTheProblemsWithoutOverlap) {
  auto tasks = Tasks("math");
  auto all = tasks[0]->Load();
  ASSERT_TRUE(all.ok());
  const auto limited = SelectProblems(*all, 3, 0, 1);
  EXPECT_EQ(limited.size(), 21u);  // 3 per subject
  std::set<std::string> ids;
  size_t total = 0;
  for (int i = 0; i < 3; ++i) {
    for (const Problem& p : SelectProblems(*all, 3, i, 3)) {
      ids.insert(p.id);
      ++total;
    }
  }
  EXPECT_EQ(total, 21u);
  EXPECT_EQ(ids.size(), 21u);
  int index = 0, count = 0;
  EXPECT_TRUE(ParseShard("2/4", &index, &count).ok());
  EXPECT_EQ(index, 1);
  EXPECT_EQ(count, 4);
  EXPECT_FALSE(ParseShard("0/4", &index, &count).ok());
  EXPECT_FALSE(ParseShard("5/4", &index, &count).ok());
  EXPECT_FALSE(ParseShard("2", &index, &count).ok());
}

TEST(Runner, ReportRescoresWithTheHarnessCheckerWithoutRegenerating) {
  // "The answer is 1,000": our checker reads 1000; the harness' regex reads "1" (bug B5).
  const std::string file = ::testing::TempDir() + "/runner_test_b5.jsonl";
  {
    std::ofstream f(file);
    f << R"({"question": "How many?", "answer": "#### 1000"})"
      << "\n";
  }
  const std::string name = "gsm8k@" + file;
  ScriptedBackend b([](const std::string&, int) { return " The answer is 1,000."; });
  auto st = Store::Open(TempDb("compat"));
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(RunEvaluation(b, **st, Tasks(name), EvalOptions()).ok());
  EXPECT_DOUBLE_EQ(ReportJson(**st)["tasks"][0]["accuracy"].get<double>(), 100.0);
  const json compat = ReportJson(**st, math::Mode::kCompatLlemma);
  EXPECT_DOUBLE_EQ(compat["tasks"][0]["accuracy"].get<double>(), 0.0);
  EXPECT_EQ(compat["tasks"][0]["checker"], "llemma");
  EXPECT_EQ(b.seen.size(), 1u);
  // Both modes' verdicts are now stored.
  auto v = (*st)->Verdicts(name, "llemma");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->size(), 1u);
}

TEST(Runner, PerplexityTaskStoresScoresOnce) {
  ScriptedBackend b([](const std::string&, int) { return ""; });
  auto st = Store::Open(TempDb("ppl"));
  ASSERT_TRUE(st.ok());
  EvalOptions o;
  o.limit = 1;
  ASSERT_TRUE(RunEvaluation(b, **st, Tasks("math_ppl"), o).ok());
  EXPECT_EQ(b.scored, 7);  // one per subject
  ASSERT_TRUE(RunEvaluation(b, **st, Tasks("math_ppl"), o).ok());
  EXPECT_EQ(b.scored, 7);
  const json r = ReportJson(**st);
  const json& t = r["tasks"][0];
  EXPECT_EQ(t["n_problems"], 7);
  // logprob = -0.5 per byte, so the byte perplexity is e^0.5 and 7 tokens per problem.
  EXPECT_NEAR(t["perplexity"].get<double>(), std::exp(0.5), 1e-12);
  EXPECT_EQ(t["n_tokens"], 49);
  EXPECT_EQ(t["subjects"].size(), 7u);
}

// A task whose Prepare fails, as a tool-use task's does where its sandbox cannot start.
class UnpreparedTask : public Task {
 public:
  explicit UnpreparedTask(std::unique_ptr<Task> inner) : inner_(std::move(inner)) {}
  const TaskSpec& spec() const override { return inner_->spec(); }
  StatusOr<std::vector<Problem>> Load() const override { return inner_->Load(); }
  Status Prepare() const override {
    return FailedPreconditionError("sandbox: bubblewrap cannot start");
  }

 private:
  std::unique_ptr<Task> inner_;
};

TEST(Runner, ATaskThatCannotPrepareStopsBeforeGenerating) {
  ScriptedBackend b([](const std::string&, int) { return " The answer is 7."; });
  auto st = Store::Open(TempDb("prepare"));
  ASSERT_TRUE(st.ok());
  std::vector<std::unique_ptr<Task>> tasks;
  tasks.push_back(std::make_unique<UnpreparedTask>(std::move(Tasks(kCustom, kFields).at(0))));
  const Status s = RunEvaluation(b, **st, tasks, EvalOptions());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("task " + kCustom + ": sandbox: bubblewrap cannot start"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(b.calls, 0);
  EXPECT_TRUE(b.seen.empty());
}

TEST(Runner, BadPresetAndOverridesAreErrors) {
  auto tasks = Tasks("gsm8k");
  EvalOptions o;
  o.preset = "fast";
  EXPECT_FALSE(ResolveSettings(*tasks[0], {}, o, "m").ok());
  o.preset = "paper";
  o.top_p = 1.5;
  EXPECT_FALSE(ResolveSettings(*tasks[0], {}, o, "m").ok());
  o.top_p.reset();
  o.k = 0;
  EXPECT_FALSE(ResolveSettings(*tasks[0], {}, o, "m").ok());
  o.k = 8;
  auto s = ResolveSettings(*tasks[0], {}, o, "m");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->k, 8);
  EXPECT_DOUBLE_EQ(s->top_p, 0.95);
  EXPECT_EQ(s->preset, "paper+overrides");
}

}  // namespace
}  // namespace llemma::eval
