// Throughput of the quantized panel GEMM kernels, one thread, against a
// measured peak of the CPU's 8-bit dot-product instructions.
//
//   build/bin/gemm_bench [--cols K] [--rows N] [--kernels generic|avx2|avx512|amx]
//
// For each kernel set the CPU supports (generic, avx2, avx512) and each panel
// type (Q8_0, Q4_0, Q4_K): a prefill-shaped run (6-token tiles, weights in
// cache) and a decode-shaped run (1 token, weights streamed from memory); with
// AMX, the tile unit's 16-token GEMM with weights in cache and in memory.
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "llemma/backend/cpu/kernels.h"
#include "llemma/backend/cpu/quants.h"
#include "llemma/core/half.h"

namespace {

using llemma::DType;
using llemma::RowBytes;
namespace cpu = llemma::cpu;
namespace internal = llemma::cpu::internal;

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

#if defined(__x86_64__)
// GCC 12 misreports _mm512_reduce_add_epi32's internal temporaries.
#pragma GCC diagnostic ignored "-Wuninitialized"

// 24 independent accumulator chains of vpdpbusd (64 MACs each).
__attribute__((target("avx512f,avx512bw,avx512vnni"))) double PeakVnni() {
  __m512i acc[24];
  for (int i = 0; i < 24; ++i) acc[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(2);
  const long iters = 20000000;
  const auto t0 = std::chrono::steady_clock::now();
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) {
      acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
      asm volatile("" : "+v"(acc[i]));  // kept in a register, never folded
    }
  }
  const double s = Seconds(t0);
  int sink = 0;
  for (int i = 0; i < 24; ++i) sink += _mm512_reduce_add_epi32(acc[i]);
  if (sink == 42) std::puts("");
  return iters * 24.0 * 64 / s;
}

// vpmaddubsw + vpmaddwd + vpaddd per 32 MACs, 8 chains.
__attribute__((target("avx2"))) double PeakAvx2() {
  __m256i acc[8];
  for (int i = 0; i < 8; ++i) acc[i] = _mm256_set1_epi32(i);
  const __m256i a = _mm256_set1_epi8(1), b = _mm256_set1_epi8(2), ones = _mm256_set1_epi16(1);
  const long iters = 20000000;
  const auto t0 = std::chrono::steady_clock::now();
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      __m256i p = _mm256_maddubs_epi16(a, b);
      asm volatile("" : "+v"(p));  // the products are recomputed every time
      acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(p, ones));
      asm volatile("" : "+v"(acc[i]));
    }
  }
  const double s = Seconds(t0);
  int sink = 0;
  for (int i = 0; i < 8; ++i) sink += _mm256_extract_epi32(acc[i], 0);
  if (sink == 42) std::puts("");
  return iters * 8.0 * 32 / s;
}
#endif

struct Case {
  const char* name;
  DType plain;
  DType panel;
};

void Run(const internal::Kernels& k, const Case& c, int64_t K, int64_t N, int tokens, double peak) {
  std::mt19937 rng(1);
  std::normal_distribution<float> g(0.0f, 0.05f);
  std::vector<float> w(static_cast<size_t>(N * K)), x(static_cast<size_t>(tokens * K));
  for (auto& v : w) v = g(rng);
  for (auto& v : x) v = g(rng);
  const size_t plain_row = RowBytes(c.plain, K), panel_row = RowBytes(c.panel, K);
  std::vector<uint8_t> q(N * plain_row), panels(N * panel_row);
  if (c.plain == DType::kQ2_K || c.plain == DType::kQ3_K) {
    // read-only types: random blocks (any bits are valid) with small scales
    for (auto& b : q) b = static_cast<uint8_t>(rng());
    const size_t block = DTypeBlockBytes(c.plain);
    const size_t d_at = c.plain == DType::kQ2_K ? offsetof(cpu::BlockQ2_K, d) : offsetof(cpu::BlockQ3_K, d);
    const uint16_t d = llemma::F32ToF16(0.003f);
    for (size_t o = 0; o < q.size(); o += block) {
      std::memcpy(&q[o + d_at], &d, 2);
      if (c.plain == DType::kQ2_K) std::memcpy(&q[o + d_at + 2], &d, 2);
    }
  } else {
    for (int64_t r = 0; r < N; ++r) cpu::QuantizeRow(c.plain, w.data() + r * K, q.data() + r * plain_row, K);
  }
  cpu::RepackPanels(c.plain, q.data(), panels.data(), N, K);
  std::vector<uint8_t> tile(internal::ActTileBytes(K, tokens));
  for (int t = 0; t < tokens; ++t) k.quantize_acts(x.data() + t * K, K, c.plain == DType::kQ8_0 ? 128 : 8, tile.data(), tokens, t);
  const internal::PanelGemm gemm = internal::PanelGemmOf(k, c.panel, /*wide=*/tokens > internal::kActTile);
  std::vector<float> y(static_cast<size_t>(tokens * N));
  const size_t pair = 2 * panel_row * 16;
  double best = 1e30, total = 0;
  for (int rep = 0; rep < 5 || total < 0.5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t p = 0; p < N / 16; p += 2) {
      gemm(panels.data() + (p / 2) * pair, tile.data(), K, tokens, 2, y.data() + p * 16, N,
           tokens > 1 && p + 4 <= N / 16);  // as MatMul: decode leaves prefetch to the hardware
    }
    const double s = Seconds(t0);
    best = std::min(best, s);
    total += s;
  }
  const double macs = static_cast<double>(N) * K * tokens / best;
  std::printf("| %-7s | %-5s | %2d | %6.1f MiB | %7.1f | %5.1f%% | %6.1f |\n", k.name, c.name, tokens,
              N * panel_row / 1048576.0, macs / 1e9, peak > 0 ? 100.0 * macs / peak : 0.0,
              N * panel_row / best / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t K = 4096, N_cache = 512, N_mem = 32768;
  double peak_override = 0;  // G MAC/s per thread, e.g. from the vendor's figures
  std::string only;           // one kernel set's name, or every set the CPU supports
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--cols") K = std::atoll(argv[i + 1]);
    else if (a == "--rows") N_mem = std::atoll(argv[i + 1]);
    else if (a == "--peak") peak_override = std::atof(argv[i + 1]) * 1e9;
    else if (a == "--kernels") only = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: gemm_bench [--cols K] [--rows N] [--peak GMACS_PER_THREAD] [--kernels NAME]\n");
      return 2;
    }
  }
  if (K % 256 != 0 || N_mem % 32 != 0) {
    std::fprintf(stderr, "gemm_bench: --cols must be a multiple of 256 and --rows of 32\n");
    return 2;
  }
  const std::vector<const internal::Kernels*> tables = internal::SupportedKernels();
  double peak_avx2 = 0, peak_vnni = 0;
#if defined(__x86_64__)
  for (const internal::Kernels* k : tables) {
    if (std::string(k->name) == "avx2") peak_avx2 = PeakAvx2();
    if (std::string(k->name) == "avx512") peak_vnni = PeakVnni();
  }
#endif
  std::printf("int8 probe, 1 thread: vpdpbusd %.1f G MAC/s, vpmaddubsw+vpmaddwd %.1f G MAC/s\n", peak_vnni / 1e9,
              peak_avx2 / 1e9);
  if (peak_override > 0) {
    std::printf("'of peak' uses --peak %.1f G MAC/s for the vector kernels\n", peak_override / 1e9);
    peak_vnni = peak_avx2 = peak_override;
  } else {
    std::printf("'of peak' uses the probes; a probe is a lower bound where a dependent-chain loop cannot fill the "
                "ports, give --peak to use the vendor's figure\n");
  }
  std::printf("\n");
  std::printf("| kernels | type | tokens | weights | G MAC/s | of peak | weight GB/s |\n|---|---|---:|---:|---:|---:|---:|\n");
  const Case cases[] = {{"q8_0", DType::kQ8_0, DType::kQ8_0P},
                        {"q4_0", DType::kQ4_0, DType::kQ4_0P},
                        {"q4_k", DType::kQ4_K, DType::kQ4_KP},
                        {"q5_k", DType::kQ5_K, DType::kQ5_KP},
                        {"q6_k", DType::kQ6_K, DType::kQ6_KP},
                        {"q3_k", DType::kQ3_K, DType::kQ3_KP},
                        {"q2_k", DType::kQ2_K, DType::kQ2_KP}};
  for (const internal::Kernels* k : tables) {
    if (!only.empty() && only != k->name) continue;
    const double peak = std::string(k->name) == "avx512" ? peak_vnni : std::string(k->name) == "avx2" ? peak_avx2 : 0;
    for (const Case& c : cases) {
      if (std::string(k->name) == "amx") {
        if (internal::PanelGemmOf(*k, c.panel, /*wide=*/true) == nullptr) continue;  // no tile-unit kernel
        // the tile unit: 16-token tiles as prefill and batched decoding run
        // them (its other entries are the avx512 ones), weights in cache and
        // streamed from memory
        Run(*k, c, K, N_cache, internal::kWideActTile, peak_override);
        Run(*k, c, K, N_mem, internal::kWideActTile, peak_override);
        continue;
      }
      Run(*k, c, K, N_cache, internal::kActTile, peak);
      Run(*k, c, K, std::string(k->name) == "generic" ? N_cache : N_mem, 1, peak);
    }
  }
  return 0;
}
