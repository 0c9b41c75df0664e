// Per-ISA kernel tables. The same loop bodies (kernels_impl.inc) are compiled
// once per instruction set (generic, AVX2+FMA+F16C, AVX-512, NEON) and the best
// table this CPU supports is chosen at start-up. Internal to backend/cpu:
// callers use ops.h. Tables are immutable; safe from any thread.
#pragma once

#include <cstdint>
#include <vector>

#include "llemma/core/dtype.h"

namespace llemma::cpu::internal {

// Prepared activations for the panel GEMM: tokens in tiles of up to
// kActTile. For a tile of n tokens, each 32-column block holds the n tokens'
// 32 int8 values q, then their n float block scales d, then n int32 offsets
// (−offset·Σq, removing the weights' unsigned offset), then n floats d·Σq
// (for the K-quant minimums), then n pairs of int16 sums of q over columns
// 0..15 and 16..31 (for Q6_K's per-16 scales): 48·n bytes per block, blocks
// one after another. One pointer reaches every operand of a tile.
constexpr int kActTile = 6;
constexpr size_t kActBlockBytes = 48;  // per token and 32-column block
constexpr size_t ActTileBytes(int64_t k, int n) { return static_cast<size_t>(k / 32) * kActBlockBytes * n; }

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
  // Panel GEMM (quants.h describes the Q4_0P / Q8_0P layouts): n_panels
  // consecutive panels (16 weight rows of k columns each) against one
  // activation tile of n ≤ kActTile tokens;
  // y[t*y_stride + r] = Σ_c w[r][c] · x_t[c] for r < 16·n_panels.
  // prefetch_next: also bring the next n_panels panels in memory into cache
  // while computing (the caller's next unit of work; they must exist).
  void (*gemm_q8_0p)(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                     int64_t y_stride, bool prefetch_next);
  void (*gemm_q4_0p)(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                     int64_t y_stride, bool prefetch_next);
  // The same for Q4_KP, Q5_KP and Q6_KP panels (k % 256 == 0); these
  // ignore the tile's offsets (any `offset` may have made it).
  void (*gemm_q4_kp)(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                     int64_t y_stride, bool prefetch_next);
  void (*gemm_q5_kp)(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                     int64_t y_stride, bool prefetch_next);
  void (*gemm_q6_kp)(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                     int64_t y_stride, bool prefetch_next);
  // Token t of an activation tile of n tokens from x (k floats, k % 32 ==
  // 0), with Q8_0's rounding: scales rounded to f16, values round(x / d).
  void (*quantize_acts)(const float* x, int64_t k, int32_t offset, uint8_t* tile, int n, int t);
  // Activations to Q8_0 blocks (n % 32 == 0).
  void (*quantize_q8_0)(const float* x, void* dst, int64_t n);
  // Attention scores of n_q queries (q: n_q rows of hd floats) against n_keys
  // consecutive key rows: s[i*s_stride + j] = scale · Σ_c k[j*hd + c] · q[i*hd + c].
  // Each score is computed the same way whatever n_q is.
  void (*attn_qk)(const float* k, int64_t n_keys, const float* q, int n_q, int64_t hd, float scale, float* s,
                  int64_t s_stride);
  // Weighted values: out[i*hd + c] += Σ_j p[i*p_stride + j] · v[j*hd + c], the
  // terms added to out one key after another in j order, so splitting the
  // keys over several calls gives the same result as one call, whatever n_q.
  void (*attn_pv)(const float* v, int64_t n_keys, const float* p, int n_q, int64_t p_stride, int64_t hd,
                  float* out);
  // The same over an F16 cache: the float kernels' sums over the rows
  // converted to float (the same bits where those do not depend on the
  // rows' alignment, as the AVX-512 ones do not), with the same guarantees.
  void (*attn_qk_f16)(const uint16_t* k, int64_t n_keys, const float* q, int n_q, int64_t hd, float scale, float* s,
                      int64_t s_stride);
  void (*attn_pv_f16)(const uint16_t* v, int64_t n_keys, const float* p, int n_q, int64_t p_stride, int64_t hd,
                      float* out);
  // dst[i] = x[i] rounded to the nearest F16 (ties to even; inf beyond its range).
  void (*to_f16)(const float* x, uint16_t* dst, int64_t n);
  // gate[i] = gate[i] / (1 + e^−gate[i]) · up[i]
  void (*silu_mul)(float* gate, const float* up, int64_t n);
  // Softmax's exponentials: x[i] = e^(x[i] − m) for i < n (m ≥ every x[i]),
  // returning Σ x[i].
  double (*exp_sum)(float* x, int64_t n, float m);
  // Decode of F16 / BF16 rows against activations already rounded to F16
  // (to_f16): Σ w[i] · x[i], the products and sums in float.
  float (*dot_f16_h)(const uint16_t* w, const uint16_t* x, int64_t n);
  float (*dot_bf16_h)(const uint16_t* w, const uint16_t* x, int64_t n);
  // The panel GEMM for Q2_KP and Q3_KP panels (k % 256 == 0), with
  // gemm_q4_kp's contract; these use the tile's per-16 sums.
  void (*gemm_q2_kp)(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                     int64_t y_stride, bool prefetch_next);
  void (*gemm_q3_kp)(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                     int64_t y_stride, bool prefetch_next);
  // Float-weight GEMM for a few tokens (batched decoding) straight from F16 or
  // BF16 rows, without a float copy of them: for r < nr and t < nt,
  // y[t*y_stride + r] = Σ_c float(w[r*w_stride + c]) · x_t[c], the products
  // and sums in float, where the activations are interleaved by 16 columns
  // (InterleaveActs): x_t[c] = xi[(c/16)·16·nt + 16t + c%16]; k % 16 == 0.
  void (*gemm_half_rows)(DType dtype, const uint16_t* w, int64_t w_stride, int64_t nr, const float* xi, int nt,
                         int64_t k, float* y, int64_t y_stride);
  // Panel GEMM for activation tiles of up to kWideActTile tokens (AMX), with
  // gemm_q8_0p's contract and the same results; nullptr where the CPU has no
  // such unit (MatMul then uses gemm_q8_0p / gemm_q4_0p on tiles of kActTile).
  void (*gemm_q8_0p_16)(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                        int64_t y_stride, bool prefetch_next) = nullptr;
  void (*gemm_q4_0p_16)(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                        int64_t y_stride, bool prefetch_next) = nullptr;
  // The same for Q4_KP, Q5_KP and Q6_KP panels.
  void (*gemm_q4_kp_16)(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                        int64_t y_stride, bool prefetch_next) = nullptr;
  void (*gemm_q5_kp_16)(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                        int64_t y_stride, bool prefetch_next) = nullptr;
  void (*gemm_q6_kp_16)(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                        int64_t y_stride, bool prefetch_next) = nullptr;
  // Prefill on AMX-BF16 tiles; nullptr where the CPU has none.
  // panels_to_bf16 expands n_panels consecutive panels of any panel type
  // (k columns, a multiple of 256 for the K-quants) to bf16 in the tile unit's
  // order: per panel, per 32-column block, 16 rows of 16 pairs, row i holding for weight row n the values of
  // columns 2i and 2i + 1 (512 bf16 per block), each the dequantized
  // element rounded to nearest even.
  void (*panels_to_bf16)(DType dtype, const void* panels, int64_t k, int n_panels, uint16_t* dst) = nullptr;
  // The same order for n_bands bands of 16 rows of an F16 or BF16 matrix
  // (rows row_bytes apart, k columns) into hi; an F16 element e is split as
  // hi + lo with hi = bf16(e) and lo = bf16(e − hi), lo going to `lo` in the
  // same order (BF16 leaves lo alone). Returns whether any lo is nonzero.
  bool (*rows_to_bf16)(DType dtype, const void* rows, size_t row_bytes, int64_t k, int n_bands, uint16_t* hi,
                       uint16_t* lo) = nullptr;
  // y[t*y_stride + 16p + n] = Σ_c x(t, c) · (w + w_lo)(p, n, c), summed in
  // float, for t < n_tok and p < n_panels; w (and w_lo unless nullptr) as
  // panels_to_bf16 writes them, x in tiles of 16 tokens as acts_to_bf16
  // writes them, readable (zero rows after n_tok) up to n_tok rounded up to
  // 32 tokens.
  void (*gemm_bf16)(const uint16_t* w, const uint16_t* w_lo, int n_panels, const uint16_t* x, int64_t n_tok,
                    int64_t k, float* y, int64_t y_stride) = nullptr;
  // Row `row` (< 16) of a bf16 activation tile from the k floats of x, each
  // rounded to nearest even: tile[b*512 + row*32 + j] = bf16(x[32b + j]).
  void (*acts_to_bf16)(const float* x, int64_t k, uint16_t* tile, int row) = nullptr;
};
constexpr int kWideActTile = 16;

// The activation layout of gemm_half_rows: nt rows of k floats (x_stride
// apart, k % 16 == 0) into xi, 16 columns of each token in turn.
void InterleaveActs(const float* x, int64_t x_stride, int nt, int64_t k, float* xi);

// The panel GEMM of a table for a panel type (Q8_0P, Q4_0P and the K
// panels): on tiles of kActTile tokens, or with `wide` the tile-unit form on
// tiles of kWideActTile (nullptr where the table has none for that type).
using PanelGemm = void (*)(const void* panels, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                           int64_t y_stride, bool prefetch_next);
PanelGemm PanelGemmOf(const Kernels& k, DType panel, bool wide);

const Kernels& GenericKernels();
const Kernels* Avx2Kernels();    // nullptr when this build has no x86 kernels
const Kernels* Avx512Kernels();  // nullptr when this build has no x86 kernels
// The AVX-512 table's Q3_KP panel GEMM runs one of two builds of its tile:
// with GFNI byte maps where the CPU has GFNI, with shifts and masks where
// not. Both, for tests; nullptr where this build or the CPU lacks one.
PanelGemm Avx512Q3KPanelGemm(bool gfni);
// Where the CPU has AVX512-BF16, gives the table t the bf16 route for BF16
// rows on vdpbf16ps (kernels_amx.cc, compiled with that extension; none of
// these functions uses a tile): gemm_bf16, acts_to_bf16 and rows_to_bf16,
// not panels_to_bf16. Without tiles the route serves BF16 rows: quantized
// panels multiply faster in int8, and F16 rows keep float activations.
void AddBf16DotRoute(Kernels& t);
// The AVX-512 table with the AMX panel GEMM; nullptr unless the CPU has
// AMX-INT8 and the OS lets this process use it.
const Kernels* AmxKernels();

// ARMv8.2 NEON with the dot-product extension; nullptr when this build has
// no AArch64 kernels.
const Kernels* NeonKernels();

// Every table the running CPU can use, generic first, the best last.
std::vector<const Kernels*> SupportedKernels();

// The best table the running CPU supports. The environment variable
// LLEMMA_ISA=generic|avx2|neon|avx512|amx caps the choice (for tests and
// benchmarks): the best supported table at or below that tier.
const Kernels& ActiveKernels();

}  // namespace llemma::cpu::internal
