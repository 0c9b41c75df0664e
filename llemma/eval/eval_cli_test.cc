// End-to-end tests of `llemma eval` as users run it: the built binary on the
// tiny fixture model (every task), against a local OpenAI-compatible server,
// killed with SIGKILL mid-run and resumed, sharded and merged.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "llemma/eval/openai_test_server.h"
#include "llemma/eval/runner.h"
#include "llemma/eval/store.h"
#include "llemma/eval/task.h"
#ifdef LLEMMA_HAVE_AGENT
#include "llemma/agent/sandbox_test_util.h"
#endif

namespace llemma::eval {
namespace {

using json = nlohmann::json;

const std::string kBinary = LLEMMA_BINARY_DIR "/bin/llemma";
const std::string kModel = LLEMMA_TESTDATA_DIR "/models/tiny-mha-f32";
const std::string kData = LLEMMA_SOURCE_DIR "/data";

std::string TempPath(const std::string& name) {
  const std::string p =
      ::testing::TempDir() + "/eval_cli_test_" + std::to_string(::getpid()) + "_" + name;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p + suffix);
  return p;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Starts `args` with stdout and stderr sent to files; returns the pid.
pid_t Spawn(std::vector<std::string> args, const std::string& out, const std::string& err) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(o, 1);
    ::dup2(e, 2);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

struct CliResult {
  int code = -1;
  std::string out, err;
};

CliResult RunLlemma(std::vector<std::string> args) {
  args.insert(args.begin(), kBinary);
  const std::string out = TempPath("stdout"), err = TempPath("stderr");
  const pid_t pid = Spawn(args, out, err);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

std::vector<std::string> TinyModelArgs() {
  return {"eval", "--model", kModel, "--dtype", "f32", "-t", "1", "-q"};
}

std::vector<std::string> Join(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(EvalCli, EveryTaskRunsEndToEndOnTheTinyModel) {
  struct Case {
    std::string task;
    int problems;  // with --limit 1 (one per subject)
  };
  for (const Case& c : std::vector<Case>{{"gsm8k", 1},
                                         {"math", 7},
                                         {"math:geometry", 1},
                                         {"ocw", 1},
                                         {"mmlu_stem", 18},
                                         {"sat", 1},
                                         {"math500", 7},
                                         {"math_ppl", 7}}) {
    const std::string db = TempPath("task.db");
    const CliResult r =
        RunLlemma(Join(TinyModelArgs(), {"--tasks", c.task, "--limit", "1", "--max-tokens", "4",
                                         "--db", db, "-o", "json"}));
    ASSERT_EQ(r.code, 0) << c.task << ": " << r.err;
    const json j = json::parse(r.out);
    ASSERT_EQ(j["tasks"].size(), 1u) << c.task;
    const json& t = j["tasks"][0];
    EXPECT_EQ(t["task"], c.task);
    EXPECT_EQ(t["n_problems"], c.problems) << c.task;
    if (c.task == "math_ppl") {
      EXPECT_GT(t["perplexity"].get<double>(), 1.0);
    } else {
      EXPECT_EQ(t["n_samples"], c.problems) << c.task;
      EXPECT_TRUE(t.contains("accuracy")) << c.task;
      EXPECT_GT(t["n_tokens"].get<int64_t>(), 0) << c.task;
    }
  }
}

TEST(EvalCli, SameSeedSameCompletionsAndAResumedRunAsksForNothing) {
  const std::string a = TempPath("seed_a.db"), b = TempPath("seed_b.db");
  const std::vector<std::string> args =
      Join(TinyModelArgs(), {"--tasks", "sat", "--limit", "3", "--preset", "paper", "--k", "3",
                             "--max-tokens", "8", "--seed", "7"});
  ASSERT_EQ(RunLlemma(Join(args, {"--db", a})).code, 0);
  ASSERT_EQ(RunLlemma(Join(args, {"--db", b})).code, 0);
  auto sa = Store::Open(a, false), sb = Store::Open(b, false);
  ASSERT_TRUE(sa.ok() && sb.ok());
  auto xa = (*sa)->Samples("sat"), xb = (*sb)->Samples("sat");
  ASSERT_TRUE(xa.ok() && xb.ok());
  ASSERT_EQ(xa->size(), 9u);
  ASSERT_EQ(xb->size(), 9u);
  std::set<std::string> distinct;
  for (size_t i = 0; i < xa->size(); ++i) {
    EXPECT_EQ((*xa)[i].sample.text, (*xb)[i].sample.text);
    distinct.insert((*xa)[i].sample.text);
  }
  EXPECT_GT(distinct.size(), 1u);
  // Again on the same file: nothing new is generated.
  const CliResult again = RunLlemma(Join(args, {"--db", a, "-o", "json"}));
  ASSERT_EQ(again.code, 0) << again.err;
  auto xa2 = (*sa)->Samples("sat");
  ASSERT_TRUE(xa2.ok());
  ASSERT_EQ(xa2->size(), 9u);
  for (size_t i = 0; i < xa2->size(); ++i) EXPECT_EQ((*xa2)[i].rowid, (*xa)[i].rowid);
  // Another seed on the same file is refused with advice.
  const CliResult other =
      RunLlemma(Join(TinyModelArgs(), {"--tasks", "sat", "--limit", "3", "--preset", "paper", "--k",
                                       "3", "--max-tokens", "8", "--seed", "8", "--db", a}));
  EXPECT_EQ(other.code, 1);
  EXPECT_NE(other.err.find("seed=7"), std::string::npos) << other.err;
  EXPECT_NE(other.err.find("a new --db"), std::string::npos) << other.err;
}

TEST(EvalCli, AKilledRunResumesWithoutLosingDuplicatingOrRegeneratingSamples) {
  const std::string db = TempPath("kill.db"), ref = TempPath("kill_ref.db");
  constexpr int kProblems = 60, kK = 4;
  const std::vector<std::string> args =
      Join(TinyModelArgs(), {"--tasks", "gsm8k", "--limit", std::to_string(kProblems), "--preset",
                             "paper", "--k", std::to_string(kK), "--max-tokens", "48", "--parallel",
                             "4", "--samples-per-request", "2"});
  std::vector<std::string> argv = Join(args, {"--db", db});
  argv.insert(argv.begin(), kBinary);
  const pid_t pid = Spawn(argv, TempPath("kill.out"), TempPath("kill.err"));
  // Wait until some (not all) samples are stored, then kill without warning.
  size_t stored = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(db)) {
      auto st = Store::Open(db, false);
      if (st.ok()) {
        auto idx = (*st)->SampleIndices("gsm8k");
        if (idx.ok()) {
          stored = 0;
          for (const auto& [p, s] : *idx) stored += s.size();
        }
      }
    }
    if (stored >= 30) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";
  auto st = Store::Open(db, false);
  ASSERT_TRUE(st.ok());
  auto before = (*st)->Samples("gsm8k");
  ASSERT_TRUE(before.ok());
  ASSERT_GE(before->size(), 30u);
  ASSERT_LT(before->size(), static_cast<size_t>(kProblems * kK));
  for (const StoredSample& s : *before) EXPECT_EQ(s.session, 1);

  const CliResult resumed = RunLlemma(Join(args, {"--db", db, "-o", "json"}));
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  auto after = (*st)->Samples("gsm8k");
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), static_cast<size_t>(kProblems * kK));
  std::map<std::pair<std::string, int>, const StoredSample*> by_key;
  for (const StoredSample& s : *after) {
    EXPECT_TRUE(by_key.emplace(std::pair{s.problem_id, s.sample.index}, &s).second)
        << "duplicate " << s.problem_id << "/" << s.sample.index;
  }
  for (int p = 0; p < kProblems; ++p) {
    for (int j = 0; j < kK; ++j) {
      EXPECT_EQ(by_key.count({std::to_string(p), j}), 1u) << "missing " << p << "/" << j;
    }
  }
  // Samples finished before the kill were kept as they were, not generated again.
  for (const StoredSample& s : *before) {
    const StoredSample* now = by_key.at({s.problem_id, s.sample.index});
    EXPECT_EQ(now->rowid, s.rowid);
    EXPECT_EQ(now->session, 1);
    EXPECT_EQ(now->created, s.created);
    EXPECT_EQ(now->sample.text, s.sample.text);
  }
  size_t new_ones = 0;
  for (const StoredSample& s : *after) new_ones += s.session == 2;
  EXPECT_EQ(new_ones, after->size() - before->size());
  EXPECT_EQ(json::parse(resumed.out)["tasks"][0]["n_complete"], kProblems);

  // An uninterrupted run gives the same completions.
  ASSERT_EQ(RunLlemma(Join(args, {"--db", ref})).code, 0);
  auto rs = Store::Open(ref, false);
  ASSERT_TRUE(rs.ok());
  auto reference = (*rs)->Samples("gsm8k");
  ASSERT_TRUE(reference.ok());
  ASSERT_EQ(reference->size(), after->size());
  for (const StoredSample& s : *reference) {
    EXPECT_EQ(by_key.at({s.problem_id, s.sample.index})->sample.text, s.sample.text)
        << s.problem_id << "/" << s.sample.index;
  }
}

TEST(EvalCli, ShardsMergeIntoTheUnshardedResult) {
  const std::string full = TempPath("full.db"), s1 = TempPath("s1.db"), s2 = TempPath("s2.db"),
                    merged = TempPath("merged.db");
  const std::vector<std::string> args =
      Join(TinyModelArgs(), {"--tasks", "math", "--limit", "2", "--max-tokens", "6"});
  ASSERT_EQ(RunLlemma(Join(args, {"--db", full})).code, 0);
  ASSERT_EQ(RunLlemma(Join(args, {"--db", s1, "--shard", "1/2"})).code, 0);
  ASSERT_EQ(RunLlemma(Join(args, {"--db", s2, "--shard", "2/2"})).code, 0);
  const CliResult m = RunLlemma({"eval", "merge", "--out", merged, s1, s2});
  ASSERT_EQ(m.code, 0) << m.err;
  const CliResult a = RunLlemma({"eval", "report", full, "-o", "json"});
  const CliResult b = RunLlemma({"eval", "report", merged, "-o", "json"});
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  const json ja = json::parse(a.out)["tasks"][0], jb = json::parse(b.out)["tasks"][0];
  EXPECT_EQ(jb["n_problems"], 14);
  EXPECT_EQ(ja["n_samples"], jb["n_samples"]);
  EXPECT_EQ(ja["n_tokens"], jb["n_tokens"]);
  EXPECT_EQ(ja["maj1"], jb["maj1"]);
  EXPECT_EQ(ja["subjects"].size(), 7u);
  auto fa = Store::Open(full, false), fb = Store::Open(merged, false);
  ASSERT_TRUE(fa.ok() && fb.ok());
  auto xa = (*fa)->Samples("math"), xb = (*fb)->Samples("math");
  ASSERT_TRUE(xa.ok() && xb.ok());
  std::map<std::string, std::string> ta, tb;
  for (const StoredSample& s : *xa) ta[s.problem_id] = s.sample.text;
  for (const StoredSample& s : *xb) tb[s.problem_id] = s.sample.text;
  EXPECT_EQ(ta, tb);
  // Shards of a different run do not merge.
  const std::string other = TempPath("other.db");
  ASSERT_EQ(RunLlemma(Join(args, {"--db", other, "--seed", "5", "--shard", "1/2"})).code, 0);
  const CliResult bad = RunLlemma({"eval", "merge", "--out", TempPath("bad.db"), s1, other});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("seed"), std::string::npos) << bad.err;
}

TEST(EvalCli, ReportRendersMarkdownCsvAndTheHarnessChecker) {
  const std::string db = TempPath("report.db");
  ASSERT_EQ(RunLlemma(Join(TinyModelArgs(), {"--tasks", "gsm8k,sat", "--limit", "2", "--max-tokens",
                                             "4", "--db", db}))
                .code,
            0);
  const CliResult md = RunLlemma({"eval", "report", db});
  ASSERT_EQ(md.code, 0) << md.err;
  EXPECT_NE(md.out.find("| gsm8k | default | 2 | 1 |"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("36.4 / 54.0"), std::string::npos);  // LLEMMA 7B's GSM8k numbers
  const CliResult csv = RunLlemma({"eval", "report", db, "-o", "csv", "--compat", "llemma"});
  ASSERT_EQ(csv.code, 0) << csv.err;
  EXPECT_EQ(csv.out.rfind("task,subject,checker,", 0), 0u) << csv.out;
  EXPECT_NE(csv.out.find("\nsat,,llemma,2,2,2,1,"), std::string::npos) << csv.out;
  const CliResult missing = RunLlemma({"eval", "report", TempPath("nothing.db")});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("no such results file"), std::string::npos) << missing.err;
}

TEST(EvalCli, BadArgumentsGiveOneLineErrors) {
  const std::string db = TempPath("bad.db");
  struct Case {
    std::vector<std::string> extra;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {{"--tasks", "gsm9k", "--db", db}, "unknown task \"gsm9k\""},
           {{"--tasks", "gsm8k", "--db", db, "--preset", "fast"},
            "--preset must be greedy or paper"},
           {{"--tasks", "gsm8k", "--db", db, "--shard", "3/2"}, "--shard \"3/2\""},
           {{"--tasks", "gsm8k"}, "--db RUN.db is required"},
           {{"--tasks", "gsm8k", "--db", db, "--max-tokens", "256"}, "lower --max-tokens"},
       }) {
    const CliResult r = RunLlemma(Join(TinyModelArgs(), c.extra));
    EXPECT_EQ(r.code, 1) << c.want;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
  }
}

TEST(EvalCli, EveryTaskRunsThroughAnOpenAICompatibleServer) {
  START_SERVER(server, {"--model", "tiny"});
  const std::string db = TempPath("openai.db");
  const std::string names = "gsm8k,math,ocw,mmlu_stem,sat,math500,math_ppl";
  const std::vector<std::string> args = {
      "eval", "--model", server->url(),  "--tasks", names,  "--limit", "1",  "--preset", "paper",
      "--k",  "3",       "--max-tokens", "16",      "--db", db,        "-q", "-o",       "json"};
  const CliResult r = RunLlemma(args);
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["tasks"].size(), 7u);
  const std::map<std::string, int> problems = {{"gsm8k", 1},      {"math", 7}, {"ocw", 1},
                                               {"mmlu_stem", 18}, {"sat", 1},  {"math500", 7},
                                               {"math_ppl", 7}};
  for (const json& t : j["tasks"]) {
    const std::string name = t["task"];
    EXPECT_EQ(t["n_problems"], problems.at(name)) << name;
    EXPECT_EQ(t["model"], "openai " + server->url() + " model=tiny");
    if (name != "math_ppl") EXPECT_EQ(t["n_samples"], 3 * problems.at(name)) << name;
  }
  // The server saw every task's prompts byte for byte, with the paper's
  // settings and our per-problem seeds.
  std::map<std::string, json> sent;
  int scoring = 0;
  for (const json& body : server->Completions()) {
    if (body.value("echo", false)) {
      ++scoring;
      continue;
    }
    sent[body["prompt"].get<std::string>()] = body;
  }
  EXPECT_EQ(scoring, 7);
  auto tasks = MakeTasks(names, kData);
  ASSERT_TRUE(tasks.ok());
  size_t expected = 0;
  for (const auto& task : *tasks) {
    if (task->spec().perplexity) continue;
    auto all = task->Load();
    ASSERT_TRUE(all.ok());
    for (const Problem& p : SelectProblems(*all, 1, 0, 1)) {
      ++expected;
      ASSERT_EQ(sent.count(p.prompt), 1u) << task->spec().name << " " << p.id;
      const json& body = sent[p.prompt];
      EXPECT_EQ(body["n"], 3);
      EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), task->spec().paper.temperature);
      EXPECT_DOUBLE_EQ(body["top_p"].get<double>(), 0.95);
      EXPECT_EQ(body["max_tokens"], 16);
      EXPECT_EQ(body["stop"], json(task->spec().stop));
      EXPECT_EQ(body["seed"].get<uint64_t>(), ProblemSeed(1234, task->spec().name, p.id));
    }
  }
  EXPECT_EQ(sent.size(), expected);
  // Resuming asks the server for nothing more.
  const size_t posts = server->Completions().size();
  ASSERT_EQ(RunLlemma(args).code, 0);
  EXPECT_EQ(server->Completions().size(), posts);
}

#ifdef LLEMMA_HAVE_AGENT
// Scripted completions: for each matched prompt, the k samples in turn.
std::string WriteReplies(const json& replies) {
  const std::string path = TempPath("replies.json");
  std::ofstream(path) << replies.dump();
  return path;
}

TEST(EvalCli, ToolUseTasksRunTheirProgramsThroughAnOpenAICompatibleServer) {
  using agent::SharedTestSandbox;
  NEED_SANDBOX();  // the llemma process starts its own; this one says whether it can
  const std::string pal = "\n\n\ndef solution():\n";
  const std::string sympy_tail =
      "\n```\nThe imports required for this program are\n```\nfrom sympy import *\n```\n"
      "I hope my solution is correct.\n\nProblem:\nnext";
  const json replies = json::array({
      // GSM8k 0 (18): 9, then 18 with float noise, then 18; the stop "Q:" cuts the next shot.
      {{"match", "ducks lay 16 eggs per day"},
       {"replies",
        {pal + "    return 16 - 3 - 4\n\n\n\n\nQ: next", pal + "    return (0.1 + 0.2) * 60\n",
         pal + "    eggs = 16 - 3 - 4\n    return eggs * 2\n\n\n\n\nQ: next"}}},
      // GSM8k 1 (3): raises, 3.0, 3.
      {{"match", "A robe takes 2 bolts"},
       {"replies",
        {pal + "    raise ValueError('bolts')\n", pal + "    return 2 + 2 / 2\n",
         pal + "    return 2 + 1\n"}}},
      // MATH algebra 0 (2): a one-element solve() list, 3, a failed program.
      {{"match", "How many vertical asymptotes does the graph of $y=\\frac{2}{x^2+x-6}$"},
       {"replies",
        {"\nx = symbols('x')\nanswer = solve(Eq(x - 2, 0), x)" + sympy_tail,
         "\nanswer = 3" + sympy_tail, "\nanswer = n_value" + sympy_tail}}},
  });
  START_SERVER(server, {"--model", "tiny", "--replies", WriteReplies(replies)}, kScriptedServer);
  const std::string db = TempPath("tools.db");
  const CliResult r =
      RunLlemma({"eval", "--model", server->url(), "--tasks", "gsm8k_python,math_python:algebra",
                 "--limit", "2", "--preset", "paper", "--k", "3", "--temperature", "0.6", "--db",
                 db, "-q", "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["tasks"].size(), 2u);
  const json& gsm = j["tasks"][0];
  const json& mth = j["tasks"][1];
  EXPECT_EQ(gsm["task"], "gsm8k_python");
  EXPECT_EQ(gsm["n_problems"], 2);
  EXPECT_EQ(gsm["n_samples"], 6);
  EXPECT_DOUBLE_EQ(gsm["accuracy"].get<double>(), 100.0) << gsm.dump();
  EXPECT_DOUBLE_EQ(gsm["maj1"].get<double>(), 0.0);  // sample 0: 9, and a raise
  EXPECT_NEAR(gsm["invalid_rate"].get<double>(), 100.0 / 6, 1e-9);
  EXPECT_EQ(mth["task"], "math_python:algebra");
  EXPECT_EQ(mth["n_samples"], 6);
  // Problem 0 right (the list read as its element), problem 1 unscripted (no program).
  EXPECT_DOUBLE_EQ(mth["accuracy"].get<double>(), 50.0) << mth.dump();
  EXPECT_DOUBLE_EQ(mth["maj1"].get<double>(), 50.0);
  // What went over the wire: the tasks' stop strings and prompts; stops cut the samples.
  for (const json& body : server->Completions()) {
    const std::string prompt = body["prompt"];
    const bool is_gsm = prompt.find("# solution in Python:") != std::string::npos;
    EXPECT_EQ(body["stop"], is_gsm ? json({"Q:"}) : json({"I hope my solution is correct."}));
    EXPECT_EQ(body["n"], 3);
  }
  auto store = Store::Open(db, false);
  ASSERT_TRUE(store.ok());
  auto samples = (*store)->Samples("gsm8k_python");
  ASSERT_TRUE(samples.ok());
  ASSERT_EQ(samples->size(), 6u);
  for (const StoredSample& s : *samples) EXPECT_EQ(s.sample.text.find("Q:"), std::string::npos);
  // The harness' rules on the same samples: 18.000000000000004 is not 18, so 9 wins problem 0;
  // the solve() list is never equal.
  const CliResult compat = RunLlemma({"eval", "report", db, "--compat", "llemma", "-o", "json"});
  ASSERT_EQ(compat.code, 0) << compat.err;
  const json c = json::parse(compat.out);
  EXPECT_EQ(c["tasks"][0]["checker"], "llemma");
  EXPECT_DOUBLE_EQ(c["tasks"][0]["accuracy"].get<double>(), 50.0) << c.dump();
  EXPECT_DOUBLE_EQ(c["tasks"][1]["accuracy"].get<double>(), 0.0) << c.dump();
}

TEST(EvalCli, ToolsPythonRunsTheModelsProgramsInTheLoopThroughAServer) {
  using agent::SharedTestSandbox;
  NEED_SANDBOX();  // the llemma process starts its own; this one says whether it can
  const std::string problem =
      "How many vertical asymptotes does the graph of $y=\\frac{2}{x^2+x-6}$";
  // The three steps of the loop in turn: prose up to the fence, the code, the rest.
  const json replies = json::array(
      {{{"match", problem},
        {"replies",
         {"The zeros of the denominator:\n```python\n",
          "\nprint('zeros:', len([2, -3]))\n```\nnot reached",
          "So there are $\\boxed{2}$ vertical asymptotes.\nFinal Answer: The final answer is $2$. "
          "I hope it is correct.\n\nProblem:\nnext"}}}});
  START_SERVER(server, {"--model", "tiny", "--replies", WriteReplies(replies)}, kScriptedServer);
  const std::string db = TempPath("tools_loop.db");
  const std::vector<std::string> args = {
      "eval",    "--model", server->url(), "--tasks", "math:algebra", "--limit", "1",
      "--tools", "python",  "--db",        db,        "-q",           "-o",      "json"};
  const CliResult r = RunLlemma(args);
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["tasks"].size(), 1u);
  EXPECT_EQ(j["tasks"][0]["tools"], "python rounds=4");
  EXPECT_EQ(j["tasks"][0]["n_samples"], 1);
  EXPECT_DOUBLE_EQ(j["tasks"][0]["accuracy"].get<double>(), 100.0) << j.dump();
  // The program ran: its output is in the stored completion, between the model's steps.
  auto store = Store::Open(db, false);
  ASSERT_TRUE(store.ok());
  auto samples = (*store)->Samples("math:algebra");
  ASSERT_TRUE(samples.ok());
  ASSERT_EQ(samples->size(), 1u);
  EXPECT_EQ((*samples)[0].sample.text,
            "The zeros of the denominator:\n```python\nprint('zeros:', len([2, -3]))\n```\n"
            "```output\nzeros: 2\n```\nSo there are $\\boxed{2}$ vertical asymptotes.\n"
            "Final Answer: The final answer is $2$. ");
  // Over the wire: one request per step, each continuing the transcript.
  const std::vector<json> posts = server->Posts(problem);
  ASSERT_EQ(posts.size(), 3u);
  EXPECT_EQ(posts[0]["body"]["stop"], json({"I hope it is correct.", "```python"}));
  EXPECT_TRUE(posts[1]["body"]["prompt"].get<std::string>().ends_with(
      "The zeros of the denominator:\n```python"));
  EXPECT_EQ(posts[1]["body"]["stop"], json({"I hope it is correct.", "```"}));
  EXPECT_NE(posts[2]["body"]["prompt"].get<std::string>().find("```output\nzeros: 2\n```\n"),
            std::string::npos);
  // The tool setting is part of the run: the same file without --tools is refused.
  std::vector<std::string> plain = args;
  plain.erase(plain.begin() + 7, plain.begin() + 9);
  const CliResult again = RunLlemma(plain);
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.err.find("--tools python rounds=4"), std::string::npos) << again.err;
  // Tasks that are not generated, or already run programs, refuse it.
  const CliResult ppl = RunLlemma({"eval", "--model", server->url(), "--tasks", "math_ppl",
                                   "--tools", "python", "--db", TempPath("ppl.db")});
  EXPECT_NE(ppl.code, 0);
  EXPECT_NE(ppl.err.find("log-likelihood"), std::string::npos) << ppl.err;
  const CliResult help = RunLlemma({"eval", "--help"});
  EXPECT_NE(help.out.find("--tool-rounds"), std::string::npos);
}

TEST(EvalCli, ToolsPythonWithoutBubblewrapStopsUnlessUnsafe) {
  const std::string problem =
      "How many vertical asymptotes does the graph of $y=\\frac{2}{x^2+x-6}$";
  const json replies = json::array(
      {{{"match", problem},
        {"replies", {"Count them:\n```python", "\nprint(7 * 6)\n```", "So $\\boxed{2}$."}}}});
  START_SERVER(server, {"--model", "tiny", "--replies", WriteReplies(replies)}, kScriptedServer);
  // No bwrap on PATH (python3 is run by its full path).
  const char* old_path = std::getenv("PATH");
  const std::string saved = old_path ? old_path : "";
  ::setenv("PATH", "/nonexistent-llemma-test-dir", 1);
  const std::vector<std::string> args = {"eval",         "--model", server->url(), "--tasks",
                                         "math:algebra", "--limit", "1",           "--tools",
                                         "python",       "-q",      "-o",          "json"};
  const std::string db = TempPath("unsafe.db");
  const CliResult refused = RunLlemma(Join(args, {"--db", TempPath("nobwrap.db")}));
  const CliResult unsafe = RunLlemma(Join(args, {"--db", db, "--unsafe-no-sandbox"}));
  ::setenv("PATH", saved.c_str(), 1);
  EXPECT_NE(refused.code, 0);
  EXPECT_NE(refused.err.find("--tools python"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--unsafe-no-sandbox"), std::string::npos) << refused.err;
  ASSERT_EQ(unsafe.code, 0) << unsafe.err;
  EXPECT_DOUBLE_EQ(json::parse(unsafe.out)["tasks"][0]["accuracy"].get<double>(), 100.0);
  auto store = Store::Open(db, false);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto samples = (*store)->Samples("math:algebra");
  ASSERT_TRUE(samples.ok() && samples->size() == 1u);
  EXPECT_NE((*samples)[0].sample.text.find("```output\n42\n```"), std::string::npos)
      << (*samples)[0].sample.text;
}

TEST(EvalCli, ToolsPythonOnTheBuiltInEngineKeepsSamplesThatWriteNoProgram) {
  using agent::SharedTestSandbox;
  NEED_SANDBOX();
  // The tiny model writes no ```python block: each sample is one step, drawn with the
  // seed it has without tools, so the completions are the same.
  const std::string plain = TempPath("engine_plain.db"), tools = TempPath("engine_tools.db");
  const std::vector<std::string> args =
      Join(TinyModelArgs(), {"--tasks", "sat", "--limit", "2", "--preset", "paper", "--k", "3",
                             "--max-tokens", "8", "--seed", "7"});
  ASSERT_EQ(RunLlemma(Join(args, {"--db", plain})).code, 0);
  const CliResult r = RunLlemma(Join(args, {"--db", tools, "--tools", "python", "-o", "json"}));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["tasks"][0]["tools"], "python rounds=4");
  auto sp = Store::Open(plain, false), st = Store::Open(tools, false);
  ASSERT_TRUE(sp.ok() && st.ok());
  auto xp = (*sp)->Samples("sat"), xt = (*st)->Samples("sat");
  ASSERT_TRUE(xp.ok() && xt.ok());
  ASSERT_EQ(xt->size(), 6u);
  ASSERT_EQ(xp->size(), xt->size());
  for (size_t i = 0; i < xp->size(); ++i) {
    EXPECT_EQ((*xt)[i].sample.text, (*xp)[i].sample.text) << i;
    EXPECT_EQ((*xt)[i].sample.n_tokens, (*xp)[i].sample.n_tokens) << i;
    EXPECT_LE((*xt)[i].sample.n_tokens, 8);
  }
}
#endif

}  // namespace
}  // namespace llemma::eval
