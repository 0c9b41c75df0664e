#include "llemma/backend/cpu/quants.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "llemma/backend/cpu/kernels.h"
#include "llemma/core/half.h"

namespace llemma::cpu {
namespace {

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(Quants, HandBuiltBlocksDecodeToKnownValues) {
  // Q8_0: d = 0.5 (f16 0x3800), q = -3, 0, 7, ...
  uint8_t q8[34] = {0x00, 0x38};
  q8[2] = static_cast<uint8_t>(-3);
  q8[4] = 7;
  q8[33] = static_cast<uint8_t>(-128);
  float out[32];
  DequantizeRow(DType::kQ8_0, q8, out, 32);
  EXPECT_EQ(out[0], -1.5f);
  EXPECT_EQ(out[1], 0.0f);
  EXPECT_EQ(out[2], 3.5f);
  EXPECT_EQ(out[31], -64.0f);
  // Q4_0: d = 2 (0x4000); byte 0 = 0x9F → element 0 = (0xF-8)·2 = 14, element 16 = (9-8)·2 = 2.
  uint8_t q4[18] = {0x00, 0x40, 0x9F};
  for (int j = 1; j < 16; ++j) q4[2 + j] = 0x88;  // zeros
  q4[17] = 0x30;                                   // element 15 = -16, element 31 = -10
  DequantizeRow(DType::kQ4_0, q4, out, 32);
  EXPECT_EQ(out[0], 14.0f);
  EXPECT_EQ(out[16], 2.0f);
  EXPECT_EQ(out[1], 0.0f);
  EXPECT_EQ(out[15], -16.0f);
  EXPECT_EQ(out[31], -10.0f);
}

// K-quant layouts, checked byte by byte against hand-computed values (the
// same layouts were checked bit-exact against llama.cpp's reference
// dequantizer on files written by llama-quantize).
TEST(Quants, HandBuiltKQuantBlocksDecodeToKnownValues) {
  std::vector<float> out(256);
  {
    BlockQ4_K b{};
    b.d = 0x3C00;     // 1.0
    b.dmin = 0x3800;  // 0.5
    b.scales[0] = 2;  // sub-block 0: scale 2
    b.scales[4] = 3;  //              min 3
    b.scales[1] = 1;  // sub-block 1: scale 1, min 0
    b.scales[8] = 0x21;  // sub-block 4: scale 1 | (scales[0]>>6)<<4 = 1, min 2 | (scales[4]>>6)<<4 = 2
    b.qs[0] = 0x5A;   // element 0: low nibble 10; element 32: high nibble 5
    b.qs[64] = 0x07;  // element 128: 7
    DequantizeRow(DType::kQ4_K, &b, out.data(), 256);
    EXPECT_EQ(out[0], 1.0f * 2 * 10 - 0.5f * 3);
    EXPECT_EQ(out[1], -1.5f);
    EXPECT_EQ(out[32], 5.0f);
    EXPECT_EQ(out[128], 7.0f - 1.0f);
  }
  {
    BlockQ5_K b{};
    b.d = 0x3C00;
    b.scales[0] = 1;
    b.qs[3] = 0x0F;   // element 3: low nibble 15
    b.qh[3] = 0x01;   // + fifth bit (u1 = 1 for the first 32) → 31
    b.qh[4] = 0x02;   // element 36: fifth bit of the second 32 (u2 = 2); scale of sub-block 1 is 0
    b.scales[1] = 2;
    b.qs[4] = 0x30;   // element 36: high nibble 3 → 3 + 16 = 19, × 2
    DequantizeRow(DType::kQ5_K, &b, out.data(), 256);
    EXPECT_EQ(out[3], 31.0f);
    EXPECT_EQ(out[36], 38.0f);
  }
  {
    BlockQ6_K b{};
    b.d = 0x4000;  // 2.0
    for (auto& s : b.scales) s = 1;
    b.scales[2] = -3;
    // element 0: ql[0] low nibble 1, qh[0] bits 0-1 = 2 → (1 | 2<<4) - 32 = 1
    b.ql[0] = 0x01;
    b.qh[0] = 0x02;
    // element 32 (q2: ql[32] low nibble, qh[0] bits 2-3, scale index 2): (4 | 0) - 32 = -28
    b.ql[32] = 0x04;
    DequantizeRow(DType::kQ6_K, &b, out.data(), 256);
    EXPECT_EQ(out[0], 2.0f * 1 * 1);
    EXPECT_EQ(out[32], 2.0f * -3 * -28);
    EXPECT_EQ(out[1], 2.0f * -32);
  }
}

// Q5_0 blocks with chosen bits widened to Q8_0, and Q3_K / Q2_K blocks
// dequantized; the expected values are worked out by hand from the GGUF
// layout.
TEST(Quants, HandBuiltQ5_0Q3_KAndQ2_KBlocksGiveKnownValues) {
  uint8_t q5[22] = {};
  const uint16_t half = 0x3800;  // 0.5
  std::memcpy(q5, &half, 2);
  const uint32_t fifth = (1u << 0) | (1u << 31);  // elements 0 and 31
  std::memcpy(q5 + 2, &fifth, 4);
  q5[6 + 0] = 0x3F;   // element 0: 0xF + 16 = 31 → 15; element 16: 3 → −13
  q5[6 + 15] = 0xF0;  // element 15: 0 → −16; element 31: 0xF + 16 = 31 → 15
  BlockQ8_0 q8;
  WidenQ5_0ToQ8_0(q5, &q8, 32);
  EXPECT_EQ(q8.d, half);
  std::vector<float> y(32);
  DequantizeRow(DType::kQ8_0, &q8, y.data(), 32);
  for (int e = 0; e < 32; ++e) {
    const float want = e == 0 || e == 31 ? 7.5f : e == 16 ? -6.5f : -8.0f;  // untouched: (0 − 16) · 0.5
    EXPECT_EQ(y[e], want) << e;
  }

  uint8_t q3[110] = {};
  const uint16_t one = 0x3C00;
  std::memcpy(q3 + 108, &one, 2);
  uint8_t* hmask = q3;
  uint8_t* qs = q3 + 32;
  uint8_t* sc = q3 + 96;
  sc[0] = 0x01, sc[8] = 0x02;  // s_0 = 0b10'0001 = 33 → +1
  sc[7] = 0xF0, sc[11] = 0xC0;  // s_15 = 63 → +31; every other s is 0 → −32
  qs[0] = 0x03, hmask[0] = 0x01;  // e = 0: low 3, high 1 → q = 3
  qs[63] = 0x40;                  // e = 255 (h 1, k 3, l 31): low 1, high 0 → q = −3
  qs[32 + 22] = 0x02, hmask[22] = 0x10;  // e = 150 (h 1, k 0, l 22): low 2, high 1 → q = 2
  std::vector<float> z(256);
  DequantizeRow(DType::kQ3_K, q3, z.data(), 256);
  for (int e = 0; e < 256; ++e) {
    const float scale = e < 16 ? 1.0f : e >= 240 ? 31.0f : -32.0f;
    const float want = e == 0 ? 3.0f : e == 255 ? -93.0f : e == 150 ? -64.0f : scale * -4.0f;
    EXPECT_EQ(z[e], want) << e;
  }

  uint8_t q2[84] = {};
  const uint16_t quarter = 0x3400;  // 0.25
  std::memcpy(q2 + 80, &one, 2);      // d = 1
  std::memcpy(q2 + 82, &quarter, 2);  // dmin = 0.25
  uint8_t* scales = q2;
  uint8_t* q2s = q2 + 16;
  scales[0] = 0x23;   // elements 0..15: scale 3, min 2
  scales[9] = 0xF1;   // elements 144..159: scale 1, min 15
  scales[15] = 0x0F;  // elements 240..255: scale 15, min 0
  q2s[0] = 0x03;                // e = 0 (h 0, k 0, l 0): q = 3
  q2s[32 + 16] = 0x02 << 2;     // e = 176 (h 1, k 1, l 16): q = 2, scale of 176..191 is 0
  q2s[32 + 17] = 0x01;          // e = 145 (h 1, k 0, l 17): q = 1
  q2s[63] = 0x03 << 6;          // e = 255 (h 1, k 3, l 31): q = 3
  DequantizeRow(DType::kQ2_K, q2, z.data(), 256);
  for (int e = 0; e < 256; ++e) {
    float want = 0.0f;
    if (e < 16) want = e == 0 ? 3.0f * 3 - 0.5f : -0.5f;
    if (e >= 144 && e < 160) want = e == 145 ? 1.0f - 3.75f : -3.75f;
    if (e == 255) want = 45.0f;
    EXPECT_EQ(z[e], want) << e;
  }
}

TEST(Quants, RoundTripErrorIsWithinTheFormatsBounds) {
  const int64_t n = 4096;
  const auto x = Random(n, 1);
  double ss = 0;
  for (float v : x) ss += v * v;
  const double rms = std::sqrt(ss / n);
  struct Case {
    DType t;
    double max_rel_rmse;
  };
  for (Case c : {Case{DType::kQ8_0, 0.007}, Case{DType::kQ4_0, 0.12}}) {
    std::vector<uint8_t> q(RowBytes(c.t, n));
    QuantizeRow(c.t, x.data(), q.data(), n);
    std::vector<float> y(n);
    DequantizeRow(c.t, q.data(), y.data(), n);
    double err = 0;
    for (int64_t i = 0; i < n; ++i) err += (y[i] - x[i]) * (y[i] - x[i]);
    EXPECT_LT(std::sqrt(err / n) / rms, c.max_rel_rmse) << DTypeName(c.t);
  }
  // The element of largest magnitude maps to -8, the other values here to
  // 0, and the row's gain is restored: the scale is 3/8 times
  // Σ x² / Σ x·x̂ = 9.31 / 9 (up to its f16 rounding).
  std::vector<float> b(32, 0.1f);
  b[5] = -3.0f;
  std::vector<uint8_t> q(18);
  QuantizeRow(DType::kQ4_0, b.data(), q.data(), 32);
  std::vector<float> y(32);
  DequantizeRow(DType::kQ4_0, q.data(), y.data(), 32);
  EXPECT_NEAR(y[5], -3.0f * 9.31f / 9.0f, 2e-3);
  EXPECT_EQ(y[0], 0.0f);
}

TEST(Quants, VecDotKernelsMatchTheScalarReferenceForEveryIsa) {
  for (const internal::Kernels* k : internal::SupportedKernels()) {
    for (int64_t n : {32, 64, 96, 128, 4096, 11008}) {
      for (int offset : {0, 1, 7}) {  // byte offsets: blocks are unaligned in GGUF rows
        const auto w = Random(n, n + offset), x = Random(n, 2 * n + offset);
        std::vector<uint8_t> xq(RowBytes(DType::kQ8_0, n) + offset), xq2(RowBytes(DType::kQ8_0, n));
        QuantizeRow(DType::kQ8_0, x.data(), xq.data() + offset, n);
        k->quantize_q8_0(x.data(), xq2.data(), n);
        ASSERT_EQ(std::memcmp(xq.data() + offset, xq2.data(), xq2.size()), 0) << k->name;
        const BlockQ8_0* xb = reinterpret_cast<const BlockQ8_0*>(xq.data() + offset);
        for (DType t : {DType::kQ8_0, DType::kQ4_0}) {
          std::vector<uint8_t> wq(RowBytes(t, n) + offset);
          QuantizeRow(t, w.data(), wq.data() + offset, n);
          const float want = t == DType::kQ8_0 ? ref::VecDotQ8_0(wq.data() + offset, xb, n)
                                               : ref::VecDotQ4_0(wq.data() + offset, xb, n);
          const float got = t == DType::kQ8_0 ? k->vec_dot_q8_0(wq.data() + offset, xb, n)
                                              : k->vec_dot_q4_0(wq.data() + offset, xb, n);
          EXPECT_NEAR(got, want, 1e-4 * std::sqrt(static_cast<double>(n)) * (1 + std::fabs(want)))
              << k->name << " " << DTypeName(t) << " n=" << n << " offset=" << offset;
          // And it approximates the float dot product of the dequantized rows.
          std::vector<float> wd(n), xd(n);
          DequantizeRow(t, wq.data() + offset, wd.data(), n);
          DequantizeRow(DType::kQ8_0, xb, xd.data(), n);
          double exact = 0;
          for (int64_t i = 0; i < n; ++i) exact += static_cast<double>(wd[i]) * xd[i];
          EXPECT_NEAR(got, exact, 1e-3 * std::sqrt(static_cast<double>(n)));
        }
      }
    }
  }
}

TEST(Quants, FourTokenKernelsEqualFourSingleDotsForEveryIsa) {
  for (const internal::Kernels* k : internal::SupportedKernels()) {
    for (int64_t n : {32, 64, 96, 4096}) {
      const size_t xrow = RowBytes(DType::kQ8_0, n) + 3;  // odd stride: rows are not aligned
      std::vector<uint8_t> xq(4 * xrow);
      for (int t = 0; t < 4; ++t) {
        const auto x = Random(n, 100 + t + n);
        QuantizeRow(DType::kQ8_0, x.data(), xq.data() + t * xrow, n);
      }
      const auto w = Random(n, 7 * n);
      for (DType type : {DType::kQ8_0, DType::kQ4_0}) {
        std::vector<uint8_t> wq(RowBytes(type, n));
        QuantizeRow(type, w.data(), wq.data(), n);
        float out[4];
        (type == DType::kQ8_0 ? k->vec_dot_q8_0_4t : k->vec_dot_q4_0_4t)(wq.data(), xq.data(), xrow, n, out);
        for (int t = 0; t < 4; ++t) {
          const auto* xb = reinterpret_cast<const BlockQ8_0*>(xq.data() + t * xrow);
          const float want = type == DType::kQ8_0 ? ref::VecDotQ8_0(wq.data(), xb, n) : ref::VecDotQ4_0(wq.data(), xb, n);
          EXPECT_NEAR(out[t], want, 1e-4 * (1 + std::fabs(want)) * std::sqrt(static_cast<double>(n)))
              << k->name << " " << DTypeName(type) << " n=" << n << " t=" << t;
        }
      }
    }
  }
}

TEST(Quants, PanelsHoldThePlainRows) {
  for (DType plain : {DType::kQ4_0, DType::kQ8_0}) {
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{16, 32}, {32, 96}, {48, 4096}}) {
      const auto w = Random(rows * cols, rows + cols);
      const size_t row_bytes = RowBytes(plain, cols);
      std::vector<uint8_t> q(rows * row_bytes), panels(rows * row_bytes);
      for (int64_t r = 0; r < rows; ++r) QuantizeRow(plain, w.data() + r * cols, q.data() + r * row_bytes, cols);
      RepackPanels(plain, q.data(), panels.data(), rows, cols);
      const DType panel_type = plain == DType::kQ4_0 ? DType::kQ4_0P : DType::kQ8_0P;
      EXPECT_EQ(RowBytes(panel_type, cols), row_bytes);
      std::vector<float> a(cols), b(cols);
      for (int64_t r = 0; r < rows; ++r) {
        DequantizeRow(plain, q.data() + r * row_bytes, a.data(), cols);
        DequantizeMatrixRow(panel_type, panels.data(), r, cols, b.data());
        ASSERT_EQ(a, b) << DTypeName(plain) << " row " << r;
        DequantizeMatrixRow(plain, q.data(), r, cols, b.data());
        ASSERT_EQ(a, b);
      }
    }
  }
}

// Reads token t of an activation tile of n tokens (layout in kernels.h).
struct TileToken {
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int32_t> c;
  std::vector<float> s;
  std::vector<int16_t> halves;  // per block: Σq of columns 0..15, then of 16..31
};
TileToken ReadTile(const uint8_t* tile, int64_t k, int n, int t) {
  TileToken out{std::vector<int8_t>(k), std::vector<float>(k / 32), std::vector<int32_t>(k / 32),
                std::vector<float>(k / 32), std::vector<int16_t>(k / 16)};
  for (int64_t b = 0; b < k / 32; ++b) {
    const uint8_t* blk = tile + b * internal::kActBlockBytes * n;
    std::memcpy(out.q.data() + 32 * b, blk + 32 * t, 32);
    std::memcpy(&out.d[b], blk + 32 * n + 4 * t, 4);
    std::memcpy(&out.c[b], blk + 36 * n + 4 * t, 4);
    std::memcpy(&out.s[b], blk + 40 * n + 4 * t, 4);
    std::memcpy(&out.halves[2 * b], blk + 44 * n + 4 * t, 4);
  }
  return out;
}

TEST(Quants, PanelActivationsAreQ8_0ForEveryIsa) {
  for (const internal::Kernels* k : internal::SupportedKernels()) {
    for (int64_t n : {32, 96, 4096}) {
      for (int tile_n : {1, 3, internal::kActTile}) {
        std::vector<uint8_t> tile(internal::ActTileBytes(n, tile_n) + 1);
        for (int t = 0; t < tile_n; ++t) {
          auto x = Random(n, n + 3 + t);
          x[5] = 0;
          for (int i = 32; i < 64 && i < n; ++i) x[i] = 0;  // an all-zero block
          if (n >= 96) {  // a block with scale 1 and exact ties, which round away from zero
            for (int i = 64; i < 96; ++i) x[i] = static_cast<float>(i - 80) + 0.5f;
            x[64] = 127.0f;
          }
          std::vector<uint8_t> ref_q(RowBytes(DType::kQ8_0, n));
          QuantizeRow(DType::kQ8_0, x.data(), ref_q.data(), n);
          k->quantize_acts(x.data(), n, 8, tile.data() + 1, tile_n, t);
          const TileToken got = ReadTile(tile.data() + 1, n, tile_n, t);
          for (int64_t b = 0; b < n / 32; ++b) {
            const BlockQ8_0& blk = reinterpret_cast<const BlockQ8_0*>(ref_q.data())[b];
            EXPECT_EQ(got.d[b], F16ToF32(blk.d)) << k->name;
            int half[2] = {0, 0};
            for (int i = 0; i < 32; ++i) {
              ASSERT_EQ(got.q[b * 32 + i], blk.qs[i]) << k->name << " n=" << n << " i=" << b * 32 + i;
              half[i / 16] += blk.qs[i];
            }
            const int sum = half[0] + half[1];
            EXPECT_EQ(got.c[b], -8 * sum) << k->name;
            EXPECT_EQ(got.s[b], got.d[b] * static_cast<float>(sum)) << k->name;
            EXPECT_EQ(got.halves[2 * b], half[0]) << k->name;
            EXPECT_EQ(got.halves[2 * b + 1], half[1]) << k->name;
          }
        }
      }
    }
  }
}

TEST(Quants, PanelGemmMatchesRowDotsForEveryIsa) {
  for (DType plain : {DType::kQ4_0, DType::kQ8_0}) {
    const int32_t offset = plain == DType::kQ4_0 ? 8 : 128;
    for (int64_t cols : {32, 64, 160, 4096}) {
      const int64_t rows = 48;  // three panels: a pair and a single
      const size_t row_bytes = RowBytes(plain, cols), x_row = RowBytes(DType::kQ8_0, cols);
      const auto w = Random(rows * cols, 3 * cols);
      std::vector<uint8_t> q(rows * row_bytes), panel(rows * row_bytes + 7);
      for (int64_t r = 0; r < rows; ++r) QuantizeRow(plain, w.data() + r * cols, q.data() + r * row_bytes, cols);
      uint8_t* pp = panel.data() + 3;  // misaligned
      RepackPanels(plain, q.data(), pp, rows, cols);
      for (int tokens = 1; tokens <= internal::kActTile; ++tokens) {
        std::vector<uint8_t> tile(internal::ActTileBytes(cols, tokens) + 5), xrow(tokens * x_row);
        uint8_t* tp = tile.data() + 5;  // misaligned
        for (int t = 0; t < tokens; ++t) {
          const auto xt = Random(cols, 1000 + t + cols);
          QuantizeRow(DType::kQ8_0, xt.data(), xrow.data() + t * x_row, cols);
          internal::GenericKernels().quantize_acts(xt.data(), cols, offset, tp, tokens, t);
        }
        for (const internal::Kernels* k : internal::SupportedKernels()) {
          const int64_t y_stride = rows + 5;
          std::vector<float> y(tokens * y_stride, -1.0f);
          (plain == DType::kQ4_0 ? k->gemm_q4_0p : k->gemm_q8_0p)(pp, tp, cols, tokens, rows / 16, y.data(), y_stride,
                                                                    /*prefetch_next=*/false);
          for (int t = 0; t < tokens; ++t) {
            const auto* xb = reinterpret_cast<const BlockQ8_0*>(xrow.data() + t * x_row);
            for (int64_t r = 0; r < rows; ++r) {
              const float want = plain == DType::kQ4_0 ? ref::VecDotQ4_0(q.data() + r * row_bytes, xb, cols)
                                                       : ref::VecDotQ8_0(q.data() + r * row_bytes, xb, cols);
              ASSERT_NEAR(y[t * y_stride + r], want, 1e-4 * (1 + std::fabs(want)) * std::sqrt(static_cast<double>(cols)))
                  << k->name << " " << DTypeName(plain) << " cols=" << cols << " tokens=" << tokens << " t=" << t
                  << " r=" << r;
            }
            for (int64_t r = rows; r < y_stride; ++r) ASSERT_EQ(y[t * y_stride + r], -1.0f) << "wrote past the panel";
          }
        }
      }
    }
  }
}

// Σ dequant(w)·dequant(x) in double for a K-quant row and Q8_0 activations.
float KQuantRowDot(DType plain, const uint8_t* w, const BlockQ8_0* x, int64_t cols) {
  std::vector<float> wd(cols), xd(cols);
  DequantizeRow(plain, w, wd.data(), cols);
  DequantizeRow(DType::kQ8_0, x, xd.data(), cols);
  double s = 0;
  for (int64_t c = 0; c < cols; ++c) s += static_cast<double>(wd[c]) * xd[c];
  return static_cast<float>(s);
}

// The wide-tile panel GEMM (AMX where present): every tile size 1..16, every
// weight type that has one, against the row dot products, and bit for bit equal to the
// AVX-512 kernel run on the same tokens in tiles of kActTile (both fold the
// same int32 block sums with the same float operations). Skips where no
// table has the wide kernels.
TEST(Quants, WidePanelGemmMatchesRowDotsAndTheNarrowKernel) {
  bool ran = false;
  for (const internal::Kernels* k : internal::SupportedKernels()) {
    if (k->gemm_q8_0p_16 == nullptr) continue;
    ran = true;
    for (DType plain : {DType::kQ4_0, DType::kQ8_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
      const int32_t offset = plain == DType::kQ4_0 ? 8 : 128;
      const DType panel_type = PanelTypeOf(plain);
      const auto wide_gemm = internal::PanelGemmOf(*k, panel_type, /*wide=*/true);
      const auto narrow_gemm = internal::PanelGemmOf(*k, panel_type, /*wide=*/false);
      ASSERT_NE(wide_gemm, nullptr) << k->name << " " << DTypeName(plain);
      for (int64_t cols : {32, 96, 256, 4096}) {
        if (IsKQuant(plain) != (cols % 256 == 0)) continue;
        const int64_t rows = 48;
        const size_t row_bytes = RowBytes(plain, cols), x_row = RowBytes(DType::kQ8_0, cols);
        const auto w = Random(rows * cols, 5 * cols);
        std::vector<uint8_t> q(rows * row_bytes), panel(rows * RowBytes(panel_type, cols) + 7);
        for (int64_t r = 0; r < rows; ++r) QuantizeRow(plain, w.data() + r * cols, q.data() + r * row_bytes, cols);
        uint8_t* pp = panel.data() + 3;  // misaligned
        RepackPanels(plain, q.data(), pp, rows, cols);
        for (int tokens = 1; tokens <= internal::kWideActTile; ++tokens) {
          std::vector<uint8_t> wide(internal::ActTileBytes(cols, tokens) + 5), xrow(tokens * x_row);
          uint8_t* tp = wide.data() + 5;  // misaligned
          std::vector<std::vector<float>> xs;
          for (int t = 0; t < tokens; ++t) {
            xs.push_back(Random(cols, 2000 + t + cols));
            QuantizeRow(DType::kQ8_0, xs[t].data(), xrow.data() + t * x_row, cols);
            k->quantize_acts(xs[t].data(), cols, offset, tp, tokens, t);
          }
          const int64_t y_stride = rows + 5;
          std::vector<float> y(tokens * y_stride, -1.0f), narrow(tokens * y_stride, -1.0f);
          wide_gemm(pp, tp, cols, tokens, rows / 16, y.data(), y_stride, /*prefetch_next=*/false);
          for (int t0 = 0; t0 < tokens; t0 += internal::kActTile) {
            const int n = std::min(internal::kActTile, tokens - t0);
            std::vector<uint8_t> tile(internal::ActTileBytes(cols, n));
            for (int t = 0; t < n; ++t) k->quantize_acts(xs[t0 + t].data(), cols, offset, tile.data(), n, t);
            narrow_gemm(pp, tile.data(), cols, n, rows / 16, narrow.data() + t0 * y_stride, y_stride, false);
          }
          for (int t = 0; t < tokens; ++t) {
            const auto* xb = reinterpret_cast<const BlockQ8_0*>(xrow.data() + t * x_row);
            for (int64_t r = 0; r < rows; ++r) {
              float want = 0;
              if (plain == DType::kQ4_0) want = ref::VecDotQ4_0(q.data() + r * row_bytes, xb, cols);
              else if (plain == DType::kQ8_0) want = ref::VecDotQ8_0(q.data() + r * row_bytes, xb, cols);
              else want = KQuantRowDot(plain, q.data() + r * row_bytes, xb, cols);
              ASSERT_NEAR(y[t * y_stride + r], want, 1e-4 * (1 + std::fabs(want)) * std::sqrt(static_cast<double>(cols)))
                  << k->name << " " << DTypeName(plain) << " cols=" << cols << " tokens=" << tokens << " t=" << t;
              ASSERT_EQ(y[t * y_stride + r], narrow[t * y_stride + r])
                  << k->name << " " << DTypeName(plain) << " cols=" << cols << " tokens=" << tokens << " t=" << t;
            }
            for (int64_t r = rows; r < y_stride; ++r) ASSERT_EQ(y[t * y_stride + r], -1.0f) << "wrote past the panel";
          }
        }
      }
    }
  }
  if (!ran) GTEST_SKIP() << "no kernel table with a wide-tile panel GEMM on this CPU";
}

uint16_t Bf16Round(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return static_cast<uint16_t>((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
}

float Bf16Value(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// The bf16 tile route of long prompts: expanded panels hold every
// dequantized weight rounded to bf16, activation tiles every value rounded,
// and the GEMM is their float-accumulated product (against a double sum),
// writing nothing outside its rows and tokens.
// y from a bf16-route GEMM (tokens × y_stride, prefilled with −1) against
// Σ_c w[r][c] · bf16(x[t][c]) in double, within 1e-6 of Σ|terms|, and −1
// left past the rows and past the tokens.
void ExpectBf16Products(const std::vector<float>& y, int64_t y_stride, const std::vector<std::vector<float>>& w,
                        const std::vector<float>& x, int64_t tokens, const std::string& what) {
  const int64_t rows = static_cast<int64_t>(w.size()), cols = static_cast<int64_t>(w[0].size());
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      double want = 0, mag = 0;
      for (int64_t c = 0; c < cols; ++c) {
        const double term = static_cast<double>(w[r][c]) * Bf16Value(Bf16Round(x[t * cols + c]));
        want += term;
        mag += std::fabs(term);
      }
      ASSERT_NEAR(y[t * y_stride + r], want, 1e-6 * mag + 1e-30)
          << what << " cols=" << cols << " tokens=" << tokens << " t=" << t;
    }
    for (int64_t r = rows; r < y_stride; ++r) ASSERT_EQ(y[t * y_stride + r], -1.0f) << "wrote past the rows";
  }
  for (int64_t i = tokens * y_stride; i < (tokens + 1) * y_stride; ++i) ASSERT_EQ(y[i], -1.0f) << "wrote past the tokens";
}

TEST(Quants, Bf16TileRouteHoldsTheRoundedOperandsAndMultipliesThem) {
  bool ran = false;
  for (const internal::Kernels* k : internal::SupportedKernels()) {
    if (k->gemm_bf16 == nullptr) continue;
    ran = true;
    if (k->panels_to_bf16 == nullptr) continue;  // vdpbf16ps alone: BF16 rows only (next test)
    for (DType plain : {DType::kQ4_0, DType::kQ8_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
      const DType panel_type = PanelTypeOf(plain);
      for (int64_t cols : {32, 96, 256, 4096}) {
        if (IsKQuant(plain) && cols % 256 != 0) continue;
        const int64_t rows = 48, n_panels = rows / 16;
        const size_t row_bytes = RowBytes(plain, cols);
        const auto w = Random(rows * cols, 7 * cols);
        std::vector<uint8_t> q(rows * row_bytes), panel(rows * RowBytes(panel_type, cols) + 3);
        for (int64_t r = 0; r < rows; ++r) QuantizeRow(plain, w.data() + r * cols, q.data() + r * row_bytes, cols);
        uint8_t* pp = panel.data() + 3;  // misaligned
        RepackPanels(plain, q.data(), pp, rows, cols);
        std::vector<uint16_t> wbuf(rows * cols + 1);
        uint16_t* wb = wbuf.data() + 1;  // misaligned
        k->panels_to_bf16(panel_type, pp, cols, static_cast<int>(n_panels), wb);
        std::vector<std::vector<float>> deq(rows, std::vector<float>(cols)), rounded = deq;
        for (int64_t r = 0; r < rows; ++r) {
          DequantizeMatrixRow(panel_type, pp, r, cols, deq[r].data());
          for (int64_t c = 0; c < cols; ++c) rounded[r][c] = Bf16Value(Bf16Round(deq[r][c]));
          for (int64_t c = 0; c < cols; ++c) {
            const size_t at = (r / 16) * cols * 16 + (c / 32) * 512 + (c % 32) / 2 * 32 + (r % 16) * 2 + c % 2;
            // Compared as values: a zero weight may come out as −0 or +0.
            ASSERT_EQ(Bf16Value(wb[at]), Bf16Value(Bf16Round(deq[r][c]))) << k->name << " " << DTypeName(plain) << " r=" << r << " c=" << c;
          }
        }
        for (int64_t tokens : {1, 16, 17, 33, 70}) {
          const int64_t padded = (tokens + 31) / 32 * 32;
          std::vector<uint16_t> acts(padded * cols, 0);
          const auto x = Random(tokens * cols, 11 * tokens + cols);
          for (int64_t t = 0; t < tokens; ++t)
            k->acts_to_bf16(x.data() + t * cols, cols, acts.data() + t / 16 * 16 * cols, static_cast<int>(t % 16));
          for (int64_t t = 0; t < tokens; ++t)
            for (int64_t c = 0; c < cols; ++c)
              ASSERT_EQ(acts[t / 16 * 16 * cols + c / 32 * 512 + t % 16 * 32 + c % 32], Bf16Round(x[t * cols + c]));
          const int64_t y_stride = rows + 5;
          std::vector<float> y((tokens + 1) * y_stride, -1.0f);
          k->gemm_bf16(wb, nullptr, static_cast<int>(n_panels), acts.data(), tokens, cols, y.data(), y_stride);
          ASSERT_NO_FATAL_FAILURE(ExpectBf16Products(y, y_stride, rounded, x, tokens,
                                                     std::string(k->name) + " " + DTypeName(plain)));
        }
      }
    }
  }
  if (!ran) GTEST_SKIP() << "no kernel table with the bf16 tile route on this CPU";
}

// BF16 and F16 rows on the bf16 route (the tile unit, or vdpbf16ps): the
// rows in tile order (an F16 value as two bf16 terms that sum to it
// exactly), and every token tile size against the product of the rows with
// the activations rounded to bf16, summed in double.
TEST(Quants, Bf16RouteMultipliesBf16AndF16Rows) {
  bool ran = false;
  for (const internal::Kernels* k : internal::SupportedKernels()) {
    if (k->gemm_bf16 == nullptr) continue;
    ran = true;
    for (DType dtype : {DType::kBF16, DType::kF16}) {
      for (int64_t cols : {32, 96, 4096}) {
        const int64_t rows = 48, n_bands = rows / 16;
        const size_t row_bytes = 2 * cols + 64;  // rows apart by more than their width
        const auto w = Random(rows * cols, 3 * cols + 1);
        std::vector<uint16_t> src(rows * row_bytes / 2, 0xFFFF);
        std::vector<std::vector<float>> value(rows, std::vector<float>(cols));
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c) {
            const float v = w[r * cols + c] * 0.1f;
            uint16_t& h = src[r * row_bytes / 2 + c];
            h = dtype == DType::kBF16 ? F32ToBf16(v) : F32ToF16(v);
            value[r][c] = dtype == DType::kBF16 ? Bf16ToF32(h) : F16ToF32(h);
          }
        std::vector<uint16_t> hi(rows * cols), lo(rows * cols, 0);
        const bool any_lo = k->rows_to_bf16(dtype, src.data(), row_bytes, cols, static_cast<int>(n_bands), hi.data(),
                                            lo.data());
        EXPECT_EQ(any_lo, dtype == DType::kF16) << k->name;
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c) {
            const size_t at = (r / 16) * cols * 16 + (c / 32) * 512 + (c % 32) / 2 * 32 + (r % 16) * 2 + c % 2;
            const float sum = Bf16Value(hi[at]) + (dtype == DType::kF16 ? Bf16Value(lo[at]) : 0.0f);
            ASSERT_EQ(sum, value[r][c]) << k->name << " " << DTypeName(dtype) << " r=" << r << " c=" << c;
          }
        for (int64_t tokens : {1, 5, 16, 17, 31, 70}) {
          const int64_t padded = (tokens + 31) / 32 * 32;
          std::vector<uint16_t> acts(padded * cols, 0);
          const auto x = Random(tokens * cols, 5 * tokens + cols);
          for (int64_t t = 0; t < tokens; ++t)
            k->acts_to_bf16(x.data() + t * cols, cols, acts.data() + t / 16 * 16 * cols, static_cast<int>(t % 16));
          const int64_t y_stride = rows + 3;
          std::vector<float> y((tokens + 1) * y_stride, -1.0f);
          k->gemm_bf16(hi.data(), any_lo ? lo.data() : nullptr, static_cast<int>(n_bands), acts.data(), tokens, cols,
                       y.data(), y_stride);
          ASSERT_NO_FATAL_FAILURE(
              ExpectBf16Products(y, y_stride, value, x, tokens, std::string(k->name) + " " + DTypeName(dtype)));
        }
      }
    }
  }
  if (!ran) GTEST_SKIP() << "no kernel table with a bf16 route on this CPU";
}

// Relative RMS round-trip error through the writer and the reference
// reader: sqrt(Σ (y − x)² / Σ x²).
double RelRmsError(DType type, const std::vector<float>& x) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(RowBytes(type, n));
  QuantizeRow(type, x.data(), q.data(), n);
  std::vector<float> y(n);
  DequantizeRow(type, q.data(), y.data(), n);
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_TRUE(std::isfinite(y[i])) << DTypeName(type);
    num += (y[i] - x[i]) * (y[i] - x[i]);
    den += static_cast<double>(x[i]) * x[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

TEST(Quants, KQuantWritersRoundTripThroughTheReferenceReaders) {
  // Weight-like rows (Gaussian with a few outliers and a shifted block): more
  // bits give less error, and every K-quant beats the 4-bit Q4_0 baseline.
  std::mt19937 rng(42);
  std::normal_distribution<float> g(0.0f, 0.02f);
  std::vector<float> x(4096);
  for (auto& v : x) v = g(rng);
  x[17] = 0.3f, x[1000] = -0.25f;
  for (int i = 512; i < 768; ++i) x[i] += 0.05f;  // a super-block with an offset (uses the mins)
  const double e40 = RelRmsError(DType::kQ4_0, x), e4k = RelRmsError(DType::kQ4_K, x);
  const double e5k = RelRmsError(DType::kQ5_K, x), e6k = RelRmsError(DType::kQ6_K, x);
  const double e80 = RelRmsError(DType::kQ8_0, x);
  EXPECT_LT(e4k, e40);
  EXPECT_LT(e5k, 0.6 * e4k);
  EXPECT_LT(e6k, 0.6 * e5k);
  EXPECT_GT(e6k, e80);
  EXPECT_LT(e4k, 0.12);
  // The 2- and 3-bit types: coarser than Q4_K, in order, and still fits
  // (measured 0.145 and 0.249; a uniform grid over ±3σ would give about
  // 0.25 with 3 bits and 0.5 with 2).
  const double e2k = RelRmsError(DType::kQ2_K, x), e3k = RelRmsError(DType::kQ3_K, x);
  EXPECT_GT(e3k, e4k);
  EXPECT_LT(e3k, 0.7 * e2k);
  EXPECT_LT(e3k, 0.17);
  EXPECT_LT(e2k, 0.29);
  // Degenerate rows stay exact: zeros, and a constant per super-block.
  std::vector<float> z(512, 0.0f);
  for (DType t : {DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K})
    EXPECT_EQ(RelRmsError(t, z), 0.0) << DTypeName(t);
  std::vector<float> c(512, -0.5f);
  for (DType t : {DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K})
    EXPECT_LT(RelRmsError(t, c), 1e-3) << DTypeName(t);
}

// The K-quant and Q4_0 writers fit each block by least squares, every
// element counting the same, then restore each row's gain: on heavy-tailed
// rows (Student-t with 4 degrees of freedom, as trained weights are) the
// error is uncorrelated with the weights, |Σ x·e| / Σ x² within the f16
// rounding of the scales (measured at most 2.4e-4), where the fits alone
// shrink each row by about its squared relative error (measured Q2_K 8.2e-2,
// Q3_K 3.2e-2, Q4_K 8.6e-3, Q5_K 3.2e-3, Q6_K 8.9e-4, Q4_0 1.3e-2), and the
// plain error stays within 5% of the fits' own. Bounds: the measured plain
// errors with a margin of about 5%; the fits weighted toward the large
// elements that these replaced measured 0.310, 0.182, 0.088, 0.043, 0.0225
// and 0.113.
TEST(Quants, WritersKeepTheRowsGain) {
  std::mt19937 rng(5);
  std::student_t_distribution<float> t4(4.0f);
  constexpr int64_t kRows = 8, kCols = 2048;
  std::vector<float> x(kRows * kCols);
  for (auto& v : x) v = t4(rng);  // unit scale: every f16 block scale is a normal number
  struct Bound {
    DType type;
    double plain;
  };
  for (const Bound& b : {Bound{DType::kQ2_K, 0.322}, Bound{DType::kQ3_K, 0.187}, Bound{DType::kQ4_K, 0.0896},
                         Bound{DType::kQ5_K, 0.0441}, Bound{DType::kQ6_K, 0.0232}, Bound{DType::kQ4_0, 0.116}}) {
    std::vector<uint8_t> q(RowBytes(b.type, kCols));
    std::vector<float> y(kCols);
    double err = 0, xx = 0, worst_gain = 0;
    for (int64_t r = 0; r < kRows; ++r) {
      const float* xr = x.data() + r * kCols;
      QuantizeRow(b.type, xr, q.data(), kCols);
      DequantizeRow(b.type, q.data(), y.data(), kCols);
      double rxx = 0, rxe = 0;
      for (int64_t c = 0; c < kCols; ++c) {
        const double e = static_cast<double>(xr[c]) - y[c];
        err += e * e, rxx += static_cast<double>(xr[c]) * xr[c], rxe += xr[c] * e;
      }
      xx += rxx;
      worst_gain = std::max(worst_gain, std::fabs(rxe) / rxx);
    }
    EXPECT_LT(worst_gain, 4e-4) << DTypeName(b.type);
    EXPECT_LT(std::sqrt(err / xx), b.plain) << DTypeName(b.type);
  }
}

// Values on the 3-bit grid of a Q3_K block (s·q, q ∈ [−4, 3], one scale
// per 16 of either sign) and on the 2-bit affine grid of a Q2_K block
// (s·q − m, q ∈ [0, 3]) come back up to the rounding of the sub-block
// scales against the super-block scale.
TEST(Quants, Q3_KAndQ2_KWritersRecoverValuesOnTheirGrids) {
  std::mt19937 rng(11);
  std::vector<float> x3(256), x2(256);
  for (int j = 0; j < 16; ++j) {
    const float s = (j % 2 ? -0.004f : 0.004f) * static_cast<float>(j + 16) / 16.0f;
    const float m = 0.01f * static_cast<float>(j % 4);
    for (int i = 0; i < 16; ++i) {
      x3[16 * j + i] = s * static_cast<float>(static_cast<int>(rng() % 8) - 4);
      x2[16 * j + i] = std::fabs(s) * static_cast<float>(rng() % 4) - m;
    }
    x3[16 * j] = -4 * s, x3[16 * j + 1] = 3 * s;                   // span the whole range
    x2[16 * j] = -m, x2[16 * j + 1] = 3 * std::fabs(s) - m;
  }
  EXPECT_LT(RelRmsError(DType::kQ3_K, x3), 0.03);
  EXPECT_LT(RelRmsError(DType::kQ2_K, x2), 0.05);
}

TEST(Quants, Q4_KWriterRecoversValuesOnItsGrid) {
  // Values that are exactly s·q − m for representable scales come back
  // (up to the f16 rounding of the super-block scales).
  std::vector<float> x(256);
  std::mt19937 rng(7);
  for (int j = 0; j < 8; ++j) {
    const float s = 0.01f * static_cast<float>(j + 1), m = 0.03f * static_cast<float>(j % 3);
    for (int i = 0; i < 32; ++i) x[32 * j + i] = s * static_cast<float>(rng() % 16) - m;
    x[32 * j] = -m, x[32 * j + 1] = 15 * s - m;  // span the whole range
  }
  EXPECT_LT(RelRmsError(DType::kQ4_K, x), 0.01);
}

// K-quant panels: every row reads back exactly as the plain row's reference
// reader gives it, and every ISA's panel GEMM matches a double-precision
// product of those rows and the 8-bit activations, for each tile size.
// Q2_K / Q3_K rows (which llemma reads but does not write) as random
// blocks: every bit pattern of values and scales, with f16 super-block scales
// of about 0.003.
void RandomLowKRows(DType plain, uint8_t* q, int64_t rows, int64_t cols, std::mt19937& rng) {
  const size_t bytes = RowBytes(plain, cols) * rows, block = DTypeBlockBytes(plain);
  for (size_t i = 0; i < bytes; ++i) q[i] = static_cast<uint8_t>(rng());
  for (size_t b = 0; b < bytes / block; ++b) {
    uint8_t* blk = q + b * block;
    const uint16_t d = F32ToF16(0.002f + 0.002f * static_cast<float>(rng() % 100) / 100.0f);
    const uint16_t dmin = F32ToF16(0.001f * static_cast<float>(rng() % 100) / 100.0f);
    if (plain == DType::kQ2_K) {
      std::memcpy(blk + offsetof(BlockQ2_K, d), &d, 2);
      std::memcpy(blk + offsetof(BlockQ2_K, dmin), &dmin, 2);
    } else {
      std::memcpy(blk + offsetof(BlockQ3_K, d), &d, 2);
    }
  }
}

TEST(Quants, KQuantPanelsHoldTheRowsAndMatchADoubleReferenceForEveryIsa) {
  for (DType plain : {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kQ2_K, DType::kQ3_K}) {
  const DType panel = PanelTypeOf(plain);
  for (int64_t cols : {256, 1024}) {
    const int64_t rows = 48;  // a pair of panels and a single one
    std::mt19937 rng(static_cast<uint32_t>(cols));
    std::normal_distribution<float> g(0.0f, 0.05f);
    std::vector<float> w(rows * cols);
    for (auto& v : w) v = g(rng) + (rng() % 7 == 0 ? 0.1f : 0.0f);
    for (int64_t c = 0; c < 16; ++c) w[5 * cols + c] = -0.4f;  // a negative Q6_K scale, a large Q5_K minimum
    const size_t row_bytes = RowBytes(plain, cols);
    std::vector<uint8_t> q(rows * row_bytes), panels(rows * RowBytes(panel, cols) + 3);
    if (plain == DType::kQ2_K || plain == DType::kQ3_K) {
      RandomLowKRows(plain, q.data(), rows, cols, rng);
    } else {
      for (int64_t r = 0; r < rows; ++r) QuantizeRow(plain, w.data() + r * cols, q.data() + r * row_bytes, cols);
    }
    uint8_t* pp = panels.data() + 3;  // misaligned
    RepackPanels(plain, q.data(), pp, rows, cols);
    std::vector<float> a(cols), b(cols);
    std::vector<std::vector<float>> wd(rows, std::vector<float>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      DequantizeRow(plain, q.data() + r * row_bytes, wd[r].data(), cols);
      DequantizeMatrixRow(panel, pp, r, cols, b.data());
      ASSERT_EQ(wd[r], b) << DTypeName(plain) << " row " << r;
    }
    for (int tokens = 1; tokens <= internal::kActTile; ++tokens) {
      std::vector<uint8_t> tile(internal::ActTileBytes(cols, tokens));
      std::vector<std::vector<float>> xd(tokens, std::vector<float>(cols));
      for (int t = 0; t < tokens; ++t) {
        const auto xt = Random(cols, 77 + t);
        std::vector<uint8_t> xq(RowBytes(DType::kQ8_0, cols));
        QuantizeRow(DType::kQ8_0, xt.data(), xq.data(), cols);
        DequantizeRow(DType::kQ8_0, xq.data(), xd[t].data(), cols);  // what the kernels see
        // Any offset: the K-quant kernels do not read it.
        internal::GenericKernels().quantize_acts(xt.data(), cols, 8 * t, tile.data(), tokens, t);
      }
      // Every table's kernel, and for Q3_K both builds of the AVX-512 tile.
      std::vector<std::pair<std::string, internal::PanelGemm>> gemms;
      for (const internal::Kernels* k : internal::SupportedKernels())
        gemms.emplace_back(k->name, internal::PanelGemmOf(*k, panel, /*wide=*/false));
      if (plain == DType::kQ3_K) {
        for (bool gfni : {false, true})
          if (const auto g = internal::Avx512Q3KPanelGemm(gfni))
            gemms.emplace_back(gfni ? "avx512 gfni" : "avx512 shifts", g);
      }
      for (const auto& [name, gemm] : gemms) {
        const int64_t y_stride = rows + 2;
        std::vector<float> y(tokens * y_stride, -1.0f);
        gemm(pp, tile.data(), cols, tokens, rows / 16, y.data(), y_stride, /*prefetch_next=*/false);
        for (int t = 0; t < tokens; ++t) {
          for (int64_t r = 0; r < rows; ++r) {
            double want = 0, mag = 0;
            for (int64_t c = 0; c < cols; ++c) {
              want += static_cast<double>(wd[r][c]) * xd[t][c];
              mag += std::fabs(static_cast<double>(wd[r][c]) * xd[t][c]);
            }
            ASSERT_NEAR(y[t * y_stride + r], want, 1e-5 * mag + 1e-6)
                << name << " " << DTypeName(plain) << " cols=" << cols << " tokens=" << tokens << " t=" << t
                << " r=" << r;
          }
          for (int64_t r = rows; r < y_stride; ++r) ASSERT_EQ(y[t * y_stride + r], -1.0f);
        }
      }
    }
  }
  }
}

}  // namespace
}  // namespace llemma::cpu
