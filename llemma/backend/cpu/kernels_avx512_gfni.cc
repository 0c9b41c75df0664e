// The Q3_KP panel GEMM for AVX-512 CPUs that also have GFNI (Ice Lake,
// Zen 4 and later), compiled apart so that no other kernel can pick up a
// GFNI instruction; kernels_avx512.cc calls it where the CPU reports GFNI.
#include "llemma/backend/cpu/panel_tiles_avx512.h"

namespace llemma::cpu::internal::avx512 {

void GemmQ3_KPGfni(const void* panel, const uint8_t* acts, int64_t k, int n, int n_panels, float* y,
                   int64_t y_stride, bool prefetch_next) {
  GemmQ3K<true>(panel, acts, k, n, n_panels, y, y_stride, prefetch_next);
}

}  // namespace llemma::cpu::internal::avx512
