// The AVX-512 panel-GEMM scaffolding shared by kernels_avx512.cc and
// kernels_avx512_gfni.cc (the same flags plus GFNI), and the Q3_KP tile,
// which both compile: with shifts and masks everywhere, and with GF(2)
// affine byte maps where the CPU has GFNI. Internal to backend/cpu.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "llemma/backend/cpu/kernels.h"
#include "llemma/backend/cpu/quants.h"

// GCC 12 misreports the intrinsics' temporaries as uninitialized (both
// includers say the same for their own code).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace llemma::cpu::internal {
namespace {

// The 4 bytes at p in every dword (4 activations of one token).
inline __m512i Broadcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Panels of 16 rows in pairs (each activation broadcast feeds two panels;
// an odd last panel alone) against a whole activation tile of n tokens:
// tile(tokens, panels, i) runs panels i.. with the token and panel counts
// as compile-time constants (for 6 tokens and a pair, 12 int32 and 12 float
// accumulators).
template <int kPanels, typename Tile>
inline void ByTokens(int n, int i, const Tile& tile) {
  using P = std::integral_constant<int, kPanels>;
  switch (n) {
    case 6: return tile(std::integral_constant<int, 6>{}, P{}, i);
    case 5: return tile(std::integral_constant<int, 5>{}, P{}, i);
    case 4: return tile(std::integral_constant<int, 4>{}, P{}, i);
    case 3: return tile(std::integral_constant<int, 3>{}, P{}, i);
    case 2: return tile(std::integral_constant<int, 2>{}, P{}, i);
    case 1: return tile(std::integral_constant<int, 1>{}, P{}, i);
    default: return;
  }
}
template <typename Tile>
inline void PanelPairs(int n, int n_panels, const Tile& tile) {
  int i = 0;
  for (; i + 2 <= n_panels; i += 2) ByTokens<2>(n, i, tile);
  if (i < n_panels) ByTokens<1>(n, i, tile);
}

// Q2_KP / Q3_KP panels: the 2-bit values of steps 4h..4h+3 (columns
// 16h..16h+15) come from one 64-byte plane, step m of the four in bits
// 2m..2m+1 of each byte.
inline __m512i TwoBitStep(__m512i plane, int m) {
  return _mm512_and_si512(m == 0 ? plane : _mm512_srli_epi16(plane, 2 * m), _mm512_set1_epi8(0x03));
}

// The GF(2) affine matrix (vgf2p8affineqb) that moves bits from..from+count−1
// of every byte to bits to..to+count−1 and clears the others.
constexpr uint64_t MoveBits(int from, int count, int to) {
  uint64_t a = 0;
  for (int k = 0; k < count; ++k) a |= (uint64_t{1} << (from + k)) << (8 * (7 - to - k));
  return a;
}

// Step s of a Q3_KP sub-block as bytes q = 0..7: the 2-bit value of the
// step (m = s mod 4 of plane s / 4) with bit s of the third-bit bytes hb in
// bit 2. With GFNI one affine map isolates that bit, and one ternary-logic
// op takes bits 0..1 from the shifted plane and bit 2 from it; without,
// both are shifted and masked. On Zen 4 the affine map shares the ports of
// vpdpbusd, so it pays only while few tokens share the unpacking: one thread,
// 4096 × 1024 weights in cache, GB/s shifts / GFNI: 1 token 29.0 / 32.8,
// 2 tokens 22.1 / 23.2, 3 tokens 18.1 / 17.5, 6 tokens 8.9 / 8.5. The tile
// uses it for 1 and 2 tokens.
template <bool kGfni>
inline __m512i Q3Step(__m512i plane, __m512i hb, int s) {
  const int m = s % 4;
  if constexpr (kGfni) {
    const __m512i to_two = _mm512_set1_epi64(static_cast<long long>(MoveBits(s, 1, 2)));
    const __m512i third = _mm512_gf2p8affine_epi64_epi8(hb, to_two, 0);
    const __m512i low = m == 0 ? plane : _mm512_srli_epi16(plane, 2 * m);
    return _mm512_ternarylogic_epi32(_mm512_set1_epi8(0x03), low, third, 0xCA);  // 3 ? low : third
  } else {
    const __m512i at_two = s < 2 ? _mm512_slli_epi16(hb, 2 - s) : s > 2 ? _mm512_srli_epi16(hb, s - 2) : hb;
    return _mm512_ternarylogic_epi32(TwoBitStep(plane, m), at_two, _mm512_set1_epi8(0x04), 0xF8);
  }
}

// Q3_KP: each half's sums start at −4·Σx and fold with d·scale in float,
// as Q6_K's halves do. (The integer scaling of the Q2_KP tile measured 8%
// slower here with 6 tokens and 5% faster with one.)
template <bool kGfni, int kTokens, int kPanels>
inline void PanelTileQ3K(const uint8_t* __restrict panel, const uint8_t* __restrict acts, int64_t ns, int n,
                         float* __restrict y, int64_t y_stride, bool prefetch_next) {
  const size_t panel_bytes = ns * kQ3KPanelSuperBytes, act_bytes = kActBlockBytes * static_cast<size_t>(n);
  __m512 f[kPanels][kTokens];
  for (int i = 0; i < kPanels; ++i)
    for (int t = 0; t < kTokens; ++t) f[i][t] = _mm512_setzero_ps();
  const uint8_t* xb = acts;
  for (int64_t sb = 0; sb < ns; ++sb) {
    const uint8_t* head = panel + sb * kQ3KPanelSuperBytes;
    __m512 d[kPanels];
    for (int i = 0; i < kPanels; ++i)
      d[i] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(head + i * panel_bytes)));
    for (int j = 0; j < 8; ++j, xb += act_bytes) {
      const uint8_t* sub = head + 32 + kQ3KPanelSubBytes * j;
      if (prefetch_next) {
        for (int i = 0; i < kPanels; ++i)
          for (size_t off = 0; off < kQ3KPanelSubBytes; off += 64)
            _mm_prefetch(reinterpret_cast<const char*>(sub + (kPanels + i) * panel_bytes + off), _MM_HINT_T0);
      }
      __m512i hb[kPanels];
      for (int i = 0; i < kPanels; ++i) hb[i] = _mm512_loadu_si512(sub + i * panel_bytes + kQ3ThirdBitsAt);
      for (int h = 0; h < 2; ++h) {
        __m512i acc[kPanels][kTokens];
        for (int t = 0; t < kTokens; ++t) {
          int16_t sum;
          std::memcpy(&sum, xb + 44 * n + 4 * t + 2 * h, 2);
          const __m512i c = _mm512_set1_epi32(-4 * sum);
          for (int i = 0; i < kPanels; ++i) acc[i][t] = c;
        }
        __m512i plane[kPanels];
        for (int i = 0; i < kPanels; ++i) plane[i] = _mm512_loadu_si512(sub + i * panel_bytes + kLowKPlanesAt + 64 * h);
        for (int m = 0; m < 4; ++m) {
          const int s = 4 * h + m;
          __m512i w[kPanels];
          for (int i = 0; i < kPanels; ++i)
            w[i] = Q3Step<kGfni && kTokens <= 2>(plane[i], hb[i], s);
          for (int t = 0; t < kTokens; ++t) {
            const __m512i a = Broadcast4(xb + 32 * t + 4 * s);
            for (int i = 0; i < kPanels; ++i) acc[i][t] = _mm512_dpbusd_epi32(acc[i][t], w[i], a);
          }
        }
        for (int i = 0; i < kPanels; ++i) {
          const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sub + i * panel_bytes + 16 * h));
          const __m512 scale = _mm512_mul_ps(d[i], _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(sc)));
          for (int t = 0; t < kTokens; ++t) {
            float dx;
            std::memcpy(&dx, xb + 32 * n + 4 * t, 4);
            f[i][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][t]), _mm512_mul_ps(scale, _mm512_set1_ps(dx)), f[i][t]);
          }
        }
      }
    }
  }
  for (int i = 0; i < kPanels; ++i)
    for (int t = 0; t < kTokens; ++t) _mm512_storeu_ps(y + t * y_stride + 16 * i, f[i][t]);
}

template <bool kGfni>
void GemmQ3K(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y, int64_t y_stride,
             bool prefetch_next) {
  const uint8_t* p = static_cast<const uint8_t*>(panel);
  const size_t panel_bytes = (k / 256) * kQ3KPanelSuperBytes;
  PanelPairs(n, n_panels, [&](auto tokens, auto panels, int i) {
    PanelTileQ3K<kGfni, decltype(tokens)::value, decltype(panels)::value>(p + i * panel_bytes, acts, k / 256, n,
                                                                          y + 16 * i, y_stride, prefetch_next);
  });
}

}  // namespace
}  // namespace llemma::cpu::internal
