// Panel GEMM on Intel AMX tiles (AMX-TILE + AMX-INT8), for activation tiles
// of up to 16 tokens: prefill and batched decoding. Compiled with the AMX and
// AVX-512 flags; used only when the CPU has AMX and Linux grants this
// process the tile state (arch_prctl ARCH_REQ_XCOMP_PERM). Everything else
// comes from the AVX-512 table.
//
// Per 32-column block and panel (16 weight rows), one TDPBSUD multiplies
// the block's signed activations (N tokens × 32 bytes, a tile's rows as
// quantize_acts lays them out) by the panel's unsigned weights (8 rows of
// 16 × 4 bytes: exactly the Q8_0P layout; Q4_0P nibbles are unpacked into it)
// into 16 × 16 int32. The int32 results then fold into float accumulators
// with the row and token scales, exactly as the AVX-512 kernel folds them, so
// both give the same bits. Two sets of tiles alternate so that the next
// block's tile multiply runs while this block folds.
//
// Long prompts take a second route where the CPU also has AMX-BF16: each
// group of weight panels is expanded once to bf16 (the row scale folded in)
// and every token tile of the prompt meets it there, so the tile unit
// accumulates whole rows in float without a per-block fold; activations are
// rounded to bf16, which keeps more of their precision than 8-bit blocks.
//
// The bf16 route's conversions and a vdpbf16ps GEMM (no tile instruction)
// also serve CPUs with AVX512-BF16 but no tiles: AddBf16DotRoute gives them
// to the AVX-512 table.
#include "llemma/backend/cpu/kernels.h"
#include "llemma/backend/cpu/kpanel_avx512.h"
#include "llemma/backend/cpu/quants.h"

#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

// GCC 12 misreports the internal temporaries of the byte-widening
// intrinsics (_mm512_cvtepi8_epi32 and friends).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace llemma::cpu::internal {
namespace amx {
namespace {

struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// The configuration this thread's tile unit holds (LDTILECFG costs about as
// much as a few blocks of work, and the kernels are called per panel pair):
// 1..16 the int8 layout for that many tokens, kBf16Config the bf16 one. The
// kernel keeps tile state across context switches.
constexpr int kBf16Config = 100;
thread_local int tls_config = 0;

// Tiles: 0, 1 int32 results; 2, 3 activations; 4, 5 weights.
template <int N>
void Configure() {
  if (tls_config == N) return;
  tls_config = N;
  TileConfig c;
  for (int t : {0, 1}) c.rows[t] = N, c.colsb[t] = 64;
  for (int t : {2, 3}) c.rows[t] = N, c.colsb[t] = 32;
  for (int t : {4, 5}) c.rows[t] = 8, c.colsb[t] = 64;
  // The stores above must reach memory before LDTILECFG reads it; GCC 12
  // does not see that read and would drop them.
  __asm__ volatile("" : : "r"(&c) : "memory");
  _tile_loadconfig(&c);
}

// The 4 × 64 bytes of Q4_0P-ordered nibbles at q as 8 vectors: vector 2p
// the low nibbles of byte vector p (column group 2p), 2p + 1 the high ones.
inline void Nibbles(const uint8_t* q, __m512i* u) { PanelNibbles(q, u); }

inline __m512 HalfVector(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

inline __m512 ByteVector(const uint8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

// A Q4_0P block's weights in the Q8_0P order the tile multiply reads,
// stored signed (nibble − 8) so the multiply needs no offset correction.
inline void UnpackQ4(const uint8_t* blk, uint8_t* buf) {
  __m512i u[8];
  Nibbles(blk + 32, u);
  for (int i = 0; i < 8; ++i) _mm512_store_si512(buf + 64 * i, _mm512_sub_epi8(u[i], _mm512_set1_epi8(8)));
}

// kOffset: add the activation block's offset term (Q8_0P's +128 weights).
template <int N, bool kOffset>
inline void Fold(const int32_t* c, const uint8_t* act_blk, const uint8_t* w_blk, __m512* f) {
  const float* dx = reinterpret_cast<const float*>(act_blk + 32 * N);
  const int32_t* off = reinterpret_cast<const int32_t*>(act_blk + 36 * N);
  const __m512 dw = HalfVector(w_blk);
#pragma GCC unroll 16
  for (int t = 0; t < N; ++t) {
    float d;
    std::memcpy(&d, dx + t, 4);
    __m512i acc = _mm512_load_si512(c + 16 * t);
    if constexpr (kOffset) {
      int32_t o;
      std::memcpy(&o, off + t, 4);
      acc = _mm512_add_epi32(acc, _mm512_set1_epi32(o));
    }
    f[t] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(d)), dw, f[t]);
  }
}

// Weight formats of the tile kernel: where block b's 16 rows × 32 columns
// are in the Q8_0P order the tile multiply reads (or how to unpack them into
// it), whether they are signed, and how a block's int32 sums fold into the
// float accumulators (the same float operations as the AVX-512 kernels').
struct FormatQ8 {
  static constexpr bool kUnpack = false, kSigned = false, kHalves = false;
  static constexpr size_t kBlockBytes = kQ8PanelBlockBytes;
  static const uint8_t* Weights(const uint8_t* panel, int64_t b) { return panel + b * kBlockBytes + 32; }
  static void Unpack(const uint8_t*, int64_t, uint8_t*) {}
  template <int N>
  static void FoldBlock(const int32_t* c, const uint8_t* act, const uint8_t* panel, int64_t b, __m512* f) {
    Fold<N, true>(c, act, panel + b * kBlockBytes, f);
  }
};
struct FormatQ4 {
  static constexpr bool kUnpack = true, kSigned = true, kHalves = false;
  static constexpr size_t kBlockBytes = kQ4PanelBlockBytes;
  static const uint8_t* Weights(const uint8_t*, int64_t) { return nullptr; }
  static void Unpack(const uint8_t* panel, int64_t b, uint8_t* buf) { UnpackQ4(panel + b * kBlockBytes, buf); }
  template <int N>
  static void FoldBlock(const int32_t* c, const uint8_t* act, const uint8_t* panel, int64_t b, __m512* f) {
    Fold<N, false>(c, act, panel + b * kBlockBytes, f);
  }
};
// Q4_KP / Q5_KP: block b is sub-block b % 8 of super-block b / 8; values
// 0..15 / 0..31 (unsigned), folded with d·scale and dmin·min per row.
template <bool kQ5>
struct FormatK {
  static constexpr bool kUnpack = true, kSigned = false, kHalves = false;
  static constexpr size_t kSuper = kQ5 ? kQ5KPanelSuperBytes : kQ4KPanelSuperBytes;
  static constexpr size_t kSub = kQ5 ? kQ5KPanelSubBytes : kQ4KPanelSubBytes;
  static constexpr size_t kBlockBytes = kSuper / 8;  // on average, for prefetching
  static const uint8_t* Sub(const uint8_t* panel, int64_t b) { return panel + b / 8 * kSuper + 64 + kSub * (b % 8); }
  static const uint8_t* Weights(const uint8_t*, int64_t) { return nullptr; }
  static void Unpack(const uint8_t* panel, int64_t b, uint8_t* buf) {
    const uint8_t* sub = Sub(panel, b);
    __m512i u[8];
    Nibbles(sub + 32, u);
    for (int s = 0; s < 8; ++s) {
      if constexpr (kQ5) u[s] = OrQ5High(u[s], sub + 288, s);
      _mm512_store_si512(buf + 64 * s, u[s]);
    }
  }
  template <int N>
  static void FoldBlock(const int32_t* c, const uint8_t* act, const uint8_t* panel, int64_t b, __m512* f) {
    const uint8_t* head = panel + b / 8 * kSuper;
    const uint8_t* sub = Sub(panel, b);
    const __m512 scale = _mm512_mul_ps(HalfVector(head), ByteVector(sub));
    const __m512 mins = _mm512_mul_ps(HalfVector(head + 32), ByteVector(sub + 16));
    const float* dx = reinterpret_cast<const float*>(act + 32 * N);
    const float* ds = reinterpret_cast<const float*>(act + 40 * N);
#pragma GCC unroll 16
    for (int t = 0; t < N; ++t) {
      float d, s;
      std::memcpy(&d, dx + t, 4);
      std::memcpy(&s, ds + t, 4);
      const __m512i acc = _mm512_load_si512(c + 16 * t);
      f[t] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(d)), scale, f[t]);
      f[t] = _mm512_fnmadd_ps(mins, _mm512_set1_ps(s), f[t]);
    }
  }
};

// Q6_KP: a scale per 16 columns, so each block is two tile multiplies of
// 16 columns (activation tiles of 16 bytes per token, weight tiles of 4
// rows), each folded with its half's scale. The weights are unpacked signed
// (q − 32) for a signed × signed multiply, so the sums need no offset term
// and equal the AVX-512 kernel's offset-corrected ones.
struct FormatQ6 {
  static constexpr bool kUnpack = true, kSigned = true, kHalves = true;
  static constexpr size_t kBlockBytes = kQ6KPanelSuperBytes / 8;  // on average, for prefetching
  static const uint8_t* Sub(const uint8_t* panel, int64_t b) {
    return panel + b / 8 * kQ6KPanelSuperBytes + 32 + kQ6KPanelSubBytes * (b % 8);
  }
  static void Unpack(const uint8_t* panel, int64_t b, uint8_t* buf) {
    const uint8_t* sub = Sub(panel, b);
    __m512i u[8];
    Nibbles(sub + 32, u);
    for (int s = 0; s < 8; ++s) {
      const __m512i q = OrQ6High(u[s], sub + 288, s);
      _mm512_store_si512(buf + 64 * s, _mm512_sub_epi8(q, _mm512_set1_epi8(32)));
    }
  }
  // c: the two halves' sums, 16·N int32 each.
  template <int N>
  static void FoldBlock(const int32_t* c, const uint8_t* act, const uint8_t* panel, int64_t b, __m512* f) {
    const __m512 d = HalfVector(panel + b / 8 * kQ6KPanelSuperBytes);
    const uint8_t* sub = Sub(panel, b);
    const float* dx = reinterpret_cast<const float*>(act + 32 * N);
    for (int h = 0; h < 2; ++h) {
      const __m512 scale = _mm512_mul_ps(
          d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sub + 16 * h)))));
#pragma GCC unroll 16
      for (int t = 0; t < N; ++t) {
        float x;
        std::memcpy(&x, dx + t, 4);
        const __m512i acc = _mm512_load_si512(c + 16 * N * h + 16 * t);
        f[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), _mm512_mul_ps(scale, _mm512_set1_ps(x)), f[t]);
      }
    }
  }
};

// Tiles for FormatQ6: 0..3 int32 results (block parity × half), 4 and 5
// activations (N rows of 16 bytes), 6 and 7 weights (4 rows of 64 bytes).
constexpr int kQ6Config = 200;
template <int N>
void ConfigureQ6() {
  if (tls_config == kQ6Config + N) return;
  tls_config = kQ6Config + N;
  TileConfig c;
  for (int t : {0, 1, 2, 3}) c.rows[t] = N, c.colsb[t] = 64;
  for (int t : {4, 5}) c.rows[t] = N, c.colsb[t] = 16;
  for (int t : {6, 7}) c.rows[t] = 4, c.colsb[t] = 64;
  __asm__ volatile("" : : "r"(&c) : "memory");
  _tile_loadconfig(&c);
}

// One Q6_KP panel against an activation tile of N tokens: Panel's schedule
// with two results per block.
template <int N>
void PanelHalves(const uint8_t* panel, const uint8_t* acts, int64_t nb, float* y, int64_t y_stride,
                 const uint8_t* prefetch) {
  using Fmt = FormatQ6;
  constexpr size_t kActBytes = kActBlockBytes * N;
  alignas(64) int32_t c[2][2 * 16 * N];
  constexpr int64_t kAhead = 4, kRing = 8;
  alignas(64) uint8_t wbuf[kRing][512];
  __m512 f[N];
#pragma GCC unroll 16
  for (int t = 0; t < N; ++t) f[t] = _mm512_setzero_ps();
  auto act = [&](int64_t b) { return acts + b * kActBytes; };
  auto unpack = [&](int64_t b) {
    if (b < nb) Fmt::Unpack(panel, b, wbuf[b % kRing]);
  };
  auto fetch = [&](int64_t b) {
    if (prefetch != nullptr)
      for (size_t o = 0; o < Fmt::kBlockBytes; o += 64)
        _mm_prefetch(reinterpret_cast<const char*>(prefetch + b * Fmt::kBlockBytes + o), _MM_HINT_T1);
  };
  for (int64_t b = 0; b < kAhead; ++b) unpack(b);
#define LLEMMA_AMX_ISSUE2(C0, C1, b)                  \
  do {                                                \
    _tile_zero(C0);                                   \
    _tile_zero(C1);                                   \
    _tile_loadd(4, act(b), 32);                       \
    _tile_loadd(6, wbuf[(b) % kRing], 64);            \
    _tile_dpbssd(C0, 4, 6);                           \
    _tile_loadd(5, act(b) + 16, 32);                  \
    _tile_loadd(7, wbuf[(b) % kRing] + 256, 64);      \
    _tile_dpbssd(C1, 5, 7);                           \
    unpack((b) + kAhead);                             \
  } while (0)
#define LLEMMA_AMX_STEP2(C0, C1, b)                                                       \
  do {                                                                                    \
    _tile_stored(C0, c[(b) & 1], 64);                                                     \
    _tile_stored(C1, c[(b) & 1] + 16 * N, 64);                                            \
    if ((b) + 2 < nb) LLEMMA_AMX_ISSUE2(C0, C1, (b) + 2);                                 \
    if ((b) > 0) Fmt::FoldBlock<N>(c[((b) - 1) & 1], act((b) - 1), panel, (b) - 1, f);   \
    fetch(b);                                                                             \
  } while (0)
  LLEMMA_AMX_ISSUE2(0, 1, 0);
  if (nb > 1) LLEMMA_AMX_ISSUE2(2, 3, 1);
  for (int64_t b = 0; b < nb; b += 2) {
    LLEMMA_AMX_STEP2(0, 1, b);
    if (b + 1 < nb) LLEMMA_AMX_STEP2(2, 3, b + 1);
  }
  Fmt::FoldBlock<N>(c[(nb - 1) & 1], act(nb - 1), panel, nb - 1, f);
#undef LLEMMA_AMX_STEP2
#undef LLEMMA_AMX_ISSUE2
#pragma GCC unroll 16
  for (int t = 0; t < N; ++t) _mm512_storeu_ps(y + t * y_stride, f[t]);
}

// One panel against an activation tile of N tokens.
template <class Fmt, int N>
void Panel(const uint8_t* panel, const uint8_t* acts, int64_t nb, float* y, int64_t y_stride,
           const uint8_t* prefetch) {
  constexpr size_t kBlockBytes = Fmt::kBlockBytes;
  constexpr size_t kActBytes = kActBlockBytes * N;
  alignas(64) int32_t c[2][16 * N];
  // Packed blocks are unpacked kAhead blocks before their tile load: a tile
  // load of bytes just written by vector stores waits for them to reach the
  // cache, which stalls the tile unit when done right before.
  constexpr int64_t kAhead = 4, kRing = 8;
  alignas(64) uint8_t wbuf[Fmt::kUnpack ? kRing : 1][512];
  __m512 f[N];
#pragma GCC unroll 16
  for (int t = 0; t < N; ++t) f[t] = _mm512_setzero_ps();
  auto act = [&](int64_t b) { return acts + b * kActBytes; };
  auto weights = [&](int64_t b) -> const uint8_t* {
    return Fmt::kUnpack ? wbuf[b % kRing] : Fmt::Weights(panel, b);
  };
  auto unpack = [&](int64_t b) {
    if constexpr (Fmt::kUnpack)
      if (b < nb) Fmt::Unpack(panel, b, wbuf[b % kRing]);
  };
  auto fetch = [&](int64_t b) {
    if (prefetch != nullptr)
      for (size_t o = 0; o < kBlockBytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(prefetch + b * kBlockBytes + o), _MM_HINT_T1);
  };
  for (int64_t b = 0; b < kAhead; ++b) unpack(b);
  // Tile numbers are immediates, hence the two spelled-out sets.
#define LLEMMA_AMX_ISSUE(C, A, B, b)          \
  do {                                        \
    _tile_zero(C);                            \
    _tile_loadd(A, act(b), 32);               \
    _tile_loadd(B, weights(b), 64);           \
    if constexpr (Fmt::kSigned) _tile_dpbssd(C, A, B); \
    else _tile_dpbsud(C, A, B);               \
    unpack((b) + kAhead);                     \
  } while (0)
  // A block's sums are folded one block after their tile store: vector loads
  // of bytes a tile store has just written wait for it to complete.
#define LLEMMA_AMX_STEP(C, A, B, b)                              \
  do {                                                           \
    _tile_stored(C, c[(b) & 1], 64);                             \
    if ((b) + 2 < nb) LLEMMA_AMX_ISSUE(C, A, B, (b) + 2);        \
    if ((b) > 0) Fmt::template FoldBlock<N>(c[((b) - 1) & 1], act((b) - 1), panel, (b) - 1, f); \
    fetch(b);                                                    \
  } while (0)
  LLEMMA_AMX_ISSUE(0, 2, 4, 0);
  if (nb > 1) LLEMMA_AMX_ISSUE(1, 3, 5, 1);
  for (int64_t b = 0; b < nb; b += 2) {
    LLEMMA_AMX_STEP(0, 2, 4, b);
    if (b + 1 < nb) LLEMMA_AMX_STEP(1, 3, 5, b + 1);
  }
  Fmt::template FoldBlock<N>(c[(nb - 1) & 1], act(nb - 1), panel, nb - 1, f);
#undef LLEMMA_AMX_STEP
#undef LLEMMA_AMX_ISSUE
#pragma GCC unroll 16
  for (int t = 0; t < N; ++t) _mm512_storeu_ps(y + t * y_stride, f[t]);
}

template <class Fmt, int N>
void Panels(const uint8_t* p, const uint8_t* acts, int64_t k, int n_panels, float* y, int64_t y_stride,
            bool prefetch_next) {
  if constexpr (Fmt::kHalves) ConfigureQ6<N>();
  else Configure<N>();
  const int64_t nb = k / 32;
  const size_t panel_bytes = nb * Fmt::kBlockBytes;
  for (int i = 0; i < n_panels; ++i) {
    const uint8_t* next = prefetch_next ? p + (n_panels + i) * panel_bytes : nullptr;
    if constexpr (Fmt::kHalves) PanelHalves<N>(p + i * panel_bytes, acts, nb, y + 16 * i, y_stride, next);
    else Panel<Fmt, N>(p + i * panel_bytes, acts, nb, y + 16 * i, y_stride, next);
  }
}

template <class Fmt>
void Gemm(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y, int64_t y_stride,
          bool prefetch_next) {
  const uint8_t* p = static_cast<const uint8_t*>(panel);
  switch (n) {
#define LLEMMA_AMX_CASE(N) \
  case N: return Panels<Fmt, N>(p, acts, k, n_panels, y, y_stride, prefetch_next);
    LLEMMA_AMX_CASE(1) LLEMMA_AMX_CASE(2) LLEMMA_AMX_CASE(3) LLEMMA_AMX_CASE(4)
    LLEMMA_AMX_CASE(5) LLEMMA_AMX_CASE(6) LLEMMA_AMX_CASE(7) LLEMMA_AMX_CASE(8)
    LLEMMA_AMX_CASE(9) LLEMMA_AMX_CASE(10) LLEMMA_AMX_CASE(11) LLEMMA_AMX_CASE(12)
    LLEMMA_AMX_CASE(13) LLEMMA_AMX_CASE(14) LLEMMA_AMX_CASE(15) LLEMMA_AMX_CASE(16)
#undef LLEMMA_AMX_CASE
    default: return;
  }
}

void GemmQ8_0PAmx(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                  int64_t y_stride, bool prefetch_next) {
  Gemm<FormatQ8>(panel, acts, k, n, n_panels, y, y_stride, prefetch_next);
}
void GemmQ4_0PAmx(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                  int64_t y_stride, bool prefetch_next) {
  Gemm<FormatQ4>(panel, acts, k, n, n_panels, y, y_stride, prefetch_next);
}
void GemmQ4_KPAmx(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                  int64_t y_stride, bool prefetch_next) {
  Gemm<FormatK<false>>(panel, acts, k, n, n_panels, y, y_stride, prefetch_next);
}
void GemmQ5_KPAmx(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                  int64_t y_stride, bool prefetch_next) {
  Gemm<FormatK<true>>(panel, acts, k, n, n_panels, y, y_stride, prefetch_next);
}
void GemmQ6_KPAmx(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                  int64_t y_stride, bool prefetch_next) {
  Gemm<FormatQ6>(panel, acts, k, n, n_panels, y, y_stride, prefetch_next);
}

// ---------------------------------------------------------------------------
// bf16 route.

// Tiles 0..3 float results (token tile i, panel j at 2i + j), 4 and 5 token
// tiles of activations, 6 and 7 weight panels; all 16 rows × 64 bytes.
void ConfigureBf16() {
  if (tls_config == kBf16Config) return;
  tls_config = kBf16Config;
  TileConfig c;
  for (int t = 0; t < 8; ++t) c.rows[t] = 16, c.colsb[t] = 64;
  __asm__ volatile("" : : "r"(&c) : "memory");
  _tile_loadconfig(&c);
}

// 32 bf16 from the 16 floats of lo (even positions) and hi (odd positions):
// element 2i = bf16(lo[i]), 2i + 1 = bf16(hi[i]), rounded to nearest even.
inline __m512i PackPairs(__m512 lo, __m512 hi) {
  const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7,
                                       22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return _mm512_permutexvar_epi16(idx, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
}

// One block (16 rows × 32 columns): u holds 8 vectors of 16 dwords, vector s
// giving row n's columns 4s..4s+3 as unsigned bytes; element = u·a[n] − b[n]
// (kFused: rounded once, as Q4_0/Q8_0's exact (q − offset)·d; otherwise the
// product rounded before the subtraction, as Q4_K's reference computes it).
// dst: 16 rows of 64 bytes, row i = for each n, columns 2i and 2i+1.
// a1, b1 take over from column 16 on (Q6_K's per-16 scales).
template <bool kFused>
inline void ExpandBlock(const __m512i* u, __m512 a0, __m512 b0, __m512 a1, __m512 b1, uint16_t* dst) {
  const __m512i byte = _mm512_set1_epi32(0xFF);
  for (int s = 0; s < 8; ++s) {
    const __m512 a = s < 4 ? a0 : a1, b = s < 4 ? b0 : b1;
    __m512 f[4];
    for (int j = 0; j < 4; ++j) {
      const __m512i q = _mm512_and_si512(_mm512_srli_epi32(u[s], 8 * j), byte);
      f[j] = kFused ? _mm512_fmsub_ps(_mm512_cvtepi32_ps(q), a, b)
                    : _mm512_sub_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(q), a), b);
    }
    _mm512_storeu_si512(dst + 64 * s, PackPairs(f[0], f[1]));
    _mm512_storeu_si512(dst + 64 * s + 32, PackPairs(f[2], f[3]));
  }
}

void PanelsToBf16(DType dtype, const void* panels, int64_t k, int n_panels, uint16_t* dst) {
  const uint8_t* src = static_cast<const uint8_t*>(panels);
  __m512i u[8];
  if (dtype == DType::kQ4_KP || dtype == DType::kQ5_KP) {
    // Per super-block: d and dmin of the 16 rows, then 8 sub-blocks of 16
    // scales, 16 mins and Q4_0P-ordered nibbles (and Q5's fifth bits);
    // element = (d·scale)·q − dmin·min.
    const bool q5 = dtype == DType::kQ5_KP;
    const size_t super = q5 ? kQ5KPanelSuperBytes : kQ4KPanelSuperBytes, sub_bytes = q5 ? kQ5KPanelSubBytes : kQ4KPanelSubBytes;
    for (int64_t i = 0; i < k / 256 * n_panels; ++i) {
      const uint8_t* sb = src + i * super;
      const __m512 d = HalfVector(sb), dmin = HalfVector(sb + 32);
      for (int j = 0; j < 8; ++j) {
        const uint8_t* sub = sb + 64 + sub_bytes * j;
        Nibbles(sub + 32, u);
        if (q5) {
          for (int s = 0; s < 8; ++s) u[s] = OrQ5High(u[s], sub + 288, s);
        }
        const __m512 a = _mm512_mul_ps(d, ByteVector(sub)), b = _mm512_mul_ps(dmin, ByteVector(sub + 16));
        ExpandBlock<false>(u, a, b, a, b, dst + (i * 8 + j) * 512);
      }
    }
    return;
  }
  if (dtype == DType::kQ6_KP) {
    // Per super-block: d of the 16 rows, then 8 sub-blocks of two sets of 16
    // int8 scales, nibbles and 2-bit planes; element = (d·scale)·(q − 32),
    // one rounding (32·a is exact).
    for (int64_t i = 0; i < k / 256 * n_panels; ++i) {
      const uint8_t* sb = src + i * kQ6KPanelSuperBytes;
      const __m512 d = HalfVector(sb);
      for (int j = 0; j < 8; ++j) {
        const uint8_t* sub = sb + 32 + kQ6KPanelSubBytes * j;
        Nibbles(sub + 32, u);
        for (int s = 0; s < 8; ++s) u[s] = OrQ6High(u[s], sub + 288, s);
        __m512 a[2], b[2];
        for (int h = 0; h < 2; ++h) {
          const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sub + 16 * h));
          a[h] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(sc)));
          b[h] = _mm512_mul_ps(a[h], _mm512_set1_ps(32.0f));
        }
        ExpandBlock<true>(u, a[0], b[0], a[1], b[1], dst + (i * 8 + j) * 512);
      }
    }
    return;
  }
  const bool q4 = dtype == DType::kQ4_0P;
  const size_t block_bytes = q4 ? 288 : 544;
  const float offset = q4 ? 8.0f : 128.0f;
  const int64_t nb = k / 32;
  for (int64_t i = 0; i < nb * n_panels; ++i) {
    const uint8_t* blk = src + i * block_bytes;
    const __m512 a = HalfVector(blk);
    const __m512 b = _mm512_mul_ps(a, _mm512_set1_ps(offset));
    if (q4) {
      Nibbles(blk + 32, u);
    } else {
      for (int p = 0; p < 8; ++p) u[p] = _mm512_loadu_si512(blk + 32 + 64 * p);
    }
    ExpandBlock<true>(u, a, b, a, b, dst + i * 512);
  }
}

// Row `row` of a 16-token tile: block b's 32 values at b·512 + row·32.
void ActsToBf16(const float* x, int64_t k, uint16_t* tile, int row) {
  for (int64_t b = 0; b < k / 32; ++b) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + 32 * b + 16), _mm512_loadu_ps(x + 32 * b));
    _mm512_storeu_si512(tile + b * 512 + row * 32, reinterpret_cast<__m512i>(v));
  }
}

// Results of tile C (16 × 16 floats) into y, only the first `rows` rows
// (a macro: tile numbers are immediates).
#define LLEMMA_AMX_STORE(C, y, y_stride, rows)                                 \
  do {                                                                          \
    if ((rows) == 16) {                                                         \
      _tile_stored(C, (y), (y_stride) * 4);                                     \
    } else {                                                                    \
      alignas(64) float buf[256];                                               \
      _tile_stored(C, buf, 64);                                                 \
      for (int r = 0; r < (rows); ++r) std::memcpy((y) + r * (y_stride), buf + 16 * r, 64); \
    }                                                                           \
  } while (0)

// In-register transpose of 16 × 16 dwords: out[i] lane n = r[n] lane i.
inline void Transpose16(const __m512i* r, __m512i* out) {
  __m512i t[16], u[16];
  for (int k = 0; k < 8; ++k) {
    t[2 * k] = _mm512_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm512_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
  }
  // u[4c + m]: 128-bit lane L holds column 4L + c of rows 4m..4m+3.
  for (int m = 0; m < 4; ++m) {
    u[m] = _mm512_unpacklo_epi64(t[4 * m], t[4 * m + 2]);
    u[4 + m] = _mm512_unpackhi_epi64(t[4 * m], t[4 * m + 2]);
    u[8 + m] = _mm512_unpacklo_epi64(t[4 * m + 1], t[4 * m + 3]);
    u[12 + m] = _mm512_unpackhi_epi64(t[4 * m + 1], t[4 * m + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    const __m512i* v = u + 4 * c;
    const __m512i p0 = _mm512_shuffle_i32x4(v[0], v[1], 0x44), p1 = _mm512_shuffle_i32x4(v[0], v[1], 0xEE);
    const __m512i p2 = _mm512_shuffle_i32x4(v[2], v[3], 0x44), p3 = _mm512_shuffle_i32x4(v[2], v[3], 0xEE);
    out[c] = _mm512_shuffle_i32x4(p0, p2, 0x88);
    out[4 + c] = _mm512_shuffle_i32x4(p0, p2, 0xDD);
    out[8 + c] = _mm512_shuffle_i32x4(p1, p3, 0x88);
    out[12 + c] = _mm512_shuffle_i32x4(p1, p3, 0xDD);
  }
}

// 16-row bands of an F16 / BF16 matrix in tile order (as panels_to_bf16
// writes). A row's 32 bf16 of a block are 16 column pairs, so the tile
// block is their transpose. F16 values are split as hi + lo, both bf16
// (exact for every f16 but subnormals below bf16's reach).
bool RowsToBf16(DType dtype, const void* rows, size_t row_bytes, int64_t k, int n_bands, uint16_t* hi,
                uint16_t* lo) {
  const uint8_t* src = static_cast<const uint8_t*>(rows);
  const int64_t nb = k / 32;
  __m512i any_lo = _mm512_setzero_si512();
  __m512i rh[16], rl[16], out[16];
  for (int p = 0; p < n_bands; ++p) {
    for (int64_t b = 0; b < nb; ++b) {
      for (int n = 0; n < 16; ++n) {
        const uint8_t* row = src + (16 * p + n) * row_bytes + b * 64;
        if (dtype == DType::kBF16) {
          rh[n] = _mm512_loadu_si512(row);
          continue;
        }
        const __m512 f0 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row)));
        const __m512 f1 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 32)));
        const __m256i h0 = reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(f0));
        const __m256i h1 = reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(f1));
        rh[n] = _mm512_inserti64x4(_mm512_castsi256_si512(h0), h1, 1);
        const __m512 back0 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h0), 16));
        const __m512 back1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h1), 16));
        const __m256i l0 = reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_sub_ps(f0, back0)));
        const __m256i l1 = reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_sub_ps(f1, back1)));
        rl[n] = _mm512_inserti64x4(_mm512_castsi256_si512(l0), l1, 1);
        // ±0 both count as zero.
        any_lo = _mm512_or_si512(any_lo, _mm512_and_si512(rl[n], _mm512_set1_epi16(0x7FFF)));
      }
      const size_t at = (static_cast<size_t>(p) * nb + b) * 512;
      Transpose16(rh, out);
      for (int i = 0; i < 16; ++i) _mm512_storeu_si512(hi + at + 32 * i, out[i]);
      if (dtype == DType::kF16) {
        Transpose16(rl, out);
        for (int i = 0; i < 16; ++i) _mm512_storeu_si512(lo + at + 32 * i, out[i]);
      }
    }
  }
  return _mm512_test_epi64_mask(any_lo, any_lo) != 0;
}

inline void Prefetch(const uint16_t* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }

// NT token tiles (x, tile_stride elements apart) × NP panels (w,
// panel_stride elements apart) over nb blocks of 32 columns; both operands
// are 1 KiB per block, so every tile load reads 16 consecutive lines.
template <int NT, int NP, bool kLo>
void TileBlock(const uint16_t* x, int64_t tile_stride, const uint16_t* w, const uint16_t* w_lo,
               int64_t panel_stride, int64_t nb, float* y, int64_t y_stride, int rows0, int rows1) {
  _tile_zero(0);
  if constexpr (NP == 2) _tile_zero(1);
  if constexpr (NT == 2) _tile_zero(2);
  if constexpr (NT == 2 && NP == 2) _tile_zero(3);
  for (int64_t b = 0; b < nb; ++b) {
    // The next block's lines, into L1 while this block multiplies (the
    // tile loads otherwise wait on L2). One block past the end is harmless.
    for (int i = 0; i < 16; ++i) {
      Prefetch(w + (b + 1) * 512 + 32 * i);
      Prefetch(x + (b + 1) * 512 + 32 * i);
      if constexpr (NP == 2) Prefetch(w + panel_stride + (b + 1) * 512 + 32 * i);
      if constexpr (NT == 2) Prefetch(x + tile_stride + (b + 1) * 512 + 32 * i);
      if constexpr (kLo) {
        Prefetch(w_lo + (b + 1) * 512 + 32 * i);
        if constexpr (NP == 2) Prefetch(w_lo + panel_stride + (b + 1) * 512 + 32 * i);
      }
    }
    // One weight term (w, then w_lo where F16 needs it) against the token
    // tiles, which the first term loads.
    auto term = [&](const uint16_t* wt, bool first) __attribute__((always_inline)) {
      _tile_loadd(6, wt + b * 512, 64);
      if (first) _tile_loadd(4, x + b * 512, 64);
      _tile_dpbf16ps(0, 4, 6);
      if constexpr (NP == 2) {
        _tile_loadd(7, wt + panel_stride + b * 512, 64);
        _tile_dpbf16ps(1, 4, 7);
      }
      if constexpr (NT == 2) {
        if (first) _tile_loadd(5, x + tile_stride + b * 512, 64);
        _tile_dpbf16ps(2, 5, 6);
        if constexpr (NP == 2) _tile_dpbf16ps(3, 5, 7);
      }
    };
    term(w, true);
    if constexpr (kLo) term(w_lo, false);
  }
  LLEMMA_AMX_STORE(0, y, y_stride, rows0);
  if constexpr (NP == 2) LLEMMA_AMX_STORE(1, y + 16, y_stride, rows0);
  if constexpr (NT == 2) LLEMMA_AMX_STORE(2, y + 16 * y_stride, y_stride, rows1);
  if constexpr (NT == 2 && NP == 2) LLEMMA_AMX_STORE(3, y + 16 * y_stride + 16, y_stride, rows1);
}

#undef LLEMMA_AMX_STORE

template <bool kLo>
void GemmBf16Impl(const uint16_t* w, const uint16_t* w_lo, int n_panels, const uint16_t* x, int64_t n_tok,
                  int64_t k, float* y, int64_t y_stride) {
  ConfigureBf16();
  const int64_t nb = k / 32, panel_stride = nb * 512;
  for (int64_t t = 0; t < n_tok; t += 32) {
    const int rows0 = static_cast<int>(std::min<int64_t>(16, n_tok - t));
    const int rows1 = static_cast<int>(std::clamp<int64_t>(n_tok - t - 16, 0, 16));
    const uint16_t* xt = x + t * k;  // tile t/16
    float* yt = y + t * y_stride;
    for (int p = 0; p < n_panels; p += 2) {
      const int64_t o = p * panel_stride;
      const uint16_t* wl = kLo ? w_lo + o : nullptr;
      float* yp = yt + 16 * p;
      if (p + 2 <= n_panels) {
        if (rows1 > 0) TileBlock<2, 2, kLo>(xt, 16 * k, w + o, wl, panel_stride, nb, yp, y_stride, rows0, rows1);
        else TileBlock<1, 2, kLo>(xt, 16 * k, w + o, wl, panel_stride, nb, yp, y_stride, rows0, 0);
      } else {
        if (rows1 > 0) TileBlock<2, 1, kLo>(xt, 16 * k, w + o, wl, panel_stride, nb, yp, y_stride, rows0, rows1);
        else TileBlock<1, 1, kLo>(xt, 16 * k, w + o, wl, panel_stride, nb, yp, y_stride, rows0, 0);
      }
    }
  }
}

void GemmBf16(const uint16_t* w, const uint16_t* w_lo, int n_panels, const uint16_t* x, int64_t n_tok, int64_t k,
              float* y, int64_t y_stride) {
  if (w_lo != nullptr) return GemmBf16Impl<true>(w, w_lo, n_panels, x, n_tok, k, y, y_stride);
  GemmBf16Impl<false>(w, nullptr, n_panels, x, n_tok, k, y, y_stride);
}

// The same product on AVX512-BF16 without tiles (Zen 4, Cooper Lake):
// lanes are the 16 rows of a panel. Per column pair i of a block, row i of
// the panel's tile order (16 rows × 2 bf16) meets each token's pair,
// broadcast, in one vdpbf16ps: two multiply-adds per lane, twice the f32
// FMA rate. NT tokens (within one 16-token tile) × NP panels per pass.
template <int NT, int NP, bool kLo>
void DpBlock(const uint16_t* x, const uint16_t* w, const uint16_t* w_lo, int64_t panel_stride, int64_t nb, float* y,
             int64_t y_stride) {
  __m512 acc[NP][NT];
  for (int p = 0; p < NP; ++p)
    for (int t = 0; t < NT; ++t) acc[p][t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint16_t* xb = x + b * 512;
    for (int i = 0; i < 16; ++i) {
      __m512bh wi[NP], li[NP];
      for (int p = 0; p < NP; ++p) {
        wi[p] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(w + p * panel_stride + b * 512 + 32 * i));
        if constexpr (kLo)
          li[p] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(w_lo + p * panel_stride + b * 512 + 32 * i));
      }
      for (int t = 0; t < NT; ++t) {
        int32_t pair;
        std::memcpy(&pair, xb + 32 * t + 2 * i, 4);
        const __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi32(pair));
        for (int p = 0; p < NP; ++p) {
          acc[p][t] = _mm512_dpbf16_ps(acc[p][t], wi[p], a);
          if constexpr (kLo) acc[p][t] = _mm512_dpbf16_ps(acc[p][t], li[p], a);
        }
      }
    }
  }
  for (int p = 0; p < NP; ++p)
    for (int t = 0; t < NT; ++t) _mm512_storeu_ps(y + t * y_stride + 16 * p, acc[p][t]);
}

// Tokens of one 16-token tile in passes of 8, 4, 2, 1.
template <int NP, bool kLo>
void DpPanels(const uint16_t* xt, int n, const uint16_t* w, const uint16_t* w_lo, int64_t panel_stride, int64_t nb,
              float* y, int64_t y_stride) {
  int t = 0;
  for (; t + 8 <= n; t += 8) DpBlock<8, NP, kLo>(xt + 32 * t, w, w_lo, panel_stride, nb, y + t * y_stride, y_stride);
  if (t + 4 <= n) DpBlock<4, NP, kLo>(xt + 32 * t, w, w_lo, panel_stride, nb, y + t * y_stride, y_stride), t += 4;
  if (t + 2 <= n) DpBlock<2, NP, kLo>(xt + 32 * t, w, w_lo, panel_stride, nb, y + t * y_stride, y_stride), t += 2;
  if (t < n) DpBlock<1, NP, kLo>(xt + 32 * t, w, w_lo, panel_stride, nb, y + t * y_stride, y_stride);
}

template <bool kLo>
void GemmBf16DpImpl(const uint16_t* w, const uint16_t* w_lo, int n_panels, const uint16_t* x, int64_t n_tok, int64_t k,
                    float* y, int64_t y_stride) {
  const int64_t nb = k / 32, panel_stride = nb * 512;
  for (int p = 0; p < n_panels; p += 2) {
    const int64_t o = p * panel_stride;
    const uint16_t* wl = kLo ? w_lo + o : nullptr;
    for (int64_t t = 0; t < n_tok; t += 16) {
      const int n = static_cast<int>(std::min<int64_t>(16, n_tok - t));
      float* yp = y + t * y_stride + 16 * p;
      if (p + 2 <= n_panels) DpPanels<2, kLo>(x + t * k, n, w + o, wl, panel_stride, nb, yp, y_stride);
      else DpPanels<1, kLo>(x + t * k, n, w + o, wl, panel_stride, nb, yp, y_stride);
    }
  }
}

void GemmBf16Dp(const uint16_t* w, const uint16_t* w_lo, int n_panels, const uint16_t* x, int64_t n_tok, int64_t k,
                float* y, int64_t y_stride) {
  if (w_lo != nullptr) return GemmBf16DpImpl<true>(w, w_lo, n_panels, x, n_tok, k, y, y_stride);
  GemmBf16DpImpl<false>(w, nullptr, n_panels, x, n_tok, k, y, y_stride);
}

// CPUID says AMX-TILE and AMX-INT8, the OS saves the tile state (XCR0 bits
// 17 and 18), and Linux lets this process use it.
bool AmxUsable() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false;  // OSXSAVE
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  if (!(d & (1u << 24)) || !(d & (1u << 25))) return false;
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & (3u << 17)) != (3u << 17)) return false;
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

// AMX-BF16 and AVX512-BF16 (for the conversions) on top of AmxUsable().
bool AmxBf16Usable() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 22))) return false;
  return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5));
}

}  // namespace
}  // namespace amx

void AddBf16DotRoute(Kernels& t) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512bf16")) return;
  t.gemm_bf16 = amx::GemmBf16Dp;
  t.acts_to_bf16 = amx::ActsToBf16;
  t.rows_to_bf16 = amx::RowsToBf16;
}

const Kernels* AmxKernels() {
  static const Kernels* table = []() -> const Kernels* {
    const Kernels* base = Avx512Kernels();
    if (base == nullptr || !amx::AmxUsable()) return nullptr;
    static Kernels t = *base;
    t.name = "amx";
    t.gemm_q8_0p_16 = amx::GemmQ8_0PAmx;
    t.gemm_q4_0p_16 = amx::GemmQ4_0PAmx;
    t.gemm_q4_kp_16 = amx::GemmQ4_KPAmx;
    t.gemm_q5_kp_16 = amx::GemmQ5_KPAmx;
    t.gemm_q6_kp_16 = amx::GemmQ6_KPAmx;
    if (amx::AmxBf16Usable()) {
      t.panels_to_bf16 = amx::PanelsToBf16;
      t.gemm_bf16 = amx::GemmBf16;
      t.acts_to_bf16 = amx::ActsToBf16;
      t.rows_to_bf16 = amx::RowsToBf16;
    }
    return &t;
  }();
  return table;
}

}  // namespace llemma::cpu::internal
