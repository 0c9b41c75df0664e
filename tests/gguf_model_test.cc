// Hugging Face checkpoint → GGUF → engine: the same model under both formats,
// including the q/k row permutation and the tokenizer rebuilt from metadata.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "llemma/gguf/gguf.h"
#include "llemma/gguf/spm_proto.h"
#include "llemma/model/context.h"
#include "llemma/model/export_gguf.h"
#include "llemma/model/safetensors.h"
#include "llemma/tokenizer/tokenizer.h"
#include "tests/test_util.h"

namespace llemma::testing {
namespace {

std::vector<float> AllLogits(const Model& m, const std::vector<int32_t>& prompt) {
  auto ctx = Context::Create(m, {.n_ctx = 64, .n_threads = 2});
  LLEMMA_CHECK(ctx.ok());
  auto l = (*ctx)->Eval(prompt, true);
  LLEMMA_CHECK(l.ok()) << l.status().ToString();
  return std::vector<float>(l->begin(), l->end());
}

double RelError(const std::vector<float>& got, const float* want) {
  double m = 0, e = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    m = std::max(m, std::fabs(static_cast<double>(want[i])));
    e = std::max(e, std::fabs(static_cast<double>(got[i]) - want[i]));
  }
  return e / m;
}

// ‖got − want‖₂ / ‖want‖₂
double RelRms(const std::vector<float>& got, const float* want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    num += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
    den += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(num / den);
}

struct Fixture {
  std::string name;
  std::vector<int32_t> prompt;
  SafetensorsFile expected;
};

Fixture LoadFixture(const std::string& name) {
  Fixture f;
  f.name = name;
  std::ifstream in(FixtureDir(name) + "/expected.json");
  const auto j = nlohmann::json::parse(in);
  f.prompt = j["prompts"].back().get<std::vector<int32_t>>();
  auto e = SafetensorsFile::Open(FixtureDir(name) + "/expected.safetensors");
  LLEMMA_CHECK(e.ok());
  f.expected = std::move(e).value();
  return f;
}

const float* ExpectedLogits(const Fixture& f) {
  const SafetensorsTensor* t = f.expected.Find("logits.2");
  LLEMMA_CHECK(t != nullptr);
  return reinterpret_cast<const float*>(f.expected.Data(*t));
}

class GgufExportTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufExportTest, F32GgufGivesTheSameLogitsAsTheCheckpoint) {
  const Fixture f = LoadFixture(GetParam());
  const std::string out = ::testing::TempDir() + "/" + f.name + ".f32.gguf";
  ASSERT_TRUE(ExportGguf(FixtureDir(f.name), out, {.type = DType::kF32}).ok());
  auto hf = Model::Load(FixtureDir(f.name), {.dtype = DType::kF32});
  auto gg = Model::Load(out, {});
  ASSERT_TRUE(hf.ok() && gg.ok()) << gg.status().ToString();
  EXPECT_EQ((*gg)->config().n_head_kv, (*hf)->config().n_head_kv);
  EXPECT_DOUBLE_EQ((*gg)->config().rope_theta, (*hf)->config().rope_theta);
  EXPECT_DOUBLE_EQ((*gg)->config().rope_scale, (*hf)->config().rope_scale);
  const auto a = AllLogits(**hf, f.prompt), b = AllLogits(**gg, f.prompt);
  EXPECT_EQ(a, b);
  EXPECT_LE(RelError(b, ExpectedLogits(f)), 1e-4);
  // The file stores q/k in the interleaved layout: row 1 of attn_q is HF row head_dim/2.
  auto file = gguf::GgufFile::Open(out);
  ASSERT_TRUE(file.ok());
  const gguf::GgufTensor* q = file->FindTensor("blk.0.attn_q.weight");
  auto ckpt_q = (*hf)->layer(0).wq;
  const int64_t hd = (*hf)->config().head_dim, cols = ckpt_q.cols;
  const float* gguf_rows = reinterpret_cast<const float*>(file->Data(*q));
  const float* hf_rows = static_cast<const float*>(ckpt_q.data);
  for (int64_t k = 0; k < cols; ++k) ASSERT_EQ(gguf_rows[1 * cols + k], hf_rows[(hd / 2) * cols + k]);
}

TEST_P(GgufExportTest, QuantizedGgufStaysCloseToTheReference) {
  const Fixture f = LoadFixture(GetParam());
  // Random weights are harder to quantize than trained ones; these bounds are
  // several times the error of each format on these fixtures.
  for (auto [type, tol] : {std::pair{DType::kQ8_0, 0.03}, std::pair{DType::kQ4_0, 0.45}}) {
    const std::string out = ::testing::TempDir() + "/" + f.name + "." + DTypeName(type) + ".gguf";
    ASSERT_TRUE(ExportGguf(FixtureDir(f.name), out, {.type = type}).ok());
    auto gg = Model::Load(out, {});
    ASSERT_TRUE(gg.ok()) << gg.status().ToString();
    const double err = RelRms(AllLogits(**gg, f.prompt), ExpectedLogits(f));
    EXPECT_LE(err, tol) << DTypeName(type);
    EXPECT_GT(err, 0.0) << DTypeName(type);  // it really is quantized
    // Loading the checkpoint with --dtype q8_0/q4_0 quantizes the same way.
    auto hf = Model::Load(FixtureDir(f.name), {.dtype = type});
    if (hf.ok()) {
      EXPECT_EQ(AllLogits(**hf, f.prompt), AllLogits(**gg, f.prompt)) << DTypeName(type);
    }
  }
}

TEST_P(GgufExportTest, TokenizerRebuiltFromGgufMetadataMatchesTokenizerModel) {
  const std::string out = ::testing::TempDir() + "/" + GetParam() + ".tok.gguf";
  ASSERT_TRUE(ExportGguf(FixtureDir(GetParam()), out, {.type = DType::kF16}).ok());
  auto file = gguf::GgufFile::Open(out);
  ASSERT_TRUE(file.ok());
  auto vocab = gguf::VocabFromGguf(*file);
  ASSERT_TRUE(vocab.ok());
  auto rebuilt = Tokenizer::FromSerializedProto(gguf::BuildSpmModel(*vocab), out);
  auto original = Tokenizer::Load(FixtureDir(GetParam()) + "/tokenizer.model");
  ASSERT_TRUE(rebuilt.ok() && original.ok());
  for (const char* text : {"Problem: Find $x$.", "naïve ∑ 漢字", "  two  spaces"}) {
    EXPECT_EQ((*rebuilt)->Encode(text, true), (*original)->Encode(text, true));
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GgufExportTest,
                         ::testing::Values("tiny-gqa-f32-theta1e6", "tiny-mha-f32", "tiny-gqa-bf16-sharded",
                                           "tiny-mqa-f16-ropescale"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

TEST(GgufModel, VocabularyIsPaddedToTheEmbeddingRows) {
  // tiny-gqa-bf16-sharded has 416 embedding rows and a 400-piece tokenizer.
  const std::string out = ::testing::TempDir() + "/padded.gguf";
  ASSERT_TRUE(ExportGguf(FixtureDir("tiny-gqa-bf16-sharded"), out, {.type = DType::kF16}).ok());
  auto file = gguf::GgufFile::Open(out);
  ASSERT_TRUE(file.ok());
  auto vocab = gguf::VocabFromGguf(*file);
  ASSERT_TRUE(vocab.ok());
  ASSERT_EQ(vocab->pieces.size(), 416u);
  EXPECT_EQ(vocab->pieces[405], "[PAD405]");
  EXPECT_EQ(vocab->types[405], gguf::kUnused);
  auto tok = Tokenizer::FromSerializedProto(gguf::BuildSpmModel(*vocab), out);
  auto original = Tokenizer::Load(FixtureDir("tiny-gqa-bf16-sharded") + "/tokenizer.model");
  ASSERT_TRUE(tok.ok() && original.ok());
  EXPECT_EQ((*tok)->Encode("Problem: x = 5", true), (*original)->Encode("Problem: x = 5", true));
}

TEST(GgufModel, UnsupportedOrBrokenFilesAreReported) {
  const std::string out = ::testing::TempDir() + "/broken.gguf";
  ASSERT_TRUE(ExportGguf(FixtureDir("tiny-mha-f32"), out, {.type = DType::kQ8_0}).ok());
  std::filesystem::resize_file(out, std::filesystem::file_size(out) - 64);
  auto m = Model::Load(out, {});
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("truncated"), std::string::npos) << m.status().message();
  CommandResult r = RunLlemma("generate -m " + out + " -p hi");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
}

TEST(GgufModel, CliGeneratesTheSameTextFromGgufAndCheckpoint) {
  const std::string out = ::testing::TempDir() + "/cli.f32.gguf";
  CommandResult q = RunLlemma("quantize -m " + FixtureDir("tiny-gqa-bf16-sharded") + " --type f32 -o " + out);
  ASSERT_EQ(q.exit_code, 0) << q.err;
  CommandResult a = RunLlemma("generate -m " + out + " -p 'Problem: 2+2?' -n 12 --ignore-eos");
  CommandResult b = RunLlemma("generate -m " + FixtureDir("tiny-gqa-bf16-sharded") +
                              " --dtype f32 -p 'Problem: 2+2?' -n 12 --ignore-eos");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_FALSE(a.out.empty());
}

}  // namespace
}  // namespace llemma::testing
