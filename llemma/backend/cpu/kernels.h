// Per-ISA kernel tables. The same loop bodies (kernels_impl.inc) are compiled
// once per instruction set (generic, AVX2+FMA+F16C, AVX-512) and the best
// table this CPU supports is chosen at start-up. Internal to backend/cpu:
// callers use ops.h. Tables are immutable; safe from any thread.
#pragma once

#include <cstdint>

#include "llemma/core/dtype.h"

namespace llemma::cpu::internal {

struct Kernels {
  const char* name;
  float (*dot_f32)(const float* w, const float* x, int64_t n);
  float (*dot_bf16)(const uint16_t* w, const float* x, int64_t n);
  float (*dot_f16)(const uint16_t* w, const float* x, int64_t n);
  // dst[i] = float(src[i]) for a row in any weight dtype.
  void (*to_f32)(DType dtype, const void* src, float* dst, int64_t n);
  // out[t*4 + r] = Σ_k w[r*k_len + k] · x[t*k_len + k] for 4 rows × 4 tokens.
  void (*gemm_4x4)(const float* w, const float* x, int64_t k_len, float* out);
  // Prefill microkernel on a packed tile: w holds 32 weight rows k-major
  // (w[k*32 + r]); for 6 tokens x_t = x + t*x_stride,
  // y[t*y_stride + r] = Σ_k w[k*32 + r] · x_t[k] for r < 32.
  void (*gemm_packed_32x6)(const float* w, const float* x, int64_t x_stride, int64_t k_len, float* y,
                           int64_t y_stride);
  // y += a · x
  void (*axpy)(float a, const float* x, float* y, int64_t n);
  // Σ w[i] · x[i] of a quantized weight row and Q8_0 activations (BlockQ8_0*).
  float (*vec_dot_q8_0)(const void* w, const void* x, int64_t n);
  float (*vec_dot_q4_0)(const void* w, const void* x, int64_t n);
  // The same for 4 tokens at once (prefill): x rows are x_row_bytes apart;
  // out[t] = Σ w[i] · x_t[i]. Each weight block is unpacked once for all four.
  void (*vec_dot_q8_0_4t)(const void* w, const void* x, size_t x_row_bytes, int64_t n, float* out);
  void (*vec_dot_q4_0_4t)(const void* w, const void* x, size_t x_row_bytes, int64_t n, float* out);
  // Q4_0x4 weight rows against GroupQ8x4 activations (n % 128 == 0); the
  // 4-token form reads activation rows x_row_bytes apart.
  float (*vec_dot_q4_0x4)(const void* w, const void* x, int64_t n);
  void (*vec_dot_q4_0x4_4t)(const void* w, const void* x, size_t x_row_bytes, int64_t n, float* out);
  // Q8_0x4 weight rows against GroupQ8x4 activations, likewise.
  float (*vec_dot_q8_0x4)(const void* w, const void* x, int64_t n);
  void (*vec_dot_q8_0x4_4t)(const void* w, const void* x, size_t x_row_bytes, int64_t n, float* out);
  // Activations to Q8_0 blocks (n % 32 == 0).
  void (*quantize_q8_0)(const float* x, void* dst, int64_t n);
};

const Kernels& GenericKernels();
const Kernels* Avx2Kernels();    // nullptr when this build has no x86 kernels
const Kernels* Avx512Kernels();  // nullptr when this build has no x86 kernels

// The best table the running CPU supports. The environment variable
// LLEMMA_ISA=generic|avx2|avx512 caps the choice (for tests and benchmarks).
const Kernels& ActiveKernels();

}  // namespace llemma::cpu::internal
