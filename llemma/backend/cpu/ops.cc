#include "llemma/backend/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "llemma/core/check.h"
#include "llemma/core/half.h"

// Hot kernels are compiled for several ISAs and picked at load time (GCC
// function multi-versioning); loops are written so the compiler vectorizes
// them (`omp simd` reductions need only -fopenmp-simd, not fast-math).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LLEMMA_MULTIVERSION \
  __attribute__((target_clones("arch=sapphirerapids", "arch=skylake-avx512", "arch=haswell", "default")))
#else
#define LLEMMA_MULTIVERSION
#endif

namespace llemma::cpu {

namespace {

inline float ToF32(float v) { return v; }
inline float ToF32Bf16(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

LLEMMA_MULTIVERSION
float DotF32(const float* __restrict w, const float* __restrict x, int64_t n) {
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += w[i] * x[i];
  return acc;
}

LLEMMA_MULTIVERSION
float DotBf16(const uint16_t* __restrict w, const float* __restrict x, int64_t n) {
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += ToF32Bf16(w[i]) * x[i];
  return acc;
}

LLEMMA_MULTIVERSION
float DotF16(const uint16_t* __restrict w, const float* __restrict x, int64_t n) {
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += F16ToF32(w[i]) * x[i];
  return acc;
}

LLEMMA_MULTIVERSION
void RowsToF32(DType dtype, const void* src, float* __restrict dst, int64_t n) {
  if (dtype == DType::kBF16) {
    const uint16_t* s = static_cast<const uint16_t*>(src);
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dst[i] = ToF32Bf16(s[i]);
  } else if (dtype == DType::kF16) {
    const uint16_t* s = static_cast<const uint16_t*>(src);
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dst[i] = F16ToF32(s[i]);
  } else {
    std::memcpy(dst, src, n * sizeof(float));
  }
}

// 4 weight rows × 4 tokens of dot products sharing every load.
// y[t*ldy + r] += Σ_k w[r*k_len + k] · x[t*k_len + k]
LLEMMA_MULTIVERSION
void Kernel4x4(const float* __restrict w, const float* __restrict x, int64_t k_len,
               float* __restrict out /* 4 tokens × 4 rows */) {
  const float *w0 = w, *w1 = w + k_len, *w2 = w + 2 * k_len, *w3 = w + 3 * k_len;
  const float *x0 = x, *x1 = x + k_len, *x2 = x + 2 * k_len, *x3 = x + 3 * k_len;
  float s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
  float s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
#pragma omp simd reduction(+ : s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23, s30, \
                               s31, s32, s33)
  for (int64_t k = 0; k < k_len; ++k) {
    const float a0 = x0[k], a1 = x1[k], a2 = x2[k], a3 = x3[k];
    const float b0 = w0[k], b1 = w1[k], b2 = w2[k], b3 = w3[k];
    s00 += a0 * b0; s01 += a0 * b1; s02 += a0 * b2; s03 += a0 * b3;
    s10 += a1 * b0; s11 += a1 * b1; s12 += a1 * b2; s13 += a1 * b3;
    s20 += a2 * b0; s21 += a2 * b1; s22 += a2 * b2; s23 += a2 * b3;
    s30 += a3 * b0; s31 += a3 * b1; s32 += a3 * b2; s33 += a3 * b3;
  }
  out[0] = s00; out[1] = s01; out[2] = s02; out[3] = s03;
  out[4] = s10; out[5] = s11; out[6] = s12; out[7] = s13;
  out[8] = s20; out[9] = s21; out[10] = s22; out[11] = s23;
  out[12] = s30; out[13] = s31; out[14] = s32; out[15] = s33;
}

constexpr int64_t kRowTile = 16;    // weight rows converted to f32 at once (prefill)
constexpr int64_t kTokenTile = 64;  // tokens per pass over a converted tile

}  // namespace

float DotRow(DType dtype, const void* row, const float* x, int64_t n) {
  switch (dtype) {
    case DType::kF32: return DotF32(static_cast<const float*>(row), x, n);
    case DType::kBF16: return DotBf16(static_cast<const uint16_t*>(row), x, n);
    case DType::kF16: return DotF16(static_cast<const uint16_t*>(row), x, n);
  }
  return 0.0f;
}

void MatMul(ThreadPool& pool, const Matrix& w, const float* x, int64_t n_tokens, float* y) {
  const int64_t K = w.cols, N = w.rows;
  const size_t row_bytes = static_cast<size_t>(K) * DTypeSize(w.dtype);
  const uint8_t* base = static_cast<const uint8_t*>(w.data);
  if (n_tokens == 1) {
    // Matrix-vector: each thread streams a contiguous slice of rows.
    pool.ParallelFor(
        N,
        [&](size_t begin, size_t end, int) {
          for (size_t n = begin; n < end; ++n) y[n] = DotRow(w.dtype, base + n * row_bytes, x, K);
        },
        /*grain=*/64);
    return;
  }
  // Matrix-matrix: threads own tiles of weight rows; each tile is converted to
  // f32 once and multiplied against all tokens in 4×4 blocks.
  const int64_t n_tiles = (N + kRowTile - 1) / kRowTile;
  pool.ParallelFor(static_cast<size_t>(n_tiles), [&](size_t tb, size_t te, int) {
    thread_local std::vector<float> tile;
    tile.resize(static_cast<size_t>(kRowTile * K));
    float block[16];
    for (size_t ti = tb; ti < te; ++ti) {
      const int64_t r0 = static_cast<int64_t>(ti) * kRowTile;
      const int64_t nr = std::min(kRowTile, N - r0);
      RowsToF32(w.dtype, base + r0 * row_bytes, tile.data(), nr * K);
      for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenTile) {
        const int64_t t1 = std::min(n_tokens, t0 + kTokenTile);
        int64_t t = t0;
        for (; t + 4 <= t1; t += 4) {
          int64_t r = 0;
          for (; r + 4 <= nr; r += 4) {
            Kernel4x4(tile.data() + r * K, x + t * K, K, block);
            for (int i = 0; i < 4; ++i)
              for (int j = 0; j < 4; ++j) y[(t + i) * N + r0 + r + j] = block[i * 4 + j];
          }
          for (; r < nr; ++r)
            for (int i = 0; i < 4; ++i)
              y[(t + i) * N + r0 + r] = DotF32(tile.data() + r * K, x + (t + i) * K, K);
        }
        for (; t < t1; ++t)
          for (int64_t r = 0; r < nr; ++r)
            y[t * N + r0 + r] = DotF32(tile.data() + r * K, x + t * K, K);
      }
    }
  });
}

void RmsNorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps,
             float* out) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* xt = x + t * dim;
    double ss = 0;
    for (int64_t i = 0; i < dim; ++i) ss += static_cast<double>(xt[i]) * xt[i];
    const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(dim) + eps));
    float* ot = out + t * dim;
    for (int64_t i = 0; i < dim; ++i) ot[i] = xt[i] * scale * weight[i];
  }
}

void RopeRotateHalf(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                    const float* cos, const float* sin) {
  const int64_t half = head_dim / 2;
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* c = cos + t * half;
    const float* s = sin + t * half;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + (t * n_heads + h) * head_dim;
      for (int64_t i = 0; i < half; ++i) {
        const float a = v[i], b = v[i + half];
        v[i] = a * c[i] - b * s[i];
        v[i + half] = b * c[i] + a * s[i];
      }
    }
  }
}

void SiluMul(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void Softmax(float* x, int64_t n) {
  float m = x[0];
  for (int64_t i = 1; i < n; ++i) m = std::max(m, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

namespace {
LLEMMA_MULTIVERSION
void AxpyF32(float a, const float* __restrict x, float* __restrict y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}
}  // namespace

void Attention(ThreadPool& pool, const AttentionArgs& a) {
  LLEMMA_CHECK(a.n_head_kv > 0 && a.n_head % a.n_head_kv == 0);
  LLEMMA_CHECK_LE(a.n_past + a.n_tokens, a.n_ctx);
  const int64_t group = a.n_head / a.n_head_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(a.head_dim));
  const size_t n_items = static_cast<size_t>(a.n_tokens * a.n_head);
  pool.ParallelFor(n_items, [&](size_t begin, size_t end, int tid) {
    float* scores = a.scratch + static_cast<size_t>(tid) * a.n_ctx;
    for (size_t item = begin; item < end; ++item) {
      const int64_t t = static_cast<int64_t>(item) / a.n_head;
      const int64_t h = static_cast<int64_t>(item) % a.n_head;
      const int64_t kvh = h / group;
      const int64_t n_keys = a.n_past + t + 1;
      const float* q = a.q + (t * a.n_head + h) * a.head_dim;
      const float* kbase = a.k + kvh * a.n_ctx * a.head_dim;
      const float* vbase = a.v + kvh * a.n_ctx * a.head_dim;
      for (int64_t j = 0; j < n_keys; ++j) {
        scores[j] = DotF32(kbase + j * a.head_dim, q, a.head_dim) * scale;
      }
      Softmax(scores, n_keys);
      float* out = a.out + (t * a.n_head + h) * a.head_dim;
      std::fill(out, out + a.head_dim, 0.0f);
      for (int64_t j = 0; j < n_keys; ++j) AxpyF32(scores[j], vbase + j * a.head_dim, out, a.head_dim);
    }
  });
}

}  // namespace llemma::cpu
