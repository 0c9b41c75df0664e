// Hugging Face checkpoint → GGUF → engine: the same model under both formats,
// including the q/k row permutation and the tokenizer rebuilt from metadata.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "llemma/backend/cpu/quants.h"
#include "llemma/core/half.h"
#include "llemma/core/mapped_file.h"
#include "llemma/gguf/gguf.h"
#include "llemma/gguf/spm_proto.h"
#include "llemma/model/context.h"
#include "llemma/model/export_gguf.h"
#include "llemma/model/gguf_config.h"
#include "llemma/model/safetensors.h"
#include "llemma/model/tensor_names.h"
#include "llemma/tokenizer/tokenizer.h"
#include "tests/test_util.h"

namespace llemma::testing {
namespace {

std::vector<float> AllLogits(const Model& m, const std::vector<int32_t>& prompt) {
  auto ctx = Context::Create(m, {.n_ctx = 64, .n_threads = 2, .kv_type = DType::kF32});
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

// A GGUF written here with K-quant matrices of the widths k-quants need
// (a multiple of 256 columns): one layer, GQA, every matrix a different
// K-quant. `dequantized` writes the same weights, expanded to F32 from the
// quantized rows, so the two files hold exactly the same model.
// A file's Q5_0 / Q3_K / Q2_K blocks decoded here from the GGUF layout,
// written independently of the library's readers (the loop order of the
// format's reference decoder: per 128 elements, 4 shifts of qs and, for
// Q3_K, of the hmask bit).
void DecodeQ5_0(const uint8_t* in, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, in += 22, y += 32) {
    uint16_t dh;
    uint32_t qh;
    std::memcpy(&dh, in, 2);
    std::memcpy(&qh, in + 2, 4);
    const float d = F16ToF32(dh);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>(static_cast<int>((in[6 + j] & 0x0F) | (((qh >> j) << 4) & 0x10)) - 16);
      y[j + 16] = d * static_cast<float>(static_cast<int>((in[6 + j] >> 4) | ((qh >> (j + 12)) & 0x10)) - 16);
    }
  }
}
void DecodeQ3_K(const uint8_t* in, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 256; ++b, in += 110) {
    uint16_t dh;
    std::memcpy(&dh, in + 108, 2);
    const float d = F16ToF32(dh);
    const uint8_t* sc = in + 96;
    int scale[16];
    for (int i = 0; i < 8; ++i) {
      scale[i] = (sc[i] & 0xF) | ((sc[8 + i % 4] >> (2 * (i / 4))) & 3) << 4;
      scale[i + 8] = (sc[i] >> 4) | ((sc[8 + i % 4] >> (2 * (i / 4) + 4)) & 3) << 4;
    }
    const uint8_t* q = in + 32;
    const uint8_t* hm = in;
    uint8_t m = 1;
    int is = 0;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
        for (int part = 0; part < 2; ++part, ++is) {
          const float dl = d * static_cast<float>(scale[is] - 32);
          for (int l = 16 * part; l < 16 * part + 16; ++l)
            *y++ = dl * static_cast<float>(((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
        }
      }
    }
  }
}

void DecodeQ2_K(const uint8_t* in, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 256; ++b, in += 84) {
    uint16_t dh, mh;
    std::memcpy(&dh, in + 80, 2);
    std::memcpy(&mh, in + 82, 2);
    const float d = F16ToF32(dh), dmin = F16ToF32(mh);
    const uint8_t* q = in + 16;
    int is = 0;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part, ++is) {
          const float dl = d * static_cast<float>(in[is] & 0xF), ml = dmin * static_cast<float>(in[is] >> 4);
          for (int l = 16 * part; l < 16 * part + 16; ++l) *y++ = dl * static_cast<float>((q[l] >> shift) & 3) - ml;
        }
      }
    }
  }
}

void WriteKQuantGguf(const std::string& path, bool dequantized,
                     std::vector<gguf::TensorType> kinds = {gguf::TensorType::kQ4_K, gguf::TensorType::kQ5_K,
                                                            gguf::TensorType::kQ6_K}) {
  Config c;
  c.n_embd = 256, c.n_ff = 512, c.n_layer = 1, c.n_head = 4, c.n_head_kv = 2, c.head_dim = 64;
  c.n_vocab = 400, c.n_ctx_train = 256;
  auto tok = ReadFileToString(FixtureDir("tiny-mha-f32") + "/tokenizer.model");
  LLEMMA_CHECK(tok.ok());
  auto vocab = gguf::ParseSpmModel(*tok, "tokenizer.model");
  LLEMMA_CHECK(vocab.ok());
  while (static_cast<int64_t>(vocab->pieces.size()) < c.n_vocab) {
    vocab->pieces.push_back("[PAD" + std::to_string(vocab->pieces.size()) + "]");
    vocab->scores.push_back(0.0f);
    vocab->types.push_back(gguf::kUnused);
  }
  using gguf::Value;
  gguf::GgufWriter w;
  w.SetValue("general.architecture", Value::String("llama"));
  w.SetValue("llama.context_length", Value::U32(256));
  w.SetValue("llama.embedding_length", Value::U32(256));
  w.SetValue("llama.block_count", Value::U32(1));
  w.SetValue("llama.feed_forward_length", Value::U32(512));
  w.SetValue("llama.rope.dimension_count", Value::U32(64));
  w.SetValue("llama.attention.head_count", Value::U32(4));
  w.SetValue("llama.attention.head_count_kv", Value::U32(2));
  w.SetValue("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5f));
  gguf::VocabToGguf(*vocab, &w);
  const std::vector<TensorSpec> specs = LlamaTensorSpecs(c, /*with_lm_head=*/true);
  std::vector<gguf::TensorType> types;
  for (size_t i = 0; i < specs.size(); ++i) {
    const gguf::TensorType t = !specs[i].is_matrix ? gguf::TensorType::kF32 : kinds[i % kinds.size()];
    types.push_back(t);
    w.AddTensor(specs[i].gguf_name, std::vector<int64_t>(specs[i].shape.rbegin(), specs[i].shape.rend()),
                dequantized ? gguf::TensorType::kF32 : t);
  }
  LLEMMA_CHECK(w.Open(path).ok());
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec& s = specs[i];
    const int64_t rows = s.is_matrix ? s.shape[0] : 1, cols = s.shape.back();
    std::vector<float> x(rows * cols);
    for (float& v : x) v = s.is_matrix ? 0.08f * g(rng) : 1.0f + 0.1f * g(rng);
    if (!s.is_matrix) {
      LLEMMA_CHECK(w.WriteTensorData(x.data(), x.size() * 4).ok());
      continue;
    }
    const uint32_t tt = static_cast<uint32_t>(types[i]);
    const size_t row_bytes = FileRowBytes(tt, cols);
    std::vector<uint8_t> q(row_bytes * rows);
    const bool q5 = types[i] == gguf::TensorType::kQ5_0, q3 = types[i] == gguf::TensorType::kQ3_K,
               q2 = types[i] == gguf::TensorType::kQ2_K;
    if (q5 || q3 || q2 || !gguf::TensorTypeToDType(tt)) {
      // Types llemma reads but does not write (and unreadable ones): any bits
      // are a valid block, so random values and scales, with d (and dmin)
      // about the size that gives weights of about 0.08.
      std::uniform_int_distribution<int> byte(0, 255);
      for (uint8_t& v : q) v = static_cast<uint8_t>(byte(rng));
      const size_t block = q5 ? 22 : q3 ? 110 : 84, d_at = q5 ? 0 : q3 ? 108 : 80;
      const uint16_t d = F32ToF16(q5 ? 0.009f : q3 ? 0.0012f : 0.004f), dmin = F32ToF16(0.006f);
      for (size_t o = 0; (q5 || q3 || q2) && o < q.size(); o += block) {
        std::memcpy(&q[o + d_at], &d, 2);
        if (q2) std::memcpy(&q[o + d_at + 2], &dmin, 2);
      }
      for (int64_t r = 0; (q5 || q3 || q2) && r < rows; ++r) {
        (q5 ? DecodeQ5_0 : q3 ? DecodeQ3_K : DecodeQ2_K)(q.data() + r * row_bytes, x.data() + r * cols, cols);
      }
    } else {
      const DType dt = *gguf::TensorTypeToDType(tt);
      for (int64_t r = 0; r < rows; ++r) {
        cpu::QuantizeRow(dt, x.data() + r * cols, q.data() + r * row_bytes, cols);
        cpu::DequantizeRow(dt, q.data() + r * row_bytes, x.data() + r * cols, cols);
      }
    }
    const Status st = dequantized ? w.WriteTensorData(x.data(), x.size() * 4) : w.WriteTensorData(q.data(), q.size());
    LLEMMA_CHECK(st.ok());
  }
  LLEMMA_CHECK(w.Close().ok());
}

// Relative RMS difference of the logits of two models on an n-token prompt.
double PromptLogitsRelRms(const Model& a, const Model& b, int n) {
  std::vector<int32_t> prompt;
  for (int i = 0; i < n; ++i) prompt.push_back(1 + (i * 37) % 390);
  auto ca = Context::Create(a, {.n_ctx = 128, .n_threads = 2});
  auto cb = Context::Create(b, {.n_ctx = 128, .n_threads = 2});
  LLEMMA_CHECK(ca.ok() && cb.ok());
  auto la = (*ca)->Eval(prompt, true);
  auto lb = (*cb)->Eval(prompt, true);
  LLEMMA_CHECK(la.ok() && lb.ok());
  return RelRms(std::vector<float>(la->begin(), la->end()), lb->data());
}

// Q4_K, Q5_K and Q6_K matrices run natively on their panels and compute
// the model their blocks hold: the logits of a short prompt (8-bit
// activation blocks) and of a long one (the bf16 tile route where the CPU
// has one) are those of the same weights held in F32, up to the rounding
// of the activations.
TEST(KQuantGguf, RunsOnPanelsAndMatchesItsWeightsInF32) {
  const std::string qpath = ::testing::TempDir() + "/kquant.gguf", fpath = ::testing::TempDir() + "/kquant.f32.gguf";
  WriteKQuantGguf(qpath, false);
  WriteKQuantGguf(fpath, true);
  auto q = Model::Load(qpath, {});
  auto f = Model::Load(fpath, {});
  ASSERT_TRUE(q.ok() && f.ok()) << q.status().ToString() << f.status().ToString();
  // Every K-quant is held in its panel form, none expanded to Q8_0.
  const LayerWeights& l = (*q)->layer(0);
  for (const cpu::Matrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
    EXPECT_TRUE(IsKPanel(m->dtype)) << DTypeName(m->dtype);
  EXPECT_LT((*q)->load_stats().bytes_weights, (*f)->load_stats().bytes_weights / 5);
  for (int n : {7, 70}) {
    const double err = PromptLogitsRelRms(**q, **f, n);
    // 8-bit activation blocks alone give about 0.016-0.021 here, bf16 0.009.
    EXPECT_LT(err, 0.04) << n << " tokens";
    EXPECT_GT(err, 0.0) << n << " tokens";  // the fast path really ran (activations rounded)
  }
}

// Q3_K and Q2_K (in community Q3_K_S/M/L and Q2_K files) run natively on
// their own panels, and Q5_0 is held exactly as Q8_0 panels: the logits are
// those of the same weights decoded from the file's bits into F32, up to the
// activations' rounding.
TEST(LowBitGguf, Q3_KAndQ2_KRunNativelyAndQ5_0AsItsExactWiderType) {
  const std::string qpath = ::testing::TempDir() + "/lowbit.gguf", fpath = ::testing::TempDir() + "/lowbit.f32.gguf";
  const std::vector<gguf::TensorType> kinds = {gguf::TensorType::kQ5_0, gguf::TensorType::kQ3_K,
                                               gguf::TensorType::kQ2_K};
  WriteKQuantGguf(qpath, false, kinds);
  WriteKQuantGguf(fpath, true, kinds);
  auto q = Model::Load(qpath, {});
  auto f = Model::Load(fpath, {});
  ASSERT_TRUE(q.ok() && f.ok()) << q.status().ToString() << f.status().ToString();
  std::set<DType> held;
  const LayerWeights& l = (*q)->layer(0);
  for (const cpu::Matrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) held.insert(m->dtype);
  EXPECT_EQ(held, (std::set<DType>{DType::kQ8_0P, DType::kQ3_KP, DType::kQ2_KP}));
  for (int n : {7, 70}) {
    const double err = PromptLogitsRelRms(**q, **f, n);
    EXPECT_LT(err, 0.04) << n << " tokens";
    EXPECT_GT(err, 0.0) << n << " tokens";  // the integer kernels ran (activations rounded)
  }
  // A type with no kernels and no exact home (Q4_1) is refused by name, with the list.
  const std::string q41 = ::testing::TempDir() + "/q4_1.gguf";
  WriteKQuantGguf(q41, false, {gguf::TensorType::kQ4_1});
  auto bad = Model::Load(q41, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("is Q4_1, which llemma cannot read yet"), std::string::npos)
      << bad.status().message();
  // Re-quantizing such a file reads the same values.
  const std::string requant = ::testing::TempDir() + "/lowbit.q8.gguf";
  ASSERT_TRUE(ExportGguf(qpath, requant, {.type = DType::kQ8_0}).ok());
  auto r = Model::Load(requant, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::vector<int32_t> prompt = {1, 50, 77, 300};
  EXPECT_LT(RelError(AllLogits(**r, prompt), AllLogits(**f, prompt).data()), 0.05);
}

// The _M mixes for a 32-layer model (LLEMMA 7B's shape): output and the
// attn_v / ffn_down of layers 0-3, 28-31 and 6, 9, ..., 27 (16 layers) are
// Q6_K; everything else the base K-quant; norms f32.
TEST(ExportTypes, MediumMixesGiveTheirLayersMoreBits) {
  Config c;
  c.n_embd = 4096, c.n_ff = 11008, c.n_layer = 32, c.n_head = 32, c.n_head_kv = 32, c.head_dim = 128;
  c.n_vocab = 32016, c.n_ctx_train = 4096;
  const std::set<int64_t> more = {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31};
  for (const char* name : {"q4_k_m", "q5_k_m"}) {
    auto o = ParseExportType(name);
    ASSERT_TRUE(o.ok());
    const DType base = std::string(name) == "q4_k_m" ? DType::kQ4_K : DType::kQ5_K;
    int q6 = 0;
    for (const TensorSpec& s : LlamaTensorSpecs(c, true)) {
      const DType t = ExportTensorType(s, c, *o);
      if (!s.is_matrix) {
        EXPECT_EQ(t, DType::kF32) << s.gguf_name;
        continue;
      }
      bool want_q6 = s.gguf_name == "output.weight";
      for (int64_t i : more) {
        const std::string blk = "blk." + std::to_string(i) + ".";
        want_q6 = want_q6 || s.gguf_name == blk + "attn_v.weight" || s.gguf_name == blk + "ffn_down.weight";
      }
      EXPECT_EQ(t, want_q6 ? DType::kQ6_K : base) << name << " " << s.gguf_name;
      q6 += t == DType::kQ6_K;
    }
    EXPECT_EQ(q6, 33) << name;
  }
  auto s = ParseExportType("q4_k_s");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->type, DType::kQ4_K);
  EXPECT_NE(s->mix, ExportOptions::KMix::kMedium);
  EXPECT_FALSE(ParseExportType("q4_k_x").ok());
  // Rows that are not whole super-blocks fall back to f16.
  TensorSpec narrow{"x", "blk.0.attn_v.weight", {64, 96}, true, 0};
  EXPECT_EQ(ExportTensorType(narrow, c, *ParseExportType("q4_k_m")), DType::kF16);
}

// The 3- and 2-bit mixes for LLEMMA 7B's shape (32 layers, no key/value
// sharing) and for a 34B-like one (8 query heads per key/value head).
TEST(ExportTypes, LowBitMixesFollowTheCommunityFiles) {
  Config c;
  c.n_embd = 4096, c.n_ff = 11008, c.n_layer = 32, c.n_head = 32, c.n_head_kv = 32, c.head_dim = 128;
  c.n_vocab = 32016, c.n_ctx_train = 4096;
  const auto type_of = [&](const char* mix, const std::string& name, const Config& cfg) {
    auto o = ParseExportType(mix);
    LLEMMA_CHECK(o.ok()) << mix;
    for (const TensorSpec& s : LlamaTensorSpecs(cfg, true))
      if (s.gguf_name == name) return ExportTensorType(s, cfg, *o);
    LLEMMA_CHECK(false) << name;
    return DType::kF32;
  };
  for (const char* mix : {"q3_k", "q3_k_s", "q3_k_m", "q3_k_l", "q2_k"}) {
    EXPECT_EQ(type_of(mix, "output.weight", c), DType::kQ6_K) << mix;
    EXPECT_EQ(type_of(mix, "blk.0.attn_norm.weight", c), DType::kF32) << mix;
  }
  for (const char* mix : {"q3_k", "q3_k_s"}) {
    for (const char* m : {"attn_q", "attn_v", "attn_output", "ffn_down", "ffn_up"})
      EXPECT_EQ(type_of(mix, "blk.5." + std::string(m) + ".weight", c), DType::kQ3_K) << mix << " " << m;
    EXPECT_EQ(type_of(mix, "token_embd.weight", c), DType::kQ3_K);
  }
  EXPECT_EQ(type_of("q3_k_m", "blk.1.attn_v.weight", c), DType::kQ5_K);
  EXPECT_EQ(type_of("q3_k_m", "blk.2.attn_v.weight", c), DType::kQ4_K);
  EXPECT_EQ(type_of("q3_k_m", "blk.1.ffn_down.weight", c), DType::kQ5_K);  // layers < 32 / 16
  EXPECT_EQ(type_of("q3_k_m", "blk.2.ffn_down.weight", c), DType::kQ4_K);
  EXPECT_EQ(type_of("q3_k_m", "blk.9.attn_output.weight", c), DType::kQ4_K);
  EXPECT_EQ(type_of("q3_k_m", "blk.9.attn_k.weight", c), DType::kQ3_K);
  EXPECT_EQ(type_of("q3_k_m", "blk.9.ffn_gate.weight", c), DType::kQ3_K);
  for (const char* m : {"attn_v", "attn_output", "ffn_down"})
    EXPECT_EQ(type_of("q3_k_l", "blk.20." + std::string(m) + ".weight", c), DType::kQ5_K) << m;
  EXPECT_EQ(type_of("q3_k_l", "blk.20.ffn_up.weight", c), DType::kQ3_K);
  for (const char* m : {"attn_v", "attn_output", "ffn_down"})
    EXPECT_EQ(type_of("q2_k", "blk.7." + std::string(m) + ".weight", c), DType::kQ3_K) << m;
  for (const char* m : {"attn_q", "attn_k", "ffn_gate", "ffn_up"})
    EXPECT_EQ(type_of("q2_k", "blk.7." + std::string(m) + ".weight", c), DType::kQ2_K) << m;
  EXPECT_EQ(type_of("q2_k", "token_embd.weight", c), DType::kQ2_K);
  Config gqa = c;
  gqa.n_layer = 48, gqa.n_embd = 8192, gqa.n_head = 64, gqa.n_head_kv = 8;
  EXPECT_EQ(type_of("q2_k", "blk.7.attn_v.weight", gqa), DType::kQ4_K);
  EXPECT_EQ(type_of("q3_k_m", "blk.2.ffn_down.weight", gqa), DType::kQ5_K);  // layers < 48 / 16
  EXPECT_EQ(type_of("q3_k_m", "blk.3.ffn_down.weight", gqa), DType::kQ4_K);
}

// A checkpoint written as Q3_K_M and Q2_K (with llama.cpp's file types)
// loads back onto the native panels and tracks the float model, the 3-bit
// file more closely.
TEST(ExportTypes, LowBitFilesLoadOnTheirPanelsAndTrackTheFloatModel) {
  // One layer with 256-multiple widths, in F32.
  const std::string src = ::testing::TempDir() + "/lowbit-src.f32.gguf";
  WriteKQuantGguf(src, true);
  auto f = Model::Load(src, {});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const std::vector<int32_t> prompt = {1, 50, 77, 300, 12, 9};
  const std::vector<float> want = AllLogits(**f, prompt);
  double err[2];
  int i = 0;
  for (const char* mix : {"q3_k_m", "q2_k"}) {
    const std::string out = ::testing::TempDir() + "/tiny." + mix + ".gguf";
    auto o = ParseExportType(mix);
    ASSERT_TRUE(o.ok());
    ASSERT_TRUE(ExportGguf(src, out, *o).ok()) << mix;
    auto file = gguf::GgufFile::Open(out);
    ASSERT_TRUE(file.ok());
    EXPECT_EQ(*file->GetUInt("general.file_type"), std::string(mix) == "q2_k" ? 10u : 12u);
    auto q = Model::Load(out, {});
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    std::set<DType> held;
    const LayerWeights& l = (*q)->layer(0);
    for (const cpu::Matrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) held.insert(m->dtype);
    const DType base = std::string(mix) == "q2_k" ? DType::kQ2_KP : DType::kQ3_KP;
    EXPECT_TRUE(held.count(base)) << mix;
    err[i++] = RelError(AllLogits(**q, prompt), want.data());
  }
  // One random layer amplifies weight error: the logits move 0.02 for Q8_0,
  // 0.24 for Q4_K and about 0.6 / 0.75 for these (unrelated logits: ~1.4).
  EXPECT_LT(err[0], err[1]);
  EXPECT_LT(err[0], 0.75);
  EXPECT_LT(err[1], 0.95);
  EXPECT_GT(err[0], 0.0);
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
