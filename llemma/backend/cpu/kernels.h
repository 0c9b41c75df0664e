// Per-ISA kernel tables. The same loop bodies (kernels_impl.inc) are compiled
// once per instruction set (generic, AVX2+FMA+F16C, AVX-512) and the best
// table this CPU supports is chosen at start-up. Internal to backend/cpu:
// callers use ops.h. Tables are immutable; safe from any thread.
#pragma once

#include <cstdint>

#include "llemma/core/dtype.h"

namespace llemma::cpu::internal {

// Prepared activations for the panel GEMM: token t's values at q + t*k, its
// block scales and offsets at d + t*(k/32), c + t*(k/32).
struct PanelActs {
  const int8_t* q;
  const float* d;
  const int32_t* c;
  int64_t k;
};

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
  // Panel GEMM (quants.h describes the Q4_0P / Q8_0P layouts): one panel of
  // 16 weight rows against n_tokens prepared activation rows;
  // y[t*y_stride + r] = Σ_k w[r][k] · x_t[k] for r < 16.
  void (*gemm_q8_0p)(const void* panel, const PanelActs& x, int64_t n_tokens, float* y, int64_t y_stride);
  void (*gemm_q4_0p)(const void* panel, const PanelActs& x, int64_t n_tokens, float* y, int64_t y_stride);
  // Activations for the panel GEMM: x (k floats, k % 32 == 0) → q (k int8,
  // Q8_0 rounding), d (k/32 block scales, f16-rounded as in Q8_0) and
  // c (k/32 values −offset·Σq, removing the weights' unsigned offset).
  void (*quantize_acts)(const float* x, int64_t k, int32_t offset, int8_t* q, float* d, int32_t* c);
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
