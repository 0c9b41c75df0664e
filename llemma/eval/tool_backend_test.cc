// ToolLoopBackend (tool-integrated evaluation) over a scripted inner backend,
// and --tools through the runner and the store. Tests that run programs skip
// where bubblewrap cannot run.
#include "llemma/eval/tool_backend.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "llemma/agent/sandbox_test_util.h"
#include "llemma/eval/runner.h"
#include "llemma/eval/store.h"
#include "llemma/eval/task.h"

namespace llemma::eval {
namespace {

using agent::SharedTestSandbox;

const std::string kData = LLEMMA_SOURCE_DIR "/data";
const std::string kStop = "I hope it is correct.";

// An inner backend with canned completions chosen by the prompt, cut at the
// request's stop strings and max_tokens the way a server cuts its samples
// (tokens: runs of non-space with their leading space). Records every
// request; each Run call's requests are one batch.
class CannedBackend : public Backend {
 public:
  using Script = std::function<std::string(const std::string& prompt)>;
  explicit CannedBackend(Script script) : script_(std::move(script)) {}
  std::string Describe() const override { return "canned"; }
  Status Run(std::span<const GenRequest> requests, const OnRequestDone& on_done) override {
    batches.push_back(requests.size());
    for (const GenRequest& r : requests) {
      seen.push_back(r);
      if (fail_at >= 0 && static_cast<int>(seen.size()) > fail_at)
        return UnavailableError("canned failure at " + r.id);
      std::string text = script_(r.prompt);
      GenSample g;
      g.index = r.sampling.first_sample;
      g.finish_reason = "eos";
      static const std::regex token(R"(\s*\S+)");
      std::vector<std::string> tokens;
      for (auto it = std::sregex_iterator(text.begin(), text.end(), token);
           it != std::sregex_iterator(); ++it)
        tokens.push_back(it->str());
      if (static_cast<int64_t>(tokens.size()) > r.sampling.max_tokens) {
        text.clear();
        for (int64_t i = 0; i < r.sampling.max_tokens; ++i) text += tokens[i];
        g.finish_reason = "length";
      }
      size_t cut = std::string::npos;
      for (const std::string& s : r.sampling.stop) {
        const size_t at = text.find(s);
        if (at < cut) cut = at, g.stop_matched = s;
      }
      if (cut != std::string::npos) {
        text.resize(cut);
        g.finish_reason = "stop";
      }
      g.text = text;
      g.n_prompt_tokens = static_cast<int64_t>(r.prompt.size());
      g.n_tokens = std::distance(std::sregex_iterator(text.begin(), text.end(), token),
                                 std::sregex_iterator());
      g.seconds = 0.001;
      returned.push_back(g);
      std::vector<GenSample> out{g};
      LLEMMA_RETURN_IF_ERROR(on_done(r, std::move(out)));
    }
    return Status::Ok();
  }
  std::vector<GenRequest> seen;
  std::vector<GenSample> returned;  // in the order of `seen`
  std::vector<size_t> batches;
  int fail_at = -1;  // fail the request after this many

 private:
  Script script_;
};

// One program, then the answer: the reply depends on where the transcript stands.
std::string OneProgram(const std::string& prompt) {
  if (prompt.ends_with("```python")) return "\nprint(6*7)\n```\nnot reached";
  if (prompt.find("```output") != std::string::npos)
    return "So the answer is 42.\nFinal Answer: The final answer is $42$. " + kStop +
           "\n\nProblem:\nmore";
  return "Let me compute.\n```python\nprint('not this one')\n```";
}

GenRequest Request(const std::string& id, int n, double temperature, int first_sample = 0) {
  GenRequest r;
  r.id = id;
  r.prompt = "PROMPT " + id + "\n";
  r.sampling.n = n;
  r.sampling.temperature = temperature;
  r.sampling.max_tokens = 100;
  r.sampling.stop = {kStop};
  r.sampling.seed = 5000;
  r.sampling.first_sample = first_sample;
  return r;
}

// Runs `requests` and returns each request's samples by id; each reported once.
std::map<std::string, std::vector<GenSample>> RunAll(Backend& b,
                                                     const std::vector<GenRequest>& requests,
                                                     Status* status) {
  std::map<std::string, std::vector<GenSample>> got;
  *status = b.Run(requests, [&](const GenRequest& r, std::vector<GenSample> s) -> Status {
    EXPECT_EQ(got.count(r.id), 0u) << r.id << " reported twice";
    got[r.id] = std::move(s);
    return Status::Ok();
  });
  return got;
}

TEST(ToolLoopBackend, RunsTheProgramAndFeedsItsOutputToTheNextStep) {
  NEED_SANDBOX();
  CannedBackend inner(OneProgram);
  ToolLoopBackend tools(inner, sb, {});
  Status st;
  auto got = RunAll(tools, {Request("p", 1, 0.6)}, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(got["p"].size(), 1u);
  const GenSample& s = got["p"][0];
  const std::string before = "Let me compute.\n```python\nprint(6*7)\n```\n```output\n42\n```\n";
  EXPECT_EQ(s.text, before + "So the answer is 42.\nFinal Answer: The final answer is $42$. ");
  EXPECT_EQ(s.finish_reason, "stop");
  EXPECT_EQ(s.stop_matched, kStop);
  EXPECT_EQ(s.index, 0);
  // Three steps: prose up to the fence, the code up to its close, the rest after the output.
  ASSERT_EQ(inner.seen.size(), 3u);
  const std::string prompt = "PROMPT p\n";
  EXPECT_EQ(inner.seen[0].prompt, prompt);
  EXPECT_EQ(inner.seen[1].prompt, prompt + "Let me compute.\n```python");
  EXPECT_EQ(inner.seen[2].prompt, prompt + before);
  EXPECT_EQ(inner.seen[0].sampling.stop, (std::vector<std::string>{kStop, "```python"}));
  EXPECT_EQ(inner.seen[1].sampling.stop, (std::vector<std::string>{kStop, "```"}));
  EXPECT_EQ(inner.seen[2].sampling.stop, (std::vector<std::string>{kStop, "```python"}));
  // The budget is over all steps; the sample's tokens are the steps' sum.
  int64_t used = 0;
  for (size_t i = 0; i < inner.seen.size(); ++i) {
    EXPECT_EQ(inner.seen[i].sampling.n, 1);
    EXPECT_EQ(inner.seen[i].sampling.max_tokens, 100 - used) << "step " << i;
    EXPECT_GT(inner.returned[i].n_tokens, 0);
    used += inner.returned[i].n_tokens;
  }
  EXPECT_EQ(s.n_tokens, used);
  EXPECT_EQ(s.n_prompt_tokens, static_cast<int64_t>(prompt.size()));
  // The task's own extraction reads the answer from the transcript.
  auto math = MakeTask("math", kData);
  ASSERT_TRUE(math.ok());
  Problem p;
  p.reference = "So it is $\\boxed{42}$.";
  EXPECT_TRUE((*math)->Score(p, math::Mode::kDefault, {s.text}).vote.acc);
}

TEST(ToolLoopBackend, StopsRunningProgramsAfterTheLastRound) {
  NEED_SANDBOX();
  // A model that writes a program in every turn.
  CannedBackend inner([](const std::string& prompt) -> std::string {
    if (prompt.ends_with("```python")) return "\nprint(6*7)\n```";
    return "Again.\n```python";
  });
  ToolLoopBackendOptions o;
  o.max_rounds = 2;
  ToolLoopBackend tools(inner, sb, o);
  Status st;
  auto got = RunAll(tools, {Request("p", 1, 0.6)}, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const std::string& text = got["p"].at(0).text;
  const auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("```python"), 3u) << text;
  EXPECT_EQ(count("```output\n42\n```"), 2u) << text;
  EXPECT_TRUE(text.ends_with("```python\nprint(6*7)\n```\n")) << text;  // the third: not run
  EXPECT_EQ(got["p"][0].finish_reason, "rounds");
  EXPECT_EQ(inner.seen.size(), 6u);  // three prose steps, three code steps
}

TEST(ToolLoopBackend, SeedsAreDistinctPerSampleAndStepAndReproducible) {
  NEED_SANDBOX();
  ToolLoopBackendOptions o;
  o.parallel = 3;
  // (prompt, seed + first_sample) of every step of two runs of the same requests.
  std::vector<std::multiset<std::pair<std::string, uint64_t>>> runs;
  for (int run = 0; run < 2; ++run) {
    CannedBackend inner(OneProgram);
    ToolLoopBackend tools(inner, sb, o);
    Status st;
    auto got = RunAll(tools, {Request("p", 3, 0.6, /*first_sample=*/2)}, &st);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_EQ(got["p"].size(), 3u);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(got["p"][i].index, 2 + i);
    ASSERT_EQ(inner.seen.size(), 9u);  // three steps per sample
    std::set<uint64_t> seeds;
    std::multiset<std::pair<std::string, uint64_t>> steps;
    for (const GenRequest& r : inner.seen) {
      const uint64_t seed = r.sampling.seed + static_cast<uint64_t>(r.sampling.first_sample);
      seeds.insert(seed);
      steps.insert({r.prompt, seed});
      EXPECT_GE(r.sampling.first_sample, 2);
      EXPECT_LE(r.sampling.first_sample, 4);
      EXPECT_LT(seed, uint64_t{1} << 63);
      if (r.prompt == "PROMPT p\n") {
        EXPECT_EQ(r.sampling.seed, 5000u);  // step 0 of sample j: seed + j, as without tools
      } else {
        EXPECT_NE(r.sampling.seed, 5000u);
      }
    }
    EXPECT_EQ(seeds.size(), 9u);
    runs.push_back(std::move(steps));
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_NE(ToolStepSeed(5000, 1), ToolStepSeed(5000, 2));
  EXPECT_NE(ToolStepSeed(5000, 1), ToolStepSeed(5001, 1));
}

TEST(ToolLoopBackend, ManyRequestsEachReportedOnceAndGreedyRunsOneLoop) {
  NEED_SANDBOX();
  CannedBackend inner(OneProgram);
  ToolLoopBackendOptions o;
  o.parallel = 4;
  ToolLoopBackend tools(inner, sb, o);
  std::vector<GenRequest> reqs;
  for (int i = 0; i < 5; ++i) reqs.push_back(Request("s" + std::to_string(i), 2, 0.6));
  reqs.push_back(Request("greedy", 3, 0.0));
  Status st;
  auto got = RunAll(tools, reqs, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(got.size(), reqs.size());
  for (int i = 0; i < 5; ++i) {
    const auto& s = got["s" + std::to_string(i)];
    ASSERT_EQ(s.size(), 2u);
    for (const GenSample& g : s) EXPECT_NE(g.text.find("```output\n42\n```\n"), std::string::npos);
  }
  // 5 x 2 sampled loops and one greedy loop, three steps each.
  EXPECT_EQ(inner.seen.size(), 33u);
  const auto& g = got["greedy"];
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(g[1].text, g[0].text);
  EXPECT_EQ(g[2].text, g[0].text);
  EXPECT_EQ(g[2].index, 2);
  EXPECT_GT(g[0].n_tokens, 0);
  EXPECT_EQ(g[1].n_tokens + g[2].n_tokens, 0);  // the copies count no tokens
}

TEST(ToolLoopBackend, InnerAndCallbackErrorsStopTheRun) {
  NEED_SANDBOX();
  {
    CannedBackend inner(OneProgram);
    inner.fail_at = 2;  // the third step fails
    ToolLoopBackend tools(inner, sb, {});
    Status st;
    auto got = RunAll(tools, {Request("p", 1, 0.6)}, &st);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("canned failure"), std::string::npos) << st.ToString();
    EXPECT_TRUE(got.empty());
  }
  {
    CannedBackend inner(OneProgram);
    ToolLoopBackendOptions o;
    o.parallel = 2;
    ToolLoopBackend tools(inner, sb, o);
    int calls = 0;
    const std::vector<GenRequest> reqs = {Request("a", 1, 0.6), Request("b", 1, 0.6),
                                          Request("c", 1, 0.6)};
    const Status st = tools.Run(reqs, [&](const GenRequest&, std::vector<GenSample>) {
      ++calls;
      return DataLossError("disk full");
    });
    EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
    EXPECT_EQ(calls, 1);
  }
  CannedBackend inner(OneProgram);
  ToolLoopBackendOptions o;
  o.max_rounds = 0;
  ToolLoopBackend tools(inner, sb, o);
  Status st;
  RunAll(tools, {Request("p", 1, 0.6)}, &st);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(inner.seen.empty());
}

// --tools through the runner and the store, with the canned backend.
std::string TempDb(const std::string& name) {
  const std::string p = ::testing::TempDir() + "/tool_backend_test_" + name + ".db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p + suffix);
  return p;
}

TEST(ToolEval, SettingsRefuseToolsForPerplexityAndToolUseTasks) {
  EvalOptions o;
  o.tools = "python";
  for (const std::string name : {"math_ppl", "gsm8k_python", "math_python"}) {
    auto t = MakeTask(name, kData);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    auto s = ResolveSettings(**t, {}, o, "m");
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << name;
    EXPECT_NE(s.status().message().find("--tools"), std::string::npos) << s.status().ToString();
  }
  auto math = MakeTask("math", kData);
  ASSERT_TRUE(math.ok());
  o.tool_rounds = 3;
  auto s = ResolveSettings(**math, {}, o, "m");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->tools, "python rounds=3");
  o.tools = "bash";
  EXPECT_FALSE(ResolveSettings(**math, {}, o, "m").ok());
  o.tools = "";
  s = ResolveSettings(**math, {}, o, "m");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->tools, "");
}

TEST(ToolEval, RunnerStoresToolTranscriptsAndKeepsToolSettingsApart) {
  NEED_SANDBOX();  // the runner starts its own (ToolSandbox); this one says whether it can
  auto tasks = MakeTasks("math:algebra", kData);
  ASSERT_TRUE(tasks.ok());
  const std::string db = TempDb("runner");
  auto store = Store::Open(db);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->BeginSession("test").ok());
  // The first algebra problem's answer is 2: the program prints it.
  CannedBackend inner([](const std::string& prompt) -> std::string {
    if (prompt.ends_with("```python")) return "\nprint(len([2, -3]))\n```";
    if (prompt.find("```output\n2\n```") != std::string::npos)
      return "Two zeros, so $\\boxed{2}$.\nFinal Answer: The final answer is $2$. " + kStop;
    return "We count the zeros.\n```python";
  });
  EvalOptions o;
  o.limit = 1;
  o.tools = "python";
  ASSERT_TRUE(RunEvaluation(inner, **store, *tasks, o).ok());
  auto samples = (*store)->Samples("math:algebra");
  ASSERT_TRUE(samples.ok());
  ASSERT_EQ(samples->size(), 1u);
  EXPECT_NE((*samples)[0].sample.text.find("```output\n2\n```\n"), std::string::npos);
  auto verdicts = (*store)->Verdicts("math:algebra", "default");
  ASSERT_TRUE(verdicts.ok());
  ASSERT_EQ(verdicts->size(), 1u);
  EXPECT_TRUE(verdicts->begin()->second.acc);
  auto settings = (*store)->Task("math:algebra");
  ASSERT_TRUE(settings.ok() && settings->has_value());
  EXPECT_EQ((*settings)->tools, "python rounds=4");
  // The same file without --tools, or with other rounds, is refused.
  for (const auto& [tools, rounds] : {std::pair<std::string, int>{"", 4}, {"python", 2}}) {
    o.tools = tools;
    o.tool_rounds = rounds;
    const Status again = RunEvaluation(inner, **store, *tasks, o);
    EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition) << tools << rounds;
    EXPECT_NE(again.message().find("--tools"), std::string::npos) << again.ToString();
  }
}

}  // namespace
}  // namespace llemma::eval
