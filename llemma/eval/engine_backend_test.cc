#include "llemma/eval/engine_backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>

#include "llemma/generate/perplexity.h"

namespace llemma::eval {
namespace {

const std::string kModel = LLEMMA_TESTDATA_DIR "/models/tiny-mha-f32";

struct Loaded {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
};

Loaded Load() {
  Loaded l;
  LoadOptions lo;
  lo.dtype = DType::kF32;
  auto m = Model::Load(kModel, lo);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  auto t = Tokenizer::Load(kModel + "/tokenizer.model");
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  if (m.ok()) l.model = std::move(*m);
  if (t.ok()) l.tok = std::move(*t);
  return l;
}

GenRequest Request(const std::string& id, const std::string& prompt, int n, int first,
                   double temperature = 0.8) {
  GenRequest r;
  r.id = id;
  r.prompt = prompt;
  r.sampling.n = n;
  r.sampling.first_sample = first;
  r.sampling.temperature = temperature;
  r.sampling.top_p = 0.95;
  r.sampling.max_tokens = 12;
  r.sampling.seed = 4242;
  return r;
}

std::map<std::string, std::vector<GenSample>> RunAll(EngineBackend& b,
                                                     const std::vector<GenRequest>& reqs) {
  std::map<std::string, std::vector<GenSample>> out;
  const Status s = b.Run(reqs, [&](const GenRequest& r, std::vector<GenSample> samples) {
    EXPECT_EQ(out.count(r.id), 0u) << "reported twice: " << r.id;
    out[r.id] = std::move(samples);
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST(EngineBackend, SampleJIsTheSameAloneInABatchOrWithOtherProblems) {
  Loaded l = Load();
  ASSERT_TRUE(l.model && l.tok);
  EngineOptions o;
  o.n_threads = 2;
  o.parallel = 8;
  auto b = EngineBackend::Create(*l.model, *l.tok, "tiny", o);
  ASSERT_TRUE(b.ok());
  // Four samples of problem A together with two other problems in flight.
  auto together =
      RunAll(**b, {Request("A", "Problem: 1 + 1 = ?", 4, 0),
                   Request("B", "Problem: 2 + 2 = ?", 3, 0), Request("C", "Solve x", 2, 5)});
  ASSERT_EQ(together.size(), 3u);
  ASSERT_EQ(together["A"].size(), 4u);
  // Each sample of A drawn alone, with its index as first_sample.
  std::set<std::string> distinct;
  for (int j = 0; j < 4; ++j) {
    auto alone = RunAll(**b, {Request("A" + std::to_string(j), "Problem: 1 + 1 = ?", 1, j)});
    ASSERT_EQ(alone.size(), 1u);
    const GenSample& s = alone.begin()->second.at(0);
    EXPECT_EQ(s.index, j);
    EXPECT_EQ(s.text, together["A"][j].text) << "sample " << j;
    EXPECT_EQ(together["A"][j].index, j);
    distinct.insert(s.text);
  }
  EXPECT_GT(distinct.size(), 1u);  // sampling at T = 0.8 gives different samples
  EXPECT_EQ(together["C"][0].index, 5);
  EXPECT_EQ(together["C"][1].index, 6);
  EXPECT_EQ((*b)->Describe(), "llemma tiny");
}

TEST(EngineBackend, GreedyRequestsDecodeOnceAndCopy) {
  Loaded l = Load();
  ASSERT_TRUE(l.model && l.tok);
  auto b = EngineBackend::Create(*l.model, *l.tok, "tiny", {});
  ASSERT_TRUE(b.ok());
  auto r = RunAll(**b, {Request("g", "Q: what is 3?\nA:", 3, 0, /*temperature=*/0)});
  ASSERT_EQ(r["g"].size(), 3u);
  EXPECT_EQ(r["g"][0].text, r["g"][2].text);
  EXPECT_GT(r["g"][0].n_tokens, 0);
  EXPECT_EQ(r["g"][1].n_tokens, 0);  // generated once, counted once
  EXPECT_EQ(r["g"][2].index, 2);
}

TEST(EngineBackend, SaysWhichStopStringEndedASample) {
  Loaded l = Load();
  ASSERT_TRUE(l.model && l.tok);
  auto b = EngineBackend::Create(*l.model, *l.tok, "tiny", {});
  ASSERT_TRUE(b.ok());
  GenRequest r = Request("s", "Q: what is 3?\nA:", 1, 0, /*temperature=*/0);
  const std::string full = RunAll(**b, {r})["s"].at(0).text;
  ASSERT_GE(full.size(), 4u);
  EXPECT_EQ(RunAll(**b, {r})["s"].at(0).stop_matched, "");
  // A stop string from the greedy text (two ASCII characters past its start) ends it there.
  size_t at = 1;
  const auto ascii = [&](size_t i) { return full[i] > ' ' && full[i] < 0x7f; };
  while (at + 1 < full.size() && !(ascii(at) && ascii(at + 1))) ++at;
  ASSERT_LT(at + 1, full.size()) << "no ASCII pair in: " << full;
  const std::string stop = full.substr(at, 2);
  r.sampling.stop = {"never in it \x01", stop};
  const GenSample cut = RunAll(**b, {r})["s"].at(0);
  EXPECT_EQ(cut.finish_reason, "stop");
  EXPECT_EQ(cut.stop_matched, stop);
  EXPECT_EQ(cut.text, full.substr(0, full.find(stop)));
}

TEST(EngineBackend, KeepsTheLastTokensOfALongPrompt) {
  Loaded l = Load();
  ASSERT_TRUE(l.model && l.tok);
  auto b = EngineBackend::Create(*l.model, *l.tok, "tiny", {});
  ASSERT_TRUE(b.ok());
  const int64_t max_length = (*b)->max_length();  // 256 for the fixture
  std::string prompt;
  for (int i = 0; i < 200; ++i) prompt += "word" + std::to_string(i) + " ";
  prompt += "END";
  auto ids = (*b)->PromptTokens(prompt, 100);
  ASSERT_TRUE(ids.ok());
  EXPECT_LE(static_cast<int64_t>(ids->size()) + 100, max_length);
  EXPECT_EQ((*ids)[0], l.tok->bos_id());
  // The tail of the prompt survives, its start does not.
  const std::string text = l.tok->Decode(std::span<const int32_t>(*ids).subspan(1));
  EXPECT_NE(text.find("word199 END"), std::string::npos) << text;
  EXPECT_EQ(text.find("word0 "), std::string::npos);
  // A short prompt is BOS + its own tokens.
  auto short_ids = (*b)->PromptTokens("Problem: 2+2", 16);
  ASSERT_TRUE(short_ids.ok());
  EXPECT_EQ(*short_ids, l.tok->Encode("Problem: 2+2", true));
  // No room at all is an error naming --max-tokens.
  auto none = (*b)->PromptTokens("x", max_length);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("--max-tokens"), std::string::npos);
}

TEST(EngineBackend, ScoreEqualsTheSlidingWindowPerplexityOfTheText) {
  Loaded l = Load();
  ASSERT_TRUE(l.model && l.tok);
  auto b = EngineBackend::Create(*l.model, *l.tok, "tiny", {});
  ASSERT_TRUE(b.ok());
  const std::string text = "The answer is 42 because six times seven is forty two.";
  auto ll = (*b)->Score("", text);
  ASSERT_TRUE(ll.ok()) << ll.status().ToString();
  // Independently: the perplexity code over BOS + text in one window.
  const std::vector<int32_t> ids = l.tok->Encode(text, true);
  auto ctx = Context::Create(*l.model, {.n_ctx = 256, .n_threads = 1});
  ASSERT_TRUE(ctx.ok());
  auto ppl = ComputePerplexity(**ctx, ids, {.window = static_cast<int64_t>(ids.size())});
  ASSERT_TRUE(ppl.ok());
  EXPECT_EQ(ll->n_tokens, ppl->n_scored);
  EXPECT_NEAR(-ll->logprob, ppl->nll_sum, 1e-6 * ppl->nll_sum);
  // Chain rule: log p(text) = log p(head) + log p(tail | head) when the head's
  // tokens are a prefix of the text's.
  const std::string head = "The answer is";
  ASSERT_EQ(std::vector<int32_t>(ids.begin(), ids.begin() + l.tok->Encode(head, true).size()),
            l.tok->Encode(head, true));
  auto h = (*b)->Score("", head);
  auto tail = (*b)->Score(head, text.substr(head.size()));
  ASSERT_TRUE(h.ok() && tail.ok());
  EXPECT_EQ(h->n_tokens + tail->n_tokens, ll->n_tokens);
  EXPECT_NEAR(h->logprob + tail->logprob, ll->logprob, 1e-6 * std::abs(ll->logprob));
  EXPECT_FALSE((*b)->Score("abc", "").ok());
}

}  // namespace
}  // namespace llemma::eval
