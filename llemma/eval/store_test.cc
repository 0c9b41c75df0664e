#include "llemma/eval/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

namespace llemma::eval {
namespace {

std::string TempDb(const std::string& name) {
  const std::string p = ::testing::TempDir() + "/store_test_" + name + ".db";
  std::filesystem::remove(p);
  std::filesystem::remove(p + "-wal");
  std::filesystem::remove(p + "-shm");
  return p;
}

RunSettings Gsm8k(int k) {
  RunSettings s;
  s.task = "gsm8k";
  s.model = "test model";
  s.preset = "custom";
  s.k = k;
  s.seed = 1234;
  s.prompt_sha256 = Sha256Hex("prompt");
  return s;
}

TEST(StoreTest, Sha256KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(StoreTest, RoundTripAndReopen) {
  const std::string db = TempDb("roundtrip");
  {
    auto st = Store::Open(db);
    ASSERT_TRUE(st.ok()) << st.status().message();
    ASSERT_TRUE((*st)->BeginTask(Gsm8k(2)).ok());
    StoredProblem p{"7", "", "#### 3"};
    ASSERT_TRUE((*st)->AddProblems("gsm8k", {&p, 1}).ok());
    std::vector<GenSample> s = {{0, "a", "stop", 10, 3, 0.5}, {1, "b", "length", 10, 4, 0.5}};
    ASSERT_TRUE((*st)->AddSamples("gsm8k", "7", s, 1.0).ok());
    // An identical repeat is ignored; a conflicting one is an error.
    EXPECT_TRUE((*st)->AddSamples("gsm8k", "7", {&s[0], 1}).ok());
    GenSample other{0, "different", "stop", 10, 3, 0.5};
    EXPECT_FALSE((*st)->AddSamples("gsm8k", "7", {&other, 1}).ok());
  }
  auto st = Store::Open(db, /*create=*/false);
  ASSERT_TRUE(st.ok());
  auto samples = (*st)->Samples("gsm8k");
  ASSERT_TRUE(samples.ok());
  ASSERT_EQ(samples->size(), 2u);
  EXPECT_EQ((*samples)[1].sample.text, "b");
  EXPECT_EQ((*samples)[1].sample.finish_reason, "length");
  EXPECT_EQ((*samples)[1].sample.n_tokens, 4);
  auto tasks = (*st)->Tasks();
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->size(), 1u);
  EXPECT_EQ((*tasks)[0].seed, 1234u);
  EXPECT_DOUBLE_EQ((*tasks)[0].wall_seconds, 1.0);
  EXPECT_TRUE((*st)->BeginTask(Gsm8k(2)).ok());
  Status s = (*st)->BeginTask(Gsm8k(1));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find("holds gsm8k with k=2"), std::string::npos)
      << s.message();
}

TEST(StoreTest, MergeUnitesShards) {
  const std::string a = TempDb("merge_a"), b = TempDb("merge_b"), out = TempDb("merge_out");
  for (const auto& [path, id] : {std::pair{a, std::string("1")}, std::pair{b, std::string("2")}}) {
    auto st = Store::Open(path);
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE((*st)->BeginTask(Gsm8k(1)).ok());
    if (id == "2") {  // shard b was resumed: its samples come from two sessions
      ASSERT_TRUE((*st)->BeginSession("run b").ok());
      GenSample g{0, "text 3", "stop", 1, 1, 0.1};
      ASSERT_TRUE((*st)->AddSamples("gsm8k", "3", {&g, 1}).ok());
    }
    ASSERT_TRUE((*st)->BeginSession("run " + id).ok());
    GenSample g{0, "text " + id, "stop", 1, 1, 0.1};
    ASSERT_TRUE((*st)->AddSamples("gsm8k", id, {&g, 1}).ok());
  }
  ASSERT_TRUE(Store::Merge(out, {a, b}).ok());
  auto st = Store::Open(out, false);
  ASSERT_TRUE(st.ok());
  auto samples = (*st)->Samples("gsm8k");
  ASSERT_TRUE(samples.ok());
  ASSERT_EQ(samples->size(), 3u);
  // The inputs' sessions are kept (renumbered), and each sample still names
  // the session, hence the command line, that generated it.
  auto sessions = (*st)->Sessions();
  ASSERT_TRUE(sessions.ok());
  ASSERT_EQ(sessions->size(), 3u);
  std::map<int64_t, std::string> command;
  for (const StoredSession& ss : *sessions) command[ss.id] = ss.command;
  std::set<int64_t> ids;
  for (const StoredSample& s : *samples) {
    ids.insert(s.session);
    const std::string want = s.problem_id == "3" ? "run b" : "run " + s.problem_id;
    EXPECT_EQ(command[s.session], want) << s.problem_id;
  }
  EXPECT_EQ(ids.size(), 3u);
  // Different settings cannot be merged.
  const std::string c = TempDb("merge_c");
  {
    auto sc = Store::Open(c);
    ASSERT_TRUE(sc.ok());
    ASSERT_TRUE((*sc)->BeginTask(Gsm8k(4)).ok());
  }
  EXPECT_FALSE(Store::Merge(out, {c}).ok());
}

TEST(StoreTest, SessionsVerdictsAndProblemOrder) {
  const std::string db = TempDb("sessions");
  auto st = Store::Open(db);
  ASSERT_TRUE(st.ok());
  auto first = (*st)->BeginSession("first");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, 1);
  ASSERT_TRUE((*st)->BeginTask(Gsm8k(2)).ok());
  // Stored in this order: "10" before "9" (not the string order).
  std::vector<StoredProblem> ps = {{"10", "", "#### 1"}, {"9", "", "#### 2"}};
  ASSERT_TRUE((*st)->AddProblems("gsm8k", ps).ok());
  GenSample a{1, "nine b", "stop", 1, 1, 0.1}, b{0, "nine a", "stop", 1, 1, 0.1};
  ASSERT_TRUE((*st)->AddSamples("gsm8k", "9", {&a, 1}).ok());
  auto second = (*st)->BeginSession("second");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, 2);
  GenSample c{0, "ten", "stop", 1, 1, 0.1};
  ASSERT_TRUE((*st)->AddSamples("gsm8k", "9", {&b, 1}).ok());
  ASSERT_TRUE((*st)->AddSamples("gsm8k", "10", {&c, 1}).ok());
  auto all = (*st)->Samples("gsm8k");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].problem_id, "10");
  EXPECT_EQ((*all)[1].sample.text, "nine a");
  EXPECT_EQ((*all)[1].session, 2);
  EXPECT_EQ((*all)[2].session, 1);
  auto nine = (*st)->Samples("gsm8k", "9");
  ASSERT_TRUE(nine.ok());
  ASSERT_EQ(nine->size(), 2u);
  EXPECT_EQ((*nine)[0].sample.index, 0);

  ProblemVerdict v;
  v.problem_id = "9";
  v.n_samples = 2;
  v.elected = "2";
  v.acc = true;
  v.pass_rate = 0.5;
  v.valid = 1;
  v.samples = {{0, std::nullopt, false}, {1, "2", true}};
  ASSERT_TRUE((*st)->PutVerdicts("gsm8k", "default", {&v, 1}).ok());
  v.acc = false;  // replaced, not added
  v.samples[1].correct = false;
  ASSERT_TRUE((*st)->PutVerdicts("gsm8k", "default", {&v, 1}).ok());
  auto got = (*st)->Verdicts("gsm8k", "default");
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  const ProblemVerdict& g = got->at("9");
  EXPECT_FALSE(g.acc);
  EXPECT_EQ(g.elected, "2");
  EXPECT_DOUBLE_EQ(g.pass_rate, 0.5);
  ASSERT_EQ(g.samples.size(), 2u);
  EXPECT_FALSE(g.samples[0].answer.has_value());
  EXPECT_EQ(g.samples[1].answer, "2");
  EXPECT_FALSE(g.samples[1].correct);
  auto other = (*st)->Verdicts("gsm8k", "llemma");
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->empty());
}

TEST(StoreTest, FieldsAreSettingsButTheCheckerIsNot) {
  const std::string db = TempDb("fields");
  auto st = Store::Open(db);
  ASSERT_TRUE(st.ok());
  RunSettings s = Gsm8k(1);
  s.fields = "question=q";
  s.checker = "default";
  ASSERT_TRUE((*st)->BeginTask(s).ok());
  s.checker = "llemma";
  ASSERT_TRUE((*st)->BeginTask(s).ok());
  auto t = (*st)->Task("gsm8k");
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ((*t)->checker, "llemma");
  EXPECT_EQ((*t)->fields, "question=q");
  s.fields = "question=text";
  const Status bad = (*st)->BeginTask(s);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("--fields 'question=q'"), std::string::npos) << bad.message();
}

TEST(StoreTest, TheToolSettingIsCheckedStoredAndMerged) {
  const std::string a = TempDb("tools_a"), b = TempDb("tools_b"), out = TempDb("tools_out");
  RunSettings s = Gsm8k(1);
  s.tools = "python rounds=4";
  {
    auto st = Store::Open(a);
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE((*st)->BeginTask(s).ok());
    auto t = (*st)->Task("gsm8k");
    ASSERT_TRUE(t.ok() && t->has_value());
    EXPECT_EQ((*t)->tools, "python rounds=4");
    RunSettings plain = Gsm8k(1);
    const Status bad = (*st)->BeginTask(plain);
    EXPECT_EQ(bad.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(bad.message().find("--tools python rounds=4 (this run has no --tools)"),
              std::string::npos)
        << bad.message();
  }
  {
    auto st = Store::Open(b);
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE((*st)->BeginTask(Gsm8k(1)).ok());
  }
  const Status m = Store::Merge(out, {a, b});
  EXPECT_FALSE(m.ok());
  EXPECT_NE(m.message().find("--tools"), std::string::npos) << m.message();
}

TEST(StoreTest, AFileFromBeforeToolsOpensWithNoToolSetting) {
  const std::string db = TempDb("old_schema");
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    const char* old =
        "CREATE TABLE runs (task TEXT PRIMARY KEY, model TEXT NOT NULL, preset TEXT NOT NULL, "
        "k INTEGER NOT NULL, temperature REAL NOT NULL, top_p REAL NOT NULL, max_tokens INTEGER "
        "NOT NULL, seed TEXT NOT NULL, prompt_sha256 TEXT NOT NULL, fields TEXT NOT NULL, checker "
        "TEXT NOT NULL, created TEXT NOT NULL, wall_seconds REAL NOT NULL DEFAULT 0);"
        "INSERT INTO runs VALUES ('gsm8k', 'test model', 'custom', 1, 0, 1, 1024, '1234', 'x', "
        "'', 'default', '2026-01-01T00:00:00Z', 2.5);";
    ASSERT_EQ(sqlite3_exec(h, old, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
    sqlite3_close(h);
  }
  auto st = Store::Open(db);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  auto t = (*st)->Task("gsm8k");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_TRUE(t->has_value());
  EXPECT_EQ((*t)->tools, "");
  EXPECT_DOUBLE_EQ((*t)->wall_seconds, 2.5);
  RunSettings s = Gsm8k(1);
  s.prompt_sha256 = "x";
  EXPECT_TRUE((*st)->BeginTask(s).ok());
  s.tools = "python rounds=4";
  EXPECT_FALSE((*st)->BeginTask(s).ok());
}

TEST(StoreTest, ANonDatabaseFileIsAClearError) {
  const std::string path = TempDb("notadb");
  {
    std::ofstream f(path);
    f << "this is not a database, just some text that is long enough to have a header\n";
  }
  auto st = Store::Open(path);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find(path), std::string::npos);
  EXPECT_NE(st.status().message().find("not a results file"), std::string::npos)
      << st.status().message();
}

}  // namespace
}  // namespace llemma::eval
