// Batched decoding: sequences forked from one prefilled prompt and advanced
// together give exactly what separate single-sequence runs give.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "llemma/generate/generator.h"
#include "llemma/model/context.h"
#include "llemma/tokenizer/tokenizer.h"
#include "tests/test_util.h"

namespace llemma::testing {
namespace {

double MaxAbsDiff(std::span<const float> a, std::span<const float> b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i)
    m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
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
  const std::vector<int32_t> prompt =
      (*tok)->Encode("Problem: Find x if 3x + 7 = 22.\nSolution:", true);
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

TEST_P(BatchTest, DifferentPromptsInOneBatchEqualSeparateContexts) {
  auto model = Model::Load(FixtureDir(GetParam()), {.dtype = DType::kF32});
  ASSERT_TRUE(model.ok());
  const int64_t V = (*model)->config().n_vocab;
  const std::vector<int32_t> a = {1, 17, 99, 250, 31, 8, 120}, b = {1, 44, 3, 200};
  // Float caches: the batch computes keys a rounding apart from a separate
  // context's, which an F16 cache could round to different halves.
  auto ctx = Context::Create(**model, {.n_ctx = 32, .n_threads = 2, .n_batch = 3, .n_seq = 4, .kv_type = DType::kF32});
  ASSERT_TRUE(ctx.ok());
  // Prompt A in sequence 0 (shared by 3), prompt B in sequence 2 (shared by
  // 1), B prefilled in two calls and in chunks of 3.
  ASSERT_TRUE((*ctx)->EvalSeq(0, a).ok());
  ASSERT_TRUE((*ctx)->EvalSeq(2, std::span<const int32_t>(b).first(1)).ok());
  ASSERT_TRUE((*ctx)->EvalSeq(2, std::span<const int32_t>(b).subspan(1)).ok());
  ASSERT_TRUE((*ctx)->Fork(2, 1).ok());
  ASSERT_TRUE((*ctx)->Fork(0, 3).ok());
  std::vector<std::vector<int32_t>> history = {a, b, b, a};
  const std::vector<std::vector<int32_t>> steps = {{5, 6, 7, 8}, {9, 10, 11}, {12, 13, 14, 15}};
  const std::vector<std::vector<int>> seqs = {{0, 1, 2, 3}, {3, 2, 1}, {1, 0, 3, 2}};
  for (size_t k = 0; k < steps.size(); ++k) {
    auto got = (*ctx)->EvalBatch(steps[k], seqs[k]);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    const std::vector<float> batch(got->begin(), got->end());
    for (size_t j = 0; j < steps[k].size(); ++j) {
      const int s = seqs[k][j];
      history[s].push_back(steps[k][j]);
      auto single = Context::Create(**model, {.n_ctx = 32, .n_threads = 1, .kv_type = DType::kF32});
      ASSERT_TRUE(single.ok());
      auto want = (*single)->Eval(history[s]);
      ASSERT_TRUE(want.ok());
      EXPECT_LT(MaxAbsDiff(std::span<const float>(batch).subspan(j * V, V), *want), 1e-4)
          << GetParam() << " step " << k << " seq " << s;
      EXPECT_EQ((*ctx)->n_past(s), static_cast<int64_t>(history[s].size()));
    }
  }
  // A finished sequence is reused for a new prompt while the others go on.
  ASSERT_TRUE((*ctx)->Clear(3).ok());
  const std::vector<int32_t> c = {1, 300, 301};
  auto prefilled = (*ctx)->EvalSeq(3, c);
  ASSERT_TRUE(prefilled.ok());
  history[3] = c;
  auto got = (*ctx)->EvalBatch(std::vector<int32_t>{16, 17}, std::vector<int>{3, 0});
  ASSERT_TRUE(got.ok());
  const std::vector<float> batch(got->begin(), got->end());
  history[3].push_back(16);
  history[0].push_back(17);
  for (int j = 0; j < 2; ++j) {
    auto single = Context::Create(**model, {.n_ctx = 32, .n_threads = 1, .kv_type = DType::kF32});
    ASSERT_TRUE(single.ok());
    auto want = (*single)->Eval(history[j == 0 ? 3 : 0]);
    ASSERT_TRUE(want.ok());
    EXPECT_LT(MaxAbsDiff(std::span<const float>(batch).subspan(j * V, V), *want), 1e-4)
        << GetParam();
  }
}

// Jobs that differ in prompt, n, seed, temperature, stops, length and EOS
// handling; more samples than sequences, so sequences are refilled.
std::vector<PromptJob> MixedJobs(const Tokenizer& tok) {
  auto job = [&](const std::string& prompt, int n, float temperature, uint64_t seed,
                 int64_t max_tokens) {
    PromptJob j;
    j.prompt = tok.Encode(prompt, true);
    j.n = n;
    j.opts.max_new_tokens = max_tokens;
    j.opts.sampling = {.temperature = temperature, .top_p = 0.95f, .seed = seed};
    return j;
  };
  std::vector<PromptJob> jobs;
  jobs.push_back(
      job("Problem: Find x if 3x + 7 = 22.\nSolution:", 1, 0.0f, 0, 20));  // long, greedy
  jobs.back().opts.stop_at_eos = false;
  jobs.push_back(job("Problem: What is 2+2?", 1, 0.8f, 5, 3));  // short: done first
  jobs.push_back(job("Let x = 5. Then", 3, 0.9f, 100, 12));
  jobs.back().opts.stop = {"\n\n", "x"};
  jobs.push_back(job("Compute the sum of the first ten primes.", 2, 1.0f, 7, 10));
  jobs.push_back(job("Q: 7 * 8 =", 1, 0.7f, 9, 0));  // nothing to generate
  jobs.push_back(
      job("Theorem. Every bounded monotone sequence", 2, 1.2f, 11, 100));  // runs into n_ctx
  jobs.back().opts.stop_at_eos = false;
  jobs.push_back(job("Solve y^2 = 49.", 4, 0.6f, 13, 8));
  return jobs;
}

TEST_P(BatchTest, GenerateManyEqualsEachJobAlone) {
  const std::string dir = FixtureDir(GetParam());
  auto tok = Tokenizer::Load(dir + "/tokenizer.model");
  auto model = Model::Load(dir, {.dtype = DType::kF32});
  ASSERT_TRUE(tok.ok() && model.ok());
  const std::vector<PromptJob> jobs = MixedJobs(**tok);
  auto ctx = Context::Create(**model, {.n_ctx = 48, .n_threads = 2, .n_seq = 4});
  ASSERT_TRUE(ctx.ok());
  std::vector<std::vector<GenerateResult>> got(jobs.size());
  std::vector<size_t> order;
  Status s = GenerateMany(**ctx, **tok, jobs, [&](size_t j, std::vector<GenerateResult> r) {
    EXPECT_LT(j, jobs.size());
    EXPECT_TRUE(std::find(order.begin(), order.end(), j) == order.end())
        << "job " << j << " reported twice";
    order.push_back(j);
    got[j] = std::move(r);
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(order.size(), jobs.size());
  // Job 1 (3 tokens) was decoding alongside job 0 (20 tokens) and finished first.
  EXPECT_LT(std::find(order.begin(), order.end(), 1u) - order.begin(),
            std::find(order.begin(), order.end(), 0u) - order.begin());

  auto alone = Context::Create(**model, {.n_ctx = 48, .n_threads = 2, .n_seq = 4});
  auto single = Context::Create(**model, {.n_ctx = 48, .n_threads = 2});
  ASSERT_TRUE(alone.ok() && single.ok());
  bool hit_context_end = false;
  for (size_t j = 0; j < jobs.size(); ++j) {
    ASSERT_EQ(got[j].size(), static_cast<size_t>(jobs[j].n)) << "job " << j;
    auto want = GenerateN(**alone, **tok, jobs[j].prompt, jobs[j].opts, jobs[j].n);
    ASSERT_TRUE(want.ok()) << want.status().ToString();
    for (int i = 0; i < jobs[j].n; ++i) {
      EXPECT_EQ(got[j][i].tokens, (*want)[i].tokens) << "job " << j << " sample " << i;
      EXPECT_EQ(got[j][i].text, (*want)[i].text) << "job " << j << " sample " << i;
      EXPECT_EQ(got[j][i].finish, (*want)[i].finish) << "job " << j << " sample " << i;
      EXPECT_EQ(got[j][i].n_prompt, static_cast<int64_t>(jobs[j].prompt.size()));
      // And each sample is what Generate() gives with its own seed.
      GenerateOptions one = jobs[j].opts;
      one.sampling.seed += i;
      auto ref = Generate(**single, **tok, jobs[j].prompt, one);
      ASSERT_TRUE(ref.ok());
      EXPECT_EQ(got[j][i].tokens, ref->tokens) << "job " << j << " sample " << i;
      EXPECT_EQ(got[j][i].text, ref->text) << "job " << j << " sample " << i;
      if (static_cast<int64_t>(jobs[j].prompt.size() + got[j][i].tokens.size()) > 48 - 1 &&
          got[j][i].finish == FinishReason::kLength)
        hit_context_end = true;
    }
  }
  EXPECT_TRUE(got[4][0].tokens.empty());
  EXPECT_EQ(got[4][0].finish, FinishReason::kLength);
  EXPECT_EQ(got[1][0].tokens.size(), 3u);
  EXPECT_TRUE(hit_context_end);  // job 5 really ran into the end of the context
}

TEST_P(BatchTest, ASavedPrefixGivesTheSameLogitsBitForBit) {
  auto model = Model::Load(FixtureDir(GetParam()), {.dtype = DType::kF32});
  ASSERT_TRUE(model.ok());
  std::vector<int32_t> prompt;
  for (int i = 0; i < 23; ++i) prompt.push_back(1 + (i * 37) % 300);
  auto whole = Context::Create(**model, {.n_ctx = 32, .n_threads = 2, .n_batch = 4});
  auto ctx = Context::Create(**model, {.n_ctx = 32, .n_threads = 2, .n_batch = 4, .n_seq = 3});
  ASSERT_TRUE(whole.ok() && ctx.ok());
  auto want = (*whole)->Eval(prompt);
  ASSERT_TRUE(want.ok());
  const std::vector<float> expected(want->begin(), want->end());
  ASSERT_TRUE((*ctx)->EvalSeq(1, std::span<const int32_t>(prompt).first(12)).ok());
  ASSERT_TRUE((*ctx)->SavePrefix(1, 12).ok());
  EXPECT_EQ((*ctx)->saved_prefix(), 12);
  for (int64_t n : {4, 8, 12}) {  // any whole number of chunks of what was saved
    ASSERT_TRUE((*ctx)->LoadPrefix(2, n).ok());
    EXPECT_EQ((*ctx)->n_past(2), n);
    auto got = (*ctx)->EvalSeq(2, std::span<const int32_t>(prompt).subspan(n));
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(std::vector<float>(got->begin(), got->end()), expected) << GetParam() << " n=" << n;
  }
  EXPECT_FALSE((*ctx)->LoadPrefix(0, 13).ok());  // more than saved
  EXPECT_FALSE((*ctx)->SavePrefix(0, 1).ok());   // sequence 0 is empty
  ASSERT_TRUE((*ctx)->Fork(2, 0).ok());
  EXPECT_EQ((*ctx)->LoadPrefix(2, 4).code(), StatusCode::kFailedPrecondition);  // 0 reads from 2
}

TEST_P(BatchTest, GenerateManyPrefillsASharedPromptStartOnce) {
  const std::string dir = FixtureDir(GetParam());
  auto tok = Tokenizer::Load(dir + "/tokenizer.model");
  auto model = Model::Load(dir, {.dtype = DType::kF32});
  ASSERT_TRUE(tok.ok() && model.ok());
  const std::string shots =
      "Problem: 1+1?\nSolution: 2.\n\nProblem: 2+3?\nSolution: 5.\n\nProblem: ";
  std::vector<PromptJob> jobs;
  for (const char* q : {"7-4?", "3*3?", "OTHER", "10/2?", "6+6?"}) {
    PromptJob j;
    j.prompt = (*tok)->Encode(
        q == std::string("OTHER") ? "Theorem: every prime above 2 is odd." : shots + q, true);
    j.n = q == std::string("3*3?") ? 2 : 1;
    j.opts.max_new_tokens = 10;
    j.opts.sampling = {.temperature = 0.8f, .seed = 21};
    jobs.push_back(j);
  }
  ASSERT_GT(jobs[0].prompt.size(), 12u);
  // Two sequences: jobs are admitted one or two at a time, so the saved start
  // must outlive the job that saved it.
  auto ctx = Context::Create(**model, {.n_ctx = 128, .n_threads = 2, .n_batch = 4, .n_seq = 2});
  auto single = Context::Create(**model, {.n_ctx = 128, .n_threads = 2, .n_batch = 4});
  ASSERT_TRUE(ctx.ok() && single.ok());
  std::vector<std::vector<GenerateResult>> got(jobs.size());
  Status s = GenerateMany(**ctx, **tok, jobs, [&](size_t j, std::vector<GenerateResult> r) {
    got[j] = std::move(r);
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  const int64_t shared = static_cast<int64_t>((*tok)->Encode(shots, true).size()) / 4 * 4;
  for (size_t j = 0; j < jobs.size(); ++j) {
    ASSERT_EQ(got[j].size(), static_cast<size_t>(jobs[j].n));
    for (int i = 0; i < jobs[j].n; ++i) {
      GenerateOptions one = jobs[j].opts;
      one.sampling.seed += i;
      auto ref = Generate(**single, **tok, jobs[j].prompt, one);
      ASSERT_TRUE(ref.ok());
      EXPECT_EQ(got[j][i].tokens, ref->tokens) << "job " << j << " sample " << i;
      EXPECT_EQ(got[j][i].text, ref->text) << "job " << j << " sample " << i;
    }
  }
  // The first prompt is computed whole; the later ones that begin alike copy
  // at least the whole chunks of the few-shot part; the odd one shares nothing.
  EXPECT_EQ(got[0][0].n_prompt_reused, 0);
  EXPECT_EQ(got[2][0].n_prompt_reused, 0);
  for (size_t j : {1u, 3u, 4u}) {
    EXPECT_GE(got[j][0].n_prompt_reused, shared) << "job " << j;
    EXPECT_EQ(got[j][0].n_prompt_reused % 4, 0) << "job " << j;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BatchTest,
                         ::testing::Values("tiny-gqa-bf16-sharded", "tiny-mha-f32"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
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

TEST(Batch, GenerateManyRejectsBadJobsNamingThem) {
  const std::string dir = FixtureDir("tiny-mha-f32");
  auto model = Model::Load(dir, {.dtype = DType::kF32});
  auto tok = Tokenizer::Load(dir + "/tokenizer.model");
  ASSERT_TRUE(model.ok() && tok.ok());
  auto ctx = Context::Create(**model, {.n_ctx = 16, .n_seq = 2});
  ASSERT_TRUE(ctx.ok());
  std::vector<PromptJob> jobs(3);
  for (PromptJob& j : jobs) j.prompt = {1, 5, 6};
  jobs[1].n = 3;  // more samples than sequences
  int calls = 0;
  auto count = [&](size_t, std::vector<GenerateResult>) {
    ++calls;
    return Status::Ok();
  };
  Status s = GenerateMany(**ctx, **tok, jobs, count);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("job 1"), std::string::npos) << s.message();
  jobs[1].n = 1;
  jobs[2].prompt.assign(16, 5);  // does not fit
  s = GenerateMany(**ctx, **tok, jobs, count);
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
  EXPECT_NE(s.message().find("job 2"), std::string::npos) << s.message();
  jobs[2].prompt.clear();
  EXPECT_FALSE(GenerateMany(**ctx, **tok, jobs, count).ok());
  EXPECT_EQ(calls, 0);  // nothing runs before every job is valid
  // An error from the callback stops the run and comes back.
  jobs[2].prompt = {1, 7};
  s = GenerateMany(**ctx, **tok, jobs, [&](size_t, std::vector<GenerateResult>) {
    return ++calls == 2 ? DataLossError("store failed") : Status::Ok();
  });
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(calls, 2);
}

TEST(Batch, ForkAndClearKeepSharedPrefixesIntact) {
  auto model = Model::Load(FixtureDir("tiny-mha-f32"), {.dtype = DType::kF32});
  ASSERT_TRUE(model.ok());
  auto ctx = Context::Create(**model, {.n_ctx = 16, .n_seq = 3});
  ASSERT_TRUE(ctx.ok());
  ASSERT_TRUE((*ctx)->EvalSeq(1, std::vector<int32_t>{1, 5, 6}).ok());
  ASSERT_TRUE((*ctx)->Fork(1, 2).ok());
  EXPECT_EQ((*ctx)->n_past(2), 3);
  EXPECT_EQ((*ctx)->Fork(2, 0).code(), StatusCode::kFailedPrecondition);  // 2 is itself forked
  EXPECT_EQ((*ctx)->Clear(1).code(), StatusCode::kFailedPrecondition);    // 2 reads from 1
  EXPECT_EQ((*ctx)->Fork(0, 1).code(), StatusCode::kFailedPrecondition);  // same
  EXPECT_EQ((*ctx)->EvalSeq(2, std::vector<int32_t>{7}).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_FALSE((*ctx)->EvalSeq(3, std::vector<int32_t>{7}).ok());
  EXPECT_FALSE((*ctx)->Fork(1, 1).ok());
  ASSERT_TRUE((*ctx)->Clear(2).ok());
  EXPECT_EQ((*ctx)->n_past(2), 0);
  ASSERT_TRUE((*ctx)->Clear(1).ok());
  EXPECT_TRUE((*ctx)->EvalSeq(2, std::vector<int32_t>{7}).ok());
}

}  // namespace
}  // namespace llemma::testing
