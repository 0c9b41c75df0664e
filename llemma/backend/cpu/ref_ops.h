// Plain scalar references for the ops in ops.h: obviously correct, double
// accumulation, single-threaded. Tests compare the fast kernels against these.
#pragma once

#include "llemma/backend/cpu/ops.h"

namespace llemma::cpu::ref {

void MatMul(const Matrix& w, const float* x, int64_t n_tokens, float* y);
void RmsNorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps,
             float* out);
void RopeRotateHalf(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                    const float* cos, const float* sin);
void SiluMul(float* gate, const float* up, int64_t n);
void Softmax(float* x, int64_t n);
void Attention(const AttentionArgs& a);

// Element i of a weight row in any dtype, as float.
float LoadElement(DType dtype, const void* row, int64_t i);

}  // namespace llemma::cpu::ref
