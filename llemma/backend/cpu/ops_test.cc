#include "llemma/backend/cpu/ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "llemma/backend/cpu/quants.h"
#include "llemma/backend/cpu/ref_ops.h"
#include "llemma/core/half.h"

namespace llemma::cpu {
namespace {

std::vector<float> RandomVector(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Weight storage in a given dtype, starting `offset_elems` into the buffer so
// rows are misaligned relative to the allocation.
struct StoredMatrix {
  std::vector<uint8_t> bytes;
  Matrix m;
};
StoredMatrix MakeMatrix(DType dtype, int64_t rows, int64_t cols, uint32_t seed, int offset_elems) {
  std::vector<float> f = RandomVector(rows * cols, seed, 0.5f);
  StoredMatrix s;
  const size_t es = DTypeSize(dtype);
  s.bytes.resize((rows * cols + offset_elems) * es);
  ConvertElements(DType::kF32, f.data(), dtype, s.bytes.data() + offset_elems * es, rows * cols);
  s.m = Matrix{dtype, s.bytes.data() + offset_elems * es, rows, cols};
  return s;
}

double MaxRelError(const std::vector<float>& got, const std::vector<float>& want) {
  double max_abs = 0, max_err = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    max_abs = std::max(max_abs, std::fabs(static_cast<double>(want[i])));
    max_err = std::max(max_err, std::fabs(static_cast<double>(got[i]) - want[i]));
  }
  return max_err / std::max(max_abs, 1e-30);
}

TEST(MatMul, MatchesReferenceOverDtypesSizesTokensAndMisalignment) {
  for (int threads : {1, 3}) {
    ThreadPool pool(threads);
    for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
      for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {7, 13}, {33, 64}, {50, 257},
                                {129, 96}}) {
        for (int64_t tokens : {1, 2, 4, 5, 9, 70}) {
          for (int offset : {0, 1, 3}) {
            StoredMatrix w = MakeMatrix(dtype, rows, cols, rows * 31 + cols, offset);
            std::vector<float> x = RandomVector(tokens * cols + offset, tokens + 7);
            const float* xp = x.data() + offset;
            std::vector<float> got(tokens * rows), want(tokens * rows);
            MatMul(pool, w.m, xp, tokens, got.data());
            // One token against F16 / BF16 rows: the activations are rounded
            // to F16 first, and the sums are those of the rounded values.
            std::vector<float> xr(xp, xp + tokens * cols);
            if (tokens == 1 && dtype != DType::kF32) {
              std::vector<uint16_t> h(xr.size());
              ConvertElements(DType::kF32, xr.data(), DType::kF16, h.data(), cols);
              ConvertElements(DType::kF16, h.data(), DType::kF32, xr.data(), cols);
            }
            ref::MatMul(w.m, xr.data(), tokens, want.data());
            ASSERT_LT(MaxRelError(got, want), 2e-6)
                << DTypeName(dtype) << " rows=" << rows << " cols=" << cols << " tokens=" << tokens
                << " offset=" << offset << " threads=" << threads;
          }
        }
      }
    }
  }
}

// An activation beyond F16's range (65504) would become infinite there: such
// a vector keeps the float route, exact to the reference.
TEST(MatMul, OneTokenBeyondF16RangeKeepsFloatActivations) {
  ThreadPool pool(2);
  for (DType dtype : {DType::kBF16, DType::kF16}) {
    const int64_t rows = 40, cols = 300;
    StoredMatrix w = MakeMatrix(dtype, rows, cols, 5, 0);
    std::vector<float> x = RandomVector(cols, 9);
    x[17] = 1.0e5f;
    x[200] = 3.0001f;  // not an F16 number: rounding it would show
    std::vector<float> got(rows), want(rows);
    MatMul(pool, w.m, x.data(), 1, got.data());
    ref::MatMul(w.m, x.data(), 1, want.data());
    EXPECT_LT(MaxRelError(got, want), 2e-6) << DTypeName(dtype);
    for (float v : got) EXPECT_TRUE(std::isfinite(v));
  }
}

// Prompts on 16-row-aligned F16 / BF16 matrices take the bf16 tile route
// where the CPU has AMX-BF16: weights are exact there (F16 as two bf16
// terms) and activations rounded to bf16, so against the reference given
// the same rounded activations only the float summation order differs.
// Also an F16 matrix whose values are all bf16 numbers (its second term is
// zero and skipped).
TEST(MatMul, FloatWeightPromptsMatchTheReferenceOnBf16RoundedActivations) {
  ThreadPool pool(2);
  for (DType dtype : {DType::kBF16, DType::kF16}) {
    for (bool bf16_values : {false, true}) {
      if (dtype == DType::kBF16 && bf16_values) continue;
      for (auto [rows, cols] : {std::pair<int64_t, int64_t>{48, 96}, {64, 4096}}) {
        std::vector<float> f = RandomVector(rows * cols, rows + cols, 0.5f);
        if (bf16_values) {
          std::vector<uint16_t> b(f.size());
          ConvertElements(DType::kF32, f.data(), DType::kBF16, b.data(), rows * cols);
          ConvertElements(DType::kBF16, b.data(), DType::kF32, f.data(), rows * cols);
        }
        std::vector<uint16_t> stored(f.size());
        ConvertElements(DType::kF32, f.data(), dtype, stored.data(), rows * cols);
        const Matrix w{dtype, stored.data(), rows, cols};
        for (int64_t tokens : {64, 70, 100}) {
          std::vector<float> x = RandomVector(tokens * cols, tokens + 3);
          std::vector<uint16_t> xb(x.size());
          ConvertElements(DType::kF32, x.data(), DType::kBF16, xb.data(), tokens * cols);
          ConvertElements(DType::kBF16, xb.data(), DType::kF32, x.data(), tokens * cols);
          std::vector<float> got(tokens * rows), want(tokens * rows);
          MatMul(pool, w, x.data(), tokens, got.data());
          ref::MatMul(w, x.data(), tokens, want.data());
          // Float sums of 4096 terms in another order differ by a few 1e-6
          // of the largest output; a weight rounded to bf16 would show ~1e-3.
          ASSERT_LT(MaxRelError(got, want), 1e-5) << DTypeName(dtype) << " " << rows << "x" << cols
                                                  << " tokens=" << tokens << " bf16 values=" << bf16_values;
        }
      }
    }
  }
}

TEST(MatMul, QuantizedWeightsMatchTheDequantizedReference) {
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    for (DType dtype : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_0P, DType::kQ8_0P, DType::kQ4_KP, DType::kQ5_KP,
                        DType::kQ6_KP}) {
      const bool panel = IsPanel(dtype);
      const DType plain = dtype == DType::kQ4_0P   ? DType::kQ4_0
                          : dtype == DType::kQ8_0P ? DType::kQ8_0
                          : dtype == DType::kQ4_KP ? DType::kQ4_K
                          : dtype == DType::kQ5_KP ? DType::kQ5_K
                          : dtype == DType::kQ6_KP ? DType::kQ6_K
                                                   : dtype;
      const std::vector<std::pair<int64_t, int64_t>> shapes =
          panel ? std::vector<std::pair<int64_t, int64_t>>{{16, 32}, {48, 128}, {128, 256}}
                : std::vector<std::pair<int64_t, int64_t>>{{1, 128}, {37, 128}, {100, 256}};
      for (auto [rows, k] : shapes) {
        const int64_t cols = IsKQuant(plain) ? k * 2 + 256 - (k * 2) % 256 : k;  // whole super-blocks
        const auto wf = RandomVector(rows * cols, rows + cols, 0.5f);
        std::vector<uint8_t> rows_plain(RowBytes(plain, cols) * rows), wq(RowBytes(dtype, cols) * rows);
        for (int64_t r = 0; r < rows; ++r)
          QuantizeRow(plain, wf.data() + r * cols, rows_plain.data() + r * RowBytes(plain, cols), cols);
        if (panel) RepackPanels(plain, rows_plain.data(), wq.data(), rows, cols);
        else wq = rows_plain;
        const Matrix w{dtype, wq.data(), rows, cols};
        // 70 tokens: a prompt, which takes the bf16 tile route where the CPU has one.
        for (int64_t tokens : {1, 3, 17, 70}) {
          const auto x = RandomVector(tokens * cols, tokens);
          std::vector<float> got(tokens * rows), want(tokens * rows);
          MatMul(pool, w, x.data(), tokens, got.data());
          ref::MatMul(w, x.data(), tokens, want.data());
          // The fast paths also round the activations (to 8 bits or bf16).
          EXPECT_LT(MaxRelError(got, want), 4e-2) << DTypeName(dtype) << " " << rows << "x" << cols << " tokens=" << tokens;
        }
      }
    }
  }
}

// Q, K and V (or gate and up) in one call give the bits of three calls,
// whether the matrices share a panel pass (same panel type and width) or
// not (mixed types fall back to one call each).
TEST(MatMul, SharedInputMatchesSeparateCallsBitForBit) {
  auto panels = [](DType plain, int64_t rows, int64_t cols, uint32_t seed) {
    const auto wf = RandomVector(rows * cols, seed, 0.5f);
    const DType panel = PanelTypeOf(plain);
    std::vector<uint8_t> q(RowBytes(plain, cols) * rows), out(RowBytes(panel, cols) * rows);
    for (int64_t r = 0; r < rows; ++r)
      QuantizeRow(plain, wf.data() + r * cols, q.data() + r * RowBytes(plain, cols), cols);
    RepackPanels(plain, q.data(), out.data(), rows, cols);
    return std::make_pair(out, Matrix{panel, nullptr, rows, cols});
  };
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    for (DType plain : {DType::kQ4_0, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K}) {
      const int64_t cols = 512;
      auto [bq, wq] = panels(plain, 64, cols, 1);
      auto [bk, wk] = panels(plain, 32, cols, 2);
      auto [bv, wv] = panels(plain, 48, cols, 3);
      wq.data = bq.data(), wk.data = bk.data(), wv.data = bv.data();
      StoredMatrix f16 = MakeMatrix(DType::kF16, 48, cols, 4, 0);
      for (int64_t tokens : {1, 5, 16, 70}) {
        const auto x = RandomVector(tokens * cols, 9 + tokens);
        std::vector<float> q(tokens * 64), k(tokens * 32), v(tokens * 48), q2 = q, k2 = k, v2 = v;
        MatMulShared(pool, {&wq, &wk, &wv}, x.data(), tokens, {q.data(), k.data(), v.data()});
        MatMul(pool, wq, x.data(), tokens, q2.data());
        MatMul(pool, wk, x.data(), tokens, k2.data());
        MatMul(pool, wv, x.data(), tokens, v2.data());
        EXPECT_EQ(q, q2) << DTypeName(plain) << " tokens=" << tokens;
        EXPECT_EQ(k, k2) << DTypeName(plain) << " tokens=" << tokens;
        EXPECT_EQ(v, v2) << DTypeName(plain) << " tokens=" << tokens;
        // The shared product is the product: against the dequantized reference.
        std::vector<float> want(tokens * 32);
        ref::MatMul(wk, x.data(), tokens, want.data());
        EXPECT_LT(MaxRelError(k, want), 4e-2) << DTypeName(plain) << " tokens=" << tokens;
        std::vector<float> mixed(tokens * 48), mixed2(tokens * 48);
        MatMulShared(pool, {&wq, &f16.m}, x.data(), tokens, {q.data(), mixed.data()});
        MatMul(pool, f16.m, x.data(), tokens, mixed2.data());
        EXPECT_EQ(q, q2) << DTypeName(plain) << " mixed, tokens=" << tokens;
        EXPECT_EQ(mixed, mixed2) << DTypeName(plain) << " mixed, tokens=" << tokens;
      }
    }
  }
}

TEST(RmsNorm, MatchesReference) {
  for (int64_t dim : {1, 5, 64, 100}) {
    auto x = RandomVector(3 * dim, dim);
    auto w = RandomVector(dim, dim + 1);
    std::vector<float> got(3 * dim), want(3 * dim);
    RmsNorm(x.data(), w.data(), 3, dim, 1e-5f, got.data());
    ref::RmsNorm(x.data(), w.data(), 3, dim, 1e-5f, want.data());
    EXPECT_LT(MaxRelError(got, want), 1e-6) << dim;
  }
}

TEST(RopeRotateHalf, MatchesReferenceAndIsIdentityAtPositionZero) {
  const int64_t tokens = 3, heads = 2, hd = 8;
  auto x = RandomVector(tokens * heads * hd, 5);
  std::vector<float> cos(tokens * hd / 2), sin(tokens * hd / 2);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t i = 0; i < hd / 2; ++i) {
      const double angle = t * std::pow(10000.0, -2.0 * i / hd);
      cos[t * hd / 2 + i] = std::cos(angle);
      sin[t * hd / 2 + i] = std::sin(angle);
    }
  auto got = x, want = x;
  RopeRotateHalf(got.data(), tokens, heads, hd, cos.data(), sin.data());
  ref::RopeRotateHalf(want.data(), tokens, heads, hd, cos.data(), sin.data());
  EXPECT_LT(MaxRelError(got, want), 1e-6);
  for (int64_t i = 0; i < heads * hd; ++i) EXPECT_FLOAT_EQ(got[i], x[i]);  // position 0
  // Rotation preserves the norm of each (a, b) pair.
  for (int64_t i = 0; i < hd / 2; ++i) {
    const int64_t o = (2 * heads + 1) * hd;  // token 2, head 1
    EXPECT_NEAR(std::hypot(got[o + i], got[o + i + hd / 2]), std::hypot(x[o + i], x[o + i + hd / 2]),
                1e-5);
  }
}

TEST(SiluMulAndSoftmax, MatchReference) {
  auto g = RandomVector(37, 1, 4.0f), u = RandomVector(37, 2);
  auto g2 = g;
  SiluMul(g.data(), u.data(), 37);
  ref::SiluMul(g2.data(), u.data(), 37);
  EXPECT_LT(MaxRelError(g, g2), 1e-6);
  auto s = RandomVector(1000, 3, 30.0f), s2 = s;
  Softmax(s.data(), 1000);
  ref::Softmax(s2.data(), 1000);
  EXPECT_LT(MaxRelError(s, s2), 1e-5);
  double sum = 0;
  for (float v : s) sum += v;
  EXPECT_NEAR(sum, 1.0, 1e-5);
}

// Values rounded to F16 and back, and their F16 bits.
std::vector<float> ThroughF16(const std::vector<float>& x, std::vector<uint16_t>* bits) {
  std::vector<float> out(x.size());
  bits->resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = F16ToF32((*bits)[i] = F32ToF16(x[i]));
  return out;
}

TEST(Attention, MatchesReferenceForMhaGqaAndMqaWithPastTokensOverF32AndF16Caches) {
  struct Case {
    int64_t n_head, n_head_kv, head_dim, n_past, n_tokens;
  };
  for (DType kv_type : {DType::kF32, DType::kF16}) {
    for (Case c : {Case{4, 4, 8, 0, 5}, Case{6, 2, 16, 3, 4}, Case{3, 1, 6, 9, 1}, Case{8, 4, 4, 0, 1},
                   Case{4, 2, 32, 5, 19}, Case{2, 2, 128, 0, 17}, Case{2, 1, 320, 2, 3}}) {
      const int64_t n_ctx = c.n_past + c.n_tokens + 2;
      ThreadPool pool(2);
      auto q = RandomVector(c.n_tokens * c.n_head * c.head_dim, 11);
      auto k = RandomVector(c.n_head_kv * n_ctx * c.head_dim, 12);
      auto v = RandomVector(c.n_head_kv * n_ctx * c.head_dim, 13);
      std::vector<uint16_t> k16, v16;
      const std::vector<float> k_rounded = ThroughF16(k, &k16), v_rounded = ThroughF16(v, &v16);
      const bool f16 = kv_type == DType::kF16;
      std::vector<float> got(q.size()), want(q.size());
      AttentionArgs a{q.data(), f16 ? static_cast<const void*>(k16.data()) : k.data(),
                      f16 ? static_cast<const void*>(v16.data()) : v.data(), got.data(), c.n_tokens, c.n_past,
                      n_ctx, c.n_head, c.n_head_kv, c.head_dim, kv_type};
      Attention(pool, a);
      // The reference reads the same cache; over F16 it must also equal
      // float attention over the rounded values.
      a.out = want.data();
      ref::Attention(a);
      EXPECT_LT(MaxRelError(got, want), 1e-5) << c.n_head << "/" << c.n_head_kv << " " << DTypeName(kv_type);
      if (f16) {
        std::vector<float> as_f32(q.size());
        Attention(pool, AttentionArgs{q.data(), k_rounded.data(), v_rounded.data(), as_f32.data(), c.n_tokens,
                                      c.n_past, n_ctx, c.n_head, c.n_head_kv, c.head_dim});
        // bit for bit on the AVX-512 kernels (head sizes of whole vectors);
        // compiler-vectorized sums may depend on the rows' alignment
        const std::string isa = KernelIsaName();
        if ((isa == "avx512" || isa == "amx") && c.head_dim % 16 == 0) {
          EXPECT_EQ(got, as_f32) << c.n_head << "/" << c.n_head_kv << " head_dim " << c.head_dim;
        } else {
          EXPECT_LT(MaxRelError(got, as_f32), 1e-5) << c.n_head << "/" << c.n_head_kv << " head_dim " << c.head_dim;
        }
        // and rounding the cache moved the result (the test sees the type)
        std::vector<float> unrounded(q.size());
        Attention(pool, AttentionArgs{q.data(), k.data(), v.data(), unrounded.data(), c.n_tokens, c.n_past, n_ctx,
                                      c.n_head, c.n_head_kv, c.head_dim});
        EXPECT_NE(got, unrounded);
      }
    }
  }
}

TEST(Attention, StoreKvRoundsToNearestF16AndRejectsOtherTypes) {
  // 1 + 2^-11 is a tie between 1 and 1 + 2^-10 (to even: 1); 1 + 3·2^-11
  // rounds up to 1 + 2^-9; 65520 is past F16's largest value (inf);
  // 2^-25 is half the smallest subnormal (ties to 0), 3·2^-26 rounds up to it.
  std::vector<float> x = {1.0f + 0x1p-11f, 1.0f + 0x3p-11f, -2.5f, 65520.0f, 0x1p-25f, 0x3p-26f, 0.0f, -0.0f};
  for (int i = 0; i < 40; ++i) x.push_back(0.37f * static_cast<float>(i) - 7.0f);  // the vector lanes
  std::vector<uint16_t> got(x.size());
  StoreKv(DType::kF16, x.data(), got.data(), static_cast<int64_t>(x.size()));
  const uint16_t want[] = {0x3c00, 0x3c02, 0xc100, 0x7c00, 0x0000, 0x0001, 0x0000, 0x8000};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(got[i], want[i]) << i;
  for (size_t i = 8; i < x.size(); ++i) EXPECT_EQ(got[i], F32ToF16(x[i])) << i;
  std::vector<float> back(x.size());
  StoreKv(DType::kF32, x.data(), back.data(), static_cast<int64_t>(x.size()));
  EXPECT_EQ(back, x);
  EXPECT_EQ(KvBytes(DType::kF16), 2u);
  EXPECT_EQ(KvBytes(DType::kF32), 4u);
  EXPECT_DEATH(KvBytes(DType::kQ8_0), "KV cache type");
}

// Prompt queries are computed in blocks; each must still equal, bit for bit,
// the same query attended alone (as in decoding, one token at a time).
TEST(Attention, EachPromptQueryEqualsTheSameQueryAlone) {
  const int64_t n_head = 4, n_head_kv = 2, hd = 64, n_past = 3, n_tokens = 21, n_ctx = 30;
  ThreadPool pool(2);
  auto q = RandomVector(n_tokens * n_head * hd, 21);
  auto k = RandomVector(n_head_kv * n_ctx * hd, 22);
  auto v = RandomVector(n_head_kv * n_ctx * hd, 23);
  std::vector<float> all(q.size());
  Attention(pool, AttentionArgs{q.data(), k.data(), v.data(), all.data(), n_tokens, n_past, n_ctx, n_head,
                                n_head_kv, hd});
  for (int64_t t = 0; t < n_tokens; ++t) {
    std::vector<float> one(n_head * hd);
    Attention(pool, AttentionArgs{q.data() + t * n_head * hd, k.data(), v.data(), one.data(), 1, n_past + t,
                                  n_ctx, n_head, n_head_kv, hd});
    for (int64_t i = 0; i < n_head * hd; ++i) ASSERT_EQ(one[i], all[t * n_head * hd + i]) << t << " " << i;
  }
}

// Attention of one query over explicit key/value rows, in double precision.
std::vector<double> NaiveAttend(const float* q, const std::vector<const float*>& keys,
                                const std::vector<const float*>& values, int64_t hd) {
  std::vector<double> s(keys.size());
  double m = -1e300;
  for (size_t j = 0; j < keys.size(); ++j) {
    double d = 0;
    for (int64_t i = 0; i < hd; ++i) d += static_cast<double>(q[i]) * keys[j][i];
    s[j] = d / std::sqrt(static_cast<double>(hd));
    m = std::max(m, s[j]);
  }
  double z = 0;
  for (double& x : s) z += (x = std::exp(x - m));
  std::vector<double> out(hd, 0.0);
  for (size_t j = 0; j < keys.size(); ++j)
    for (int64_t i = 0; i < hd; ++i) out[i] += s[j] / z * values[j][i];
  return out;
}

// Tokens of a batch share prefixes in groups (3 tokens on prefix A, 2 on
// prefix B, one token with none, one on a shorter view of A), each with its
// own tail, and one token is the sequence A belongs to (its own segment
// starts with A's keys); every output must equal attending to that token's
// keys alone.
TEST(BatchAttention, SharedPrefixesMatchPerTokenAttentionForMhaAndGqaOverF32AndF16Caches) {
  for (DType kv_type : {DType::kF32, DType::kF16}) {
    for (int64_t n_head_kv : {4, 2, 1}) {
      for (int threads : {1, 3}) {
        const int64_t n_head = 4, hd = 64, stride = 40;
        const int64_t n_tokens = 8;
        const bool f16 = kv_type == DType::kF16;
        // Each cache as the values attention sees (rounded through F16 for an
        // F16 cache) and as stored.
        std::vector<std::vector<float>> ks, vs;
        std::vector<std::vector<uint16_t>> ks16(2 + n_tokens), vs16(2 + n_tokens);
        for (uint32_t i = 0; i < 2 + n_tokens; ++i) {
          ks.push_back(RandomVector(n_head_kv * stride * hd, 100 + i));
          vs.push_back(RandomVector(n_head_kv * stride * hd, 200 + i));
          if (f16) ks[i] = ThroughF16(ks[i], &ks16[i]), vs[i] = ThroughF16(vs[i], &vs16[i]);
        }
        auto kdata = [&](int64_t i) -> const void* { return f16 ? static_cast<const void*>(ks16[i].data()) : ks[i].data(); };
        auto vdata = [&](int64_t i) -> const void* { return f16 ? static_cast<const void*>(vs16[i].data()) : vs[i].data(); };
        // Caches 0 and 1 are prefixes A and B; cache 2 + t is token t's own,
        // except token 7, the sequence holding prefix A.
        const int64_t prefix_of[n_tokens] = {0, 0, 1, -1, 0, 1, 0, -1};
        const int64_t prefix_len[n_tokens] = {23, 23, 9, 0, 23, 9, 11, 0};
        const int64_t own_len[n_tokens] = {3, 1, 5, 7, 2, 1, 4, 30};
        const int64_t own_of[n_tokens] = {2, 3, 4, 5, 6, 7, 8, 0};
        std::vector<KvSegment> prefix(n_tokens), own(n_tokens);
        for (int64_t t = 0; t < n_tokens; ++t) {
          if (prefix_of[t] >= 0) prefix[t] = {kdata(prefix_of[t]), vdata(prefix_of[t]), prefix_len[t]};
          own[t] = {kdata(own_of[t]), vdata(own_of[t]), own_len[t]};
        }
        const std::vector<float> q = RandomVector(n_tokens * n_head * hd, 7);
        std::vector<float> out(n_tokens * n_head * hd, -1.0f);
        BatchAttentionArgs a;
        a.q = q.data();
        a.out = out.data();
        a.prefix = prefix.data();
        a.own = own.data();
        a.n_tokens = n_tokens;
        a.n_head = n_head;
        a.n_head_kv = n_head_kv;
        a.head_dim = hd;
        a.stride = stride;
        a.max_keys = stride;
        a.kv_type = kv_type;
        ThreadPool pool(threads);
        BatchAttention(pool, a);
        double worst = 0;
        for (int64_t t = 0; t < n_tokens; ++t) {
          for (int64_t h = 0; h < n_head; ++h) {
            const int64_t off = (h / (n_head / n_head_kv)) * stride * hd;
            std::vector<const float*> keys, values;
            auto add = [&](int64_t cache, int64_t n) {
              for (int64_t j = 0; j < n; ++j) {
                keys.push_back(ks[cache].data() + off + j * hd);
                values.push_back(vs[cache].data() + off + j * hd);
              }
            };
            if (prefix_of[t] >= 0) add(prefix_of[t], prefix_len[t]);
            add(own_of[t], own_len[t]);
            const std::vector<double> want = NaiveAttend(q.data() + (t * n_head + h) * hd, keys, values, hd);
            for (int64_t i = 0; i < hd; ++i)
              worst = std::max(worst, std::abs(want[i] - out[(t * n_head + h) * hd + i]));
          }
        }
        EXPECT_LT(worst, 2e-5) << "n_head_kv " << n_head_kv << ", threads " << threads << " " << DTypeName(kv_type);
      }
    }
  }
}

}  // namespace
}  // namespace llemma::cpu
