// The `llemma` binary end to end: stdout carries only the continuation,
// diagnostics go to stderr, bad input exits non-zero with one clear line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "llemma/generate/bench.h"
#include "llemma/generate/generator.h"
#include "llemma/generate/perplexity.h"
#include "llemma/model/context.h"
#include "llemma/tokenizer/tokenizer.h"
#include "tests/test_util.h"

namespace llemma::testing {

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

CommandResult RunLlemma(const std::string& args, const std::string& stdin_text) {
  // Unique names: ctest runs tests of this binary in parallel processes.
  static int counter = 0;
  const std::string dir = ::testing::TempDir() + "/llemma_cli_" + std::to_string(::getpid()) + "_" +
                          std::to_string(counter++);
  const std::string in = dir + "_stdin", out = dir + "_stdout", err = dir + "_stderr";
  std::ofstream(in) << stdin_text;
  const std::string cmd = std::string(LLEMMA_BINARY_DIR) + "/bin/llemma " + args + " <" + in + " >" + out +
                          " 2>" + err;
  const int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::stringstream so, se;
  so << std::ifstream(out).rdbuf();
  se << std::ifstream(err).rdbuf();
  r.out = so.str();
  r.err = se.str();
  return r;
}

namespace {

TEST(Cli, GenerateStreamsOnlyTheGreedyContinuationToStdout) {
  const std::string dir = FixtureDir("tiny-gqa-bf16-sharded");
  const std::string prompt = "Problem: Find x.\nSolution:";
  CommandResult r = RunLlemma("generate --model " + dir + " --prompt " + ShellQuote(prompt) +
                              " --max-tokens 12 --temperature 0 --ignore-eos --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The same continuation through the library.
  auto tok = Tokenizer::Load(dir + "/tokenizer.model");
  auto model = Model::Load(dir, {.dtype = DType::kBF16});
  ASSERT_TRUE(tok.ok() && model.ok());
  auto ctx = Context::Create(**model, {.n_ctx = 64});
  ASSERT_TRUE(ctx.ok());
  GenerateOptions opts;
  opts.max_new_tokens = 12;
  opts.stop_at_eos = false;
  auto want = Generate(**ctx, **tok, (*tok)->Encode(prompt, true), opts);
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(r.out, want->text);
  EXPECT_EQ(want->tokens.size(), 12u);
  EXPECT_NE(r.err.find("tok/s"), std::string::npos) << r.err;  // timings on stderr
  EXPECT_NE(r.err.find("loaded"), std::string::npos) << r.err;
}

TEST(Cli, GenerateReadsPromptFileAndHonoursStopStrings) {
  const std::string dir = FixtureDir("tiny-mha-f32");
  CommandResult full = RunLlemma("generate -m " + dir + " -f - -n 24 --ignore-eos", "Q: 2 + 3 = ?\nA:");
  ASSERT_EQ(full.exit_code, 0) << full.err;
  ASSERT_GE(full.out.size(), 6u);
  // Stop at a string taken from the middle of the unconstrained output.
  const std::string stop = full.out.substr(full.out.size() / 2, 2);
  CommandResult cut = RunLlemma("generate -m " + dir + " -f - -n 24 --ignore-eos --stop " +
                                ShellQuote(stop), "Q: 2 + 3 = ?\nA:");
  ASSERT_EQ(cut.exit_code, 0) << cut.err;
  EXPECT_EQ(cut.out, full.out.substr(0, full.out.find(stop)));
  EXPECT_NE(cut.err.find("finish: stop"), std::string::npos);
}

TEST(Cli, SampledGenerationIsReproducibleFromItsSeed) {
  const std::string dir = FixtureDir("tiny-mha-f32");
  const std::string args = "generate -m " + dir +
                           " -p 'Final Answer:' -n 16 --temperature 1.0 --top-k 50 --top-p 0.95 "
                           "--min-p 0.01 --ignore-eos --seed ";
  CommandResult a = RunLlemma(args + "7"), b = RunLlemma(args + "7"), c = RunLlemma(args + "8");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
}

TEST(Cli, TokenizePrintsIdsAndPieces) {
  const std::string tok = std::string(LLEMMA_TESTDATA_DIR) + "/tokenizer/tiny.model";
  CommandResult r = RunLlemma("tokenize --tokenizer " + tok + " --prompt 'x = 42' --ids");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto t = Tokenizer::Load(tok);
  ASSERT_TRUE(t.ok());
  const std::vector<int32_t> ids = (*t)->Encode("x = 42", true);
  EXPECT_EQ(nlohmann::json::parse(r.out).get<std::vector<int32_t>>(), ids);
  CommandResult pieces = RunLlemma("tokenize --tokenizer " + tok + " --prompt 'x = 42'");
  ASSERT_EQ(pieces.exit_code, 0);
  EXPECT_NE(pieces.out.find("'<s>'"), std::string::npos);
  EXPECT_NE(pieces.out.find("'▁x'"), std::string::npos) << pieces.out;
}

TEST(Cli, PerplexityMatchesTheLibraryWithEitherKvCacheType) {
  const std::string dir = FixtureDir("tiny-mha-f32");
  const std::string text = "Problem: Find the value of x such that 3x + 3 = 21.\nSolution: x = 6.\n";
  const std::string file = ::testing::TempDir() + "/ppl.txt";
  std::ofstream(file) << text;
  auto tok = Tokenizer::Load(dir + "/tokenizer.model");
  auto model = Model::Load(dir, {.dtype = DType::kF32});
  ASSERT_TRUE(tok.ok() && model.ok());
  const std::vector<int32_t> ids = (*tok)->Encode(text, true);
  std::vector<double> seen;
  for (const char* kv : {"", "f16", "f32"}) {
    const std::string flag = *kv ? std::string(" --kv-type ") + kv : "";
    CommandResult r = RunLlemma("perplexity -m " + dir + " -f " + file + " --window 16 --stride 8 --dtype f32" + flag);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_NE(r.out.find("perplexity: "), std::string::npos) << r.out;
    const double ppl = std::stod(r.out.substr(r.out.find("perplexity: ") + 12));
    // The default cache is F16.
    auto ctx = Context::Create(**model, {.n_ctx = 16, .kv_type = std::string(kv) == "f32" ? DType::kF32 : DType::kF16});
    ASSERT_TRUE(ctx.ok());
    auto want = ComputePerplexity(**ctx, ids, {.window = 16, .stride = 8});
    ASSERT_TRUE(want.ok());
    EXPECT_NEAR(ppl, want->Perplexity(), 1e-5 * want->Perplexity()) << flag;
    EXPECT_NE(r.out.find("scored: " + std::to_string(ids.size() - 1)), std::string::npos) << r.out;
    seen.push_back(want->Perplexity());
  }
  EXPECT_EQ(seen[0], seen[1]);
  EXPECT_NE(seen[1], seen[2]);  // the flag reaches the cache
}

// The decode bound's bytes per token, summed here from the model's own
// matrices and its KV cache shape: every matrix but the untied embedding
// table, one embedding row, and 2·layers·kv-heads·head_dim values per
// attended position (the mean over the generated positions).
TEST(Bench, DecodeBytesCountTheWeightsReadAndTheKvCacheAttended) {
  for (const std::string name : {"tiny-gqa-bf16-sharded", "tiny-mha-f32"}) {
    auto model = Model::Load(FixtureDir(name), {.dtype = DType::kBF16});
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    const Model& m = **model;
    const Config& c = m.config();
    auto bytes = [](const cpu::Matrix& w) { return static_cast<double>(w.rows) * RowBytes(w.dtype, w.cols); };
    double weights = bytes(m.output()) + static_cast<double>(RowBytes(m.token_embd().dtype, c.n_embd)) +
                     4.0 * c.n_embd;  // output norm
    for (int64_t l = 0; l < c.n_layer; ++l) {
      const LayerWeights& w = m.layer(l);
      for (const cpu::Matrix* x : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down}) weights += bytes(*x);
      weights += 2 * 4.0 * c.n_embd;  // the two norms
    }
    const double kv_f16 = 2.0 * c.n_layer * c.n_head_kv * c.head_dim * 2;
    EXPECT_NEAR(DecodeBytesPerToken(m, 0, 1, DType::kF16), weights + kv_f16, 1e-6 * weights) << name;
    // positions 100..103 attend to 101..104 positions: 102.5 on average
    EXPECT_NEAR(DecodeBytesPerToken(m, 100, 4, DType::kF16), weights + 102.5 * kv_f16, 1e-6 * weights) << name;
    EXPECT_NEAR(DecodeBytesPerToken(m, 100, 4, DType::kF32), weights + 2 * 102.5 * kv_f16, 1e-6 * weights) << name;
  }
}

// `llemma bench -o json`: one object per test with llama-bench's fields,
// the repetitions as samples, and the bound only for single-sequence
// generation, at the depth given.
TEST(Cli, BenchJsonHasOneObjectPerTest) {
  const std::string dir = FixtureDir("tiny-gqa-bf16-sharded");
  CommandResult r = RunLlemma("bench -m " + dir + " -p 8 -n 4 -r 2 -b 3 -d 5 -t 2 -o json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 3u) << r.out;
  const char* names[] = {"pp8 @ d5", "tg4 @ d5", "tg4@b3 @ d5"};
  for (size_t i = 0; i < 3; ++i) {
    const nlohmann::json& t = j[i];
    EXPECT_EQ(t["test"], names[i]);
    EXPECT_EQ(t["n_depth"], 5);
    ASSERT_EQ(t["samples_ts"].size(), 2u);
    const double a = t["samples_ts"][0], b = t["samples_ts"][1];
    EXPECT_GT(a, 0);
    EXPECT_NEAR(t["avg_ts"].get<double>(), (a + b) / 2, 1e-9 * (a + b));
    EXPECT_NEAR(t["stddev_ts"].get<double>(), std::fabs(a - b) / std::sqrt(2.0), 1e-9 * (a + b));
    EXPECT_GT(t["mem_bandwidth_gbs"].get<double>(), 0);
    // the bound's bandwidth is the faster of the probes before and after the tests
    EXPECT_EQ(t["mem_bandwidth_gbs"].get<double>(),
              std::max(t["mem_bandwidth_before_gbs"].get<double>(), t["mem_bandwidth_after_gbs"].get<double>()));
    EXPECT_EQ(t.contains("bound_ts"), i == 1) << t.dump();
  }
  EXPECT_EQ(j[2]["n_batch"], 3);
  // the bound is the probed bandwidth over the bytes a token reads at that depth
  auto model = Model::Load(dir, {});
  ASSERT_TRUE(model.ok());
  const double want = j[1]["mem_bandwidth_gbs"].get<double>() * 1e9 / DecodeBytesPerToken(**model, 5, 4, DType::kF16);
  EXPECT_NEAR(j[1]["bound_ts"].get<double>(), want, 1e-9 * want);
}

TEST(Cli, BadInputExitsNonZeroWithOneLineNamingTheProblem) {
  const std::string dir = FixtureDir("tiny-mha-f32");
  struct Case {
    std::string args;
    std::string needle;
  };
  const Case cases[] = {
      {"generate -m /nonexistent -p hi", "/nonexistent"},
      {"generate -m " + dir + " -p hi --dtype q3", "unknown dtype 'q3'"},
      {"generate -m " + dir, "--prompt"},
      {"generate -m " + dir + " -p hi --temperature -1", "temperature"},
      {"generate -m " + dir + " -p " + ShellQuote(std::string(3000, 'x') + " y") + " --ctx 32",
       "context"},
      {"tokenize -p hi", "--tokenizer"},
      {"perplexity -m " + dir + " -f /nonexistent.txt", "/nonexistent.txt"},
      {"generate -m " + dir + " -p hi --kv-type q8_0", "--kv-type must be f16 or f32, got 'q8_0'"},
  };
  for (const Case& c : cases) {
    CommandResult r = RunLlemma(c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << c.args;
  }
}

}  // namespace
}  // namespace llemma::testing
