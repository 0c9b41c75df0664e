// The kernels compiled for AArch64 with the ARMv8.2 dot-product extension
// (see CMakeLists.txt for the flags): the shared loop bodies, with the
// quantized panel GEMM and the F16 / BF16 rows written with NEON
// intrinsics. sdot adds, in each int32 lane, the four products of a lane's
// int8 quadruples; a panel block stores each row's weights for 4 columns as
// one such quadruple (4 rows per 16-byte vector), so one sdot against 4
// activation bytes broadcast to every lane advances 4 rows by 4 columns.
// Weights are used as signed bytes: Q4 nibbles (0..15) and the K-quants'
// 5- and 6-bit values are non-negative, Q8's stored value + 128 is flipped
// back to its signed value.
#include "llemma/backend/cpu/kernels.h"

#include <arm_neon.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "llemma/backend/cpu/quants.h"
#include "llemma/core/half.h"

#pragma GCC diagnostic ignored "-Wunused-function"

namespace llemma::cpu::internal {
namespace neon {
#include "llemma/backend/cpu/kernels_impl.inc"

namespace {

inline int8x16_t Broadcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return vreinterpretq_s8_s32(vdupq_n_s32(v));
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
// 4 f16 values → floats.
inline float32x4_t LoadF16x4(const uint8_t* p) { return vcvt_f32_f16(vreinterpret_f16_u8(vld1_u8(p))); }
// 4 bytes → floats, unsigned or signed.
inline float32x4_t LoadU8x4(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return vcvtq_f32_u32(vmovl_u16(vget_low_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(v))))));
}
inline float32x4_t LoadS8x4(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return vcvtq_f32_s32(vmovl_s16(vget_low_s16(vmovl_s8(vreinterpret_s8_u32(vdup_n_u32(v))))));
}

// Σ over the 32 columns of one block for the 16 rows of a panel (4 lanes
// per group g of rows 4g..4g+3), for kTokens tokens, added to acc.
template <bool kQ4, int kTokens>
inline void BlockDots(const uint8_t* values, const uint8_t* xb, int32x4_t (&acc)[kTokens][4]) {
  if constexpr (kQ4) {
    const uint8x16_t mask = vdupq_n_u8(0x0F);
    for (int p = 0; p < 4; ++p) {
      int8x16_t lo[4], hi[4];
      for (int g = 0; g < 4; ++g) {
        const uint8x16_t v = vld1q_u8(values + 64 * p + 16 * g);
        lo[g] = vreinterpretq_s8_u8(vandq_u8(v, mask));
        hi[g] = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
      }
      for (int t = 0; t < kTokens; ++t) {
        const int8x16_t a0 = Broadcast4(xb + 32 * t + 8 * p), a1 = Broadcast4(xb + 32 * t + 8 * p + 4);
        for (int g = 0; g < 4; ++g) acc[t][g] = vdotq_s32(vdotq_s32(acc[t][g], lo[g], a0), hi[g], a1);
      }
    }
  } else {
    const uint8x16_t flip = vdupq_n_u8(0x80);
    for (int s = 0; s < 8; ++s) {
      int8x16_t w[4];
      for (int g = 0; g < 4; ++g) w[g] = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(values + 64 * s + 16 * g), flip));
      for (int t = 0; t < kTokens; ++t) {
        const int8x16_t a = Broadcast4(xb + 32 * t + 4 * s);
        for (int g = 0; g < 4; ++g) acc[t][g] = vdotq_s32(acc[t][g], w[g], a);
      }
    }
  }
}

template <int kTokens>
inline void StoreTile(const float32x4_t (&f)[kTokens][4], float* y, int64_t y_stride) {
  for (int t = 0; t < kTokens; ++t)
    for (int g = 0; g < 4; ++g) vst1q_f32(y + t * y_stride + 4 * g, f[t][g]);
}

// One panel (16 rows) against kTokens tokens of an activation tile of n.
template <bool kQ4, int kTokens>
void PanelTile(const uint8_t* panel, const uint8_t* acts, int64_t nb, int n, int t0, float* y, int64_t y_stride) {
  constexpr size_t kBlockBytes = kQ4 ? 288 : 544;
  const size_t act_bytes = kActBlockBytes * static_cast<size_t>(n);
  float32x4_t f[kTokens][4];
  for (int t = 0; t < kTokens; ++t)
    for (int g = 0; g < 4; ++g) f[t][g] = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = panel + b * kBlockBytes;
    const uint8_t* xb = acts + b * act_bytes;
    int32x4_t acc[kTokens][4];
    for (int t = 0; t < kTokens; ++t) {
      // Q4 removes the +8 offset with −8·Σx; Q8's flipped bytes need none.
      const int32x4_t c = vdupq_n_s32(kQ4 ? LoadI32At(xb + 36 * n + 4 * (t0 + t)) : 0);
      for (int g = 0; g < 4; ++g) acc[t][g] = c;
    }
    BlockDots<kQ4, kTokens>(blk + 32, xb + 32 * t0, acc);
    for (int g = 0; g < 4; ++g) {
      const float32x4_t dw = LoadF16x4(blk + 8 * g);
      for (int t = 0; t < kTokens; ++t) {
        const float dx = LoadF32At(xb + 32 * n + 4 * (t0 + t));
        f[t][g] = vfmaq_f32(f[t][g], vmulq_n_f32(vcvtq_f32_s32(acc[t][g]), dx), dw);
      }
    }
  }
  StoreTile<kTokens>(f, y, y_stride);
}

// Q5_KP / Q6_KP: the high bits of step s for rows 4g..4g+3 moved to bit 4
// (Q5) or bits 4..5 (Q6), to OR into the 4-bit values.
template <KPanel kType>
inline uint8x16_t HighBits(const uint8_t* sub, int s, int g) {
  const int from = kType == KPanel::kQ5 ? s : 2 * (s % 4);
  const uint8_t* hb = sub + 288 + (kType == KPanel::kQ6 ? 64 * (s / 4) : 0) + 16 * g;
  const uint8x16_t at4 = vshlq_u8(vld1q_u8(hb), vdupq_n_s8(static_cast<int8_t>(4 - from)));
  return vandq_u8(at4, vdupq_n_u8(kType == KPanel::kQ5 ? 0x10 : 0x30));
}

// K-quant panels: per 32-column sub-block, the integer dots (no offset),
// folded with d·scale and, for Q4_K / Q5_K, dmin·min against d·Σx; Q6_K has
// a scale per 16 columns, so its sub-block is two halves (steps 0-1 and
// 2-3), each starting from −32·Σx of its columns and folded on its own.
template <KPanel kType, int kTokens>
void PanelTileK(const uint8_t* panel, const uint8_t* acts, int64_t ns, int n, int t0, float* y, int64_t y_stride) {
  constexpr size_t kSuper = KPanelSuperBytes<kType>(), kSub = KPanelSubBytes<kType>();
  constexpr size_t kHead = KPanelHeadBytes<kType>();
  constexpr int kParts = kType == KPanel::kQ6 ? 2 : 1;
  constexpr int kSteps = 4 / kParts;
  const size_t act_bytes = kActBlockBytes * static_cast<size_t>(n);
  const uint8x16_t mask = vdupq_n_u8(0x0F);
  float32x4_t f[kTokens][4];
  for (int t = 0; t < kTokens; ++t)
    for (int g = 0; g < 4; ++g) f[t][g] = vdupq_n_f32(0.0f);
  const uint8_t* xb = acts;
  for (int64_t sb = 0; sb < ns; ++sb) {
    const uint8_t* head = panel + sb * kSuper;
    for (int j = 0; j < 8; ++j, xb += act_bytes) {
      const uint8_t* sub = head + kHead + kSub * j;
      for (int c = 0; c < kParts; ++c) {
        int32x4_t acc[kTokens][4];
        for (int t = 0; t < kTokens; ++t) {
          int32_t init = 0;
          if constexpr (kType == KPanel::kQ6) {
            int16_t sums[2];
            std::memcpy(sums, xb + 44 * n + 4 * (t0 + t), 4);
            init = -32 * sums[c];
          }
          for (int g = 0; g < 4; ++g) acc[t][g] = vdupq_n_s32(init);
        }
        for (int p = kSteps * c; p < kSteps * (c + 1); ++p) {
          int8x16_t lo[4], hi[4];
          for (int g = 0; g < 4; ++g) {
            const uint8x16_t v = vld1q_u8(sub + 32 + 64 * p + 16 * g);
            uint8x16_t l = vandq_u8(v, mask), h = vshrq_n_u8(v, 4);
            if constexpr (kType != KPanel::kQ4) {
              l = vorrq_u8(l, HighBits<kType>(sub, 2 * p, g));
              h = vorrq_u8(h, HighBits<kType>(sub, 2 * p + 1, g));
            }
            lo[g] = vreinterpretq_s8_u8(l);
            hi[g] = vreinterpretq_s8_u8(h);
          }
          for (int t = 0; t < kTokens; ++t) {
            const uint8_t* xq = xb + 32 * (t0 + t) + 8 * p;
            const int8x16_t a0 = Broadcast4(xq), a1 = Broadcast4(xq + 4);
            for (int g = 0; g < 4; ++g) acc[t][g] = vdotq_s32(vdotq_s32(acc[t][g], lo[g], a0), hi[g], a1);
          }
        }
        for (int g = 0; g < 4; ++g) {
          if constexpr (kType == KPanel::kQ6) {
            const float32x4_t scale = vmulq_f32(LoadF16x4(head + 8 * g), LoadS8x4(sub + 16 * c + 4 * g));
            for (int t = 0; t < kTokens; ++t) {
              const float dx = LoadF32At(xb + 32 * n + 4 * (t0 + t));
              f[t][g] = vfmaq_f32(f[t][g], vcvtq_f32_s32(acc[t][g]), vmulq_n_f32(scale, dx));
            }
          } else {
            const float32x4_t scale = vmulq_f32(LoadF16x4(head + 8 * g), LoadU8x4(sub + 4 * g));
            const float32x4_t mins = vmulq_f32(LoadF16x4(head + 32 + 8 * g), LoadU8x4(sub + 16 + 4 * g));
            for (int t = 0; t < kTokens; ++t) {
              const float dx = LoadF32At(xb + 32 * n + 4 * (t0 + t));
              const float dsum = LoadF32At(xb + 40 * n + 4 * (t0 + t));
              f[t][g] = vfmaq_f32(f[t][g], vmulq_n_f32(vcvtq_f32_s32(acc[t][g]), dx), scale);
              f[t][g] = vfmsq_f32(f[t][g], mins, vdupq_n_f32(dsum));
            }
          }
        }
      }
    }
  }
  StoreTile<kTokens>(f, y, y_stride);
}

template <bool kQ4>
void GemmPanelNeon(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                   int64_t y_stride) {
  const int64_t nb = k / 32;
  const size_t panel_bytes = nb * (kQ4 ? 288 : 544);
  ForPanelsAndTokens(
      static_cast<const uint8_t*>(panels), panel_bytes, n, n_panels, y, y_stride,
      [&](const uint8_t* panel, int t, float* yt) { PanelTile<kQ4, 2>(panel, acts, nb, n, t, yt, y_stride); },
      [&](const uint8_t* panel, int t, float* yt) { PanelTile<kQ4, 1>(panel, acts, nb, n, t, yt, y_stride); });
}

void GemmQ8_0PNeon(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                   int64_t y_stride, bool) {
  GemmPanelNeon<false>(panels, acts, k, n, n_panels, y, y_stride);
}
void GemmQ4_0PNeon(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                   int64_t y_stride, bool) {
  GemmPanelNeon<true>(panels, acts, k, n, n_panels, y, y_stride);
}

template <KPanel kType>
void GemmKNeon(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y, int64_t y_stride) {
  const int64_t ns = k / 256;
  ForPanelsAndTokens(
      static_cast<const uint8_t*>(panels), ns * KPanelSuperBytes<kType>(), n, n_panels, y, y_stride,
      [&](const uint8_t* panel, int t, float* yt) { PanelTileK<kType, 2>(panel, acts, ns, n, t, yt, y_stride); },
      [&](const uint8_t* panel, int t, float* yt) { PanelTileK<kType, 1>(panel, acts, ns, n, t, yt, y_stride); });
}
void GemmQ4_KPNeon(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                   int64_t y_stride, bool) {
  GemmKNeon<KPanel::kQ4>(panels, acts, k, n, n_panels, y, y_stride);
}
void GemmQ5_KPNeon(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                   int64_t y_stride, bool) {
  GemmKNeon<KPanel::kQ5>(panels, acts, k, n, n_panels, y, y_stride);
}
void GemmQ6_KPNeon(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                   int64_t y_stride, bool) {
  GemmKNeon<KPanel::kQ6>(panels, acts, k, n, n_panels, y, y_stride);
}

// Q2_KP / Q3_KP: per 16-column half c, steps 4c..4c+3 from 2-bit plane c
// (Q3 ORs in its third bits at bit 2), sums started at −4·Σx for Q3 and
// folded with d·scale; Q2 subtracts dmin·min·dx·Σx.
template <bool kQ3, int kTokens>
void PanelTileLowK(const uint8_t* panel, const uint8_t* acts, int64_t ns, int n, int t0, float* y, int64_t y_stride) {
  constexpr size_t kSuper = kQ3 ? kQ3KPanelSuperBytes : kQ2KPanelSuperBytes;
  constexpr size_t kSub = kQ3 ? kQ3KPanelSubBytes : kQ2KPanelSubBytes, kHead = kQ3 ? 32 : 64;
  const size_t act_bytes = kActBlockBytes * static_cast<size_t>(n);
  const uint8x16_t two = vdupq_n_u8(0x03), third = vdupq_n_u8(0x04);
  float32x4_t f[kTokens][4];
  for (int t = 0; t < kTokens; ++t)
    for (int g = 0; g < 4; ++g) f[t][g] = vdupq_n_f32(0.0f);
  const uint8_t* xb = acts;
  for (int64_t sb = 0; sb < ns; ++sb) {
    const uint8_t* head = panel + sb * kSuper;
    for (int j = 0; j < 8; ++j, xb += act_bytes) {
      const uint8_t* sub = head + kHead + kSub * j;
      for (int c = 0; c < 2; ++c) {
        int16_t sums[kTokens];
        int32x4_t acc[kTokens][4];
        for (int t = 0; t < kTokens; ++t) {
          std::memcpy(&sums[t], xb + 44 * n + 4 * (t0 + t) + 2 * c, 2);
          for (int g = 0; g < 4; ++g) acc[t][g] = vdupq_n_s32(kQ3 ? -4 * sums[t] : 0);
        }
        for (int g = 0; g < 4; ++g) {
          const uint8x16_t v = vld1q_u8(sub + kLowKPlanesAt + 64 * c + 16 * g);
          uint8x16_t hb = vdupq_n_u8(0);
          if constexpr (kQ3) hb = vld1q_u8(sub + kQ3ThirdBitsAt + 16 * g);
          for (int m = 0; m < 4; ++m) {
            const int s = 4 * c + m;
            uint8x16_t w = vandq_u8(vshlq_u8(v, vdupq_n_s8(static_cast<int8_t>(-2 * m))), two);
            if constexpr (kQ3) w = vorrq_u8(w, vandq_u8(vshlq_u8(hb, vdupq_n_s8(static_cast<int8_t>(2 - s))), third));
            const int8x16_t ws = vreinterpretq_s8_u8(w);
            for (int t = 0; t < kTokens; ++t) acc[t][g] = vdotq_s32(acc[t][g], ws, Broadcast4(xb + 32 * (t0 + t) + 4 * s));
          }
        }
        for (int g = 0; g < 4; ++g) {
          const float32x4_t d = LoadF16x4(head + 8 * g);
          float32x4_t scale, mins = vdupq_n_f32(0.0f);
          if constexpr (kQ3) {
            scale = vmulq_f32(d, LoadS8x4(sub + 16 * c + 4 * g));
          } else {  // Q2: scale and min nibbles of one byte
            uint32_t v;
            std::memcpy(&v, sub + 16 * c + 4 * g, 4);
            const uint32x4_t sm = vmovl_u16(vget_low_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(v)))));
            scale = vmulq_f32(d, vcvtq_f32_u32(vandq_u32(sm, vdupq_n_u32(0xF))));
            mins = vmulq_f32(LoadF16x4(head + 32 + 8 * g), vcvtq_f32_u32(vshrq_n_u32(sm, 4)));
          }
          for (int t = 0; t < kTokens; ++t) {
            const float dx = LoadF32At(xb + 32 * n + 4 * (t0 + t));
            f[t][g] = vfmaq_f32(f[t][g], vcvtq_f32_s32(acc[t][g]), vmulq_n_f32(scale, dx));
            if constexpr (!kQ3) f[t][g] = vfmsq_f32(f[t][g], mins, vdupq_n_f32(dx * static_cast<float>(sums[t])));
          }
        }
      }
    }
  }
  StoreTile<kTokens>(f, y, y_stride);
}

template <bool kQ3>
void GemmLowKNeon(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                  int64_t y_stride) {
  const int64_t ns = k / 256;
  ForPanelsAndTokens(
      static_cast<const uint8_t*>(panels), ns * (kQ3 ? kQ3KPanelSuperBytes : kQ2KPanelSuperBytes), n, n_panels, y,
      y_stride, [&](const uint8_t* panel, int t, float* yt) { PanelTileLowK<kQ3, 2>(panel, acts, ns, n, t, yt, y_stride); },
      [&](const uint8_t* panel, int t, float* yt) { PanelTileLowK<kQ3, 1>(panel, acts, ns, n, t, yt, y_stride); });
}
void GemmQ2_KPNeon(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                   int64_t y_stride, bool) {
  GemmLowKNeon<false>(panels, acts, k, n, n_panels, y, y_stride);
}
void GemmQ3_KPNeon(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                   int64_t y_stride, bool) {
  GemmLowKNeon<true>(panels, acts, k, n, n_panels, y, y_stride);
}

// 8 F16 / BF16 values → two float vectors (bf16 is the top half of a float).
inline void Widen8(::llemma::DType dtype, const uint16_t* src, float32x4_t& lo, float32x4_t& hi) {
  const uint16x8_t h = vreinterpretq_u16_u8(vld1q_u8(reinterpret_cast<const uint8_t*>(src)));
  if (dtype == ::llemma::DType::kF16) {
    const float16x8_t v = vreinterpretq_f16_u16(h);
    lo = vcvt_f32_f16(vget_low_f16(v));
    hi = vcvt_high_f32_f16(v);
  } else {
    lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));
    hi = vreinterpretq_f32_u32(vshll_high_n_u16(h, 16));
  }
}

// Decode of F16 / BF16 weights: one row against the activations, 16 values
// per step in four independent sums.
template <::llemma::DType kType>
float DotHalfNeon(const uint16_t* w, const float* x, int64_t n) {
  float32x4_t a[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    float32x4_t w0, w1, w2, w3;
    Widen8(kType, w + i, w0, w1);
    Widen8(kType, w + i + 8, w2, w3);
    a[0] = vfmaq_f32(a[0], w0, vld1q_f32(x + i));
    a[1] = vfmaq_f32(a[1], w1, vld1q_f32(x + i + 4));
    a[2] = vfmaq_f32(a[2], w2, vld1q_f32(x + i + 8));
    a[3] = vfmaq_f32(a[3], w3, vld1q_f32(x + i + 12));
  }
  float acc = vaddvq_f32(vaddq_f32(vaddq_f32(a[0], a[1]), vaddq_f32(a[2], a[3])));
  for (; i < n; ++i) {
    acc += (kType == ::llemma::DType::kF16 ? ::llemma::F16ToF32(w[i]) : Bf16Bits(w[i])) * x[i];
  }
  return acc;
}
float DotF16Neon(const uint16_t* w, const float* x, int64_t n) { return DotHalfNeon<::llemma::DType::kF16>(w, x, n); }
float DotBf16Neon(const uint16_t* w, const float* x, int64_t n) {
  return DotHalfNeon<::llemma::DType::kBF16>(w, x, n);
}

void ToF32Neon(::llemma::DType dtype, const void* src, float* dst, int64_t n) {
  if (dtype != ::llemma::DType::kF16 && dtype != ::llemma::DType::kBF16) return ToF32(dtype, src, dst, n);
  const uint16_t* s = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    float32x4_t lo, hi;
    Widen8(dtype, s + i, lo, hi);
    vst1q_f32(dst + i, lo);
    vst1q_f32(dst + i + 4, hi);
  }
  ToF32(dtype, s + i, dst + i, n - i);
}

}  // namespace

constexpr Kernels kTable = {"neon",        DotF32,        DotBf16Neon,   DotF16Neon,    ToF32Neon,
                            Gemm4x4,       GemmPacked32x6, Axpy,         VecDotQ8_0,    VecDotQ4_0,
                            VecDotQ8_0x4,  VecDotQ4_0x4,  GemmQ8_0PNeon, GemmQ4_0PNeon, GemmQ4_KPNeon,
                            GemmQ5_KPNeon, GemmQ6_KPNeon, QuantizeActs,  QuantizeQ8_0,  AttnQK,
                            AttnPV,        AttnQKF16,     AttnPVF16,     ToF16,         SiluMul,
                            ExpSum,        DotF16H,       DotBf16H,      GemmQ2_KPNeon, GemmQ3_KPNeon,
                            GemmHalfRows};
}  // namespace neon

const Kernels* NeonKernels() { return &neon::kTable; }

}  // namespace llemma::cpu::internal
