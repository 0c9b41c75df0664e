#include "llemma/backend/cpu/ref_ops.h"

#include <cmath>
#include <vector>

#include "llemma/backend/cpu/quants.h"
#include "llemma/core/check.h"
#include "llemma/core/half.h"

namespace llemma::cpu::ref {

float LoadElement(DType dtype, const void* row, int64_t i) {
  switch (dtype) {
    case DType::kF32: return static_cast<const float*>(row)[i];
    case DType::kF16: return F16ToF32(static_cast<const uint16_t*>(row)[i]);
    case DType::kBF16: return Bf16ToF32(static_cast<const uint16_t*>(row)[i]);
    default: LLEMMA_CHECK(false) << "LoadElement is for float types, not " << DTypeName(dtype);
  }
  return 0.0f;
}

void MatMul(const Matrix& w, const float* x, int64_t n_tokens, float* y) {
  std::vector<float> row(w.cols);
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t n = 0; n < w.rows; ++n) {
      DequantizeMatrixRow(w.dtype, w.data, n, w.cols, row.data());
      double acc = 0;
      for (int64_t k = 0; k < w.cols; ++k) acc += static_cast<double>(row[k]) * x[t * w.cols + k];
      y[t * w.rows + n] = static_cast<float>(acc);
    }
  }
}

void RmsNorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps,
             float* out) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    double ss = 0;
    for (int64_t i = 0; i < dim; ++i) ss += static_cast<double>(x[t * dim + i]) * x[t * dim + i];
    const double scale = 1.0 / std::sqrt(ss / dim + eps);
    for (int64_t i = 0; i < dim; ++i) {
      out[t * dim + i] = static_cast<float>(x[t * dim + i] * scale * weight[i]);
    }
  }
}

void RopeRotateHalf(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                    const float* cos, const float* sin) {
  const int64_t half = head_dim / 2;
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + (t * n_heads + h) * head_dim;
      for (int64_t i = 0; i < half; ++i) {
        const double a = v[i], b = v[i + half];
        const double c = cos[t * half + i], s = sin[t * half + i];
        v[i] = static_cast<float>(a * c - b * s);
        v[i + half] = static_cast<float>(b * c + a * s);
      }
    }
  }
}

void SiluMul(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i];
    gate[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up[i]);
  }
}

void Softmax(float* x, int64_t n) {
  double m = x[0];
  for (int64_t i = 1; i < n; ++i) m = std::max<double>(m, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - m);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(std::exp(x[i] - m) / sum);
}

void Attention(const AttentionArgs& a) {
  LLEMMA_CHECK(a.kv_type == DType::kF32 || a.kv_type == DType::kF16) << DTypeName(a.kv_type);
  auto kv = [&](const void* base, int64_t i) -> double {
    if (a.kv_type == DType::kF16) return F16ToF32(static_cast<const uint16_t*>(base)[i]);
    return static_cast<const float*>(base)[i];
  };
  const int64_t group = a.n_head / a.n_head_kv;
  const double scale = 1.0 / std::sqrt(static_cast<double>(a.head_dim));
  std::vector<double> scores;
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    const int64_t n_keys = a.n_past + t + 1;
    for (int64_t h = 0; h < a.n_head; ++h) {
      const int64_t kvh = h / group;
      const float* q = a.q + (t * a.n_head + h) * a.head_dim;
      scores.assign(n_keys, 0.0);
      double m = -INFINITY;
      for (int64_t j = 0; j < n_keys; ++j) {
        const int64_t k = (kvh * a.n_ctx + j) * a.head_dim;
        double dot = 0;
        for (int64_t d = 0; d < a.head_dim; ++d) dot += static_cast<double>(q[d]) * kv(a.k, k + d);
        scores[j] = dot * scale;
        m = std::max(m, scores[j]);
      }
      double sum = 0;
      for (auto& s : scores) sum += (s = std::exp(s - m));
      float* out = a.out + (t * a.n_head + h) * a.head_dim;
      for (int64_t d = 0; d < a.head_dim; ++d) {
        double acc = 0;
        for (int64_t j = 0; j < n_keys; ++j) acc += scores[j] * kv(a.v, (kvh * a.n_ctx + j) * a.head_dim + d);
        out[d] = static_cast<float>(acc / sum);
      }
    }
  }
}

}  // namespace llemma::cpu::ref
