// Every ISA build of the kernels against the scalar reference, over sizes
// around the vector widths and misaligned pointers.
#include "llemma/backend/cpu/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "llemma/backend/cpu/ref_ops.h"
#include "llemma/core/half.h"

namespace llemma::cpu::internal {
namespace {

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

double RefDot(DType dtype, const void* w, const float* x, int64_t n) {
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(ref::LoadElement(dtype, w, i)) * x[i];
  return acc;
}

TEST(Kernels, ActiveTableIsTheBestSupported) {
  const auto tables = SupportedKernels();
  if (std::getenv("LLEMMA_ISA") == nullptr) {
    EXPECT_STREQ(ActiveKernels().name, tables.back()->name);
  }
}

TEST(Kernels, DotProductsMatchReferenceForEveryIsa) {
  for (const Kernels* k : SupportedKernels()) {
    for (int64_t n : {1, 3, 15, 16, 17, 31, 64, 65, 127, 300, 4096 + 7}) {
      for (int offset : {0, 1, 5}) {
        const auto f = Random(n + offset, n * 7 + offset);
        const auto x = Random(n + offset, n * 3 + offset + 1);
        std::vector<uint16_t> bf(n + offset), hf(n + offset);
        ConvertElements(DType::kF32, f.data(), DType::kBF16, bf.data(), n + offset);
        ConvertElements(DType::kF32, f.data(), DType::kF16, hf.data(), n + offset);
        const float* xp = x.data() + offset;
        const double tol = 1e-5 * std::sqrt(static_cast<double>(n)) + 1e-6;
        EXPECT_NEAR(k->dot_f32(f.data() + offset, xp, n), RefDot(DType::kF32, f.data() + offset, xp, n), tol)
            << k->name << " n=" << n;
        EXPECT_NEAR(k->dot_bf16(bf.data() + offset, xp, n), RefDot(DType::kBF16, bf.data() + offset, xp, n), tol)
            << k->name << " n=" << n;
        EXPECT_NEAR(k->dot_f16(hf.data() + offset, xp, n), RefDot(DType::kF16, hf.data() + offset, xp, n), tol)
            << k->name << " n=" << n;
        // Activations rounded to F16 (the decode route of F16 / BF16 rows).
        std::vector<uint16_t> xh(n + offset);
        ConvertElements(DType::kF32, x.data(), DType::kF16, xh.data(), n + offset);
        std::vector<float> xr(n);
        for (int64_t i = 0; i < n; ++i) xr[i] = F16ToF32(xh[offset + i]);
        EXPECT_NEAR(k->dot_f16_h(hf.data() + offset, xh.data() + offset, n),
                    RefDot(DType::kF16, hf.data() + offset, xr.data(), n), tol)
            << k->name << " n=" << n;
        EXPECT_NEAR(k->dot_bf16_h(bf.data() + offset, xh.data() + offset, n),
                    RefDot(DType::kBF16, bf.data() + offset, xr.data(), n), tol)
            << k->name << " n=" << n;
        std::vector<float> out(n);
        for (DType d : {DType::kF32, DType::kBF16, DType::kF16}) {
          const void* src = d == DType::kF32 ? static_cast<const void*>(f.data() + offset)
                            : d == DType::kBF16 ? static_cast<const void*>(bf.data() + offset)
                                                : static_cast<const void*>(hf.data() + offset);
          k->to_f32(d, src, out.data(), n);
          for (int64_t i = 0; i < n; ++i) ASSERT_EQ(out[i], ref::LoadElement(d, src, i)) << k->name;
        }
      }
    }
  }
}

TEST(Kernels, Gemm4x4AndAxpyMatchReferenceForEveryIsa) {
  for (const Kernels* k : SupportedKernels()) {
    for (int64_t len : {1, 7, 16, 33, 257}) {
      const auto w = Random(4 * len + 1, len), x = Random(4 * len + 3, len + 9);
      float out[16];
      k->gemm_4x4(w.data() + 1, x.data() + 3, len, out);
      for (int t = 0; t < 4; ++t)
        for (int r = 0; r < 4; ++r)
          EXPECT_NEAR(out[t * 4 + r], RefDot(DType::kF32, w.data() + 1 + r * len, x.data() + 3 + t * len, len),
                      1e-5 * len)
              << k->name;
      auto y = Random(len, 1);
      auto want = y;
      k->axpy(0.5f, x.data() + 1, y.data(), len);
      for (int64_t i = 0; i < len; ++i) EXPECT_NEAR(y[i], want[i] + 0.5f * x[1 + i], 1e-6) << k->name;
    }
  }
}

TEST(Kernels, PackedOuterProductGemmMatchesReferenceForEveryIsa) {
  for (const Kernels* k : SupportedKernels()) {
    for (int64_t len : {1, 5, 64, 300}) {
      const auto rows = Random(32 * len, len + 3);                  // 32 rows, row-major
      const int64_t x_stride = len + 7, y_stride = 40;
      const auto x = Random(6 * x_stride, len + 11);
      std::vector<float> packed(32 * len), y(6 * y_stride, -1.0f);
      for (int64_t r = 0; r < 32; ++r)
        for (int64_t i = 0; i < len; ++i) packed[i * 32 + r] = rows[r * len + i];
      k->gemm_packed_32x6(packed.data(), x.data(), x_stride, len, y.data(), y_stride);
      for (int t = 0; t < 6; ++t) {
        for (int r = 0; r < 32; ++r) {
          EXPECT_NEAR(y[t * y_stride + r], RefDot(DType::kF32, rows.data() + r * len, x.data() + t * x_stride, len),
                      1e-5 * len)
              << k->name << " len=" << len;
        }
        for (int r = 32; r < y_stride; ++r) ASSERT_EQ(y[t * y_stride + r], -1.0f);  // nothing past the tile
      }
    }
  }
}

// The batched-decoding GEMM on F16 / BF16 rows: every row and token count
// around the kernels' blocks (6 rows × 4 tokens on AVX-512, 2 × 2 in the
// shared body), padded and misaligned rows, interleaved activations from
// InterleaveActs, and nothing written beyond the nr × nt block of y.
TEST(Kernels, HalfRowGemmMatchesReferenceForEveryIsa) {
  for (const Kernels* k : SupportedKernels()) {
    for (DType dtype : {DType::kF16, DType::kBF16}) {
      for (int64_t len : {16, 48, 1024}) {
        for (int64_t nr : {1, 2, 5, 6, 7, 13}) {
          for (int nt : {1, 2, 3, 4, 5, 8, 9, 17}) {
            const int offset = static_cast<int>((len + nr + nt) % 3);  // 0, 1 or 2 elements
            const int64_t w_stride = len + 5, x_stride = len + 3, y_stride = nr + 2;
            const auto f = Random(nr * w_stride + offset, len * 13 + nr);
            std::vector<uint16_t> w(f.size());
            ConvertElements(DType::kF32, f.data(), dtype, w.data(), static_cast<int64_t>(f.size()));
            const auto x = Random(nt * x_stride, len + nt);
            std::vector<float> xi(nt * len + 1);
            InterleaveActs(x.data(), x_stride, nt, len, xi.data() + 1);
            for (int64_t c = 0; c < len; ++c)  // the layout gemm_half_rows reads
              ASSERT_EQ(xi[1 + (c / 16) * 16 * nt + 16 * (nt - 1) + c % 16], x[(nt - 1) * x_stride + c]);
            std::vector<float> y(nt * y_stride, -1.0f);
            k->gemm_half_rows(dtype, w.data() + offset, w_stride, nr, xi.data() + 1, nt, len, y.data(), y_stride);
            for (int t = 0; t < nt; ++t) {
              for (int64_t r = 0; r < nr; ++r) {
                const uint16_t* row = w.data() + offset + r * w_stride;
                double abs_sum = 0;
                for (int64_t c = 0; c < len; ++c)
                  abs_sum += std::fabs(ref::LoadElement(dtype, row, c) * x[t * x_stride + c]);
                EXPECT_NEAR(y[t * y_stride + r], RefDot(dtype, row, x.data() + t * x_stride, len), 1e-6 * abs_sum)
                    << k->name << " " << DTypeName(dtype) << " len=" << len << " nr=" << nr << " nt=" << nt
                    << " r=" << r << " t=" << t;
              }
              for (int64_t r = nr; r < y_stride; ++r) ASSERT_EQ(y[t * y_stride + r], -1.0f);
            }
          }
        }
      }
    }
  }
}

// Attention kernels: scores and weighted values against double-precision
// sums, for head sizes that are and are not multiples of the vector width,
// several query counts (the kernels block queries by 2 and 4) and
// misaligned rows; and the guarantees batched attention relies on: a score
// does not depend on how many queries share the call, and values split over
// two calls equal one call, bit for bit.
// SwiGLU's activation against a double-precision formula, over lengths
// around the vector width and gates from −100 to 100 (where e^−g overflows
// or vanishes).
TEST(Kernels, SiluMulMatchesTheFormulaForEveryIsa) {
  for (const Kernels* k : SupportedKernels()) {
    for (int64_t n : {1, 15, 16, 17, 100, 1000}) {
      auto g = Random(n, n + 1), u = Random(n, n + 2);
      for (int64_t i = 0; i < n; ++i) g[i] *= (i % 7 == 0) ? 100.0f : 12.0f;
      auto got = g;
      k->silu_mul(got.data(), u.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const double want = g[i] / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i];
        ASSERT_NEAR(got[i], want, 1e-6 * std::fabs(want) + 1e-30) << k->name << " g=" << g[i];
      }
    }
  }
}

// Softmax's exponentials against double precision, over lengths around the
// vector width (masked tails must leave the bytes after x alone) and
// differences from the maximum down to −100 (where e^x underflows).
TEST(Kernels, ExpSumMatchesTheFormulaForEveryIsa) {
  for (const Kernels* k : SupportedKernels()) {
    for (int64_t n : {1, 15, 16, 17, 100, 1001}) {
      auto x = Random(n + 2, n + 5);
      for (int64_t i = 0; i < n; ++i) x[i + 1] *= (i % 5 == 0) ? 100.0f : 20.0f;
      const float m = *std::max_element(x.begin() + 1, x.begin() + 1 + n);
      auto got = x;
      const double sum = k->exp_sum(got.data() + 1, n, m);
      double want_sum = 0;
      for (int64_t i = 0; i < n; ++i) {
        // The difference is taken in float, as Softmax always has.
        const double want = std::exp(static_cast<double>(x[i + 1] - m));
        want_sum += want;
        ASSERT_NEAR(got[i + 1], want, 2e-7 * want + 1e-37) << k->name << " n=" << n << " x=" << x[i + 1] - m;
      }
      EXPECT_NEAR(sum, want_sum, 1e-6 * want_sum) << k->name << " n=" << n;
      EXPECT_EQ(got[0], x[0]) << "wrote before x";
      EXPECT_EQ(got[n + 1], x[n + 1]) << "wrote past x";
    }
  }
}

TEST(Kernels, AttentionKernelsMatchReferenceAndAreIndependentOfBlocking) {
  for (const Kernels* k : SupportedKernels()) {
    for (int64_t hd : {16, 64, 80, 128, 160, 256, 24}) {
      for (int n_q : {1, 2, 3, 5, 8}) {
        for (int offset : {0, 3}) {
          const int64_t n_keys = 37;
          const auto keys = Random(n_keys * hd + offset, hd * 11 + n_q + offset);
          const auto vals = Random(n_keys * hd + offset, hd * 13 + n_q + offset);
          const auto q = Random(n_q * hd + offset, hd * 17 + n_q + offset);
          const float* kp = keys.data() + offset;
          const float* vp = vals.data() + offset;
          const float* qp = q.data() + offset;
          const int64_t stride = n_keys + 2;
          std::vector<float> s(n_q * stride, 0.0f);
          k->attn_qk(kp, n_keys, qp, n_q, hd, 0.5f, s.data(), stride);
          for (int i = 0; i < n_q; ++i) {
            float one = 0;
            for (int64_t j = 0; j < n_keys; ++j) {
              double want = 0;
              for (int64_t c = 0; c < hd; ++c) want += static_cast<double>(kp[j * hd + c]) * qp[i * hd + c];
              EXPECT_NEAR(s[i * stride + j], 0.5 * want, 1e-4) << k->name << " hd " << hd << " q " << i;
              k->attn_qk(kp + j * hd, 1, qp + i * hd, 1, hd, 0.5f, &one, 0);
              EXPECT_EQ(one, s[i * stride + j]) << k->name << " hd " << hd;
            }
          }
          std::vector<float> out(n_q * hd), split(n_q * hd), single(hd);
          for (size_t i = 0; i < out.size(); ++i) out[i] = split[i] = 0.25f * static_cast<float>(i % 7);
          k->attn_pv(vp, n_keys, s.data(), n_q, stride, hd, out.data());
          k->attn_pv(vp, 20, s.data(), n_q, stride, hd, split.data());
          k->attn_pv(vp + 20 * hd, n_keys - 20, s.data() + 20, n_q, stride, hd, split.data());
          for (int i = 0; i < n_q; ++i) {
            for (int64_t c = 0; c < hd; ++c) single[c] = 0.25f * static_cast<float>((i * hd + c) % 7);
            k->attn_pv(vp, n_keys, s.data() + i * stride, 1, 0, hd, single.data());
            for (int64_t c = 0; c < hd; ++c) {
              double want = 0.25 * static_cast<double>((i * hd + c) % 7);
              for (int64_t j = 0; j < n_keys; ++j) want += static_cast<double>(s[i * stride + j]) * vp[j * hd + c];
              EXPECT_NEAR(out[i * hd + c], want, 1e-4) << k->name << " hd " << hd;
              EXPECT_EQ(split[i * hd + c], out[i * hd + c]) << k->name << " hd " << hd;
              EXPECT_EQ(single[c], out[i * hd + c]) << k->name << " hd " << hd;
            }
          }
        }
      }
    }
  }
}

// F16 cache rows: the F16 kernels give what the float kernels give on the
// rows converted to float (head sizes on and off the vector width, past the
// generic kernels' on-stack row, misaligned rows), keep the guarantees
// batched attention relies on, and to_f16 rounds as F32ToF16 does, tails
// included.
TEST(Kernels, F16CacheKernelsEqualTheFloatKernelsOnConvertedRowsForEveryIsa) {
  for (const Kernels* k : SupportedKernels()) {
    for (int64_t hd : {16, 24, 128, 320}) {
      for (int n_q : {1, 2, 3, 5, 8}) {
        for (int offset : {0, 3}) {
          const int64_t n_keys = 37, stride = n_keys + 1;
          const auto keys = Random(n_keys * hd + offset, hd * 7 + n_q + offset);
          const auto vals = Random(n_keys * hd + offset, hd * 5 + n_q + offset);
          const auto q = Random(n_q * hd, hd * 3 + n_q);
          std::vector<uint16_t> k16(keys.size()), v16(vals.size());
          k->to_f16(keys.data(), k16.data(), static_cast<int64_t>(keys.size()));
          k->to_f16(vals.data(), v16.data(), static_cast<int64_t>(vals.size()));
          std::vector<float> kf(keys.size()), vf(vals.size());
          for (size_t i = 0; i < keys.size(); ++i) {
            ASSERT_EQ(k16[i], F32ToF16(keys[i])) << k->name << " " << keys[i];
            kf[i] = F16ToF32(k16[i]);
          }
          for (size_t i = 0; i < vals.size(); ++i) vf[i] = F16ToF32(v16[i]);
          std::vector<float> s(n_q * stride), s16(n_q * stride);
          k->attn_qk(kf.data() + offset, n_keys, q.data(), n_q, hd, 0.125f, s.data(), stride);
          k->attn_qk_f16(k16.data() + offset, n_keys, q.data(), n_q, hd, 0.125f, s16.data(), stride);
          // The vector-loop kernels' sums do not depend on where the rows
          // sit; the compiler-vectorized ones' may (loop peeling), so they
          // match to rounding.
          const bool exact = (std::string(k->name) == "avx512" || std::string(k->name) == "amx") && hd % 16 == 0;
          auto same = [&](float got, float want) {
            if (exact) return got == want;
            return std::fabs(got - want) <= 1e-5f * (std::fabs(want) + 1.0f);
          };
          for (int i = 0; i < n_q; ++i) {
            for (int64_t j = 0; j < n_keys; ++j) {
              ASSERT_TRUE(same(s16[i * stride + j], s[i * stride + j]))
                  << k->name << " hd " << hd << " n_q " << n_q << ": " << s16[i * stride + j] << " vs " << s[i * stride + j];
              float one = 0;  // a score does not depend on the queries sharing the call
              k->attn_qk_f16(k16.data() + offset + j * hd, 1, q.data() + i * hd, 1, hd, 0.125f, &one, 0);
              ASSERT_EQ(one, s16[i * stride + j]) << k->name << " hd " << hd;
            }
          }
          std::vector<float> out(n_q * hd, 0.5f), out16(n_q * hd, 0.5f), split(n_q * hd, 0.5f);
          k->attn_pv(vf.data() + offset, n_keys, s.data(), n_q, stride, hd, out.data());
          k->attn_pv_f16(v16.data() + offset, n_keys, s.data(), n_q, stride, hd, out16.data());
          k->attn_pv_f16(v16.data() + offset, 11, s.data(), n_q, stride, hd, split.data());
          k->attn_pv_f16(v16.data() + offset + 11 * hd, n_keys - 11, s.data() + 11, n_q, stride, hd, split.data());
          for (size_t i = 0; i < out.size(); ++i) {
            ASSERT_TRUE(same(out16[i], out[i])) << k->name << " hd " << hd << " n_q " << n_q;
            ASSERT_EQ(split[i], out16[i]) << k->name << " hd " << hd << " (keys split over two calls)";
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace llemma::cpu::internal
