// The kernels compiled for AVX-512 (see CMakeLists.txt for the flags): the
// shared loop bodies, with the decode hotspots (dot products of a weight row
// and the activations) written with intrinsics and four independent
// accumulators so they run at memory speed rather than FMA latency.
#include "llemma/backend/cpu/kernels.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "llemma/core/half.h"

// The shared bodies that the intrinsics below replace are unused here, and
// GCC 12 misreports _mm512_reduce_add_ps's internal temporaries.
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace llemma::cpu::internal {
namespace avx512 {
#include "llemma/backend/cpu/kernels_impl.inc"

namespace {

inline __m512 LoadBf16(const uint16_t* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
inline __m512 LoadF16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 LoadF32(const float* p) { return _mm512_loadu_ps(p); }

// Σ load(w)[i] · x[i] with 4 accumulators of 16 lanes; scalar tail.
template <typename T, __m512 (*Load)(const T*), float (*Scalar)(T)>
float Dot(const T* __restrict w, const float* __restrict x, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_fmadd_ps(Load(w + i), _mm512_loadu_ps(x + i), a0);
    a1 = _mm512_fmadd_ps(Load(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
    a2 = _mm512_fmadd_ps(Load(w + i + 32), _mm512_loadu_ps(x + i + 32), a2);
    a3 = _mm512_fmadd_ps(Load(w + i + 48), _mm512_loadu_ps(x + i + 48), a3);
  }
  for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(Load(w + i), _mm512_loadu_ps(x + i), a0);
  float acc = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  for (; i < n; ++i) acc += Scalar(w[i]) * x[i];
  return acc;
}

float ScalarF32(float v) { return v; }
float ScalarBf16(uint16_t v) { return Bf16Bits(v); }
float ScalarF16(uint16_t v) { return ::llemma::F16ToF32(v); }

float DotF32Fast(const float* w, const float* x, int64_t n) { return Dot<float, LoadF32, ScalarF32>(w, x, n); }
float DotBf16Fast(const uint16_t* w, const float* x, int64_t n) {
  return Dot<uint16_t, LoadBf16, ScalarBf16>(w, x, n);
}
float DotF16Fast(const uint16_t* w, const float* x, int64_t n) {
  return Dot<uint16_t, LoadF16, ScalarF16>(w, x, n);
}

// Integer dot of 32 signed bytes: Σ w·x in 8 int32 lanes. |x| times w with
// x's sign keeps the unsigned×signed product in range (VNNI when present).
inline __m256i DotI8(__m256i w, __m256i x) {
  const __m256i ax = _mm256_sign_epi8(x, x);
  const __m256i sw = _mm256_sign_epi8(w, x);
#if defined(__AVX512VNNI__)
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), ax, sw);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sw), _mm256_set1_epi16(1));
#endif
}

// Hotspot (quantized decode).
float VecDotQ8_0Fast(const void* w, const void* x, int64_t n) {
  const Q8Block* wb = static_cast<const Q8Block*>(w);
  const Q8Block* xb = static_cast<const Q8Block*>(x);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  const int64_t nb = n / 32;
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    const __m256i p0 = DotI8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb[b].qs)),
                             _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[b].qs)));
    const __m256i p1 = DotI8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb[b + 1].qs)),
                             _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[b + 1].qs)));
    const float d0 = ::llemma::F16ToF32(wb[b].d) * ::llemma::F16ToF32(xb[b].d);
    const float d1 = ::llemma::F16ToF32(wb[b + 1].d) * ::llemma::F16ToF32(xb[b + 1].d);
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d0), _mm256_cvtepi32_ps(p0), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_set1_ps(d1), _mm256_cvtepi32_ps(p1), acc1);
  }
  for (; b < nb; ++b) {
    const __m256i p = DotI8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb[b].qs)),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[b].qs)));
    const float d = ::llemma::F16ToF32(wb[b].d) * ::llemma::F16ToF32(xb[b].d);
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(p), acc0);
  }
  const __m256 a = _mm256_add_ps(acc0, acc1);
  const __m128 h = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  const __m128 h2 = _mm_add_ps(h, _mm_movehl_ps(h, h));
  return _mm_cvtss_f32(_mm_add_ss(h2, _mm_movehdup_ps(h2)));
}

// Q4_0: nibbles are 0..15 (unsigned), so they multiply x directly; the -8
// offset is applied as -8·Σx per block.
float VecDotQ4_0Fast(const void* w, const void* x, int64_t n) {
  const Q4Block* wb = static_cast<const Q4Block*>(w);
  const Q8Block* xb = static_cast<const Q8Block*>(x);
  const __m256i low = _mm256_set1_epi8(0x0F);
  const __m256i ones8 = _mm256_set1_epi8(1);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(wb[b].qs));
    const __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), low);
    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[b].qs));
#if defined(__AVX512VNNI__)
    const __m256i dot = _mm256_dpbusd_epi32(_mm256_setzero_si256(), nib, xv);
    const __m256i sx = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones8, xv);
#else
    const __m256i one16 = _mm256_set1_epi16(1);
    const __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(nib, xv), one16);
    const __m256i sx = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, xv), one16);
#endif
    const __m256i s = _mm256_sub_epi32(dot, _mm256_slli_epi32(sx, 3));
    const float d = ::llemma::F16ToF32(wb[b].d) * ::llemma::F16ToF32(xb[b].d);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(s), acc);
  }
  const __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  const __m128 h2 = _mm_add_ps(h, _mm_movehl_ps(h, h));
  return _mm_cvtss_f32(_mm_add_ss(h2, _mm_movehdup_ps(h2)));
}

}  // namespace

constexpr Kernels kTable = {"avx512", DotF32Fast, DotBf16Fast, DotF16Fast, ToF32, Gemm4x4, Axpy,
                            VecDotQ8_0Fast, VecDotQ4_0Fast, QuantizeQ8_0};
}  // namespace avx512

const Kernels* Avx512Kernels() { return &avx512::kTable; }

}  // namespace llemma::cpu::internal
