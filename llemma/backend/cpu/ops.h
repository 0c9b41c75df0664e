// CPU kernels for the LLaMA forward pass. No model knowledge: callers pass
// plain arrays and shapes. Every op has a scalar reference in ref_ops.h that
// tests compare against. Functions are thread-safe for disjoint outputs; ops
// that take a ThreadPool use it for the whole call.
//
//   cpu::Matrix w{DType::kBF16, data, /*rows=*/n_out, /*cols=*/n_in};
//   cpu::MatMul(pool, w, x, n_tokens, y);   // y = x · wᵀ
#pragma once

#include <cstdint>
#include <initializer_list>

#include "llemma/core/dtype.h"
#include "llemma/core/thread_pool.h"

namespace llemma::cpu {

// A row-major weight matrix [rows, cols] (PyTorch Linear layout: [out, in]).
struct Matrix {
  DType dtype = DType::kF32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

// y[t, n] = Σ_k x[t, k] · w[n, k]          x: (n_tokens, w.cols) f32, y: (n_tokens, w.rows) f32
// Hotspot: decode time is this op reading the weights once per token.
void MatMul(ThreadPool& pool, const Matrix& w, const float* x, int64_t n_tokens, float* y);

// MatMul of up to 3 matrices on the same input, ys[i] = x · ws[i]ᵀ, with the
// same results as separate calls. Panel matrices of one type and width (Q, K
// and V; gate and up) share one quantization of x and one pass of the
// threads over all their rows.
void MatMulShared(ThreadPool& pool, std::initializer_list<const Matrix*> ws, const float* x, int64_t n_tokens,
                  std::initializer_list<float*> ys);

// Dot product of a weight row (in `dtype`) with an f32 vector.
float DotRow(DType dtype, const void* row, const float* x, int64_t n);

// Name of the kernel set in use ("avx512", "avx2" or "generic").
const char* KernelIsaName();

// out[t, i] = x[t, i] / sqrt(mean_i(x[t, :]²) + eps) · weight[i]     (n_tokens, dim)
void RmsNorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps,
             float* out);

// Rotary embedding, Hugging Face rotate-half layout, in place on
// x: (n_tokens, n_heads, head_dim). cos/sin: (n_tokens, head_dim/2) for each
// token's position. For i < head_dim/2, with (a, b) = (x[i], x[i + head_dim/2]):
//   x[i] = a·cos - b·sin,   x[i + head_dim/2] = b·cos + a·sin.
void RopeRotateHalf(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                    const float* cos, const float* sin);

// gate[i] = silu(gate[i]) · up[i], silu(v) = v / (1 + e^-v)
void SiluMul(float* gate, const float* up, int64_t n);

// The same three on the pool's threads, for prefill-sized inputs (the same
// results); AddTo is x[i] += y[i].
void RmsNorm(ThreadPool& pool, const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps,
             float* out);
void SiluMul(ThreadPool& pool, float* gate, const float* up, int64_t n);
void AddTo(ThreadPool& pool, float* x, const float* y, int64_t n);

// In-place numerically stable softmax over n values.
void Softmax(float* x, int64_t n);

// Causal grouped-query attention over a KV cache. The cache holds kF32 or
// kF16 values (kv_type); queries, scores and sums are float either way.
struct AttentionArgs {
  const float* q = nullptr;   // (n_tokens, n_head, head_dim), already rotated
  const void* k = nullptr;    // cache of this layer: (n_head_kv, n_ctx, head_dim)
  const void* v = nullptr;    // (n_head_kv, n_ctx, head_dim)
  float* out = nullptr;       // (n_tokens, n_head, head_dim)
  int64_t n_tokens = 0;
  int64_t n_past = 0;         // query t sits at position n_past + t and sees 0..n_past+t
  int64_t n_ctx = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;      // query head h uses kv head h / (n_head / n_head_kv)
  int64_t head_dim = 0;
  DType kv_type = DType::kF32;
};
void Attention(ThreadPool& pool, const AttentionArgs& a);

// Cache rows: n floats from x into dst as kv_type values (F16: nearest, ties
// to even).
void StoreKv(DType kv_type, const float* x, void* dst, int64_t n);
// Bytes of one cache value.
size_t KvBytes(DType kv_type);

// Attention for a batch of single tokens from different sequences (batched
// decoding). Token t attends to the keys of up to two segments: a shared
// prefix (e.g. a prompt prefilled once for k samples) and its own tail. A
// segment is a cache of one layer laid out (n_head_kv, stride, head_dim) with
// `n` valid positions. Tokens whose prefix is the same segment are computed
// together, so a prefix shared by k samples is read from memory once per
// call, not k times.
struct KvSegment {
  const void* k = nullptr;
  const void* v = nullptr;
  int64_t n = 0;
};
struct BatchAttentionArgs {
  const float* q = nullptr;            // (n_tokens, n_head, head_dim), already rotated
  float* out = nullptr;                // (n_tokens, n_head, head_dim)
  const KvSegment* prefix = nullptr;   // per token; n may be 0
  const KvSegment* own = nullptr;      // per token
  int64_t n_tokens = 0, n_head = 0, n_head_kv = 0, head_dim = 0;
  int64_t stride = 0;                  // positions per kv head in a segment's layout
  int64_t max_keys = 0;                // ≥ prefix.n + own.n for every token
  DType kv_type = DType::kF32;         // of every segment
};
void BatchAttention(ThreadPool& pool, const BatchAttentionArgs& a);

}  // namespace llemma::cpu
