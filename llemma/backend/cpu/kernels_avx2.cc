// The kernels compiled for AVX2 (see CMakeLists.txt for the flags): the
// shared loop bodies, with the quantized panel GEMM written with intrinsics.
// AVX2 has no 8-bit dot-product instruction, so u8×s8 products go through
// vpmaddubsw (pairs summed into int16) and vpmaddwd (into int32 per row).
#include "llemma/backend/cpu/kernels.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "llemma/backend/cpu/quants.h"
#include "llemma/core/half.h"

#pragma GCC diagnostic ignored "-Wunused-function"

namespace llemma::cpu::internal {
namespace avx2 {
#include "llemma/backend/cpu/kernels_impl.inc"

namespace {

inline __m256i Broadcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}
inline float LoadF32At(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}
inline int32_t LoadI32At(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
// 8 f16 row scales → floats.
inline __m256 LoadScales8(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Σ over the 32 columns of one block for rows 0-7 (half 0) and 8-15 (half 1)
// of a panel, for kTokens tokens, as int32 lanes (one per row).
//   Q4 (values 0..15): the 8 products of a row stay below 2^15 in int16, so a
//   block is summed in int16 and widened once.
//   Q8 (stored value + 128): signed weights via the sign trick, widened per
//   step (|w|·|x| pairs reach 2·128·127).
template <bool kQ4, int kTokens>
inline void BlockDots(const uint8_t* values, const uint8_t* xb, __m256i (&acc)[kTokens][2]) {
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (kQ4) {
    const __m256i mask = _mm256_set1_epi8(0x0F);
    __m256i s16[kTokens][2];
    for (int t = 0; t < kTokens; ++t) s16[t][0] = s16[t][1] = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
      for (int h = 0; h < 2; ++h) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(values + 64 * p + 32 * h));
        const __m256i lo = _mm256_and_si256(v, mask);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
        for (int t = 0; t < kTokens; ++t) {
          const __m256i a0 = Broadcast4(xb + 32 * t + 8 * p), a1 = Broadcast4(xb + 32 * t + 8 * p + 4);
          s16[t][h] = _mm256_add_epi16(s16[t][h], _mm256_add_epi16(_mm256_maddubs_epi16(lo, a0), _mm256_maddubs_epi16(hi, a1)));
        }
      }
    }
    for (int t = 0; t < kTokens; ++t)
      for (int h = 0; h < 2; ++h) acc[t][h] = _mm256_add_epi32(acc[t][h], _mm256_madd_epi16(s16[t][h], ones));
  } else {
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
    for (int s = 0; s < 8; ++s) {
      for (int h = 0; h < 2; ++h) {
        const __m256i w = _mm256_xor_si256(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(values + 64 * s + 32 * h)), flip);  // signed
        const __m256i aw = _mm256_abs_epi8(w);
        for (int t = 0; t < kTokens; ++t) {
          const __m256i x = _mm256_sign_epi8(Broadcast4(xb + 32 * t + 4 * s), w);
          acc[t][h] = _mm256_add_epi32(acc[t][h], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, x), ones));
        }
      }
    }
  }
}

// One panel (16 rows) against kTokens tokens of an activation tile of n.
template <bool kQ4, int kTokens>
void PanelTile(const uint8_t* panel, const uint8_t* acts, int64_t nb, int n, int t0, float* y, int64_t y_stride) {
  constexpr size_t kBlockBytes = kQ4 ? 288 : 544;
  const size_t act_bytes = kActBlockBytes * static_cast<size_t>(n);
  __m256 f[kTokens][2];
  for (int t = 0; t < kTokens; ++t) f[t][0] = f[t][1] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = panel + b * kBlockBytes;
    const uint8_t* xb = acts + b * act_bytes;
    __m256i acc[kTokens][2];
    for (int t = 0; t < kTokens; ++t) {
      // Q4 removes the +8 offset with −8·Σx; Q8's sign trick needs no offset.
      const __m256i c = kQ4 ? _mm256_set1_epi32(LoadI32At(xb + 36 * n + 4 * (t0 + t))) : _mm256_setzero_si256();
      acc[t][0] = acc[t][1] = c;
    }
    BlockDots<kQ4, kTokens>(blk + 32, xb + 32 * t0, acc);
    for (int h = 0; h < 2; ++h) {
      const __m256 dw = LoadScales8(blk + 16 * h);
      for (int t = 0; t < kTokens; ++t) {
        const __m256 dx = _mm256_set1_ps(LoadF32At(xb + 32 * n + 4 * (t0 + t)));
        f[t][h] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc[t][h]), dx), dw, f[t][h]);
      }
    }
  }
  for (int t = 0; t < kTokens; ++t) {
    _mm256_storeu_ps(y + t * y_stride, f[t][0]);
    _mm256_storeu_ps(y + t * y_stride + 8, f[t][1]);
  }
}

// Q5_KP / Q6_KP: the 4-bit values with the high bits of step s ORed in
// (bit 4 for Q5, bits 4..5 for Q6), for rows 8h..8h+7 (32 bytes).
template <KPanel kType>
inline __m256i WithHighBits(__m256i low, const uint8_t* sub, int s, int h) {
  const int from = kType == KPanel::kQ5 ? s : 2 * (s % 4);
  const uint8_t* hb = sub + 288 + (kType == KPanel::kQ6 ? 64 * (s / 4) : 0) + 32 * h;
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hb));
  const __m256i at4 = from < 4 ? _mm256_slli_epi16(v, 4 - from) : from > 4 ? _mm256_srli_epi16(v, from - 4) : v;
  return _mm256_or_si256(low, _mm256_and_si256(at4, _mm256_set1_epi8(kType == KPanel::kQ5 ? 0x10 : 0x30)));
}

// K-quant panels. Q4_KP: the Q4 block dots without offset (BlockDots),
// folded per sub-block with d·scale and dmin·min (the 6-bit integers
// widened from bytes). Q5_KP folds the same way; Q6_KP has a scale per 16
// columns: the sums of columns 0..15 and 16..31 start at −32·Σx of their
// columns and fold separately. Q5/Q6 values reach 31 / 63, so their int16
// pair sums are widened after every step pair (at most 4 products of 63·127
// per lane).
template <KPanel kType, int kTokens>
void PanelTileK(const uint8_t* panel, const uint8_t* acts, int64_t ns, int n, int t0, float* y, int64_t y_stride) {
  constexpr size_t kSuper = KPanelSuperBytes<kType>(), kSub = KPanelSubBytes<kType>();
  constexpr size_t kHead = KPanelHeadBytes<kType>();
  constexpr int kHalves = kType == KPanel::kQ6 ? 2 : 1;
  const size_t act_bytes = kActBlockBytes * static_cast<size_t>(n);
  const __m256i mask = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  __m256 f[kTokens][2];
  for (int t = 0; t < kTokens; ++t) f[t][0] = f[t][1] = _mm256_setzero_ps();
  const uint8_t* xb = acts;
  for (int64_t sb = 0; sb < ns; ++sb) {
    const uint8_t* head = panel + sb * kSuper;
    for (int j = 0; j < 8; ++j, xb += act_bytes) {
      const uint8_t* sub = head + kHead + kSub * j;
      __m256i acc[kHalves][kTokens][2];
      for (int c = 0; c < kHalves; ++c)
        for (int t = 0; t < kTokens; ++t) {
          int32_t init = 0;
          if constexpr (kType == KPanel::kQ6) {
            int16_t sums[2];
            std::memcpy(sums, xb + 44 * n + 4 * (t0 + t), 4);
            init = -32 * sums[c];
          }
          acc[c][t][0] = acc[c][t][1] = _mm256_set1_epi32(init);
        }
      if constexpr (kType == KPanel::kQ4) BlockDots<true, kTokens>(sub + 32, xb + 32 * t0, acc[0]);
      for (int p = 0; p < (kType == KPanel::kQ4 ? 0 : 4); ++p) {
        const int c = kHalves == 2 ? p / 2 : 0;
        for (int h = 0; h < 2; ++h) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sub + 32 + 64 * p + 32 * h));
          const __m256i lo = WithHighBits<kType>(_mm256_and_si256(v, mask), sub, 2 * p, h);
          const __m256i hi = WithHighBits<kType>(_mm256_and_si256(_mm256_srli_epi16(v, 4), mask), sub, 2 * p + 1, h);
          for (int t = 0; t < kTokens; ++t) {
            const uint8_t* xq = xb + 32 * (t0 + t) + 8 * p;
            const __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(lo, Broadcast4(xq)),
                                                 _mm256_maddubs_epi16(hi, Broadcast4(xq + 4)));
            acc[c][t][h] = _mm256_add_epi32(acc[c][t][h], _mm256_madd_epi16(s16, ones));
          }
        }
      }
      for (int h = 0; h < 2; ++h) {
        if constexpr (kType == KPanel::kQ6) {
          const __m256 d = LoadScales8(head + 16 * h);
          for (int c = 0; c < 2; ++c) {
            const __m256 scale = _mm256_mul_ps(
                d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sub + 16 * c + 8 * h)))));
            for (int t = 0; t < kTokens; ++t) {
              const __m256 dx = _mm256_set1_ps(LoadF32At(xb + 32 * n + 4 * (t0 + t)));
              f[t][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[c][t][h]), _mm256_mul_ps(scale, dx), f[t][h]);
            }
          }
        } else {
          const __m256 scale = _mm256_mul_ps(
              LoadScales8(head + 16 * h),
              _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sub + 8 * h)))));
          const __m256 mins = _mm256_mul_ps(
              LoadScales8(head + 32 + 16 * h),
              _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sub + 16 + 8 * h)))));
          for (int t = 0; t < kTokens; ++t) {
            const __m256 dx = _mm256_set1_ps(LoadF32At(xb + 32 * n + 4 * (t0 + t)));
            const __m256 dsum = _mm256_set1_ps(LoadF32At(xb + 40 * n + 4 * (t0 + t)));
            f[t][h] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc[0][t][h]), dx), scale, f[t][h]);
            f[t][h] = _mm256_fnmadd_ps(mins, dsum, f[t][h]);
          }
        }
      }
    }
  }
  for (int t = 0; t < kTokens; ++t) {
    _mm256_storeu_ps(y + t * y_stride, f[t][0]);
    _mm256_storeu_ps(y + t * y_stride + 8, f[t][1]);
  }
}

template <bool kQ4>
void GemmPanelAvx2(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                   int64_t y_stride) {
  const int64_t nb = k / 32;
  const size_t panel_bytes = nb * (kQ4 ? 288 : 544);
  ForPanelsAndTokens(
      static_cast<const uint8_t*>(panels), panel_bytes, n, n_panels, y, y_stride,
      [&](const uint8_t* panel, int t, float* yt) { PanelTile<kQ4, 2>(panel, acts, nb, n, t, yt, y_stride); },
      [&](const uint8_t* panel, int t, float* yt) { PanelTile<kQ4, 1>(panel, acts, nb, n, t, yt, y_stride); });
}

void GemmQ8_0PAvx2(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                   int64_t y_stride, bool) {
  GemmPanelAvx2<false>(panels, acts, k, n, n_panels, y, y_stride);
}
void GemmQ4_0PAvx2(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                   int64_t y_stride, bool) {
  GemmPanelAvx2<true>(panels, acts, k, n, n_panels, y, y_stride);
}

template <KPanel kType>
void GemmKAvx2(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y, int64_t y_stride,
                 bool) {
  const int64_t ns = k / 256;
  ForPanelsAndTokens(
      static_cast<const uint8_t*>(panels), ns * KPanelSuperBytes<kType>(), n, n_panels, y, y_stride,
      [&](const uint8_t* panel, int t, float* yt) { PanelTileK<kType, 2>(panel, acts, ns, n, t, yt, y_stride); },
      [&](const uint8_t* panel, int t, float* yt) { PanelTileK<kType, 1>(panel, acts, ns, n, t, yt, y_stride); });
}
void GemmQ4_KPAvx2(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                   int64_t y_stride, bool prefetch_next) {
  GemmKAvx2<KPanel::kQ4>(panels, acts, k, n, n_panels, y, y_stride, prefetch_next);
}
void GemmQ5_KPAvx2(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                   int64_t y_stride, bool prefetch_next) {
  GemmKAvx2<KPanel::kQ5>(panels, acts, k, n, n_panels, y, y_stride, prefetch_next);
}
void GemmQ6_KPAvx2(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                   int64_t y_stride, bool prefetch_next) {
  GemmKAvx2<KPanel::kQ6>(panels, acts, k, n, n_panels, y, y_stride, prefetch_next);
}

// Q2_KP / Q3_KP: per 16-column half c, steps 4c..4c+3 come from 2-bit
// plane c (Q3 ORs in its third bits at bit 2); the four steps' int16 pair
// sums (at most 4 · 2 · 7 · 127) are widened once, and the half folds with
// d·scale (Q3: sums started at −4·Σx; Q2: minus dmin·min·dx·Σx).
template <bool kQ3, int kTokens>
void PanelTileLowK(const uint8_t* panel, const uint8_t* acts, int64_t ns, int n, int t0, float* y, int64_t y_stride) {
  constexpr size_t kSuper = kQ3 ? kQ3KPanelSuperBytes : kQ2KPanelSuperBytes;
  constexpr size_t kSub = kQ3 ? kQ3KPanelSubBytes : kQ2KPanelSubBytes, kHead = kQ3 ? 32 : 64;
  const size_t act_bytes = kActBlockBytes * static_cast<size_t>(n);
  const __m256i two = _mm256_set1_epi8(0x03), third = _mm256_set1_epi8(0x04), ones = _mm256_set1_epi16(1);
  __m256 f[kTokens][2];
  for (int t = 0; t < kTokens; ++t) f[t][0] = f[t][1] = _mm256_setzero_ps();
  const uint8_t* xb = acts;
  for (int64_t sb = 0; sb < ns; ++sb) {
    const uint8_t* head = panel + sb * kSuper;
    for (int j = 0; j < 8; ++j, xb += act_bytes) {
      const uint8_t* sub = head + kHead + kSub * j;
      for (int c = 0; c < 2; ++c) {
        int16_t sums[kTokens];
        for (int t = 0; t < kTokens; ++t) std::memcpy(&sums[t], xb + 44 * n + 4 * (t0 + t) + 2 * c, 2);
        for (int h = 0; h < 2; ++h) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sub + kLowKPlanesAt + 64 * c + 32 * h));
          __m256i hb = _mm256_setzero_si256();
          if constexpr (kQ3) hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sub + kQ3ThirdBitsAt + 32 * h));
          __m256i s16[kTokens];
          for (int t = 0; t < kTokens; ++t) s16[t] = _mm256_setzero_si256();
          for (int m = 0; m < 4; ++m) {
            const int s = 4 * c + m;
            __m256i w = _mm256_and_si256(_mm256_srli_epi16(v, 2 * m), two);
            if constexpr (kQ3) {
              const __m256i at2 = s < 2 ? _mm256_slli_epi16(hb, 2 - s) : s > 2 ? _mm256_srli_epi16(hb, s - 2) : hb;
              w = _mm256_or_si256(w, _mm256_and_si256(at2, third));
            }
            for (int t = 0; t < kTokens; ++t)
              s16[t] = _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(w, Broadcast4(xb + 32 * (t0 + t) + 4 * s)));
          }
          const __m256 d = LoadScales8(head + 16 * h);
          const __m128i sc8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(sub + 16 * c + 8 * h));
          __m256 scale, mins = _mm256_setzero_ps();
          if constexpr (kQ3) {
            scale = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc8)));
          } else {  // Q2: scale and min nibbles of one byte
            const __m256i sm = _mm256_cvtepu8_epi32(sc8);
            scale = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(sm, _mm256_set1_epi32(0xF))));
            mins = _mm256_mul_ps(LoadScales8(head + 32 + 16 * h), _mm256_cvtepi32_ps(_mm256_srli_epi32(sm, 4)));
          }
          for (int t = 0; t < kTokens; ++t) {
            const float dx = LoadF32At(xb + 32 * n + 4 * (t0 + t));
            __m256i acc = _mm256_madd_epi16(s16[t], ones);
            if constexpr (kQ3) acc = _mm256_add_epi32(acc, _mm256_set1_epi32(-4 * sums[t]));
            f[t][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), _mm256_mul_ps(scale, _mm256_set1_ps(dx)), f[t][h]);
            if constexpr (!kQ3)
              f[t][h] = _mm256_fnmadd_ps(mins, _mm256_set1_ps(dx * static_cast<float>(sums[t])), f[t][h]);
          }
        }
      }
    }
  }
  for (int t = 0; t < kTokens; ++t) {
    _mm256_storeu_ps(y + t * y_stride, f[t][0]);
    _mm256_storeu_ps(y + t * y_stride + 8, f[t][1]);
  }
}

template <bool kQ3>
void GemmLowKAvx2(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                  int64_t y_stride) {
  const int64_t ns = k / 256;
  ForPanelsAndTokens(
      static_cast<const uint8_t*>(panels), ns * (kQ3 ? kQ3KPanelSuperBytes : kQ2KPanelSuperBytes), n, n_panels, y,
      y_stride, [&](const uint8_t* panel, int t, float* yt) { PanelTileLowK<kQ3, 2>(panel, acts, ns, n, t, yt, y_stride); },
      [&](const uint8_t* panel, int t, float* yt) { PanelTileLowK<kQ3, 1>(panel, acts, ns, n, t, yt, y_stride); });
}
void GemmQ2_KPAvx2(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                   int64_t y_stride, bool) {
  GemmLowKAvx2<false>(panels, acts, k, n, n_panels, y, y_stride);
}
void GemmQ3_KPAvx2(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                   int64_t y_stride, bool) {
  GemmLowKAvx2<true>(panels, acts, k, n, n_panels, y, y_stride);
}

// Hotspots (decode of F16 / BF16 rows): 8 values per step into four
// independent sums; activations in float or already rounded to F16.
inline __m256 Widen8(bool bf16, const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return bf16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)) : _mm256_cvtph_ps(h);
}

inline float Sum8(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

template <bool kBf16, bool kHalfActs, typename X>
float DotRowAvx2(const uint16_t* w, const X* x, int64_t n) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  auto acts = [&](int64_t at) {
    if constexpr (kHalfActs) return Widen8(false, x + at);
    else return _mm256_loadu_ps(x + at);
  };
  for (; i + 32 <= n; i += 32)
    for (int j = 0; j < 4; ++j) acc[j] = _mm256_fmadd_ps(Widen8(kBf16, w + i + 8 * j), acts(i + 8 * j), acc[j]);
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(Widen8(kBf16, w + i), acts(i), acc[0]);
  float sum = Sum8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) {
    const float wv = kBf16 ? Bf16Bits(w[i]) : ::llemma::F16ToF32(w[i]);
    if constexpr (kHalfActs) sum += wv * ::llemma::F16ToF32(x[i]);
    else sum += wv * x[i];
  }
  return sum;
}

float DotF16Avx2(const uint16_t* w, const float* x, int64_t n) { return DotRowAvx2<false, false>(w, x, n); }
float DotBf16Avx2(const uint16_t* w, const float* x, int64_t n) { return DotRowAvx2<true, false>(w, x, n); }
float DotF16HAvx2(const uint16_t* w, const uint16_t* x, int64_t n) { return DotRowAvx2<false, true>(w, x, n); }
float DotBf16HAvx2(const uint16_t* w, const uint16_t* x, int64_t n) { return DotRowAvx2<true, true>(w, x, n); }

// Hotspot (batched decoding of F16 / BF16 weights): gemm_half_rows on
// 3 rows × 4 tokens of 8-lane sums, the 16 registers AVX2 has: each row's
// 16 columns widened once (two halves) for all 4 tokens.
template <bool kBf16>
struct HalfTileAvx2 {
  template <int kR, int kT>
  static void Run(const uint16_t* __restrict w, int64_t w_stride, const float* __restrict xi, int64_t x_block,
                  int64_t k, float* __restrict y, int64_t y_stride) {
    __m256 acc[kR][kT];
    for (int r = 0; r < kR; ++r)
      for (int t = 0; t < kT; ++t) acc[r][t] = _mm256_setzero_ps();
    for (int64_t c = 0; c < k; c += 16, xi += x_block) {
      for (int h = 0; h < 2; ++h) {
        __m256 wv[kR];
        for (int r = 0; r < kR; ++r) wv[r] = Widen8(kBf16, w + r * w_stride + c + 8 * h);
        for (int t = 0; t < kT; ++t) {
          const __m256 xv = _mm256_loadu_ps(xi + 16 * t + 8 * h);
          for (int r = 0; r < kR; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
        }
      }
    }
    for (int r = 0; r < kR; ++r)
      for (int t = 0; t < kT; ++t) y[t * y_stride + r] = Sum8(acc[r][t]);
  }
};

void GemmHalfRowsAvx2(::llemma::DType dtype, const uint16_t* w, int64_t w_stride, int64_t nr, const float* xi, int nt,
                      int64_t k, float* y, int64_t y_stride) {
  GemmHalfRowsWith<HalfTileAvx2, 3, 4>(dtype, w, w_stride, nr, xi, nt, k, y, y_stride);
}

// Hotspot (prompts on float weights): gemm_packed_32x6 as two passes of 16
// rows, 12 accumulators each (AVX2 has 16 registers): per column two row
// loads and six token broadcasts feed 12 FMAs.
void GemmPacked32x6Avx2(const float* w, const float* x, int64_t x_stride, int64_t k_len, float* y,
                        int64_t y_stride) {
  for (int h = 0; h < 2; ++h) {
    __m256 c[6][2];
    for (int t = 0; t < 6; ++t) c[t][0] = c[t][1] = _mm256_setzero_ps();
    const float* wh = w + 16 * h;
    for (int64_t k = 0; k < k_len; ++k) {
      const __m256 w0 = _mm256_loadu_ps(wh + k * 32), w1 = _mm256_loadu_ps(wh + k * 32 + 8);
      for (int t = 0; t < 6; ++t) {
        const __m256 xv = _mm256_broadcast_ss(x + t * x_stride + k);
        c[t][0] = _mm256_fmadd_ps(w0, xv, c[t][0]);
        c[t][1] = _mm256_fmadd_ps(w1, xv, c[t][1]);
      }
    }
    for (int t = 0; t < 6; ++t) {
      _mm256_storeu_ps(y + t * y_stride + 16 * h, c[t][0]);
      _mm256_storeu_ps(y + t * y_stride + 16 * h + 8, c[t][1]);
    }
  }
}

void ToF16Avx2(const float* x, uint16_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  ToF16(x + i, dst + i, n - i);
}

}  // namespace

constexpr Kernels kTable = {"avx2",        DotF32,         DotBf16Avx2,    DotF16Avx2,    ToF32,
                            Gemm4x4,       GemmPacked32x6Avx2, Axpy,       VecDotQ8_0,    VecDotQ4_0,
                            VecDotQ8_0x4,  VecDotQ4_0x4,   GemmQ8_0PAvx2,  GemmQ4_0PAvx2, GemmQ4_KPAvx2,
                            GemmQ5_KPAvx2, GemmQ6_KPAvx2,  QuantizeActs,  QuantizeQ8_0,   AttnQK,         AttnPV,         AttnQKF16,
                            AttnPVF16,     ToF16Avx2,      SiluMul,
                            ExpSum,        DotF16HAvx2,   DotBf16HAvx2,  GemmQ2_KPAvx2,  GemmQ3_KPAvx2,
                            GemmHalfRowsAvx2};
}  // namespace avx2

const Kernels* Avx2Kernels() { return &avx2::kTable; }

}  // namespace llemma::cpu::internal
