// Greedy decoding and perplexity against the float64 PyTorch reference.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "llemma/generate/generator.h"
#include "llemma/generate/perplexity.h"
#include "llemma/model/context.h"
#include "llemma/tokenizer/tokenizer.h"
#include "tests/test_util.h"

namespace llemma::testing {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Fixtures() {
  std::vector<std::string> names;
  const fs::path root = fs::path(LLEMMA_TESTDATA_DIR) / "models";
  if (fs::exists(root)) {
    for (const auto& e : fs::directory_iterator(root)) {
      if (fs::exists(e.path() / "expected.json")) names.push_back(e.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

nlohmann::json Expected(const std::string& name) {
  std::ifstream in(FixtureDir(name) + "/expected.json");
  return nlohmann::json::parse(in);
}

class ReferenceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceTest, GreedyContinuationsMatchTokenForToken) {
  const std::string dir = FixtureDir(GetParam());
  const nlohmann::json e = Expected(GetParam());
  auto tok = Tokenizer::Load(dir + "/tokenizer.model");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  auto model = Model::Load(dir, {.dtype = DType::kF32, .n_threads = 2});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto ctx = Context::Create(**model, {.n_ctx = 128, .n_threads = 2});
  ASSERT_TRUE(ctx.ok());
  for (size_t p = 0; p < e["prompts"].size(); ++p) {
    const auto prompt = e["prompts"][p].get<std::vector<int32_t>>();
    const auto want = e["greedy"][p].get<std::vector<int32_t>>();
    GenerateOptions opts;
    opts.max_new_tokens = static_cast<int64_t>(want.size());
    opts.stop_at_eos = false;
    auto r = Generate(**ctx, **tok, prompt, opts);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->tokens, want) << GetParam() << " prompt " << p;
    EXPECT_EQ(r->finish, FinishReason::kLength);
  }
}

TEST_P(ReferenceTest, SlidingWindowPerplexityMatchesReference) {
  const std::string dir = FixtureDir(GetParam());
  const nlohmann::json e = Expected(GetParam())["perplexity"];
  auto model = Model::Load(dir, {.dtype = DType::kF32, .n_threads = 2});
  ASSERT_TRUE(model.ok());
  const auto tokens = e["tokens"].get<std::vector<int32_t>>();
  const int64_t window = e["window"].get<int64_t>(), stride = e["stride"].get<int64_t>();
  auto ctx = Context::Create(**model, {.n_ctx = window, .n_threads = 2});
  ASSERT_TRUE(ctx.ok());
  auto r = ComputePerplexity(**ctx, tokens, {.window = window, .stride = stride});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->n_scored, e["n_scored"].get<int64_t>());
  EXPECT_EQ(r->n_scored, static_cast<int64_t>(tokens.size()) - 1);
  EXPECT_NEAR(r->nll_sum, e["nll_sum"].get<double>(), 1e-4 * std::fabs(e["nll_sum"].get<double>()));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ReferenceTest, ::testing::ValuesIn(Fixtures()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ReferenceTest);

TEST(Generate, StopsAtEosWithoutEmittingIt) {
  const std::string dir = FixtureDir("tiny-mha-f32");
  auto tok = Tokenizer::Load(dir + "/tokenizer.model");
  auto model = Model::Load(dir, {.dtype = DType::kF32});
  ASSERT_TRUE(tok.ok() && model.ok());
  auto ctx = Context::Create(**model, {.n_ctx = 64});
  ASSERT_TRUE(ctx.ok());
  // Sample with a seed until a sequence hits </s>, or check that none did.
  GenerateOptions opts;
  opts.max_new_tokens = 40;
  opts.sampling.temperature = 1.5f;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    opts.sampling.seed = seed;
    auto r = Generate(**ctx, **tok, (*tok)->Encode("x", true), opts);
    ASSERT_TRUE(r.ok());
    const bool has_eos = std::find(r->tokens.begin(), r->tokens.end(), 2) != r->tokens.end();
    if (r->finish == FinishReason::kEos) {
      EXPECT_EQ(r->tokens.back(), 2);
      EXPECT_EQ(std::count(r->tokens.begin(), r->tokens.end(), 2), 1);
    } else {
      EXPECT_FALSE(has_eos);
      EXPECT_EQ(r->tokens.size(), 40u);
    }
  }
}

TEST(Generate, RejectsPromptsThatDoNotFitTheContext) {
  const std::string dir = FixtureDir("tiny-mha-f32");
  auto tok = Tokenizer::Load(dir + "/tokenizer.model");
  auto model = Model::Load(dir, {.dtype = DType::kF32});
  ASSERT_TRUE(tok.ok() && model.ok());
  auto ctx = Context::Create(**model, {.n_ctx = 8});
  ASSERT_TRUE(ctx.ok());
  std::vector<int32_t> prompt(8, 5);
  auto r = Generate(**ctx, **tok, prompt, GenerateOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(r.status().message().find("8 tokens"), std::string::npos);
  // Generation that reaches the end of the context stops with "length".
  prompt.resize(5);
  GenerateOptions opts;
  opts.max_new_tokens = 100;
  opts.stop_at_eos = false;
  auto ok = Generate(**ctx, **tok, prompt, opts);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->finish, FinishReason::kLength);
  EXPECT_EQ(ok->tokens.size(), 4u);  // positions 5, 6, 7 evaluated; the 4th token is sampled last
}

}  // namespace
}  // namespace llemma::testing

namespace llemma::testing {
namespace {

TEST(ChunkedPerplexity, FollowsLlamaCppChunkingAndComparesModels) {
  const std::string dir = FixtureDir("tiny-gqa-f32-theta1e6");
  std::ifstream in(dir + "/expected.json");
  const auto tokens = nlohmann::json::parse(in)["perplexity"]["tokens"].get<std::vector<int32_t>>();  // 80
  auto f32 = Model::Load(dir, {.dtype = DType::kF32});
  auto q8 = Model::Load(dir, {.dtype = DType::kBF16});  // lossy against the f32 weights
  ASSERT_TRUE(f32.ok() && q8.ok());
  auto a = Context::Create(**f32, {.n_ctx = 32});
  auto b = Context::Create(**f32, {.n_ctx = 32});
  auto c = Context::Create(**q8, {.n_ctx = 32});
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  // 80 tokens → 2 chunks of 32; each scores positions 17..31 (15 tokens).
  auto self = ComputeChunkedPerplexity(**a, tokens, 32, 1, b->get());
  ASSERT_TRUE(self.ok()) << self.status().ToString();
  EXPECT_EQ(self->n_windows, 2);
  EXPECT_EQ(self->n_scored, 30);
  EXPECT_EQ(self->n_same_top1, 30);
  EXPECT_NEAR(self->kl_sum, 0.0, 1e-9);
  EXPECT_NEAR(self->base_nll_sum, self->nll_sum, 1e-9);
  // The second chunk alone, evaluated directly: its scored NLL is part of the sum.
  std::vector<int32_t> chunk(tokens.begin() + 32, tokens.begin() + 64);
  chunk[0] = 1;
  (*a)->Rewind(0);
  auto logits = (*a)->Eval(chunk, true);
  ASSERT_TRUE(logits.ok());
  const int64_t V = (*f32)->config().n_vocab;
  double second = 0;
  for (int j = 16; j < 31; ++j) second += TokenNll(logits->subspan(j * V, V), tokens[32 + j + 1]);
  auto only_second = ComputeChunkedPerplexity(**a, std::span<const int32_t>(tokens).subspan(32, 32), 32, 1);
  ASSERT_TRUE(only_second.ok());
  EXPECT_NEAR(only_second->nll_sum, second, 1e-9);
  // A rounded (bf16) model against the f32 base: positive divergence, mostly the same top-1.
  auto quant = ComputeChunkedPerplexity(**c, tokens, 32, 1, a->get());
  ASSERT_TRUE(quant.ok());
  EXPECT_GT(quant->kl_sum, 0.0);
  EXPECT_GE(quant->n_same_top1, 15);
  EXPECT_NEAR(quant->base_nll_sum, self->nll_sum, 1e-6);
  EXPECT_FALSE(ComputeChunkedPerplexity(**a, std::span<const int32_t>(tokens).subspan(0, 20), 32, 1).ok());
}

}  // namespace
}  // namespace llemma::testing
