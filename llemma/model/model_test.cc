// The forward pass against the independent float64 PyTorch reference
// (scripts/reference_llama.py), on the random checkpoints in
// tests/testdata/models written by scripts/make_model_fixtures.py.
#include "llemma/model/model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "llemma/model/context.h"
#include "llemma/model/safetensors.h"

namespace llemma {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> FixtureDirs() {
  std::vector<std::string> dirs;
  const fs::path root = fs::path(LLEMMA_TESTDATA_DIR) / "models";
  if (!fs::exists(root)) return dirs;
  for (const auto& e : fs::directory_iterator(root)) {
    if (fs::exists(e.path() / "expected.json")) dirs.push_back(e.path().string());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

struct Expected {
  std::vector<std::vector<int32_t>> prompts;
  SafetensorsFile logits;
};

Expected LoadExpected(const std::string& dir) {
  Expected e;
  std::ifstream in(dir + "/expected.json");
  nlohmann::json j = nlohmann::json::parse(in);
  for (const auto& p : j["prompts"]) e.prompts.push_back(p.get<std::vector<int32_t>>());
  auto f = SafetensorsFile::Open(dir + "/expected.safetensors");
  LLEMMA_CHECK(f.ok()) << f.status().ToString();
  e.logits = std::move(f).value();
  return e;
}

// max |got - want| / max |want| over a row block.
double RelError(std::span<const float> got, const float* want, size_t n) {
  double max_abs = 0, max_err = 0;
  for (size_t i = 0; i < n; ++i) {
    max_abs = std::max(max_abs, std::fabs(static_cast<double>(want[i])));
    max_err = std::max(max_err, std::fabs(static_cast<double>(got[i]) - want[i]));
  }
  return max_err / max_abs;
}

class ModelFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelFixtureTest, LogitsMatchFloat64ReferenceWithF32Compute) {
  const std::string dir = GetParam();
  auto model = Model::Load(dir, {.dtype = DType::kF32, .n_threads = 2});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  Expected e = LoadExpected(dir);
  const int64_t V = (*model)->config().n_vocab;
  for (size_t p = 0; p < e.prompts.size(); ++p) {
    auto ctx = Context::Create(**model, {.n_ctx = 64, .n_threads = 2, .kv_type = DType::kF32});
    ASSERT_TRUE(ctx.ok());
    auto logits = (*ctx)->Eval(e.prompts[p], /*all_logits=*/true);
    ASSERT_TRUE(logits.ok()) << logits.status().ToString();
    const SafetensorsTensor* want = e.logits.Find("logits." + std::to_string(p));
    ASSERT_NE(want, nullptr);
    ASSERT_EQ(want->shape, (std::vector<int64_t>{static_cast<int64_t>(e.prompts[p].size()), V}));
    const float* w = reinterpret_cast<const float*>(e.logits.Data(*want));
    for (size_t t = 0; t < e.prompts[p].size(); ++t) {
      EXPECT_LE(RelError(logits->subspan(t * V, V), w + t * V, V), 1e-4)
          << dir << " prompt " << p << " position " << t;
    }
  }
}

TEST_P(ModelFixtureTest, IncrementalDecodeEqualsFullSequenceForwardAtEveryPosition) {
  const std::string dir = GetParam();
  auto model = Model::Load(dir, {.dtype = DType::kF32, .n_threads = 2});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  Expected e = LoadExpected(dir);
  const std::vector<int32_t>& prompt = e.prompts.back();
  const int64_t V = (*model)->config().n_vocab;
  // Small prefill chunks also exercise chunked prompt processing.
  // A float cache: an F16 one rounds keys that the two paths compute a
  // rounding apart to different halves (F16KvCache… covers that cache).
  auto full = Context::Create(**model, {.n_ctx = 64, .n_threads = 3, .n_batch = 5, .kv_type = DType::kF32});
  ASSERT_TRUE(full.ok());
  auto all = (*full)->Eval(prompt, true);
  ASSERT_TRUE(all.ok());
  std::vector<float> reference(all->begin(), all->end());
  auto inc = Context::Create(**model, {.n_ctx = 64, .n_threads = 1, .kv_type = DType::kF32});
  ASSERT_TRUE(inc.ok());
  for (size_t t = 0; t < prompt.size(); ++t) {
    auto one = (*inc)->Eval(std::span<const int32_t>(&prompt[t], 1));
    ASSERT_TRUE(one.ok());
    EXPECT_LE(RelError(*one, reference.data() + t * V, V), 1e-5) << dir << " position " << t;
  }
  // Rewinding and re-running the tail reproduces the same logits.
  (*inc)->Rewind(prompt.size() / 2);
  auto tail = (*inc)->Eval(std::span<const int32_t>(prompt).subspan(prompt.size() / 2));
  ASSERT_TRUE(tail.ok());
  EXPECT_LE(RelError(*tail, reference.data() + (prompt.size() - 1) * V, V), 1e-5);
}

// The default F16 KV cache: logits stay within F16's rounding of the
// float64 reference at every position, differ from a float cache's (the
// values really are rounded), and incremental decoding matches the
// full-sequence pass as closely; other cache types are refused.
TEST_P(ModelFixtureTest, F16KvCacheStaysCloseToReferenceAndIncrementalDecode) {
  const std::string dir = GetParam();
  auto model = Model::Load(dir, {.dtype = DType::kF32, .n_threads = 2});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  Expected e = LoadExpected(dir);
  const int64_t V = (*model)->config().n_vocab;
  const std::vector<int32_t>& prompt = e.prompts.back();
  auto half = Context::Create(**model, {.n_ctx = 64, .n_threads = 2});
  auto exact = Context::Create(**model, {.n_ctx = 64, .n_threads = 2, .kv_type = DType::kF32});
  ASSERT_TRUE(half.ok() && exact.ok());
  EXPECT_EQ((*half)->kv_type(), DType::kF16);
  auto h = (*half)->Eval(prompt, true);
  auto x = (*exact)->Eval(prompt, true);
  ASSERT_TRUE(h.ok() && x.ok());
  const std::vector<float> got(h->begin(), h->end());
  const SafetensorsTensor* want = e.logits.Find("logits." + std::to_string(e.prompts.size() - 1));
  ASSERT_NE(want, nullptr);
  const float* w = reinterpret_cast<const float*>(e.logits.Data(*want));
  double worst = 0;
  for (size_t t = 0; t < prompt.size(); ++t) {
    const double err = RelError(std::span<const float>(got).subspan(t * V, V), w + t * V, V);
    worst = std::max(worst, err);
    EXPECT_LE(err, 2e-3) << dir << " position " << t;
  }
  EXPECT_GT(worst, 0.0);
  EXPECT_NE(got, std::vector<float>(x->begin(), x->end()));
  auto inc = Context::Create(**model, {.n_ctx = 64, .n_threads = 1});
  ASSERT_TRUE(inc.ok());
  for (size_t t = 0; t < prompt.size(); ++t) {
    auto one = (*inc)->Eval(std::span<const int32_t>(&prompt[t], 1));
    ASSERT_TRUE(one.ok());
    EXPECT_LE(RelError(*one, got.data() + t * V, V), 2e-3) << dir << " position " << t;
  }
  auto bad = Context::Create(**model, {.n_ctx = 64, .kv_type = DType::kQ8_0});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("KV cache type must be f16 or f32"), std::string::npos)
      << bad.status().ToString();
}

TEST_P(ModelFixtureTest, HalfPrecisionComputeStaysCloseToReference) {
  const std::string dir = GetParam();
  Expected e = LoadExpected(dir);
  for (DType dtype : {DType::kBF16, DType::kF16}) {
    auto model = Model::Load(dir, {.dtype = dtype, .n_threads = 2});
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    const int64_t V = (*model)->config().n_vocab;
    auto ctx = Context::Create(**model, {.n_ctx = 64, .n_threads = 2});
    ASSERT_TRUE(ctx.ok());
    const auto& prompt = e.prompts.back();
    auto logits = (*ctx)->Eval(prompt, true);
    ASSERT_TRUE(logits.ok());
    const float* w = reinterpret_cast<const float*>(e.logits.Data(*e.logits.Find(
        "logits." + std::to_string(e.prompts.size() - 1))));
    // Weights rounded to 8 (bf16) or 11 (f16) mantissa bits: a few percent at most.
    for (size_t t = 0; t < prompt.size(); ++t) {
      EXPECT_LE(RelError(logits->subspan(t * V, V), w + t * V, V), dtype == DType::kBF16 ? 5e-2 : 5e-3)
          << dir << " " << DTypeName(dtype) << " position " << t;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelFixtureTest, ::testing::ValuesIn(FixtureDirs()),
                         [](const auto& info) {
                           std::string n = fs::path(info.param).filename().string();
                           for (char& ch : n) if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ModelFixtureTest);

TEST(Model, FixturesArePresent) {
  // The reference fixtures are committed; their absence means a broken checkout.
  EXPECT_GE(FixtureDirs().size(), 4u);
}

}  // namespace
}  // namespace llemma
