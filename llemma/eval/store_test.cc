#include "llemma/eval/store.h"

#include <gtest/gtest.h>

#include <filesystem>
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
    GenSample g{0, "text " + id, "stop", 1, 1, 0.1};
    ASSERT_TRUE((*st)->AddSamples("gsm8k", id, {&g, 1}).ok());
  }
  ASSERT_TRUE(Store::Merge(out, {a, b}).ok());
  auto st = Store::Open(out, false);
  ASSERT_TRUE(st.ok());
  auto samples = (*st)->Samples("gsm8k");
  ASSERT_TRUE(samples.ok());
  EXPECT_EQ(samples->size(), 2u);
  // Different settings cannot be merged.
  const std::string c = TempDb("merge_c");
  {
    auto sc = Store::Open(c);
    ASSERT_TRUE(sc.ok());
    ASSERT_TRUE((*sc)->BeginTask(Gsm8k(4)).ok());
  }
  EXPECT_FALSE(Store::Merge(out, {c}).ok());
}

}  // namespace
}  // namespace llemma::eval
