// The kernels compiled for AVX-512 (see CMakeLists.txt for the flags): the
// shared loop bodies, with the decode hotspots (dot products of a weight row
// and the activations) written with intrinsics and four independent
// accumulators so they run at memory speed rather than FMA latency.
#include "llemma/backend/cpu/kernels.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "llemma/backend/cpu/kpanel_avx512.h"
#include "llemma/backend/cpu/panel_tiles_avx512.h"
#include "llemma/backend/cpu/quants.h"
#include "llemma/core/half.h"

// The shared bodies that the intrinsics below replace are unused here, and
// GCC 12 misreports _mm512_reduce_add_ps's internal temporaries.
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace llemma::cpu::internal {
namespace avx512 {
#include "llemma/backend/cpu/kernels_impl.inc"

// kernels_avx512_gfni.cc
void GemmQ3_KPGfni(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                   int64_t y_stride, bool prefetch_next);

namespace {

inline __m512 LoadBf16(const uint16_t* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
inline __m512 LoadF16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 LoadF32(const float* p) { return _mm512_loadu_ps(p); }

// Σ load(w)[i] · load(x)[i] with 4 accumulators of 16 lanes; scalar tail.
// F16 activations (decode of F16 / BF16 rows) are half the bytes of float
// ones, so they and the streamed weight rows leave each other in L1.
template <typename T, typename X, __m512 (*Load)(const T*), __m512 (*LoadX)(const X*), float (*Scalar)(T),
          float (*ScalarX)(X)>
float Dot(const T* __restrict w, const X* __restrict x, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_fmadd_ps(Load(w + i), LoadX(x + i), a0);
    a1 = _mm512_fmadd_ps(Load(w + i + 16), LoadX(x + i + 16), a1);
    a2 = _mm512_fmadd_ps(Load(w + i + 32), LoadX(x + i + 32), a2);
    a3 = _mm512_fmadd_ps(Load(w + i + 48), LoadX(x + i + 48), a3);
  }
  for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(Load(w + i), LoadX(x + i), a0);
  float acc = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  for (; i < n; ++i) acc += Scalar(w[i]) * ScalarX(x[i]);
  return acc;
}

float ScalarF32(float v) { return v; }
float ScalarBf16(uint16_t v) { return Bf16Bits(v); }
float ScalarF16(uint16_t v) { return ::llemma::F16ToF32(v); }

float DotF32Fast(const float* w, const float* x, int64_t n) {
  return Dot<float, float, LoadF32, LoadF32, ScalarF32, ScalarF32>(w, x, n);
}
float DotBf16Fast(const uint16_t* w, const float* x, int64_t n) {
  return Dot<uint16_t, float, LoadBf16, LoadF32, ScalarBf16, ScalarF32>(w, x, n);
}
float DotF16Fast(const uint16_t* w, const float* x, int64_t n) {
  return Dot<uint16_t, float, LoadF16, LoadF32, ScalarF16, ScalarF32>(w, x, n);
}
float DotF16HFast(const uint16_t* w, const uint16_t* x, int64_t n) {
  return Dot<uint16_t, uint16_t, LoadF16, LoadF16, ScalarF16, ScalarF16>(w, x, n);
}
float DotBf16HFast(const uint16_t* w, const uint16_t* x, int64_t n) {
  return Dot<uint16_t, uint16_t, LoadBf16, LoadF16, ScalarBf16, ScalarF16>(w, x, n);
}

// Two consecutive blocks handled as one 512-bit vector: int32 lanes 0-7
// belong to the first block, 8-15 to the second.
inline __m512i LoadQ8Pair(const Q8Block* b) {
  return _mm512_inserti64x4(
      _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[0].qs))),
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[1].qs)), 1);
}
// 64 nibbles of two Q4_0 blocks as bytes, in element order [lo0 hi0 lo1 hi1].
inline __m512i UnpackQ4Pair(const Q4Block* b) {
  const __m256i q = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b[1].qs)),
                                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[0].qs)));
  const __m256i m = _mm256_set1_epi8(0x0F);
  const __m256i lo = _mm256_and_si256(q, m);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m);
  const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);  // [lo0 lo1 hi0 hi1]
  return _mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(3, 1, 2, 0));
}
inline __m512 PairScale(float a, float b) {
  return _mm512_insertf32x8(_mm512_set1_ps(a), _mm256_set1_ps(b), 1);
}
inline float Half(uint16_t h) { return ::llemma::F16ToF32(h); }
inline float HorizontalSum(__m512 v) { return _mm512_reduce_add_ps(v); }

// w · x for one block pair. `w_unsigned` holds the weights as unsigned bytes
// (Q4_0 nibbles 0..15, or Q8_0 values + 128); the offset `bias`·Σx is removed.
template <int kBiasShift>
inline __m512 PairDot(__m512i w_unsigned, __m512i x, __m512 scale) {
  const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w_unsigned, x);
  const __m512i sx = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), x);
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(dot, _mm512_slli_epi32(sx, kBiasShift))), scale);
}

template <typename WBlock, __m512i (*Unpack)(const WBlock*), int kBiasShift, int kTokens>
inline void VecDotPairs(const void* w, const void* x, size_t x_row_bytes, int64_t n, float* out) {
  const WBlock* wb = static_cast<const WBlock*>(w);
  const Q8Block* xb[kTokens];
  for (int t = 0; t < kTokens; ++t) {
    xb[t] = reinterpret_cast<const Q8Block*>(static_cast<const uint8_t*>(x) + t * x_row_bytes);
  }
  __m512 acc[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = _mm512_setzero_ps();
  const int64_t nb = n / 32;
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    const __m512i wv = Unpack(wb + b);
    const float dw0 = Half(wb[b].d), dw1 = Half(wb[b + 1].d);
    for (int t = 0; t < kTokens; ++t) {
      const __m512 scale = PairScale(dw0 * Half(xb[t][b].d), dw1 * Half(xb[t][b + 1].d));
      acc[t] = _mm512_add_ps(acc[t], PairDot<kBiasShift>(wv, LoadQ8Pair(xb[t] + b), scale));
    }
  }
  for (int t = 0; t < kTokens; ++t) out[t] = HorizontalSum(acc[t]);
  if (b < nb) {  // odd block count: the last block through the generic body
    for (int t = 0; t < kTokens; ++t) {
      out[t] += kBiasShift == 3 ? VecDotQ4_0(wb + b, xb[t] + b, 32) : VecDotQ8_0(wb + b, xb[t] + b, 32);
    }
  }
}

inline __m512i UnpackQ8Pair(const Q8Block* b) {
  return _mm512_xor_si512(LoadQ8Pair(b), _mm512_set1_epi8(static_cast<char>(0x80)));  // w + 128
}

// Hotspots (quantized decode and prefill).
float VecDotQ8_0Fast(const void* w, const void* x, int64_t n) {
  float out;
  VecDotPairs<Q8Block, UnpackQ8Pair, 7, 1>(w, x, 0, n, &out);
  return out;
}
float VecDotQ4_0Fast(const void* w, const void* x, int64_t n) {
  float out;
  VecDotPairs<Q4Block, UnpackQ4Pair, 3, 1>(w, x, 0, n, &out);
  return out;
}
void VecDotQ8_0x4Fast(const void* w, const void* x, size_t x_row_bytes, int64_t n, float* out) {
  VecDotPairs<Q8Block, UnpackQ8Pair, 7, 4>(w, x, x_row_bytes, n, out);
}
void VecDotQ4_0x4Fast(const void* w, const void* x, size_t x_row_bytes, int64_t n, float* out) {
  VecDotPairs<Q4Block, UnpackQ4Pair, 3, 4>(w, x, x_row_bytes, n, out);
}

// Hotspot (every quantized matmul): the panel GEMM. Per 32-column block,
// kTokens int32 accumulators (16 rows each) start at the activation offset
// −offset·Σq and collect 8 u8×s8 dot products of 4 columns each, the
// activations broadcast 4 bytes at a time straight from the tile; then one
// convert and two multiplies fold the block into float accumulators with the
// row scales (16 f16) and the token's block scale. No horizontal sums.
template <bool kQ4, int kTokens, int kPanels>
inline void PanelTile(const uint8_t* __restrict panel, const uint8_t* __restrict acts, int64_t nb, int n, int t0,
                      float* __restrict y, int64_t y_stride, bool prefetch_next) {
  constexpr size_t kBlockBytes = kQ4 ? 288 : 544;
  const size_t panel_bytes = nb * kBlockBytes, act_bytes = kActBlockBytes * static_cast<size_t>(n);
  const uint8_t* xq = acts + 32 * t0;
  const uint8_t* xd = acts + 32 * n + 4 * t0;
  const uint8_t* xc = acts + 36 * n + 4 * t0;
  __m512 f[kPanels][kTokens];
  for (int i = 0; i < kPanels; ++i)
    for (int t = 0; t < kTokens; ++t) f[i][t] = _mm512_setzero_ps();
  const __m512i mask = _mm512_set1_epi8(0x0F);
  for (int64_t b = 0; b < nb; ++b, xq += act_bytes, xd += act_bytes, xc += act_bytes) {
    const uint8_t* blk = panel + b * kBlockBytes;
    if (prefetch_next) {  // the panels after ours, one block per block, while we compute
      for (int i = 0; i < kPanels; ++i)
        for (size_t off = 0; off < kBlockBytes; off += 64)
          _mm_prefetch(reinterpret_cast<const char*>(blk + (kPanels + i) * panel_bytes + off), _MM_HINT_T0);
    }
    __m512i acc[kPanels][kTokens];
    for (int t = 0; t < kTokens; ++t) {
      const __m512i c = Broadcast4(xc + 4 * t);
      for (int i = 0; i < kPanels; ++i) acc[i][t] = c;
    }
    if constexpr (kQ4) {
      for (int p = 0; p < 4; ++p) {
        __m512i lo[kPanels], hi[kPanels];
        for (int i = 0; i < kPanels; ++i) {
          const __m512i v = _mm512_loadu_si512(blk + i * panel_bytes + 32 + 64 * p);
          lo[i] = _mm512_and_si512(v, mask);
          hi[i] = _mm512_and_si512(_mm512_srli_epi16(v, 4), mask);
        }
        for (int t = 0; t < kTokens; ++t) {
          const __m512i a0 = Broadcast4(xq + 32 * t + 8 * p), a1 = Broadcast4(xq + 32 * t + 8 * p + 4);
          for (int i = 0; i < kPanels; ++i) {
            acc[i][t] = _mm512_dpbusd_epi32(acc[i][t], lo[i], a0);
            acc[i][t] = _mm512_dpbusd_epi32(acc[i][t], hi[i], a1);
          }
        }
      }
    } else {
      for (int s = 0; s < 8; ++s) {
        __m512i w[kPanels];
        for (int i = 0; i < kPanels; ++i) w[i] = _mm512_loadu_si512(blk + i * panel_bytes + 32 + 64 * s);
        for (int t = 0; t < kTokens; ++t) {
          const __m512i a = Broadcast4(xq + 32 * t + 4 * s);
          for (int i = 0; i < kPanels; ++i) acc[i][t] = _mm512_dpbusd_epi32(acc[i][t], w[i], a);
        }
      }
    }
    for (int i = 0; i < kPanels; ++i) {
      const __m512 dw =
          _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + i * panel_bytes)));
      for (int t = 0; t < kTokens; ++t) {
        float dx;
        std::memcpy(&dx, xd + 4 * t, 4);
        f[i][t] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc[i][t]), _mm512_set1_ps(dx)), dw, f[i][t]);
      }
    }
  }
  for (int i = 0; i < kPanels; ++i)
    for (int t = 0; t < kTokens; ++t) _mm512_storeu_ps(y + t * y_stride + 16 * i, f[i][t]);
}

static_assert(kActTile == 6);
template <bool kQ4>
void GemmPanelFast(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y, int64_t y_stride,
                   bool prefetch_next) {
  const uint8_t* p = static_cast<const uint8_t*>(panel);
  const int64_t nb = k / 32;
  const size_t panel_bytes = nb * (kQ4 ? 288 : 544);
  PanelPairs(n, n_panels, [&](auto tokens, auto panels, int i) {
    PanelTile<kQ4, decltype(tokens)::value, decltype(panels)::value>(p + i * panel_bytes, acts, nb, n, 0, y + 16 * i,
                                                                     y_stride, prefetch_next);
  });
}

void GemmQ8_0PFast(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y, int64_t y_stride,
                   bool prefetch_next) {
  GemmPanelFast<false>(panel, acts, k, n, n_panels, y, y_stride, prefetch_next);
}
void GemmQ4_0PFast(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y, int64_t y_stride,
                   bool prefetch_next) {
  GemmPanelFast<true>(panel, acts, k, n, n_panels, y, y_stride, prefetch_next);
}
// K-quant panels: the Q4_0P dot products (Q4_K values 0..15, Q5_K 0..31,
// Q6_K 0..63 with the high bits ORed in; no offset) per 32-column sub-block.
// Q4_K / Q5_K fold each sub-block with its per-row scale d·sc and minimum
// dmin·m (from the 6-bit integers, as the K-quant readers compute them).
// Q6_K has a scale per 16 columns: the first half's sums (steps 0..3) start
// at −32·Σx of those columns, fold, and the accumulators start again for
// the second half.
template <KPanel kType, int kTokens, int kPanels>
inline void PanelTileK(const uint8_t* __restrict panel, const uint8_t* __restrict acts, int64_t ns, int n,
                       float* __restrict y, int64_t y_stride, bool prefetch_next) {
  constexpr size_t kSuper = KPanelSuperBytes<kType>(), kSub = KPanelSubBytes<kType>();
  constexpr size_t kHead = KPanelHeadBytes<kType>();
  const size_t panel_bytes = ns * kSuper, act_bytes = kActBlockBytes * static_cast<size_t>(n);
  __m512 f[kPanels][kTokens];
  for (int i = 0; i < kPanels; ++i)
    for (int t = 0; t < kTokens; ++t) f[i][t] = _mm512_setzero_ps();
  const __m512i mask = _mm512_set1_epi8(0x0F);
  const uint8_t* xb = acts;
  for (int64_t sb = 0; sb < ns; ++sb) {
    const uint8_t* head = panel + sb * kSuper;
    for (int j = 0; j < 8; ++j, xb += act_bytes) {
      const uint8_t* sub = head + kHead + kSub * j;
      if (prefetch_next) {
        for (int i = 0; i < kPanels; ++i)
          for (size_t off = 0; off < kSub; off += 64)
            _mm_prefetch(reinterpret_cast<const char*>(sub + (kPanels + i) * panel_bytes + off), _MM_HINT_T0);
      }
      __m512i acc[kPanels][kTokens];
      auto start = [&](int half) {
        for (int t = 0; t < kTokens; ++t) {
          __m512i c = _mm512_setzero_si512();
          if constexpr (kType == KPanel::kQ6) {
            int16_t sums[2];
            std::memcpy(sums, xb + 44 * n + 4 * t, 4);
            c = _mm512_set1_epi32(-32 * sums[half]);
          }
          for (int i = 0; i < kPanels; ++i) acc[i][t] = c;
        }
      };
      // Q6_K: one half's integer sums into f with d·scale of that half.
      auto fold_half = [&](int half) {
        for (int i = 0; i < kPanels; ++i) {
          const uint8_t* sc = sub + i * panel_bytes + 16 * half;
          const __m512 scale = _mm512_mul_ps(
              _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(head + i * panel_bytes))),
              _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc)))));
          for (int t = 0; t < kTokens; ++t) {
            float dx;
            std::memcpy(&dx, xb + 32 * n + 4 * t, 4);
            f[i][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][t]), _mm512_mul_ps(scale, _mm512_set1_ps(dx)), f[i][t]);
          }
        }
      };
      start(0);
      for (int p = 0; p < 4; ++p) {
        if (kType == KPanel::kQ6 && p == 2) {
          fold_half(0);
          start(1);
        }
        __m512i lo[kPanels], hi[kPanels];
        for (int i = 0; i < kPanels; ++i) {
          const uint8_t* si = sub + i * panel_bytes;
          const __m512i v = _mm512_loadu_si512(si + 32 + 64 * p);
          lo[i] = _mm512_and_si512(v, mask);
          hi[i] = _mm512_and_si512(_mm512_srli_epi16(v, 4), mask);
          if constexpr (kType == KPanel::kQ5) {
            lo[i] = OrQ5High(lo[i], si + 288, 2 * p);
            hi[i] = OrQ5High(hi[i], si + 288, 2 * p + 1);
          } else if constexpr (kType == KPanel::kQ6) {
            lo[i] = OrQ6High(lo[i], si + 288, 2 * p);
            hi[i] = OrQ6High(hi[i], si + 288, 2 * p + 1);
          }
        }
        for (int t = 0; t < kTokens; ++t) {
          const __m512i a0 = Broadcast4(xb + 32 * t + 8 * p), a1 = Broadcast4(xb + 32 * t + 8 * p + 4);
          for (int i = 0; i < kPanels; ++i) {
            acc[i][t] = _mm512_dpbusd_epi32(acc[i][t], lo[i], a0);
            acc[i][t] = _mm512_dpbusd_epi32(acc[i][t], hi[i], a1);
          }
        }
      }
      if constexpr (kType == KPanel::kQ6) {
        fold_half(1);
        continue;
      }
      for (int i = 0; i < kPanels; ++i) {
        const uint8_t* h = head + i * panel_bytes;
        const uint8_t* sc = sub + i * panel_bytes;
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h)));
        const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + 32)));
        const __m512 scale = _mm512_mul_ps(
            d, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc)))));
        const __m512 mins = _mm512_mul_ps(
            dmin, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc + 16)))));
        for (int t = 0; t < kTokens; ++t) {
          float dx, dsum;
          std::memcpy(&dx, xb + 32 * n + 4 * t, 4);
          std::memcpy(&dsum, xb + 40 * n + 4 * t, 4);
          f[i][t] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc[i][t]), _mm512_set1_ps(dx)), scale, f[i][t]);
          f[i][t] = _mm512_fnmadd_ps(mins, _mm512_set1_ps(dsum), f[i][t]);
        }
      }
    }
  }
  for (int i = 0; i < kPanels; ++i)
    for (int t = 0; t < kTokens; ++t) _mm512_storeu_ps(y + t * y_stride + 16 * i, f[i][t]);
}

template <KPanel kType>
void GemmKPanelsFast(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                     int64_t y_stride, bool prefetch_next) {
  const uint8_t* p = static_cast<const uint8_t*>(panel);
  const int64_t ns = k / 256;
  const size_t panel_bytes = ns * KPanelSuperBytes<kType>();
  PanelPairs(n, n_panels, [&](auto tokens, auto panels, int i) {
    PanelTileK<kType, decltype(tokens)::value, decltype(panels)::value>(p + i * panel_bytes, acts, ns, n, y + 16 * i,
                                                                        y_stride, prefetch_next);
  });
}
void GemmQ4_KPFast(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y, int64_t y_stride,
                   bool prefetch_next) {
  GemmKPanelsFast<KPanel::kQ4>(panel, acts, k, n, n_panels, y, y_stride, prefetch_next);
}
void GemmQ5_KPFast(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y, int64_t y_stride,
                   bool prefetch_next) {
  GemmKPanelsFast<KPanel::kQ5>(panel, acts, k, n, n_panels, y, y_stride, prefetch_next);
}
void GemmQ6_KPFast(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y, int64_t y_stride,
                   bool prefetch_next) {
  GemmKPanelsFast<KPanel::kQ6>(panel, acts, k, n, n_panels, y, y_stride, prefetch_next);
}

// Q2_KP: the scales stay integers. Each 16-column half's four dot products
// (|Σ q·x| ≤ 16·3·127, so it fits 16 bits) are multiplied by the 4-bit
// scale and summed over the sub-block with one vpdpwssd; the minimum term
// Σ min·Σx of both halves is one vpmaddwd of the (min₀, min₁) pair with the
// activations' half sums. Then one float fold per sub-block and token:
// f += dx·(d·Σ scale·q·x − dmin·Σ min·Σx). The weights of one panel are
// unpacked once for all tokens, and the panels run one after another, so
// 6 tokens keep their accumulators in registers.
template <int kTokens, int kPanels>
inline void PanelTileQ2K(const uint8_t* __restrict panel, const uint8_t* __restrict acts, int64_t ns, int n,
                         float* __restrict y, int64_t y_stride, bool prefetch_next) {
  const size_t panel_bytes = ns * kQ2KPanelSuperBytes, act_bytes = kActBlockBytes * static_cast<size_t>(n);
  __m512 f[kPanels][kTokens];
  for (int i = 0; i < kPanels; ++i)
    for (int t = 0; t < kTokens; ++t) f[i][t] = _mm512_setzero_ps();
  const __m512i low_nibble = _mm512_set1_epi32(0xF), second_min = _mm512_set1_epi32(0xF0000);
  const uint8_t* xb = acts;
  for (int64_t sb = 0; sb < ns; ++sb) {
    const uint8_t* head = panel + sb * kQ2KPanelSuperBytes;
    for (int j = 0; j < 8; ++j, xb += act_bytes) {
      const uint8_t* sub = head + 64 + kQ2KPanelSubBytes * j;
      if (prefetch_next) {
        for (int i = 0; i < kPanels; ++i)
          for (size_t off = 0; off < kQ2KPanelSubBytes; off += 64)
            _mm_prefetch(reinterpret_cast<const char*>(sub + (kPanels + i) * panel_bytes + off), _MM_HINT_T0);
      }
      for (int i = 0; i < kPanels; ++i) {
        const uint8_t* s = sub + i * panel_bytes;
        __m512i w[8];
        for (int h = 0; h < 2; ++h) {
          const __m512i plane = _mm512_loadu_si512(s + kLowKPlanesAt + 64 * h);
          for (int m = 0; m < 4; ++m) w[4 * h + m] = TwoBitStep(plane, m);
        }
        // Scale (low nibble) and min (high nibble) bytes; both halves' mins as one 16-bit pair.
        const __m512i sm0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s)));
        const __m512i sm1 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16)));
        const __m512i sc[2] = {_mm512_and_si512(sm0, low_nibble), _mm512_and_si512(sm1, low_nibble)};
        const __m512i min_pair =
            _mm512_ternarylogic_epi32(_mm512_srli_epi32(sm0, 4), _mm512_slli_epi32(sm1, 12), second_min, 0xF8);
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(head + i * panel_bytes)));
        const __m512 dmin =
            _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(head + i * panel_bytes + 32)));
        for (int t = 0; t < kTokens; ++t) {
          __m512i isum = _mm512_setzero_si512();
          for (int h = 0; h < 2; ++h) {
            __m512i acc = _mm512_setzero_si512();
            for (int m = 0; m < 4; ++m)
              acc = _mm512_dpbusd_epi32(acc, w[4 * h + m], Broadcast4(xb + 32 * t + 16 * h + 4 * m));
            isum = _mm512_dpwssd_epi32(isum, acc, sc[h]);
          }
          const __m512i mins = _mm512_madd_epi16(min_pair, Broadcast4(xb + 44 * n + 4 * t));
          float dx;
          std::memcpy(&dx, xb + 32 * n + 4 * t, 4);
          const __m512 g = _mm512_fnmadd_ps(dmin, _mm512_cvtepi32_ps(mins), _mm512_mul_ps(d, _mm512_cvtepi32_ps(isum)));
          f[i][t] = _mm512_fmadd_ps(g, _mm512_set1_ps(dx), f[i][t]);
        }
      }
    }
  }
  for (int i = 0; i < kPanels; ++i)
    for (int t = 0; t < kTokens; ++t) _mm512_storeu_ps(y + t * y_stride + 16 * i, f[i][t]);
}

void GemmQ2_KPFast(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y, int64_t y_stride,
                   bool prefetch_next) {
  const uint8_t* p = static_cast<const uint8_t*>(panel);
  const size_t panel_bytes = (k / 256) * kQ2KPanelSuperBytes;
  PanelPairs(n, n_panels, [&](auto tokens, auto panels, int i) {
    PanelTileQ2K<decltype(tokens)::value, decltype(panels)::value>(p + i * panel_bytes, acts, k / 256, n, y + 16 * i,
                                                                   y_stride, prefetch_next);
  });
}
// Shifts and masks; the table takes GemmQ3_KPGfni instead where the CPU has GFNI.
void GemmQ3_KPFast(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y, int64_t y_stride,
                   bool prefetch_next) {
  GemmQ3K<false>(panel, acts, k, n, n_panels, y, y_stride, prefetch_next);
}
bool CpuHasGfni() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("gfni") != 0;
}

// Activations for the panel GEMM, 32 at a time; rounds half away from zero
// exactly as roundf does (the portable QuantizeActs is the reference).
inline __m512i RoundAway(__m512 v) {
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m512 diff = _mm512_sub_ps(v, t);
  const __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(diff), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
  return _mm512_cvttps_epi32(_mm512_mask_add_ps(t, up, t, one));
}

void QuantizeActsFast(const float* __restrict x, int64_t k, int32_t offset, uint8_t* tile, int n, int t) {
  for (int64_t b = 0; b < k / 32; ++b) {
    uint8_t* out = tile + b * kActBlockBytes * n;
    const __m512 v0 = _mm512_loadu_ps(x + 32 * b), v1 = _mm512_loadu_ps(x + 32 * b + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float db = amax / 127.0f;
    const float id = db != 0 ? 1.0f / db : 0.0f;
    const float d = ::llemma::F16ToF32(::llemma::F32ToF16(db));
    const __m512 vid = _mm512_set1_ps(id);
    const __m512i q0 = RoundAway(_mm512_mul_ps(v0, vid)), q1 = RoundAway(_mm512_mul_ps(v1, vid));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 32 * t), _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 32 * t + 16), _mm512_cvtsepi32_epi8(q1));
    const int32_t s0 = _mm512_reduce_add_epi32(q0), s1 = _mm512_reduce_add_epi32(q1);
    const int32_t sum = s0 + s1;
    const int32_t c = -offset * sum;
    const int16_t halves[2] = {static_cast<int16_t>(s0), static_cast<int16_t>(s1)};
    std::memcpy(out + 44 * n + 4 * t, halves, 4);
    const float ds = d * static_cast<float>(sum);
    std::memcpy(out + 32 * n + 4 * t, &d, 4);
    std::memcpy(out + 36 * n + 4 * t, &c, 4);
    std::memcpy(out + 40 * n + 4 * t, &ds, 4);
  }
}

// Hotspot (prefill, float weights): an outer-product microkernel. Per k, two
// vectors of 16 rows meet 6 broadcast activations: 12 FMAs into 12
// accumulators, no horizontal sums (results are already row vectors).
void GemmPacked32x6Fast(const float* w, const float* x, int64_t x_stride, int64_t k_len, float* y,
                        int64_t y_stride) {
  __m512 c[6][2];
  for (int t = 0; t < 6; ++t) c[t][0] = c[t][1] = _mm512_setzero_ps();
  const float* x0 = x;
  for (int64_t k = 0; k < k_len; ++k) {
    const __m512 w0 = _mm512_loadu_ps(w + k * 32);
    const __m512 w1 = _mm512_loadu_ps(w + k * 32 + 16);
    for (int t = 0; t < 6; ++t) {
      const __m512 xv = _mm512_set1_ps(x0[t * x_stride + k]);
      c[t][0] = _mm512_fmadd_ps(w0, xv, c[t][0]);
      c[t][1] = _mm512_fmadd_ps(w1, xv, c[t][1]);
    }
  }
  for (int t = 0; t < 6; ++t) {
    _mm512_storeu_ps(y + t * y_stride, c[t][0]);
    _mm512_storeu_ps(y + t * y_stride + 16, c[t][1]);
  }
}

// 16 cache values as floats: a float cache's as they are, an F16 cache's
// converted exactly.
inline __m512 Load16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 Load16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// Hotspot (attention over long contexts, batched decoding): scores with one
// accumulator chain per (key, query), 4 queries sharing each key load.
template <int kQ, typename T>
inline void QKRow(const T* kr, const float* q, int64_t hd, float scale, float* s, int64_t s_stride) {
  __m512 acc[kQ];
  for (int i = 0; i < kQ; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t c = 0; c < hd; c += 16) {
    const __m512 kv = Load16(kr + c);
    for (int i = 0; i < kQ; ++i) acc[i] = _mm512_fmadd_ps(kv, _mm512_loadu_ps(q + i * hd + c), acc[i]);
  }
  for (int i = 0; i < kQ; ++i) s[i * s_stride] = _mm512_reduce_add_ps(acc[i]) * scale;
}

// kK keys × kQ queries (kK·kQ = 16) at once: 16 accumulator chains, then a
// transposing reduction tree that pairs lanes exactly as
// _mm512_reduce_add_ps does (i with i+8, then i+4, i+2, i+1), so every
// score has the same bits as QKRow's, and one vector holds all 16 scores.
template <int kK, int kQ, typename T>
inline void QKTree(const T* k, const float* q, int64_t hd, float scale, float* s, int64_t s_stride) {
  static_assert(kK * kQ == 16);
  __m512 v[16];
  for (int m = 0; m < 16; ++m) v[m] = _mm512_setzero_ps();
  for (int64_t c = 0; c < hd; c += 16) {
    __m512 qv[kQ];
    for (int i = 0; i < kQ; ++i) qv[i] = _mm512_loadu_ps(q + i * hd + c);
    for (int j = 0; j < kK; ++j) {
      const __m512 kv = Load16(k + j * hd + c);
      for (int i = 0; i < kQ; ++i) v[i * kK + j] = _mm512_fmadd_ps(kv, qv[i], v[i * kK + j]);
    }
  }
  __m512 r[8], t[4], u[2];
  for (int p = 0; p < 8; ++p)
    r[p] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], 0x44),
                         _mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], 0xEE));
  for (int p = 0; p < 4; ++p)
    t[p] = _mm512_add_ps(_mm512_shuffle_f32x4(r[2 * p], r[2 * p + 1], 0x88),
                         _mm512_shuffle_f32x4(r[2 * p], r[2 * p + 1], 0xDD));
  for (int p = 0; p < 2; ++p)
    u[p] = _mm512_add_ps(_mm512_shuffle_ps(t[2 * p], t[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(t[2 * p], t[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 w = _mm512_add_ps(_mm512_shuffle_ps(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_shuffle_ps(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1)));
  // Lane m of `ordered` is the score of accumulator m (query m / kK, key m % kK).
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __m512 ordered = _mm512_mul_ps(_mm512_permutexvar_ps(order, w), _mm512_set1_ps(scale));
  alignas(64) float out[16];
  _mm512_store_ps(out, ordered);
  for (int i = 0; i < kQ; ++i) std::memcpy(s + i * s_stride, out + i * kK, kK * sizeof(float));
}

template <typename T>
void AttnQKT(const T* k, int64_t n_keys, const float* q, int n_q, int64_t hd, float scale, float* s,
             int64_t s_stride) {
  int i = 0;
  // Four queries per key load where there are that many (batched samples),
  // then pairs, then one.
  for (; i + 4 <= n_q; i += 4) {
    int64_t j = 0;
    for (; j + 4 <= n_keys; j += 4) QKTree<4, 4>(k + j * hd, q + i * hd, hd, scale, s + i * s_stride + j, s_stride);
    for (; j < n_keys; ++j) QKRow<4>(k + j * hd, q + i * hd, hd, scale, s + i * s_stride + j, s_stride);
  }
  for (; i + 2 <= n_q; i += 2) {
    int64_t j = 0;
    for (; j + 8 <= n_keys; j += 8) QKTree<8, 2>(k + j * hd, q + i * hd, hd, scale, s + i * s_stride + j, s_stride);
    for (; j < n_keys; ++j) QKRow<2>(k + j * hd, q + i * hd, hd, scale, s + i * s_stride + j, s_stride);
  }
  for (; i < n_q; ++i) {
    int64_t j = 0;
    for (; j + 16 <= n_keys; j += 16) QKTree<16, 1>(k + j * hd, q + i * hd, hd, scale, s + i * s_stride + j, s_stride);
    for (; j < n_keys; ++j) QKRow<1>(k + j * hd, q + i * hd, hd, scale, s + i * s_stride + j, s_stride);
  }
}

// kQ queries × kC 16-float column chunks held in registers while every key's
// value row streams past once.
template <int kQ, int kC, typename T>
inline void PVBlock(const T* v, int64_t n_keys, const float* p, int64_t p_stride, int64_t hd, float* out) {
  __m512 acc[kQ][kC];
  for (int i = 0; i < kQ; ++i)
    for (int c = 0; c < kC; ++c) acc[i][c] = _mm512_loadu_ps(out + i * hd + 16 * c);
  for (int64_t j = 0; j < n_keys; ++j) {
    const T* vr = v + j * hd;
    __m512 vv[kC];
    for (int c = 0; c < kC; ++c) vv[c] = Load16(vr + 16 * c);
    for (int i = 0; i < kQ; ++i) {
      const __m512 w = _mm512_set1_ps(p[i * p_stride + j]);
      for (int c = 0; c < kC; ++c) acc[i][c] = _mm512_fmadd_ps(vv[c], w, acc[i][c]);
    }
  }
  for (int i = 0; i < kQ; ++i)
    for (int c = 0; c < kC; ++c) _mm512_storeu_ps(out + i * hd + 16 * c, acc[i][c]);
}

template <int kQ, typename T>
inline void PVColumns(const T* v, int64_t n_keys, const float* p, int64_t p_stride, int64_t hd, float* out) {
  // Passes of up to 8 chunks (128 floats) over the columns.
  for (int64_t c0 = 0; c0 < hd; c0 += 128) {
    const T* vc = v + c0;
    float* oc = out + c0;
    switch (std::min<int64_t>(8, (hd - c0) / 16)) {
      case 8: PVBlock<kQ, 8>(vc, n_keys, p, p_stride, hd, oc); break;
      case 7: PVBlock<kQ, 7>(vc, n_keys, p, p_stride, hd, oc); break;
      case 6: PVBlock<kQ, 6>(vc, n_keys, p, p_stride, hd, oc); break;
      case 5: PVBlock<kQ, 5>(vc, n_keys, p, p_stride, hd, oc); break;
      case 4: PVBlock<kQ, 4>(vc, n_keys, p, p_stride, hd, oc); break;
      case 3: PVBlock<kQ, 3>(vc, n_keys, p, p_stride, hd, oc); break;
      case 2: PVBlock<kQ, 2>(vc, n_keys, p, p_stride, hd, oc); break;
      default: PVBlock<kQ, 1>(vc, n_keys, p, p_stride, hd, oc); break;
    }
  }
}

template <typename T>
void AttnPVT(const T* v, int64_t n_keys, const float* p, int n_q, int64_t p_stride, int64_t hd, float* out) {
  int i = 0;
  for (; i + 2 <= n_q; i += 2) PVColumns<2>(v, n_keys, p + i * p_stride, p_stride, hd, out + i * hd);
  for (; i < n_q; ++i) PVColumns<1>(v, n_keys, p + i * p_stride, p_stride, hd, out + i * hd);
}

void AttnQKFast(const float* k, int64_t n_keys, const float* q, int n_q, int64_t hd, float scale, float* s,
                int64_t s_stride) {
  if (hd % 16 != 0) return AttnQK(k, n_keys, q, n_q, hd, scale, s, s_stride);
  AttnQKT(k, n_keys, q, n_q, hd, scale, s, s_stride);
}
void AttnQKF16Fast(const uint16_t* k, int64_t n_keys, const float* q, int n_q, int64_t hd, float scale, float* s,
                   int64_t s_stride) {
  if (hd % 16 != 0) return AttnQKF16(k, n_keys, q, n_q, hd, scale, s, s_stride);
  AttnQKT(k, n_keys, q, n_q, hd, scale, s, s_stride);
}
void AttnPVFast(const float* v, int64_t n_keys, const float* p, int n_q, int64_t p_stride, int64_t hd, float* out) {
  if (hd % 16 != 0) return AttnPV(v, n_keys, p, n_q, p_stride, hd, out);
  AttnPVT(v, n_keys, p, n_q, p_stride, hd, out);
}
void AttnPVF16Fast(const uint16_t* v, int64_t n_keys, const float* p, int n_q, int64_t p_stride, int64_t hd,
                   float* out) {
  if (hd % 16 != 0) return AttnPVF16(v, n_keys, p, n_q, p_stride, hd, out);
  AttnPVT(v, n_keys, p, n_q, p_stride, hd, out);
}

void ToF16Fast(const float* x, uint16_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  ToF16(x + i, dst + i, n - i);
}

// e^x for 16 floats: x = n·ln2 + r with |r| ≤ ln2/2, e^r from its Taylor
// series to r^7 (truncation below 1e-8 relative), times 2^n. Arguments are
// clamped to ±88 (e^88 is near FLT_MAX), so large negative x gives tiny
// values rather than 0.
inline __m512 Exp(__m512 x) {
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.0f)), _mm512_set1_ps(-88.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860682030941723212e-6f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

void SiluMulFast(float* gate, const float* up, int64_t n) {
  int64_t i = 0;
  const __m512 one = _mm512_set1_ps(1.0f);
  for (; i + 16 <= n; i += 16) {
    const __m512 g = _mm512_loadu_ps(gate + i);
    const __m512 e = Exp(_mm512_sub_ps(_mm512_setzero_ps(), g));
    _mm512_storeu_ps(gate + i, _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), _mm512_loadu_ps(up + i)));
  }
  SiluMul(gate + i, up + i, n - i);
}

// Hotspot (batched decoding of F16 / BF16 weights): kR rows × kT tokens of
// gemm_half_rows. Per 16 columns each row is loaded and converted once
// (vcvtph2ps, or a widen and shift for bf16) and meets the kT tokens'
// interleaved activations, which sit side by side in one 64·kT-byte run.
template <bool kBf16>
struct HalfTileFast {
  template <int kR, int kT>
  static void Run(const uint16_t* __restrict w, int64_t w_stride, const float* __restrict xi, int64_t x_block,
                  int64_t k, float* __restrict y, int64_t y_stride) {
    __m512 acc[kR][kT];
    for (int r = 0; r < kR; ++r)
      for (int t = 0; t < kT; ++t) acc[r][t] = _mm512_setzero_ps();
    for (int64_t c = 0; c < k; c += 16, xi += x_block) {
      __m512 wv[kR];
      for (int r = 0; r < kR; ++r) {
        const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * w_stride + c));
        wv[r] = kBf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)) : _mm512_cvtph_ps(h);
      }
      for (int t = 0; t < kT; ++t) {
        const __m512 xv = _mm512_loadu_ps(xi + 16 * t);
        for (int r = 0; r < kR; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
      }
    }
    for (int r = 0; r < kR; ++r)
      for (int t = 0; t < kT; ++t) y[t * y_stride + r] = _mm512_reduce_add_ps(acc[r][t]);
  }
};

// 6 rows × 4 tokens (24 accumulators): of 3×8, 4×6, 2×12, 8×3, 5×4 and 6×4
// tiles, the fastest on 7B F16 matrices with 16–63 tokens (fewer
// activation loads per multiply-add than the wider token tiles).
void GemmHalfRowsFast(::llemma::DType dtype, const uint16_t* w, int64_t w_stride, int64_t nr, const float* xi, int nt,
                      int64_t k, float* y, int64_t y_stride) {
  GemmHalfRowsWith<HalfTileFast, 6, 4>(dtype, w, w_stride, nr, xi, nt, k, y, y_stride);
}

// Tail lanes are masked: they neither load nor store nor add.
double ExpSumFast(float* x, int64_t n, float m) {
  const __m512 mv = _mm512_set1_ps(m);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 live = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __m512 e = Exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(live, x + i), mv));
    _mm512_mask_storeu_ps(x + i, live, e);
    acc = _mm512_mask_add_ps(acc, live, acc, e);
  }
  return _mm512_reduce_add_ps(acc);
}

}  // namespace

constexpr Kernels kTable = {"avx512",         DotF32Fast,       DotBf16Fast,   DotF16Fast,
                            ToF32,            Gemm4x4,          GemmPacked32x6Fast, Axpy,
                            VecDotQ8_0Fast,   VecDotQ4_0Fast,   VecDotQ8_0x4Fast,   VecDotQ4_0x4Fast,
                            GemmQ8_0PFast,    GemmQ4_0PFast,    GemmQ4_KPFast,      GemmQ5_KPFast,
                            GemmQ6_KPFast,    QuantizeActsFast,
                            QuantizeQ8_0,     AttnQKFast,       AttnPVFast,         AttnQKF16Fast,
                            AttnPVF16Fast,    ToF16Fast,        SiluMulFast,
                            ExpSumFast,       DotF16HFast,      DotBf16HFast,       GemmQ2_KPFast,
                            GemmQ3_KPFast,    GemmHalfRowsFast};
}  // namespace avx512

const Kernels* Avx512Kernels() {
  static const Kernels table = [] {
    Kernels t = avx512::kTable;
    if (avx512::CpuHasGfni()) t.gemm_q3_kp = avx512::GemmQ3_KPGfni;
    AddBf16DotRoute(t);
    return t;
  }();
  return &table;
}
PanelGemm Avx512Q3KPanelGemm(bool gfni) {
  const auto tables = SupportedKernels();
  if (std::find(tables.begin(), tables.end(), Avx512Kernels()) == tables.end()) return nullptr;
  if (!gfni) return avx512::GemmQ3_KPFast;
  return avx512::CpuHasGfni() ? avx512::GemmQ3_KPGfni : nullptr;
}

}  // namespace llemma::cpu::internal
