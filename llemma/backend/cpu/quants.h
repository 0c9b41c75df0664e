// Block-quantized weight formats with GGUF's byte layouts (Q8_0, Q4_0), their
// reference quantizers, and dequantization. Dot products against activations
// quantized to Q8_0 live in the per-ISA kernel tables (kernels.h); the scalar
// versions here are their reference. Pure functions; thread-safe.
//
//   std::vector<uint8_t> q(RowBytes(DType::kQ4_0, n));
//   cpu::QuantizeRow(DType::kQ4_0, x, q.data(), n);
//   cpu::DequantizeRow(DType::kQ4_0, q.data(), y, n);
#pragma once

#include <cstdint>

#include "llemma/core/dtype.h"

namespace llemma::cpu {

constexpr int64_t kQK = 32;  // elements per Q8_0 / Q4_0 block

struct BlockQ8_0 {
  uint16_t d;       // f16 scale
  int8_t qs[kQK];   // x = d · q
};
static_assert(sizeof(BlockQ8_0) == 34);

struct BlockQ4_0 {
  uint16_t d;            // f16 scale
  uint8_t qs[kQK / 2];   // element j in the low nibble of byte j, element j+16 in the high nibble
};
static_assert(sizeof(BlockQ4_0) == 18);

// Quantizes n elements (n % block size == 0) into `dst`; float types convert.
void QuantizeRow(DType type, const float* x, void* dst, int64_t n);
// Expands n elements of any type to float.
void DequantizeRow(DType type, const void* src, float* dst, int64_t n);

namespace ref {
// Σ dequant(w)[i] · dequant(x)[i] over n elements, computed block by block
// with integer sums as the fast kernels do.
float VecDotQ8_0(const void* w, const BlockQ8_0* x, int64_t n);
float VecDotQ4_0(const void* w, const BlockQ8_0* x, int64_t n);
}  // namespace ref

}  // namespace llemma::cpu
