#include "llemma/backend/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "llemma/core/check.h"
#include "llemma/backend/cpu/kernels.h"
#include "llemma/backend/cpu/quants.h"

namespace llemma::cpu {

namespace {

using internal::ActiveKernels;

constexpr int64_t kRowTile = 16;    // weight rows converted to f32 at once (prefill)
constexpr int64_t kTokenTile = 64;  // tokens per pass over a converted tile
constexpr size_t kPanelGroupBytes = size_t{1} << 20;  // weights kept in L2 across activation tiles
constexpr size_t kUnitMajorActBytes = size_t{256} << 10;  // activation tiles small enough to run unit by unit
// From this many tokens on (a prompt, not a decoding batch), panel weights
// go through the bf16 tile route where the CPU has one.
constexpr int64_t kBf16MinTokens = 64;
constexpr int64_t kAttnQueries = 8;  // prompt queries per attention work item
constexpr int64_t kBf16DotMinTokens = 8;  // BF16 rows on vdpbf16ps without tiles
// Below this many tokens F16 / BF16 rows go through gemm_half_rows (a batch
// of sequences); from it on, through converted and packed row tiles (a
// prompt). 7B F16 matrices, 2 threads: 2-63 tokens 1.1-5× faster that way.
constexpr int64_t kHalfRowsMaxTokens = 64;

}  // namespace

float DotRow(DType dtype, const void* row, const float* x, int64_t n) {
  const internal::Kernels& k = ActiveKernels();
  switch (dtype) {
    case DType::kF32: return k.dot_f32(static_cast<const float*>(row), x, n);
    case DType::kBF16: return k.dot_bf16(static_cast<const uint16_t*>(row), x, n);
    case DType::kF16: return k.dot_f16(static_cast<const uint16_t*>(row), x, n);
    default: LLEMMA_CHECK(false) << "DotRow is for float types, not " << DTypeName(dtype);
  }
  return 0.0f;
}

const char* KernelIsaName() { return ActiveKernels().name; }

namespace {

// Long prompts on AMX-BF16 (Q8_0P / Q4_0P panels, F16 / BF16 rows), and
// BF16 rows of 2 or more tokens on AVX512-BF16 without tiles (vdpbf16ps):
// the activations are rounded to bf16 once; threads take groups of 16-row
// panels that fill about half of a core's L2 cache, expand each group to
// bf16 once (F16 as two bf16 terms, the second skipped where it is zero),
// and run every token through it.
bool UsesBf16Tiles(const Matrix& w, int64_t n_tokens) {
  const internal::Kernels& kern = ActiveKernels();
  if (kern.gemm_bf16 == nullptr || w.rows % kPanelRows != 0 || w.cols % 32 != 0) return false;
  // With the tile unit (panels_to_bf16 set) the route takes prompts of
  // kBf16MinTokens or more, of any type it expands (Q2_KP / Q3_KP take the
  // integer route). On vdpbf16ps alone it takes BF16 rows from
  // kBf16DotMinTokens: below that the half-row kernel, which keeps float
  // activations, is faster (7B BF16, 4 sequences 7.1 → 10.2 t/s); from 8 on
  // vdpbf16ps is (16 sequences: 17.9 against 13.2 t/s). Int8 runs the panels
  // faster; F16 rows keep float activations there (bf16 ones put the tiny
  // models' F16 logits 0.55–0.94% from float, against 0.5% allowed).
  const bool tiles = kern.panels_to_bf16 != nullptr;
  if (n_tokens < (tiles ? kBf16MinTokens : kBf16DotMinTokens)) return false;
  switch (w.dtype) {
    case DType::kQ4_KP:
    case DType::kQ5_KP:
    case DType::kQ6_KP: return tiles && w.cols % kQK_K == 0;
    case DType::kQ8_0P:
    case DType::kQ4_0P:
    case DType::kF16: return tiles;
    case DType::kBF16: return true;
    default: return false;
  }
}

void MatMulBf16Tiles(ThreadPool& pool, const Matrix& w, const float* x, int64_t n_tokens, float* y) {
  const internal::Kernels& kern = ActiveKernels();
  const int64_t K = w.cols, N = w.rows;
  const int64_t padded = (n_tokens + 31) / 32 * 32;
  thread_local std::vector<uint16_t> xb;
  xb.resize(static_cast<size_t>(padded * K));
  uint16_t* xp = xb.data();
  std::fill(xp + n_tokens / 16 * 16 * K, xp + padded * K, uint16_t{0});
  pool.ParallelFor(static_cast<size_t>(n_tokens), [&](size_t b, size_t e, int) {
    for (size_t t = b; t < e; ++t) kern.acts_to_bf16(x + t * K, K, xp + t / 16 * 16 * K, static_cast<int>(t % 16));
  });
  const bool panels = IsPanel(w.dtype), split = w.dtype == DType::kF16;
  const int64_t n_panels = N / kPanelRows;
  const size_t band_bytes = RowBytes(w.dtype, K) * kPanelRows;
  // An even number of panels: the tile kernel takes them in pairs.
  const int64_t per_panel = K * kPanelRows * 2 * (split ? 2 : 1);
  const int64_t fit = static_cast<int64_t>(kPanelGroupBytes / per_panel) / 2 * 2;
  const int64_t group = std::clamp<int64_t>(fit, std::min<int64_t>(2, n_panels), n_panels);
  const int64_t n_groups = (n_panels + group - 1) / group;
  const uint8_t* base = static_cast<const uint8_t*>(w.data);
  std::vector<std::vector<uint16_t>> wbuf(static_cast<size_t>(pool.size()));
  pool.ParallelFor(static_cast<size_t>(n_groups), [&](size_t gb, size_t ge, int tid) {
    std::vector<uint16_t>& buf = wbuf[static_cast<size_t>(tid)];
    const size_t half = static_cast<size_t>(group * K * kPanelRows);
    buf.resize(split ? 2 * half : half);
    for (size_t g = gb; g < ge; ++g) {
      const int64_t p0 = static_cast<int64_t>(g) * group;
      const int np = static_cast<int>(std::min(group, n_panels - p0));
      const uint8_t* src = base + p0 * band_bytes;
      bool lo = false;
      if (panels) kern.panels_to_bf16(w.dtype, src, K, np, buf.data());
      else lo = kern.rows_to_bf16(w.dtype, src, RowBytes(w.dtype, K), K, np, buf.data(), buf.data() + half);
      kern.gemm_bf16(buf.data(), lo ? buf.data() + half : nullptr, np, xp, n_tokens, K, y + p0 * kPanelRows, N);
    }
  });
}

// Panel weights (Q4_0P / Q8_0P / Q4_KP) of n_w matrices with one type and
// one input width: activations are quantized once per call into tiles of up
// to 6 tokens (16 where the CPU has AMX tiles and there are more than 6
// tokens), then threads take pairs of panels (32 rows) of any of the
// matrices and run every tile through them while they sit in cache.
void MatMulPanelsShared(ThreadPool& pool, const Matrix* const* ws, int n_w, const float* x, int64_t n_tokens,
                        float* const* ys) {
  LLEMMA_CHECK(n_w >= 1 && n_w <= 3) << n_w;
  const Matrix& w0 = *ws[0];
  const int64_t K = w0.cols;
  for (int m = 0; m < n_w; ++m) {
    LLEMMA_CHECK(ws[m]->dtype == w0.dtype && ws[m]->cols == K) << ws[m]->rows << "x" << ws[m]->cols;
    LLEMMA_CHECK(K % kQK == 0 && ws[m]->rows % kPanelRows == 0) << ws[m]->rows << "x" << ws[m]->cols;
  }
  const internal::Kernels& kern = ActiveKernels();
  const bool q4 = w0.dtype == DType::kQ4_0P;
  LLEMMA_CHECK(!IsKPanel(w0.dtype) || K % kQK_K == 0) << w0.cols;
  internal::PanelGemm gemm = internal::PanelGemmOf(kern, w0.dtype, /*wide=*/false);
  int64_t tile_n = internal::kActTile;
  if (n_tokens > internal::kActTile) {
    if (const internal::PanelGemm wide = internal::PanelGemmOf(kern, w0.dtype, /*wide=*/true); wide != nullptr)
      gemm = wide, tile_n = internal::kWideActTile;
  }
  const size_t full_tile_bytes = internal::ActTileBytes(K, static_cast<int>(tile_n));
  const int64_t n_tiles = (n_tokens + tile_n - 1) / tile_n;
  auto tile_size = [&](int64_t i) { return static_cast<int>(std::min<int64_t>(tile_n, n_tokens - i * tile_n)); };
  thread_local std::vector<uint8_t> acts;
  acts.resize(full_tile_bytes * static_cast<size_t>(n_tiles));
  uint8_t* ap = acts.data();
  const int32_t offset = q4 ? 8 : 128;
  pool.ParallelFor(static_cast<size_t>(n_tokens), [&](size_t b, size_t e, int) {
    for (size_t t = b; t < e; ++t) {
      const int64_t tile = static_cast<int64_t>(t) / tile_n;
      kern.quantize_acts(x + t * K, K, offset, ap + tile * full_tile_bytes, tile_size(tile), static_cast<int>(t % tile_n));
    }
  });
  const size_t panel_bytes = RowBytes(w0.dtype, K) * kPanelRows;
  // Work units of two panels: the kernel feeds each activation broadcast to
  // both. Units are numbered across the matrices, one after another.
  int64_t first_unit[4] = {}, n_units = 0;
  for (int m = 0; m < n_w; ++m) {
    first_unit[m] = n_units;
    n_units += (ws[m]->rows / kPanelRows + 1) / 2;
  }
  first_unit[n_w] = n_units;
  // A few tokens (batched decode): all their activation tiles together fit in
  // L2 beside the weights, so each unit meets every tile while its weights
  // are hot and prefetches the next unit each time.
  const bool unit_major = n_tiles > 1 && n_tiles * full_tile_bytes <= kUnitMajorActBytes;
  auto run_unit = [&](int64_t u, int64_t tile) {
    int m = 0;
    while (u >= first_unit[m + 1]) ++m;
    const Matrix& w = *ws[m];
    const int64_t N = w.rows, n_panels = N / kPanelRows, p = 2 * (u - first_unit[m]);
    const int np = static_cast<int>(std::min<int64_t>(2, n_panels - p));
    // With several tokens the first tile (every tile, unit-major) also
    // prefetches the next unit of the same matrix, so its weights stream in
    // while this one computes. One token (decode) leaves a thread's run of
    // units to the hardware prefetcher: it reads as one sequential stream,
    // and the extra requests slowed it by 7–22% (bench/README).
    const bool next_exists = p + 2 * np <= n_panels;
    const bool prefetch = next_exists && n_tokens > 1 && (tile == 0 || unit_major);
    gemm(static_cast<const uint8_t*>(w.data) + p * panel_bytes, ap + tile * full_tile_bytes, K, tile_size(tile), np,
         ys[m] + tile * tile_n * N + p * kPanelRows, N, prefetch);
  };
  // A thread's run of units is taken in groups whose weights fill about half
  // of a core's L2 cache; each group meets every activation tile before the
  // next group starts, so weights come from memory once and the activations
  // (megabytes for a long prompt) once per group rather than once per unit.
  const int64_t group = std::max<int64_t>(1, static_cast<int64_t>(kPanelGroupBytes / (2 * panel_bytes)));
  auto body = [&](size_t ub, size_t ue, int) {
    if (unit_major) {
      for (int64_t u = static_cast<int64_t>(ub); u < static_cast<int64_t>(ue); ++u)
        for (int64_t i = 0; i < n_tiles; ++i) run_unit(u, i);
      return;
    }
    for (int64_t g0 = static_cast<int64_t>(ub); g0 < static_cast<int64_t>(ue); g0 += group) {
      const int64_t g1 = std::min(static_cast<int64_t>(ue), g0 + group);
      for (int64_t i = 0; i < n_tiles; ++i)
        for (int64_t u = g0; u < g1; ++u) run_unit(u, i);
    }
  };
  if (n_tokens == 1)
    pool.ParallelForGuided(static_cast<size_t>(n_units), body, /*min_chunk=*/1);
  else
    pool.ParallelFor(static_cast<size_t>(n_units), body);
}

void MatMulPanels(ThreadPool& pool, const Matrix& w, const float* x, int64_t n_tokens, float* y) {
  if (UsesBf16Tiles(w, n_tokens)) return MatMulBf16Tiles(pool, w, x, n_tokens, y);
  const Matrix* ws[1] = {&w};
  float* ys[1] = {y};
  MatMulPanelsShared(pool, ws, 1, x, n_tokens, ys);
}

// Plain Q8_0 / Q4_0 rows (matrices whose row count is not a multiple of 16):
// activations are quantized to Q8_0 once, then every weight row is an
// integer dot product per block.
void MatMulQuantized(ThreadPool& pool, const Matrix& w, const float* x, int64_t n_tokens, float* y) {
  if (IsPanel(w.dtype)) return MatMulPanels(pool, w, x, n_tokens, y);
  const int64_t K = w.cols, N = w.rows;
  LLEMMA_CHECK_EQ(K % kQK, 0);
  const internal::Kernels& kern = ActiveKernels();
  float (*dot)(const void*, const void*, int64_t) = nullptr;
  void (*dot4)(const void*, const void*, size_t, int64_t, float*) = nullptr;
  switch (w.dtype) {
    case DType::kQ8_0: dot = kern.vec_dot_q8_0, dot4 = kern.vec_dot_q8_0_4t; break;
    case DType::kQ4_0: dot = kern.vec_dot_q4_0, dot4 = kern.vec_dot_q4_0_4t; break;
    default: LLEMMA_CHECK(false) << "no matmul kernel for " << DTypeName(w.dtype);
  }
  const size_t row_bytes = RowBytes(w.dtype, K);
  const size_t xq_row = RowBytes(DType::kQ8_0, K);
  thread_local std::vector<uint8_t> xq;
  xq.resize(xq_row * n_tokens);
  uint8_t* xqp = xq.data();
  pool.ParallelFor(static_cast<size_t>(n_tokens), [&](size_t b, size_t e, int) {
    for (size_t t = b; t < e; ++t) kern.quantize_q8_0(x + t * K, xqp + t * xq_row, K);
  });
  const uint8_t* base = static_cast<const uint8_t*>(w.data);
  if (n_tokens == 1) {
    pool.ParallelForGuided(
        N,
        [&](size_t begin, size_t end, int) {
          for (size_t n = begin; n < end; ++n) y[n] = dot(base + n * row_bytes, xqp, K);
        },
        /*min_chunk=*/64);
    return;
  }
  // Prefill: each weight row is unpacked once per group of 4 tokens.
  const int64_t n_tiles = (N + kRowTile - 1) / kRowTile;
  pool.ParallelFor(static_cast<size_t>(n_tiles), [&](size_t tb, size_t te, int) {
    float out[4];
    for (size_t ti = tb; ti < te; ++ti) {
      const int64_t r0 = static_cast<int64_t>(ti) * kRowTile;
      const int64_t r1 = std::min(N, r0 + kRowTile);
      int64_t t = 0;
      for (; t + 4 <= n_tokens; t += 4) {
        for (int64_t r = r0; r < r1; ++r) {
          dot4(base + r * row_bytes, xqp + t * xq_row, xq_row, K, out);
          for (int i = 0; i < 4; ++i) y[(t + i) * N + r] = out[i];
        }
      }
      for (; t < n_tokens; ++t) {
        for (int64_t r = r0; r < r1; ++r) y[t * N + r] = dot(base + r * row_bytes, xqp + t * xq_row, K);
      }
    }
  });
}

}  // namespace

void MatMulShared(ThreadPool& pool, std::initializer_list<const Matrix*> ws, const float* x, int64_t n_tokens,
                  std::initializer_list<float*> ys) {
  LLEMMA_CHECK(ws.size() == ys.size() && ws.size() >= 1 && ws.size() <= 3) << ws.size() << " " << ys.size();
  const Matrix& w0 = **ws.begin();
  bool shared = IsPanel(w0.dtype) && !UsesBf16Tiles(w0, n_tokens);
  for (const Matrix* w : ws) shared = shared && w->dtype == w0.dtype && w->cols == w0.cols && w->rows % kPanelRows == 0;
  if (shared) return MatMulPanelsShared(pool, ws.begin(), static_cast<int>(ws.size()), x, n_tokens, ys.begin());
  auto y = ys.begin();
  for (const Matrix* w : ws) MatMul(pool, *w, x, n_tokens, *y++);
}

void MatMul(ThreadPool& pool, const Matrix& w, const float* x, int64_t n_tokens, float* y) {
  if (IsQuantized(w.dtype)) return MatMulQuantized(pool, w, x, n_tokens, y);
  if (UsesBf16Tiles(w, n_tokens)) return MatMulBf16Tiles(pool, w, x, n_tokens, y);
  const int64_t K = w.cols, N = w.rows;
  const size_t row_bytes = RowBytes(w.dtype, K);
  const uint8_t* base = static_cast<const uint8_t*>(w.data);
  if (n_tokens == 1) {
    // Matrix-vector: each thread streams a contiguous slice of rows.
    auto stream_rows = [&](auto row_dot) {
      pool.ParallelForGuided(
          N,
          [&](size_t begin, size_t end, int) {
            for (size_t n = begin; n < end; ++n) y[n] = row_dot(base + n * row_bytes);
          },
          /*min_chunk=*/64);
    };
    if (w.dtype == DType::kF16 || w.dtype == DType::kBF16) {
      // F16 / BF16 rows meet the activations rounded to F16 once: half the
      // bytes of float ones, so they stay in L1 beside the streamed rows
      // (5-40% faster where memory is fast). Activations beyond F16's range
      // keep the float route below.
      thread_local std::vector<uint16_t> xh;
      xh.resize(static_cast<size_t>(K));
      const internal::Kernels& kern = ActiveKernels();
      kern.to_f16(x, xh.data(), K);
      if (std::none_of(xh.begin(), xh.end(), [](uint16_t h) { return (h & 0x7c00u) == 0x7c00u; })) {
        const auto dot = w.dtype == DType::kF16 ? kern.dot_f16_h : kern.dot_bf16_h;
        const uint16_t* xp = xh.data();
        return stream_rows([&](const uint8_t* row) { return dot(reinterpret_cast<const uint16_t*>(row), xp, K); });
      }
    }
    return stream_rows([&](const uint8_t* row) { return DotRow(w.dtype, row, x, K); });
  }
  const internal::Kernels& kern = ActiveKernels();
  if (n_tokens < kHalfRowsMaxTokens && K % 16 == 0 && (w.dtype == DType::kF16 || w.dtype == DType::kBF16)) {
    // A few tokens (batched decoding): straight from the 16-bit rows, each
    // converted once per 16 columns for every token, no float copy.
    thread_local std::vector<float> xi;
    xi.resize(static_cast<size_t>(n_tokens * K));
    float* xip = xi.data();  // the caller's buffer (xi names each thread's own)
    internal::InterleaveActs(x, K, static_cast<int>(n_tokens), K, xip);
    const uint16_t* rows = static_cast<const uint16_t*>(w.data);
    const int64_t w_stride = static_cast<int64_t>(row_bytes / 2);
    pool.ParallelForGuided(
        static_cast<size_t>(N),
        [&](size_t b, size_t e, int) {
          kern.gemm_half_rows(w.dtype, rows + b * w_stride, w_stride, static_cast<int64_t>(e - b), xip,
                              static_cast<int>(n_tokens), K, y + b, N);
        },
        /*min_chunk=*/24);
    return;
  }
  // Matrix-matrix: threads own tiles of 32 weight rows; each tile is
  // converted to f32 once, packed k-major, and multiplied against 6 tokens at
  // a time by the outer-product microkernel. Leftover rows and tokens use
  // the 4×4 dot-product kernel.
  constexpr int64_t kPackRows = 32, kPackTokens = 6;
  const int64_t n_full = N / kPackRows * kPackRows;
  const int64_t t_full = n_tokens / kPackTokens * kPackTokens;
  const bool packed_route = n_full > 0 && t_full > 0;
  // Tokens t_begin.. against nr float rows (row-major, from row r0): 4×4
  // dot-product blocks, then single dots.
  auto rest = [&](const float* tile, int64_t r0, int64_t nr, int64_t t_begin) {
    float block[16];
    for (int64_t t0 = t_begin; t0 < n_tokens; t0 += kTokenTile) {
      const int64_t t1 = std::min(n_tokens, t0 + kTokenTile);
      int64_t t = t0;
      for (; t + 4 <= t1; t += 4) {
        int64_t r = 0;
        for (; r + 4 <= nr; r += 4) {
          kern.gemm_4x4(tile + r * K, x + t * K, K, block);
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) y[(t + i) * N + r0 + r + j] = block[i * 4 + j];
        }
        for (; r < nr; ++r)
          for (int i = 0; i < 4; ++i) y[(t + i) * N + r0 + r] = kern.dot_f32(tile + r * K, x + (t + i) * K, K);
      }
      for (; t < t1; ++t)
        for (int64_t r = 0; r < nr; ++r) y[t * N + r0 + r] = kern.dot_f32(tile + r * K, x + t * K, K);
    }
  };
  if (packed_route) {
    pool.ParallelFor(static_cast<size_t>(n_full / kPackRows), [&](size_t tb, size_t te, int) {
      thread_local std::vector<float> rows, packed;
      rows.resize(static_cast<size_t>(kPackRows * K));
      packed.resize(static_cast<size_t>(kPackRows * K));
      for (size_t ti = tb; ti < te; ++ti) {
        const int64_t r0 = static_cast<int64_t>(ti) * kPackRows;
        kern.to_f32(w.dtype, base + r0 * row_bytes, rows.data(), kPackRows * K);
        // In blocks of 64 columns, so the 8 KiB of packed lines being
        // written stay in L1 (row by row, every store missed it).
        for (int64_t k0 = 0; k0 < K; k0 += 64) {
          const int64_t k1 = std::min(K, k0 + 64);
          for (int64_t r = 0; r < kPackRows; ++r)
            for (int64_t k = k0; k < k1; ++k) packed[k * kPackRows + r] = rows[r * K + k];
        }
        for (int64_t t = 0; t < t_full; t += kPackTokens) {
          kern.gemm_packed_32x6(packed.data(), x + t * K, K, K, y + t * N + r0, N);
        }
        // The tokens after the last 6 from the same converted rows, so the
        // weights are read from memory once (a batch of 16 sequences read
        // them twice).
        rest(rows.data(), r0, kPackRows, t_full);
      }
    });
  }
  // The rows ≥ n_full (every row without the packed route), all tokens.
  const int64_t n_tiles = (N + kRowTile - 1) / kRowTile;
  pool.ParallelFor(static_cast<size_t>(n_tiles), [&](size_t tb, size_t te, int) {
    thread_local std::vector<float> tile;
    tile.resize(static_cast<size_t>(kRowTile * K));
    for (size_t ti = tb; ti < te; ++ti) {
      const int64_t r0 = static_cast<int64_t>(ti) * kRowTile;
      const int64_t nr = std::min(kRowTile, N - r0);
      if (packed_route && r0 + nr <= n_full) continue;
      kern.to_f32(w.dtype, base + r0 * row_bytes, tile.data(), nr * K);
      rest(tile.data(), r0, nr, 0);
    }
  });
}

void RmsNorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps,
             float* out) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* xt = x + t * dim;
    double ss = 0;
#pragma omp simd reduction(+ : ss)
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

void SiluMul(float* gate, const float* up, int64_t n) { ActiveKernels().silu_mul(gate, up, n); }

namespace {
// Element-wise work on prefill-sized arrays, in chunks of at least 4096
// elements (whole rows where `row` > 1).
template <typename F>
void Elementwise(ThreadPool& pool, int64_t n, int64_t row, F&& f) {
  const int64_t rows = n / row, grain = std::max<int64_t>(1, 4096 / row);
  if (rows <= grain) return f(0, n);
  pool.ParallelFor(static_cast<size_t>(rows), [&](size_t b, size_t e, int) {
    f(static_cast<int64_t>(b) * row, static_cast<int64_t>(e) * row);
  }, static_cast<size_t>(grain));
}
}  // namespace

void RmsNorm(ThreadPool& pool, const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps,
             float* out) {
  Elementwise(pool, n_tokens * dim, dim, [&](int64_t b, int64_t e) {
    RmsNorm(x + b, weight, (e - b) / dim, dim, eps, out + b);
  });
}

void SiluMul(ThreadPool& pool, float* gate, const float* up, int64_t n) {
  Elementwise(pool, n, 1, [&](int64_t b, int64_t e) { SiluMul(gate + b, up + b, e - b); });
}

void AddTo(ThreadPool& pool, float* x, const float* y, int64_t n) {
  Elementwise(pool, n, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) x[i] += y[i];
  });
}

void Softmax(float* x, int64_t n) {
  float m = x[0];
  for (int64_t i = 1; i < n; ++i) m = std::max(m, x[i]);
  const double sum = ActiveKernels().exp_sum(x, n, m);
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

size_t KvBytes(DType kv_type) {
  LLEMMA_CHECK(kv_type == DType::kF32 || kv_type == DType::kF16) << "KV cache type " << DTypeName(kv_type);
  return kv_type == DType::kF16 ? 2 : 4;
}

void StoreKv(DType kv_type, const float* x, void* dst, int64_t n) {
  if (KvBytes(kv_type) == 4) {
    std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float));
  } else {
    ActiveKernels().to_f16(x, static_cast<uint16_t*>(dst), n);
  }
}

namespace {
// The attention kernels for one cache type, and offsets into its rows.
class KvRows {
 public:
  explicit KvRows(DType type) : kern_(ActiveKernels()), f16_(type == DType::kF16), bytes_(KvBytes(type)) {}
  const void* At(const void* base, int64_t values) const {
    return static_cast<const uint8_t*>(base) + static_cast<size_t>(values) * bytes_;
  }
  void Scores(const void* k, int64_t n_keys, const float* q, int n_q, int64_t hd, float scale, float* s,
              int64_t s_stride) const {
    if (f16_) return kern_.attn_qk_f16(static_cast<const uint16_t*>(k), n_keys, q, n_q, hd, scale, s, s_stride);
    kern_.attn_qk(static_cast<const float*>(k), n_keys, q, n_q, hd, scale, s, s_stride);
  }
  void Values(const void* v, int64_t n_keys, const float* p, int n_q, int64_t p_stride, int64_t hd,
              float* out) const {
    if (f16_) return kern_.attn_pv_f16(static_cast<const uint16_t*>(v), n_keys, p, n_q, p_stride, hd, out);
    kern_.attn_pv(static_cast<const float*>(v), n_keys, p, n_q, p_stride, hd, out);
  }

 private:
  const internal::Kernels& kern_;
  bool f16_;
  size_t bytes_;
};
}  // namespace

void Attention(ThreadPool& pool, const AttentionArgs& a) {
  LLEMMA_CHECK(a.n_head_kv > 0 && a.n_head % a.n_head_kv == 0);
  LLEMMA_CHECK_LE(a.n_past + a.n_tokens, a.n_ctx);
  const int64_t group = a.n_head / a.n_head_kv, hd = a.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  // Work items: one head and a block of up to kAttnQueries consecutive
  // queries, whose scores against each key row are computed together. A
  // query's scores past its own position are set to 0 after its softmax, so
  // the value sums see exactly its own terms (adding 0·v changes nothing).
  const int64_t n_blocks = (a.n_tokens + kAttnQueries - 1) / kAttnQueries;
  const size_t n_items = static_cast<size_t>(n_blocks * a.n_head);
  const KvRows kv(a.kv_type);
  pool.ParallelFor(n_items, [&](size_t begin, size_t end, int) {
    thread_local std::vector<float> scores, qbuf, obuf;
    // Items run head-major so that every thread's share of the causal
    // triangle is about the same size.
    for (size_t item = begin; item < end; ++item) {
      const int64_t h = static_cast<int64_t>(item) / n_blocks;
      const int64_t t0 = static_cast<int64_t>(item) % n_blocks * kAttnQueries;
      const int n_q = static_cast<int>(std::min(kAttnQueries, a.n_tokens - t0));
      const int64_t kvh = h / group;
      const int64_t row = a.n_past + t0 + n_q;  // keys seen by the block's last query
      scores.resize(static_cast<size_t>(n_q * row));
      qbuf.resize(static_cast<size_t>(n_q * hd));
      obuf.assign(static_cast<size_t>(n_q * hd), 0.0f);
      for (int i = 0; i < n_q; ++i)
        std::memcpy(qbuf.data() + i * hd, a.q + ((t0 + i) * a.n_head + h) * hd, hd * sizeof(float));
      const void* kbase = kv.At(a.k, kvh * a.n_ctx * hd);
      const void* vbase = kv.At(a.v, kvh * a.n_ctx * hd);
      kv.Scores(kbase, row, qbuf.data(), n_q, hd, scale, scores.data(), row);
      for (int i = 0; i < n_q; ++i) {
        float* s = scores.data() + i * row;
        const int64_t n_keys = a.n_past + t0 + i + 1;
        Softmax(s, n_keys);
        std::fill(s + n_keys, s + row, 0.0f);
      }
      kv.Values(vbase, row, scores.data(), n_q, row, hd, obuf.data());
      for (int i = 0; i < n_q; ++i)
        std::memcpy(a.out + ((t0 + i) * a.n_head + h) * hd, obuf.data() + i * hd, hd * sizeof(float));
    }
  });
}

void BatchAttention(ThreadPool& pool, const BatchAttentionArgs& a) {
  LLEMMA_CHECK(a.n_head_kv > 0 && a.n_head % a.n_head_kv == 0);
  const int64_t group = a.n_head / a.n_head_kv, hd = a.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const KvRows kv(a.kv_type);
  // Tokens that read the same prefix (k samples forked from one prompt) form
  // a bucket: its keys and values are streamed from memory once per step for
  // all of the bucket's queries instead of once per token. Tokens without a
  // prefix are buckets of one.
  // A sequence that others forked from reads the shared keys as the start of
  // its own segment: it joins their bucket with its segment split at the
  // prefix length (same keys in the same order, so the same result).
  std::vector<KvSegment> prefix(a.prefix, a.prefix + a.n_tokens), own(a.own, a.own + a.n_tokens);
  std::vector<std::vector<int64_t>> buckets;
  auto find_bucket = [&](const KvSegment& p) {
    size_t b = 0;
    for (; b < buckets.size(); ++b) {
      const KvSegment& q = prefix[buckets[b][0]];
      if (q.n == p.n && q.k == p.k && q.v == p.v) break;
    }
    return b;
  };
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    LLEMMA_CHECK_LE(prefix[t].n + own[t].n, a.max_keys);
    if (prefix[t].n == 0) continue;
    const size_t b = find_bucket(prefix[t]);
    if (b == buckets.size()) buckets.emplace_back();
    buckets[b].push_back(t);
  }
  const size_t n_shared = buckets.size();
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    if (prefix[t].n > 0) continue;
    size_t b = 0;
    for (; b < n_shared; ++b) {
      const KvSegment& q = prefix[buckets[b][0]];
      if (q.k == own[t].k && q.v == own[t].v && q.n <= own[t].n) break;
    }
    if (b < n_shared) {
      const int64_t n = prefix[buckets[b][0]].n;
      prefix[t] = {own[t].k, own[t].v, n};
      own[t] = {kv.At(own[t].k, n * hd), kv.At(own[t].v, n * hd), own[t].n - n};
    } else {
      b = buckets.size();
      buckets.emplace_back();
    }
    buckets[b].push_back(t);
  }
  // Work items: (bucket, kv head, slice of the bucket's tokens). Big buckets
  // are sliced when there are too few items to keep every thread busy.
  struct Item {
    size_t bucket;
    int64_t kvh, t_begin, t_end;
  };
  std::vector<Item> items;
  const int64_t want = 4 * static_cast<int64_t>(pool.size());
  const int64_t base_items = static_cast<int64_t>(buckets.size()) * a.n_head_kv;
  for (size_t b = 0; b < buckets.size(); ++b) {
    const int64_t nt = static_cast<int64_t>(buckets[b].size());
    const int64_t slices = std::clamp<int64_t>((want + base_items - 1) / base_items, 1, nt);
    for (int64_t h = 0; h < a.n_head_kv; ++h)
      for (int64_t s = 0; s < slices; ++s) items.push_back({b, h, s * nt / slices, (s + 1) * nt / slices});
  }
  pool.ParallelFor(items.size(), [&](size_t begin, size_t end, int) {
    thread_local std::vector<float> scores, qbuf, obuf;
    for (size_t it = begin; it < end; ++it) {
      const Item& w = items[it];
      const std::vector<int64_t>& toks = buckets[w.bucket];
      const KvSegment& pre = prefix[toks[w.t_begin]];
      const int64_t off = w.kvh * a.stride * hd;
      // Queries of this item, gathered into rows: every head of kv head
      // w.kvh, for each token of the slice.
      const int n_q = static_cast<int>((w.t_end - w.t_begin) * group);
      int64_t max_own = 0;
      for (int64_t i = w.t_begin; i < w.t_end; ++i) max_own = std::max(max_own, own[toks[i]].n);
      const int64_t row = pre.n + max_own;
      scores.resize(static_cast<size_t>(n_q * row));
      qbuf.resize(static_cast<size_t>(n_q * hd));
      obuf.assign(static_cast<size_t>(n_q * hd), 0.0f);
      auto token_of = [&](int qi) { return toks[w.t_begin + qi / group]; };
      auto head_of = [&](int qi) { return w.kvh * group + qi % group; };
      for (int qi = 0; qi < n_q; ++qi) {
        std::memcpy(qbuf.data() + qi * hd, a.q + (token_of(qi) * a.n_head + head_of(qi)) * hd, hd * sizeof(float));
      }
      // Scores: the prefix's key rows stream past all queries at once, then
      // each token's own keys.
      if (pre.n > 0) kv.Scores(kv.At(pre.k, off), pre.n, qbuf.data(), n_q, hd, scale, scores.data(), row);
      for (int qi = 0; qi < n_q; ++qi) {
        const KvSegment& mine = own[token_of(qi)];
        float* s = scores.data() + qi * row;
        kv.Scores(kv.At(mine.k, off), mine.n, qbuf.data() + qi * hd, 1, hd, scale, s + pre.n, 0);
        Softmax(s, pre.n + mine.n);
      }
      // Values in the same key order (prefix, then own): each query's sum is
      // what attending to its keys in one pass gives.
      if (pre.n > 0) kv.Values(kv.At(pre.v, off), pre.n, scores.data(), n_q, row, hd, obuf.data());
      for (int qi = 0; qi < n_q; ++qi) {
        const KvSegment& mine = own[token_of(qi)];
        kv.Values(kv.At(mine.v, off), mine.n, scores.data() + qi * row + pre.n, 1, 0, hd, obuf.data() + qi * hd);
        std::memcpy(a.out + (token_of(qi) * a.n_head + head_of(qi)) * hd, obuf.data() + qi * hd, hd * sizeof(float));
      }
    }
  });
}

}  // namespace llemma::cpu
