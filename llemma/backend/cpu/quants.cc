#include "llemma/backend/cpu/quants.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <vector>

#include "llemma/core/check.h"
#include "llemma/core/half.h"

namespace llemma::cpu {

namespace {

void QuantizeQ8_0(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* xb = x + b * kQK;
    float amax = 0;
    for (int i = 0; i < kQK; ++i) amax = std::max(amax, std::fabs(xb[i]));
    const float d = amax / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[b].d = F32ToF16(d);
    for (int i = 0; i < kQK; ++i) y[b].qs[i] = static_cast<int8_t>(std::lround(xb[i] * id));
  }
}

// Sub-block j's 6-bit scale and min from the 12 packed bytes of Q4_K/Q5_K:
// j < 4: low 6 bits of bytes j and j+4; j ≥ 4: a nibble of byte j+4 plus the
// top 2 bits of bytes j-4 (scale) and j (min).
void ScaleMinK4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

void DequantizeQ4_K(const BlockQ4_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = F16ToF32(x[b].d), dmin = F16ToF32(x[b].dmin);
    const uint8_t* q = x[b].qs;
    for (int j = 0; j < 8; j += 2) {  // 64 elements per step
      uint8_t sc, m;
      ScaleMinK4(j, x[b].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      ScaleMinK4(j + 1, x[b].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
      q += 32;
    }
  }
}

void DequantizeQ5_K(const BlockQ5_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = F16ToF32(x[b].d), dmin = F16ToF32(x[b].dmin);
    const uint8_t* ql = x[b].qs;
    const uint8_t* qh = x[b].qh;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < 8; j += 2) {
      uint8_t sc, m;
      ScaleMinK4(j, x[b].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      ScaleMinK4(j + 1, x[b].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
      ql += 32;
      u1 <<= 2;
      u2 <<= 2;
    }
  }
}

void DequantizeQ6_K(const BlockQ6_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = F16ToF32(x[b].d);
    const uint8_t* ql = x[b].ql;
    const uint8_t* qh = x[b].qh;
    const int8_t* sc = x[b].scales;
    for (int half = 0; half < 2; ++half) {  // 128 elements each
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = static_cast<int>((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = static_cast<int>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = static_cast<int>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = static_cast<int>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

// The stored integers of the 2- and 3-bit K-quants (quants.h): element
// e = 128h + 32k + l takes bits 2k..2k+1 of qs[32h + l] (Q2_K 0..3), Q3_K
// adds bit 4h + k of hmask[l] as 4 (0..7, value + 4).
int Q2Value(const BlockQ2_K& b, int e) { return (b.qs[32 * (e / 128) + e % 32] >> (2 * ((e / 32) % 4))) & 3; }
int Q3Value(const BlockQ3_K& b, int e) {
  const int h = e / 128, k = (e / 32) % 4, l = e % 32;
  return ((b.qs[32 * h + l] >> (2 * k)) & 3) | ((b.hmask[l] >> (4 * h + k)) & 1) << 2;
}
// Q3_K's scale of elements 16g..16g+15, signed (the stored 6 bits − 32).
int Q3Scale(const BlockQ3_K& b, int g) {
  const int low = (b.scales[g % 8] >> (4 * (g / 8))) & 0xF;
  const int top = (b.scales[8 + g % 4] >> (2 * (g / 4))) & 3;
  return (low | top << 4) - 32;
}

void DequantizeQ2_K(const BlockQ2_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b, y += kQK_K) {
    const float d = F16ToF32(x[b].d), dmin = F16ToF32(x[b].dmin);
    for (int e = 0; e < kQK_K; ++e) {
      const uint8_t sm = x[b].scales[e / 16];
      y[e] = d * static_cast<float>(sm & 0xF) * static_cast<float>(Q2Value(x[b], e)) -
             dmin * static_cast<float>(sm >> 4);
    }
  }
}

void DequantizeQ3_K(const BlockQ3_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b, y += kQK_K) {
    const float d = F16ToF32(x[b].d);
    for (int e = 0; e < kQK_K; ++e) {
      y[e] = d * static_cast<float>(Q3Scale(x[b], e / 16)) * static_cast<float>(Q3Value(x[b], e) - 4);
    }
  }
}

// --- K-quant writers. The formats are llama.cpp's; the fitting is ours.
// Each sub-block is fitted by least squares: a fit tries a range of grid
// spacings around the one that spans the sub-block exactly, solves the
// scale (and minimum) in closed form for each rounding, keeps the best, and
// refines it by alternating rounding and solving. The sub-block scales are
// then themselves quantized against the super-block scales (the nearer of
// the two neighbouring integers by the error they leave), the values are
// rounded against the scales actually stored, and QuantizeRow restores the
// row's gain (RestoreRowGain).
//
// Every element counts the same. Fits weighted toward the large elements
// (by x², or the block's mean square plus x²) leave less error where the
// elements are large but more in all, and on a trained model gave files
// with 18–45% more KL divergence from the unquantized model, the gain
// restored or not (bench/README).

// The sums of a block's n values q on a grid that the closed-form fits need.
struct GridSums {
  double w = 0, q = 0, qq = 0, x = 0, qx = 0;  // w: the count n
};
// Rounding to the nearest integer, ties to even as nearbyint rounds, of a
// value already clamped to a small integer range (|v| < 2²²): adding and
// subtracting 1.5·2²³ leaves it rounded, inline rather than a library call.
constexpr float kRoundMagic = 12582912.0f;
inline float RoundSmall(float v) { return (v + kRoundMagic) - kRoundMagic; }

// Four floats / int32s at a time (GCC vector extensions: SSE2 on x86-64,
// NEON on AArch64).
using Float4 = float __attribute__((vector_size(16)));
using Int4 = int32_t __attribute__((vector_size(16)));

// q = clamp(round((x + offset)·inv), lo, hi) for a block (n a multiple of
// 4), with the sums that the closed-form fits need; one pass with per-lane
// float sums. The bounds are integers, so clamping before rounding
// (RoundSmall) gives the same values.
GridSums RoundToGrid(const float* x, int n, float offset, float inv, int lo, int hi, int* q) {
  const Float4 vlo = Float4{} + static_cast<float>(lo), vhi = Float4{} + static_cast<float>(hi);
  const Float4 magic = Float4{} + kRoundMagic;
  Float4 sq{}, sqq{}, sx{}, sqx{};
  for (int i = 0; i < n; i += 4) {
    Float4 xv;
    std::memcpy(&xv, x + i, sizeof(xv));
    Float4 v = (xv + offset) * inv;
    v = v < vlo ? vlo : v;
    v = v > vhi ? vhi : v;
    v = (v + magic) - magic;
    const Int4 qi = __builtin_convertvector(v, Int4);
    std::memcpy(q + i, &qi, sizeof(qi));
    sq += v, sqq += v * v, sx += xv, sqx += v * xv;
  }
  GridSums g;
  g.w = n;
  for (int l = 0; l < 4; ++l) g.q += sq[l], g.qq += sqq[l], g.x += sx[l], g.qx += sqx[l];
  return g;
}

// The least-squares (s, m) of x ≈ s·q − m for fixed q, with s ≥ 0 and
// m ≥ 0, and its error Σ (s·q − m − x)² from the sums (xx = Σ x²).
double SolveAffine(const GridSums& g, double xx, float* s, float* m) {
  const double det = g.w * g.qq - g.q * g.q;
  double ns = 0, offset = g.w > 0 ? g.x / g.w : 0;  // x ≈ ns·q + offset
  if (det > 0) ns = (g.w * g.qx - g.q * g.x) / det, offset = (g.qq * g.x - g.q * g.qx) / det;
  if (offset > 0) offset = 0, ns = g.qq > 0 ? g.qx / g.qq : 0;  // the minimum is subtracted
  if (ns < 0) ns = 0, offset = std::min(0.0, g.w > 0 ? g.x / g.w : 0);
  *s = static_cast<float>(ns), *m = static_cast<float>(-offset);
  const double e = ns * ns * g.qq + offset * offset * g.w + xx + 2 * ns * offset * g.q - 2 * ns * g.qx - 2 * offset * g.x;
  return std::max(e, 0.0);
}

double SumSquares(const float* x, int n) {
  double xx = 0;
  for (int i = 0; i < n; ++i) xx += static_cast<double>(x[i]) * x[i];
  return xx;
}

// x ≈ s·q − m with q ∈ [0, nmax], s ≥ 0, m ≥ 0, minimizing Σ error².
void FitAffine(const float* x, int n, int nmax, float* s_out, float* m_out) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < n; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
  lo = std::min(lo, 0.0f);
  *s_out = 0, *m_out = -lo;
  if (hi <= lo) return;
  const double xx = SumSquares(x, n);
  int q[kQK_K];
  double best = -1;
  // Grid spacings from (hi − lo)/(nmax − 1) to (hi − lo)/(nmax + 1): the
  // ends of the block may fall inside the grid or be clipped by it.
  for (int k = 0; k <= 20; ++k) {
    const float inv = (static_cast<float>(nmax) - 1.0f + 0.1f * static_cast<float>(k)) / (hi - lo);
    float s, m;
    const double err = SolveAffine(RoundToGrid(x, n, -lo, inv, 0, nmax, q), xx, &s, &m);
    if (best < 0 || err < best) best = err, *s_out = s, *m_out = m;
  }
  for (int iter = 0; iter < 4 && *s_out > 0; ++iter) {  // alternate rounding and solving
    float s, m;
    const double err = SolveAffine(RoundToGrid(x, n, *m_out, 1.0f / *s_out, 0, nmax, q), xx, &s, &m);
    if (err >= best) break;
    best = err, *s_out = s, *m_out = m;
  }
}

// Σ (s·q − x)² with q the nearest value of [−nq, nq − 1] (xx = Σ x²).
double SymmetricError(const float* x, int n, int nq, float s, double xx) {
  if (s == 0) return xx;
  int q[kQK_K];
  const GridSums g = RoundToGrid(x, n, 0.0f, 1.0f / s, -nq, nq - 1, q);
  return std::max(xx - 2 * s * g.qx + static_cast<double>(s) * s * g.qq, 0.0);
}

// x ≈ s·q with q ∈ [−nq, nq − 1], minimizing Σ error². The element of
// largest magnitude sits near −nq (the wider negative side), at spacings
// around |max|/nq; each rounding gets its least-squares s.
float FitSymmetric(const float* x, int n, int nq) {
  float amax = 0, max = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), max = x[i];
  }
  if (amax == 0) return 0;
  const double xx = SumSquares(x, n);
  int q[kQK_K];
  float best_s = max / -static_cast<float>(nq);
  double best = -1;
  auto refit = [&](float inv) {  // a rounding, its least-squares scale and error
    const GridSums g = RoundToGrid(x, n, 0.0f, inv, -nq, nq - 1, q);
    if (g.qq <= 0) return false;
    const double err = xx - g.qx * g.qx / g.qq;
    const float s = static_cast<float>(g.qx / g.qq);
    if (s == 0 || (best >= 0 && err >= best)) return false;
    best = err, best_s = s;
    return true;
  };
  for (int k = -10; k <= 10; ++k) refit(-(static_cast<float>(nq) + 0.1f * static_cast<float>(k)) / max);
  for (int iter = 0; iter < 4 && refit(1.0f / best_s); ++iter) {
  }
  return best_s;
}

// Fits of n_sub consecutive sub-blocks of len elements: affine (s, m, and
// their maxima) or symmetric (s).
void FitAffineSubBlocks(const float* x, int n_sub, int len, int nmax, float* s, float* m, float* smax, float* mmax) {
  *smax = 0, *mmax = 0;
  for (int j = 0; j < n_sub; ++j) {
    FitAffine(x + len * j, len, nmax, &s[j], &m[j]);
    *smax = std::max(*smax, s[j]), *mmax = std::max(*mmax, m[j]);
  }
}
void FitSymmetricSubBlocks(const float* x, int n_sub, int len, int nq, float* s) {
  for (int j = 0; j < n_sub; ++j) s[j] = FitSymmetric(x + len * j, len, nq);
}

// Q4_0: q ∈ [−8, 7] per 32 elements with the fit of the K-quant writers
// (FitSymmetric: the element of largest magnitude near −8).
void QuantizeQ4_0(const float* x, BlockQ4_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* xb = x + b * kQK;
    y[b].d = F32ToF16(FitSymmetric(xb, kQK, 8));
    const float d = F16ToF32(y[b].d);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = static_cast<int>(RoundSmall(std::clamp(xb[j] * id, -8.0f, 7.0f))) + 8;
      const int hi = static_cast<int>(RoundSmall(std::clamp(xb[j + kQK / 2] * id, -8.0f, 7.0f))) + 8;
      y[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

// The stored level in [lo, hi] of a symmetric sub-block scale s against
// the super-block unit d: the nearer-in-error of the two neighbours of s/d.
int SymmetricLevel(const float* x, int n, int nq, float s, float d, int lo, int hi) {
  if (d == 0) return 0;
  const int a = std::clamp(static_cast<int>(std::floor(s / d)), lo, hi), b = std::min(a + 1, hi);
  if (a == b) return a;
  const double xx = SumSquares(x, n);
  return SymmetricError(x, n, nq, d * static_cast<float>(a), xx) <= SymmetricError(x, n, nq, d * static_cast<float>(b), xx)
             ? a
             : b;
}

// The stored levels (sc, mi) ∈ [0, top]² of a sub-block fitted as (s, m),
// against the super-block units d and dmin: of the neighbouring integers,
// the pair whose rounded values leave the least error; q gets those values.
void AffineLevels(const float* x, int n, int nmax, float s, float m, float d, float dmin, int top, int* sc, int* mi,
                  int* q) {
  auto neighbours = [top](float v, float unit, int* c) {
    if (unit <= 0) return c[0] = 0, 1;
    c[0] = std::clamp(static_cast<int>(std::floor(v / unit)), 0, top);
    c[1] = c[0] + 1;
    return c[1] <= top ? 2 : 1;
  };
  int cs[2], cm[2], tmp[kQK_K];
  const int ns = neighbours(s, d, cs), nm = neighbours(m, dmin, cm);
  const double xx = SumSquares(x, n);
  double best = -1;
  for (int a = 0; a < ns; ++a) {
    for (int b = 0; b < nm; ++b) {
      const double ds = d * static_cast<float>(cs[a]), dm = dmin * static_cast<float>(cm[b]);
      int* out = best < 0 ? q : tmp;
      // a zero scale rounds every value to 0 (inv = 0)
      const GridSums g =
          RoundToGrid(x, n, static_cast<float>(dm), ds > 0 ? static_cast<float>(1.0 / ds) : 0.0f, 0, nmax, out);
      const double err = ds * ds * g.qq + dm * dm * g.w + xx - 2 * ds * dm * g.q - 2 * ds * g.qx + 2 * dm * g.x;
      if (best < 0 || err < best) {
        best = err, *sc = cs[a], *mi = cm[b];
        if (out != q) std::copy(tmp, tmp + n, q);
      }
    }
  }
}

// 8 six-bit scales and mins into the 12 bytes that ScaleMinK4 reads.
void PackScaleMinK4(const uint8_t* sc, const uint8_t* m, uint8_t* q) {
  for (int j = 0; j < 4; ++j) {
    q[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    q[j + 4] = static_cast<uint8_t>((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    q[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
  }
}

// Shared by Q4_K and Q5_K: fits the 8 sub-blocks of one super-block and
// returns the integer values q[256] ∈ [0, nmax] with the packed scales.
void QuantizeSuperBlockAffine(const float* x, int nmax, uint16_t* d_out, uint16_t* dmin_out, uint8_t* scales,
                              uint8_t* q) {
  float s[8], m[8], smax, mmax;
  FitAffineSubBlocks(x, 8, 32, nmax, s, m, &smax, &mmax);
  *d_out = F32ToF16(smax / 63.0f);
  *dmin_out = F32ToF16(mmax / 63.0f);
  const float d = F16ToF32(*d_out), dmin = F16ToF32(*dmin_out);
  uint8_t sc[8], mi[8];
  int v[32];
  for (int j = 0; j < 8; ++j) {
    int a = 0, b = 0;
    AffineLevels(x + 32 * j, 32, nmax, s[j], m[j], d, dmin, 63, &a, &b, v);
    sc[j] = static_cast<uint8_t>(a), mi[j] = static_cast<uint8_t>(b);
    for (int i = 0; i < 32; ++i) q[32 * j + i] = static_cast<uint8_t>(v[i]);
  }
  PackScaleMinK4(sc, mi, scales);
}

void QuantizeQ4_K(const float* x, BlockQ4_K* y, int64_t n) {
  uint8_t q[kQK_K];
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    QuantizeSuperBlockAffine(x, 15, &y[b].d, &y[b].dmin, y[b].scales, q);
    for (int k = 0; k < 4; ++k)  // per 64 elements: low nibbles then high nibbles
      for (int l = 0; l < 32; ++l) y[b].qs[32 * k + l] = static_cast<uint8_t>(q[64 * k + l] | (q[64 * k + 32 + l] << 4));
  }
}

void QuantizeQ5_K(const float* x, BlockQ5_K* y, int64_t n) {
  uint8_t q[kQK_K];
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    QuantizeSuperBlockAffine(x, 31, &y[b].d, &y[b].dmin, y[b].scales, q);
    std::memset(y[b].qh, 0, sizeof(y[b].qh));
    for (int k = 0; k < 4; ++k) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t a = q[64 * k + l], c = q[64 * k + 32 + l];
        y[b].qs[32 * k + l] = static_cast<uint8_t>((a & 0xF) | ((c & 0xF) << 4));
        y[b].qh[l] |= static_cast<uint8_t>(((a >> 4) << (2 * k)) | ((c >> 4) << (2 * k + 1)));
      }
    }
  }
}

// Stores 256 Q6_K values (0..63, the value + 32) in a block's ql / qh.
void PackQ6_KValues(const int* q, BlockQ6_K* y) {
  for (int h = 0; h < 2; ++h) {  // 128 elements per half: ql[64], qh[32]
    uint8_t* ql = y->ql + 64 * h;
    uint8_t* qh = y->qh + 32 * h;
    const int* qq = q + 128 * h;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((qq[l] & 0xF) | ((qq[l + 64] & 0xF) << 4));
      ql[l + 32] = static_cast<uint8_t>((qq[l + 32] & 0xF) | ((qq[l + 96] & 0xF) << 4));
      qh[l] = static_cast<uint8_t>((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) | ((qq[l + 64] >> 4) << 4) |
                                   ((qq[l + 96] >> 4) << 6));
    }
  }
}

// Q6_K: 16 symmetric sub-blocks of 16 with q ∈ [−32, 31] (FitSymmetric),
// 8-bit signed scales against d.
void QuantizeQ6_K(const float* x, BlockQ6_K* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    float s[16], smax = 0;
    FitSymmetricSubBlocks(x, 16, 16, 32, s);
    for (float v : s) smax = std::max(smax, std::fabs(v));
    y[b].d = F32ToF16(smax / 127.0f);
    const float d = F16ToF32(y[b].d);
    int q[kQK_K];
    for (int j = 0; j < 16; ++j) {
      y[b].scales[j] = static_cast<int8_t>(SymmetricLevel(x + 16 * j, 16, 32, s[j], d, -128, 127));
      const float ds = d * y[b].scales[j];
      for (int i = 0; i < 16; ++i) {
        const float v = ds != 0 ? RoundSmall(std::clamp(x[16 * j + i] / ds, -32.0f, 31.0f)) : 0.0f;
        q[16 * j + i] = static_cast<int>(v) + 32;
      }
    }
    PackQ6_KValues(q, &y[b]);
  }
}

// Q2_K: 16 affine sub-blocks of 16 with q ∈ [0, 3]; the 4-bit scales and
// mins against the super-block's d and dmin.
void QuantizeQ2_K(const float* x, BlockQ2_K* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    float s[16], m[16], smax, mmax;
    FitAffineSubBlocks(x, 16, 16, 3, s, m, &smax, &mmax);
    y[b].d = F32ToF16(smax / 15.0f);
    y[b].dmin = F32ToF16(mmax / 15.0f);
    const float d = F16ToF32(y[b].d), dmin = F16ToF32(y[b].dmin);
    std::memset(y[b].qs, 0, sizeof(y[b].qs));
    int v[16];
    for (int j = 0; j < 16; ++j) {
      int sc = 0, mi = 0;
      AffineLevels(x + 16 * j, 16, 3, s[j], m[j], d, dmin, 15, &sc, &mi, v);
      y[b].scales[j] = static_cast<uint8_t>(sc | mi << 4);
      for (int i = 0; i < 16; ++i) {
        const int e = 16 * j + i;
        y[b].qs[32 * (e / 128) + e % 32] |= static_cast<uint8_t>(v[i] << (2 * ((e / 32) % 4)));
      }
    }
  }
}

// Q3_K: 16 symmetric sub-blocks of 16 with q ∈ [−4, 3]; the 6-bit signed
// scales against d, whose sign maps the sub-block scale of largest
// magnitude to −32.
void QuantizeQ3_K(const float* x, BlockQ3_K* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    float s[16], big = 0;
    FitSymmetricSubBlocks(x, 16, 16, 4, s);
    for (float v : s) big = std::fabs(v) > std::fabs(big) ? v : big;
    y[b].d = F32ToF16(big / -32.0f);
    const float d = F16ToF32(y[b].d);
    std::memset(y[b].hmask, 0, sizeof(y[b].hmask));
    std::memset(y[b].qs, 0, sizeof(y[b].qs));
    std::memset(y[b].scales, 0, sizeof(y[b].scales));
    for (int j = 0; j < 16; ++j) {
      const int sc = SymmetricLevel(x + 16 * j, 16, 4, s[j], d, -32, 31);
      const int u = sc + 32;  // stored 6 bits
      y[b].scales[j % 8] |= static_cast<uint8_t>((u & 0xF) << (4 * (j / 8)));
      y[b].scales[8 + j % 4] |= static_cast<uint8_t>((u >> 4) << (2 * (j / 4)));
      const float ds = d * static_cast<float>(sc);
      for (int i = 0; i < 16; ++i) {
        const int e = 16 * j + i, h = e / 128, k = (e / 32) % 4, l = e % 32;
        const float v = ds != 0 ? RoundSmall(std::clamp(x[e] / ds, -4.0f, 3.0f)) : 0.0f;
        const int q = static_cast<int>(v) + 4;  // 0..7
        y[b].qs[32 * h + l] |= static_cast<uint8_t>((q & 3) << (2 * k));
        y[b].hmask[l] |= static_cast<uint8_t>((q >> 2) << (4 * h + k));
      }
    }
  }
}

}  // namespace

void WidenQ5_0ToQ8_0(const void* src, BlockQ8_0* dst, int64_t n) {
  const uint8_t* in = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kQK; ++b, in += kQ5_0BlockBytes) {
    uint32_t high;  // bit j: the fifth bit of element j
    std::memcpy(&dst[b].d, in, 2);
    std::memcpy(&high, in + 2, 4);
    const uint8_t* qs = in + 6;
    for (int j = 0; j < 16; ++j) {
      const int lo = (qs[j] & 0xF) | static_cast<int>((high >> j) & 1) << 4;
      const int hi = (qs[j] >> 4) | static_cast<int>((high >> (j + 16)) & 1) << 4;
      dst[b].qs[j] = static_cast<int8_t>(lo - 16);
      dst[b].qs[j + 16] = static_cast<int8_t>(hi - 16);
    }
  }
}

namespace {

// Nibble byte for column pair (8g+j, 8g+4+j) of a 32-column sub-block in
// Q4_0P order, from a function giving the 4-bit value of column k.
template <typename Nibble>
void PackPanelNibbles(uint8_t* out, int r, Nibble nibble) {
  for (int g = 0; g < 4; ++g)
    for (int j = 0; j < 4; ++j)
      out[64 * g + 4 * r + j] = static_cast<uint8_t>(nibble(8 * g + j) | nibble(8 * g + 4 + j) << 4);
}

// Element e (0..255) of a K-quant super-block as its stored integer:
// Q4_K 0..15 (64-element group e/64 holds low nibbles, first 32, then high
// nibbles); Q5_K the same plus bit e/32 of qh[e % 32] as the fifth bit;
// Q2_K 0..3 and Q3_K 0..7 (value + 4) as Q2Value / Q3Value;
// Q6_K 0..63 (value + 32): per 128 elements, 32-element group g takes a
// nibble of ql (low nibbles of ql[0..63] for g < 2, high for g ≥ 2) and bits
// 2g..2g+1 of qh.
template <DType kPlain>
int KValue(const uint8_t* blk, int e) {
  if constexpr (kPlain == DType::kQ2_K) {
    return Q2Value(*reinterpret_cast<const BlockQ2_K*>(blk), e);
  } else if constexpr (kPlain == DType::kQ3_K) {
    return Q3Value(*reinterpret_cast<const BlockQ3_K*>(blk), e);
  } else if constexpr (kPlain == DType::kQ6_K) {
    const auto& b = *reinterpret_cast<const BlockQ6_K*>(blk);
    const int h = e / 128, g = (e % 128) / 32, l = e % 32;
    const uint8_t byte = b.ql[64 * h + l + 32 * (g % 2)];
    const int low = g < 2 ? byte & 0x0F : byte >> 4;
    return low | ((b.qh[32 * h + l] >> (2 * g)) & 3) << 4;
  } else {
    const uint8_t* qs = kPlain == DType::kQ4_K ? reinterpret_cast<const BlockQ4_K*>(blk)->qs
                                               : reinterpret_cast<const BlockQ5_K*>(blk)->qs;
    const uint8_t byte = qs[32 * (e / 64) + e % 32];
    const int low = (e % 64) < 32 ? byte & 0x0F : byte >> 4;
    if constexpr (kPlain == DType::kQ4_K) return low;
    return low | ((reinterpret_cast<const BlockQ5_K*>(blk)->qh[e % 32] >> (e / 32)) & 1) << 4;
  }
}

// The K panel layouts of quants.h: super-block, header and sub-block bytes.
struct KPanelLayout {
  size_t super, head, sub;
};
constexpr KPanelLayout KLayout(DType panel) {
  return panel == DType::kQ4_KP   ? KPanelLayout{kQ4KPanelSuperBytes, 64, kQ4KPanelSubBytes}
         : panel == DType::kQ5_KP ? KPanelLayout{kQ5KPanelSuperBytes, 64, kQ5KPanelSubBytes}
         : panel == DType::kQ2_KP ? KPanelLayout{kQ2KPanelSuperBytes, 64, kQ2KPanelSubBytes}
         : panel == DType::kQ3_KP ? KPanelLayout{kQ3KPanelSuperBytes, 32, kQ3KPanelSubBytes}
                                  : KPanelLayout{kQ6KPanelSuperBytes, 32, kQ6KPanelSubBytes};
}

// The stored integer of row r, column k (0..31) of a K panel sub-block: its
// low 4 bits in Q4_0P order, Q5's fifth bit and Q6's top 2 bits in their
// planes. PutKPanelRow writes row r's 32 values q (every byte it owns).
int GetKPanelValue(DType panel, const uint8_t* sub, int r, int k) {
  const int step = k / 4;
  if (panel == DType::kQ2_KP || panel == DType::kQ3_KP) {
    int q = (sub[kLowKPlanesAt + 64 * (step / 4) + 4 * r + k % 4] >> (2 * (step % 4))) & 3;
    if (panel == DType::kQ3_KP) q |= ((sub[kQ3ThirdBitsAt + 4 * r + k % 4] >> step) & 1) << 2;
    return q;
  }
  const uint8_t byte = sub[32 + 64 * (k / 8) + 4 * r + k % 4];
  int q = (k % 8) < 4 ? byte & 0x0F : byte >> 4;
  if (panel == DType::kQ5_KP) q |= ((sub[288 + 4 * r + k % 4] >> step) & 1) << 4;
  if (panel == DType::kQ6_KP) q |= ((sub[288 + 64 * (step / 4) + 4 * r + k % 4] >> (2 * (step % 4))) & 3) << 4;
  return q;
}
template <DType kPanel>
void PutKPanelRow(uint8_t* sub, int r, const uint8_t* q) {
  if constexpr (kPanel == DType::kQ2_KP || kPanel == DType::kQ3_KP) {
    for (int i = 0; i < 4; ++i) {
      for (int h = 0; h < 2; ++h) {
        int byte = 0;
        for (int m = 0; m < 4; ++m) byte |= (q[4 * (4 * h + m) + i] & 3) << (2 * m);
        sub[kLowKPlanesAt + 64 * h + 4 * r + i] = static_cast<uint8_t>(byte);
      }
      if constexpr (kPanel == DType::kQ3_KP) {
        int byte = 0;
        for (int step = 0; step < 8; ++step) byte |= ((q[4 * step + i] >> 2) & 1) << step;
        sub[kQ3ThirdBitsAt + 4 * r + i] = static_cast<uint8_t>(byte);
      }
    }
    return;
  }
  PackPanelNibbles(sub + 32, r, [&](int k) { return q[k] & 0x0F; });
  for (int i = 0; i < 4; ++i) {
    if constexpr (kPanel == DType::kQ5_KP) {
      int byte = 0;
      for (int step = 0; step < 8; ++step) byte |= ((q[4 * step + i] >> 4) & 1) << step;
      sub[288 + 4 * r + i] = static_cast<uint8_t>(byte);
    }
    if constexpr (kPanel == DType::kQ6_KP) {
      for (int h = 0; h < 2; ++h) {
        int byte = 0;
        for (int m = 0; m < 4; ++m) byte |= ((q[4 * (4 * h + m) + i] >> 4) & 3) << (2 * m);
        sub[288 + 64 * h + 4 * r + i] = static_cast<uint8_t>(byte);
      }
    }
  }
}

template <DType kPlain>
void RepackPanelsK(const void* src, void* dst, int64_t rows, int64_t cols) {
  constexpr DType kPanel = kPlain == DType::kQ4_K   ? DType::kQ4_KP
                           : kPlain == DType::kQ5_K ? DType::kQ5_KP
                           : kPlain == DType::kQ2_K ? DType::kQ2_KP
                           : kPlain == DType::kQ3_K ? DType::kQ3_KP
                                                    : DType::kQ6_KP;
  constexpr KPanelLayout kL = KLayout(kPanel);
  const size_t row_bytes = RowBytes(kPlain, cols), block_bytes = DTypeBlockBytes(kPlain);
  const int64_t ns = cols / kQK_K;
  for (int64_t p = 0; p < rows / kPanelRows; ++p) {
    for (int64_t sb = 0; sb < ns; ++sb) {
      uint8_t* out = static_cast<uint8_t*>(dst) + (p * ns + sb) * kL.super;
      uint8_t* subs = out + kL.head;
      for (int r = 0; r < kPanelRows; ++r) {
        const uint8_t* blk = static_cast<const uint8_t*>(src) + (p * kPanelRows + r) * row_bytes + sb * block_bytes;
        if constexpr (kPlain == DType::kQ2_K) {
          const auto& b = *reinterpret_cast<const BlockQ2_K*>(blk);
          std::memcpy(out + 2 * r, &b.d, 2);
          std::memcpy(out + 32 + 2 * r, &b.dmin, 2);
          for (int g = 0; g < 16; ++g) subs[kL.sub * (g / 2) + 16 * (g % 2) + r] = b.scales[g];  // sub-block g / 2, half g % 2
        } else if constexpr (kPlain == DType::kQ3_K) {
          const auto& b = *reinterpret_cast<const BlockQ3_K*>(blk);
          std::memcpy(out + 2 * r, &b.d, 2);
          for (int g = 0; g < 16; ++g) subs[kL.sub * (g / 2) + 16 * (g % 2) + r] = static_cast<uint8_t>(Q3Scale(b, g));
        } else if constexpr (kPlain == DType::kQ6_K) {
          const auto& b = *reinterpret_cast<const BlockQ6_K*>(blk);
          std::memcpy(out + 2 * r, &b.d, 2);
          for (int j = 0; j < 8; ++j) {
            subs[kL.sub * j + r] = static_cast<uint8_t>(b.scales[2 * j]);
            subs[kL.sub * j + 16 + r] = static_cast<uint8_t>(b.scales[2 * j + 1]);
          }
        } else {  // Q4_K and Q5_K start with the same d, dmin and packed scales
          static_assert(offsetof(BlockQ4_K, scales) == offsetof(BlockQ5_K, scales));
          const auto& b = *reinterpret_cast<const BlockQ4_K*>(blk);
          std::memcpy(out + 2 * r, &b.d, 2);
          std::memcpy(out + 32 + 2 * r, &b.dmin, 2);
          for (int j = 0; j < 8; ++j) ScaleMinK4(j, b.scales, &subs[kL.sub * j + r], &subs[kL.sub * j + 16 + r]);
        }
        uint8_t q[kQK_K];
        for (int e = 0; e < kQK_K; ++e) q[e] = static_cast<uint8_t>(KValue<kPlain>(blk, e));
        for (int j = 0; j < 8; ++j) PutKPanelRow<kPanel>(subs + kL.sub * j, r, q + 32 * j);
      }
    }
  }
}

}  // namespace

DType PanelTypeOf(DType plain) {
  switch (plain) {
    case DType::kQ4_0: return DType::kQ4_0P;
    case DType::kQ8_0: return DType::kQ8_0P;
    case DType::kQ4_K: return DType::kQ4_KP;
    case DType::kQ5_K: return DType::kQ5_KP;
    case DType::kQ6_K: return DType::kQ6_KP;
    case DType::kQ2_K: return DType::kQ2_KP;
    case DType::kQ3_K: return DType::kQ3_KP;
    default: LLEMMA_CHECK(false) << DTypeName(plain) << " has no panel form";
  }
  return plain;
}

void RepackPanels(DType plain, const void* src, void* dst, int64_t rows, int64_t cols) {
  LLEMMA_CHECK(plain == DType::kQ4_0 || plain == DType::kQ8_0 || IsKQuant(plain)) << DTypeName(plain);
  LLEMMA_CHECK(!IsPanel(plain)) << DTypeName(plain);
  LLEMMA_CHECK(rows % kPanelRows == 0 && cols % DTypeBlockSize(plain) == 0) << rows << "x" << cols;
  if (plain == DType::kQ4_K) return RepackPanelsK<DType::kQ4_K>(src, dst, rows, cols);
  if (plain == DType::kQ5_K) return RepackPanelsK<DType::kQ5_K>(src, dst, rows, cols);
  if (plain == DType::kQ6_K) return RepackPanelsK<DType::kQ6_K>(src, dst, rows, cols);
  if (plain == DType::kQ2_K) return RepackPanelsK<DType::kQ2_K>(src, dst, rows, cols);
  if (plain == DType::kQ3_K) return RepackPanelsK<DType::kQ3_K>(src, dst, rows, cols);
  const bool q4 = plain == DType::kQ4_0;
  const size_t row_bytes = RowBytes(plain, cols), block_bytes = q4 ? kQ4PanelBlockBytes : kQ8PanelBlockBytes;
  const int64_t nb = cols / kQK;
  for (int64_t p = 0; p < rows / kPanelRows; ++p) {
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* out = static_cast<uint8_t*>(dst) + (p * nb + b) * block_bytes;
      for (int r = 0; r < kPanelRows; ++r) {
        const uint8_t* row = static_cast<const uint8_t*>(src) + (p * kPanelRows + r) * row_bytes;
        if (q4) {
          const BlockQ4_0& blk = reinterpret_cast<const BlockQ4_0*>(row)[b];
          std::memcpy(out + 2 * r, &blk.d, 2);
          PackPanelNibbles(out + 32, r, [&](int k) { return k < 16 ? blk.qs[k] & 0x0F : blk.qs[k - 16] >> 4; });
        } else {
          const BlockQ8_0& blk = reinterpret_cast<const BlockQ8_0*>(row)[b];
          std::memcpy(out + 2 * r, &blk.d, 2);
          for (int s = 0; s < 8; ++s)
            for (int j = 0; j < 4; ++j) out[32 + 64 * s + 4 * r + j] = static_cast<uint8_t>(blk.qs[4 * s + j] + 128);
        }
      }
    }
  }
}

void DequantizeMatrixRow(DType type, const void* data, int64_t row, int64_t cols, float* dst) {
  if (!IsPanel(type)) {
    return DequantizeRow(type, static_cast<const uint8_t*>(data) + row * RowBytes(type, cols), dst, cols);
  }
  if (IsKPanel(type)) {
    const KPanelLayout L = KLayout(type);
    const int64_t ns = cols / kQK_K, p = row / kPanelRows, r = row % kPanelRows;
    for (int64_t sb = 0; sb < ns; ++sb) {
      const uint8_t* blk = static_cast<const uint8_t*>(data) + (p * ns + sb) * L.super;
      uint16_t dh, mh = 0;
      std::memcpy(&dh, blk + 2 * r, 2);
      if (L.head == 64) std::memcpy(&mh, blk + 32 + 2 * r, 2);  // the layouts with dmin
      const float d = F16ToF32(dh), dmin = F16ToF32(mh);
      for (int j = 0; j < 8; ++j) {
        const uint8_t* sub = blk + L.head + L.sub * j;
        float* out = dst + sb * kQK_K + 32 * j;
        for (int k = 0; k < kQK; ++k) {
          const int q = GetKPanelValue(type, sub, static_cast<int>(r), k);
          if (type == DType::kQ6_KP || type == DType::kQ3_KP) {  // (d·scale)·(q − 32 or 4), as Q6_K / Q3_K
            const float dsc = d * static_cast<float>(static_cast<int8_t>(sub[k < 16 ? r : 16 + r]));
            out[k] = dsc * static_cast<float>(q - (type == DType::kQ6_KP ? 32 : 4));
          } else if (type == DType::kQ2_KP) {  // d·scale·q − dmin·min per 16 columns, as Q2_K
            const uint8_t sm = sub[(k < 16 ? 0 : 16) + r];
            out[k] = d * static_cast<float>(sm & 0xF) * static_cast<float>(q) - dmin * static_cast<float>(sm >> 4);
          } else {  // d·scale·q − dmin·min, as Q4_K / Q5_K
            const float d1 = d * sub[r], m1 = dmin * sub[16 + r];
            out[k] = d1 * q - m1;
          }
        }
      }
    }
    return;
  }
  const bool q4 = type == DType::kQ4_0P;
  const size_t block_bytes = q4 ? kQ4PanelBlockBytes : kQ8PanelBlockBytes;
  const int64_t nb = cols / kQK, p = row / kPanelRows, r = row % kPanelRows;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = static_cast<const uint8_t*>(data) + (p * nb + b) * block_bytes;
    uint16_t dh;
    std::memcpy(&dh, blk + 2 * r, 2);
    const float d = F16ToF32(dh);
    for (int k = 0; k < kQK; ++k) {
      int q;
      if (q4) {
        const uint8_t byte = blk[32 + 64 * (k / 8) + 4 * r + k % 4];
        q = ((k % 8) < 4 ? byte & 0x0F : byte >> 4) - 8;
      } else {
        q = static_cast<int>(blk[32 + 64 * (k / 4) + 4 * r + k % 4]) - 128;
      }
      dst[b * kQK + k] = d * static_cast<float>(q);
    }
  }
}

namespace {

// A least-squares fit returns each block shrunk toward zero by about its
// relative error (Σ x·x̂ = Σ x̂² < Σ x²): a loss of gain shared by every row
// of a matrix, which the layers compound. Multiplying the row's f16 block
// scales (d, and dmin with it) by Σ x² / Σ x·x̂ over the row leaves its
// error uncorrelated with its values (Σ x·(x − x̂) = 0 up to the f16
// rounding), the blocks' shapes as fitted. Without it the 2-bit files of a
// trained model had twice the KL divergence from the unquantized model;
// the same correction per block instead of per row measured the same
// (bench/README).
template <typename Block>
void RestoreRowGain(DType type, const float* x, Block* y, int64_t n) {
  std::vector<float> xq(static_cast<size_t>(n));
  DequantizeRow(type, y, xq.data(), n);
  double xx = 0, xy = 0;
  for (int64_t i = 0; i < n; ++i) xx += static_cast<double>(x[i]) * x[i], xy += static_cast<double>(x[i]) * xq[i];
  if (xy <= 0 || xx == xy) return;
  const double c = xx / xy;
  auto scale = [c](uint16_t& h) { h = F32ToF16(static_cast<float>(F16ToF32(h) * c)); };
  for (int64_t b = 0; b < n / DTypeBlockSize(type); ++b) {
    scale(y[b].d);
    if constexpr (requires { y[b].dmin; }) scale(y[b].dmin);
  }
}

template <typename Block>
void QuantizeAndRestoreGain(void (*quantize)(const float*, Block*, int64_t), DType type, const float* x, void* dst,
                            int64_t n) {
  quantize(x, static_cast<Block*>(dst), n);
  RestoreRowGain(type, x, static_cast<Block*>(dst), n);
}

}  // namespace

void QuantizeRow(DType type, const float* x, void* dst, int64_t n) {
  LLEMMA_CHECK_EQ(n % DTypeBlockSize(type), 0);
  switch (type) {
    case DType::kQ8_0: return QuantizeQ8_0(x, static_cast<BlockQ8_0*>(dst), n);  // the activations' rounding, exactly
    case DType::kQ4_0: return QuantizeAndRestoreGain(QuantizeQ4_0, type, x, dst, n);
    case DType::kQ4_K: return QuantizeAndRestoreGain(QuantizeQ4_K, type, x, dst, n);
    case DType::kQ5_K: return QuantizeAndRestoreGain(QuantizeQ5_K, type, x, dst, n);
    case DType::kQ6_K: return QuantizeAndRestoreGain(QuantizeQ6_K, type, x, dst, n);
    case DType::kQ2_K: return QuantizeAndRestoreGain(QuantizeQ2_K, type, x, dst, n);
    case DType::kQ3_K: return QuantizeAndRestoreGain(QuantizeQ3_K, type, x, dst, n);
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16: return ConvertElements(DType::kF32, x, type, dst, n);
    default: LLEMMA_CHECK(false) << "cannot quantize to " << DTypeName(type);
  }
}

void DequantizeRow(DType type, const void* src, float* dst, int64_t n) {
  LLEMMA_CHECK_EQ(n % DTypeBlockSize(type), 0);
  if (type == DType::kQ8_0) {
    const BlockQ8_0* x = static_cast<const BlockQ8_0*>(src);
    for (int64_t b = 0; b < n / kQK; ++b) {
      const float d = F16ToF32(x[b].d);
      for (int i = 0; i < kQK; ++i) dst[b * kQK + i] = d * x[b].qs[i];
    }
  } else if (type == DType::kQ4_0) {
    const BlockQ4_0* x = static_cast<const BlockQ4_0*>(src);
    for (int64_t b = 0; b < n / kQK; ++b) {
      const float d = F16ToF32(x[b].d);
      for (int j = 0; j < kQK / 2; ++j) {
        dst[b * kQK + j] = d * ((x[b].qs[j] & 0x0F) - 8);
        dst[b * kQK + j + kQK / 2] = d * ((x[b].qs[j] >> 4) - 8);
      }
    }
  } else if (type == DType::kQ4_K) {
    DequantizeQ4_K(static_cast<const BlockQ4_K*>(src), dst, n);
  } else if (type == DType::kQ5_K) {
    DequantizeQ5_K(static_cast<const BlockQ5_K*>(src), dst, n);
  } else if (type == DType::kQ6_K) {
    DequantizeQ6_K(static_cast<const BlockQ6_K*>(src), dst, n);
  } else if (type == DType::kQ2_K) {
    DequantizeQ2_K(static_cast<const BlockQ2_K*>(src), dst, n);
  } else if (type == DType::kQ3_K) {
    DequantizeQ3_K(static_cast<const BlockQ3_K*>(src), dst, n);
  } else {
    ConvertElements(type, src, DType::kF32, dst, n);
  }
}

namespace ref {

float VecDotQ8_0(const void* w, const BlockQ8_0* x, int64_t n) {
  const BlockQ8_0* wb = static_cast<const BlockQ8_0*>(w);
  float acc = 0;
  for (int64_t b = 0; b < n / kQK; ++b) {
    int32_t s = 0;
    for (int i = 0; i < kQK; ++i) s += wb[b].qs[i] * x[b].qs[i];
    acc += F16ToF32(wb[b].d) * F16ToF32(x[b].d) * static_cast<float>(s);
  }
  return acc;
}

float VecDotQ4_0(const void* w, const BlockQ8_0* x, int64_t n) {
  const BlockQ4_0* wb = static_cast<const BlockQ4_0*>(w);
  float acc = 0;
  for (int64_t b = 0; b < n / kQK; ++b) {
    int32_t s = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      s += ((wb[b].qs[j] & 0x0F) - 8) * x[b].qs[j];
      s += ((wb[b].qs[j] >> 4) - 8) * x[b].qs[j + kQK / 2];
    }
    acc += F16ToF32(wb[b].d) * F16ToF32(x[b].d) * static_cast<float>(s);
  }
  return acc;
}

}  // namespace ref

}  // namespace llemma::cpu
