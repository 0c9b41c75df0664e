// Batched decoding: sequences forked from one prefilled prompt and advanced
// together give exactly what separate single-sequence runs give.
#include <gtest/gtest.h>

#include <cmath>

#include "llemma/generate/generator.h"
#include "llemma/model/context.h"
#include "llemma/tokenizer/tokenizer.h"
#include "tests/test_util.h"

namespace llemma::testing {
namespace {

double MaxAbsDiff(std::span<const float> a, std::span<const float> b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

class BatchTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BatchTest, EvalBatchOfForkedSequencesEqualsSeparateContexts) {
  auto model = Model::Load(FixtureDir(GetParam()), {.dtype = DType::kF32});
  ASSERT_TRUE(model.ok());
  const int64_t V = (*model)->config().n_vocab;
  const std::vector<int32_t> prompt = {1, 17, 99, 250, 31, 8, 120};
  auto ctx = Context::Create(**model, {.n_ctx = 32, .n_threads = 2, .n_seq = 4});
  ASSERT_TRUE(ctx.ok());
  ASSERT_TRUE((*ctx)->Eval(prompt).ok());
  for (int s = 1; s < 4; ++s) ASSERT_TRUE((*ctx)->Fork(0, s).ok());
  // Three steps; sequence 2 skips the second step, so positions diverge.
  const std::vector<std::vector<int32_t>> steps = {{5, 6, 7, 8}, {9, 10, 11}, {12, 13, 14, 15}};
  const std::vector<std::vector<int>> seqs = {{0, 1, 2, 3}, {3, 1, 0}, {2, 0, 1, 3}};
  std::vector<std::vector<int32_t>> history(4, prompt);
  for (size_t k = 0; k < steps.size(); ++k) {
    auto got = (*ctx)->EvalBatch(steps[k], seqs[k]);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    const std::vector<float> batch(got->begin(), got->end());
    for (size_t j = 0; j < steps[k].size(); ++j) {
      const int s = seqs[k][j];
      history[s].push_back(steps[k][j]);
      auto single = Context::Create(**model, {.n_ctx = 32, .n_threads = 1});
      ASSERT_TRUE(single.ok());
      auto want = (*single)->Eval(history[s]);
      ASSERT_TRUE(want.ok());
      EXPECT_LT(MaxAbsDiff(std::span<const float>(batch).subspan(j * V, V), *want), 1e-4)
          << GetParam() << " step " << k << " seq " << s;
      EXPECT_EQ((*ctx)->n_past(s), static_cast<int64_t>(history[s].size()));
    }
  }
}

TEST_P(BatchTest, GenerateNEqualsIndependentRunsWithConsecutiveSeeds) {
  const std::string dir = FixtureDir(GetParam());
  auto tok = Tokenizer::Load(dir + "/tokenizer.model");
  auto model = Model::Load(dir, {.dtype = DType::kF32});
  ASSERT_TRUE(tok.ok() && model.ok());
  const std::vector<int32_t> prompt = (*tok)->Encode("Problem: Find x if 3x + 7 = 22.\nSolution:", true);
  GenerateOptions opts;
  opts.max_new_tokens = 12;
  opts.sampling = {.temperature = 0.9f, .top_p = 0.95f, .seed = 100};
  opts.stop = {"\n\n", "x"};
  auto ctx = Context::Create(**model, {.n_ctx = 64, .n_threads = 2, .n_seq = 5});
  ASSERT_TRUE(ctx.ok());
  auto batch = GenerateN(**ctx, **tok, prompt, opts, 5);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->size(), 5u);
  auto single_ctx = Context::Create(**model, {.n_ctx = 64, .n_threads = 2});
  ASSERT_TRUE(single_ctx.ok());
  int distinct = 0;
  for (int i = 0; i < 5; ++i) {
    GenerateOptions one = opts;
    one.sampling.seed = opts.sampling.seed + i;
    auto want = Generate(**single_ctx, **tok, prompt, one);
    ASSERT_TRUE(want.ok());
    EXPECT_EQ((*batch)[i].tokens, want->tokens) << "sample " << i;
    EXPECT_EQ((*batch)[i].text, want->text) << "sample " << i;
    EXPECT_EQ((*batch)[i].finish, want->finish) << "sample " << i;
    if (i > 0 && (*batch)[i].tokens != (*batch)[0].tokens) distinct++;
  }
  EXPECT_GT(distinct, 0);  // different seeds really sample differently
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BatchTest, ::testing::Values("tiny-gqa-bf16-sharded", "tiny-mha-f32"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

TEST(Batch, BadSequenceIdsAreRejected) {
  auto model = Model::Load(FixtureDir("tiny-mha-f32"), {.dtype = DType::kF32});
  ASSERT_TRUE(model.ok());
  auto ctx = Context::Create(**model, {.n_ctx = 8, .n_seq = 2});
  ASSERT_TRUE(ctx.ok());
  const std::vector<int32_t> t = {5, 6};
  EXPECT_FALSE((*ctx)->EvalBatch(t, std::vector<int>{0, 0}).ok());  // duplicate
  EXPECT_FALSE((*ctx)->EvalBatch(t, std::vector<int>{0, 2}).ok());  // out of range
  EXPECT_FALSE((*ctx)->Fork(0, 5).ok());
  auto tok = Tokenizer::Load(FixtureDir("tiny-mha-f32") + "/tokenizer.model");
  EXPECT_FALSE(GenerateN(**ctx, **tok, std::vector<int32_t>{1, 5}, GenerateOptions{}, 3).ok());
}

}  // namespace
}  // namespace llemma::testing
