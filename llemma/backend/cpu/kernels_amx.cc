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
#include "llemma/backend/cpu/kernels.h"

#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

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

// Tiles: 0, 1 int32 results; 2, 3 activations; 4, 5 weights.
template <int N>
void Configure() {
  TileConfig c;
  for (int t : {0, 1}) c.rows[t] = N, c.colsb[t] = 64;
  for (int t : {2, 3}) c.rows[t] = N, c.colsb[t] = 32;
  for (int t : {4, 5}) c.rows[t] = 8, c.colsb[t] = 64;
  // The stores above must reach memory before LDTILECFG reads it; GCC 12
  // does not see that read and would drop them.
  __asm__ volatile("" : : "r"(&c) : "memory");
  _tile_loadconfig(&c);
}

template <bool kQ4>
inline const uint8_t* Weights(const uint8_t* blk, uint8_t* buf) {
  if constexpr (!kQ4) {
    return blk + 32;
  } else {
    // Byte vector p of a Q4_0P block: low nibbles are column group 2p, high
    // nibbles group 2p+1 (4 columns × 16 rows each).
    const __m512i mask = _mm512_set1_epi8(0x0F);
    for (int p = 0; p < 4; ++p) {
      const __m512i v = _mm512_loadu_si512(blk + 32 + 64 * p);
      _mm512_store_si512(buf + 128 * p, _mm512_and_si512(v, mask));
      _mm512_store_si512(buf + 128 * p + 64, _mm512_and_si512(_mm512_srli_epi16(v, 4), mask));
    }
    return buf;
  }
}

template <int N>
inline void Fold(const int32_t* c, const uint8_t* act_blk, const uint8_t* w_blk, __m512* f) {
  const float* dx = reinterpret_cast<const float*>(act_blk + 32 * N);
  const int32_t* off = reinterpret_cast<const int32_t*>(act_blk + 36 * N);
  const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w_blk)));
  for (int t = 0; t < N; ++t) {
    int32_t o;
    float d;
    std::memcpy(&o, off + t, 4);
    std::memcpy(&d, dx + t, 4);
    const __m512i acc = _mm512_add_epi32(_mm512_load_si512(c + 16 * t), _mm512_set1_epi32(o));
    f[t] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(d)), dw, f[t]);
  }
}

// One panel against an activation tile of N tokens.
template <bool kQ4, int N>
void Panel(const uint8_t* panel, const uint8_t* acts, int64_t nb, float* y, int64_t y_stride,
           const uint8_t* prefetch) {
  constexpr size_t kBlockBytes = kQ4 ? 288 : 544;
  constexpr size_t kActBytes = kActBlockBytes * N;
  alignas(64) int32_t c[2][16 * N];
  alignas(64) uint8_t wbuf[2][512];
  __m512 f[N];
  for (int t = 0; t < N; ++t) f[t] = _mm512_setzero_ps();
  auto blk = [&](int64_t b) { return panel + b * kBlockBytes; };
  auto act = [&](int64_t b) { return acts + b * kActBytes; };
  auto fetch = [&](int64_t b) {
    if (prefetch != nullptr)
      for (size_t o = 0; o < kBlockBytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(prefetch + b * kBlockBytes + o), _MM_HINT_T0);
  };
  // Tile numbers are immediates, hence the two spelled-out sets.
#define LLEMMA_AMX_ISSUE(C, A, B, b, slot)                   \
  do {                                                       \
    _tile_zero(C);                                           \
    _tile_loadd(A, act(b), 32);                              \
    _tile_loadd(B, Weights<kQ4>(blk(b), wbuf[slot]), 64);    \
    _tile_dpbsud(C, A, B);                                   \
  } while (0)
  LLEMMA_AMX_ISSUE(0, 2, 4, 0, 0);
  for (int64_t b = 0; b < nb; b += 2) {
    fetch(b);
    if (b + 1 < nb) LLEMMA_AMX_ISSUE(1, 3, 5, b + 1, 1);
    _tile_stored(0, c[0], 64);
    Fold<N>(c[0], act(b), blk(b), f);
    if (b + 2 < nb) LLEMMA_AMX_ISSUE(0, 2, 4, b + 2, 0);
    if (b + 1 < nb) {
      fetch(b + 1);
      _tile_stored(1, c[1], 64);
      Fold<N>(c[1], act(b + 1), blk(b + 1), f);
    }
  }
#undef LLEMMA_AMX_ISSUE
  for (int t = 0; t < N; ++t) _mm512_storeu_ps(y + t * y_stride, f[t]);
}

template <bool kQ4, int N>
void Panels(const uint8_t* p, const uint8_t* acts, int64_t k, int n_panels, float* y, int64_t y_stride,
            bool prefetch_next) {
  Configure<N>();
  const int64_t nb = k / 32;
  const size_t panel_bytes = nb * (kQ4 ? 288 : 544);
  for (int i = 0; i < n_panels; ++i) {
    const uint8_t* next = prefetch_next ? p + (n_panels + i) * panel_bytes : nullptr;
    Panel<kQ4, N>(p + i * panel_bytes, acts, nb, y + 16 * i, y_stride, next);
  }
}

template <bool kQ4>
void Gemm(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y, int64_t y_stride,
          bool prefetch_next) {
  const uint8_t* p = static_cast<const uint8_t*>(panel);
  switch (n) {
#define LLEMMA_AMX_CASE(N) \
  case N: return Panels<kQ4, N>(p, acts, k, n_panels, y, y_stride, prefetch_next);
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
  Gemm<false>(panel, acts, k, n, n_panels, y, y_stride, prefetch_next);
}
void GemmQ4_0PAmx(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                  int64_t y_stride, bool prefetch_next) {
  Gemm<true>(panel, acts, k, n, n_panels, y, y_stride, prefetch_next);
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

}  // namespace
}  // namespace amx

const Kernels* AmxKernels() {
  static const Kernels* table = []() -> const Kernels* {
    const Kernels* base = Avx512Kernels();
    if (base == nullptr || !amx::AmxUsable()) return nullptr;
    static Kernels t = *base;
    t.name = "amx";
    t.gemm_q8_0p_16 = amx::GemmQ8_0PAmx;
    t.gemm_q4_0p_16 = amx::GemmQ4_0PAmx;
    return &t;
  }();
  return table;
}

}  // namespace llemma::cpu::internal
