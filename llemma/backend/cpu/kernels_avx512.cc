// The kernels compiled for AVX-512 (see CMakeLists.txt for the flags): the
// shared loop bodies, with the decode hotspots (dot products of a weight row
// and the activations) written with intrinsics and four independent
// accumulators so they run at memory speed rather than FMA latency.
#include "llemma/backend/cpu/kernels.h"

#include <immintrin.h>

#include <cstring>

#include "llemma/core/half.h"

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

}  // namespace

constexpr Kernels kTable = {"avx512", DotF32Fast, DotBf16Fast, DotF16Fast, ToF32, Gemm4x4, Axpy};
}  // namespace avx512

const Kernels* Avx512Kernels() { return &avx512::kTable; }

}  // namespace llemma::cpu::internal
