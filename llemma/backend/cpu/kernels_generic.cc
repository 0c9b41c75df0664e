#include "llemma/backend/cpu/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "llemma/backend/cpu/quants.h"
#include "llemma/core/check.h"
#include "llemma/core/half.h"

#include <cstdlib>
#include <string_view>

#if defined(LLEMMA_HAVE_NEON_KERNELS)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace llemma::cpu::internal {
namespace generic {
#include "llemma/backend/cpu/kernels_impl.inc"
constexpr Kernels kTable = LLEMMA_KERNEL_TABLE("generic");
}  // namespace generic

const Kernels& GenericKernels() { return generic::kTable; }

#if !defined(LLEMMA_HAVE_X86_KERNELS)
const Kernels* Avx2Kernels() { return nullptr; }
const Kernels* Avx512Kernels() { return nullptr; }
PanelGemm Avx512Q3KPanelGemm(bool) { return nullptr; }
const Kernels* AmxKernels() { return nullptr; }
#endif
#if !defined(LLEMMA_HAVE_NEON_KERNELS)
const Kernels* NeonKernels() { return nullptr; }
#endif

void InterleaveActs(const float* x, int64_t x_stride, int nt, int64_t k, float* xi) {
  for (int64_t c = 0; c < k; c += 16)
    for (int t = 0; t < nt; ++t, xi += 16) std::memcpy(xi, x + t * x_stride + c, 16 * sizeof(float));
}

PanelGemm PanelGemmOf(const Kernels& k, DType panel, bool wide) {
  switch (panel) {
    case DType::kQ8_0P: return wide ? k.gemm_q8_0p_16 : k.gemm_q8_0p;
    case DType::kQ4_0P: return wide ? k.gemm_q4_0p_16 : k.gemm_q4_0p;
    case DType::kQ4_KP: return wide ? k.gemm_q4_kp_16 : k.gemm_q4_kp;
    case DType::kQ5_KP: return wide ? k.gemm_q5_kp_16 : k.gemm_q5_kp;
    case DType::kQ6_KP: return wide ? k.gemm_q6_kp_16 : k.gemm_q6_kp;
    case DType::kQ2_KP: return wide ? nullptr : k.gemm_q2_kp;  // no tile-unit kernels
    case DType::kQ3_KP: return wide ? nullptr : k.gemm_q3_kp;
    default: LLEMMA_CHECK(false) << DTypeName(panel) << " is not a panel type";
  }
  return nullptr;
}

std::vector<const Kernels*> SupportedKernels() {
  std::vector<const Kernels*> out = {&GenericKernels()};
#if defined(LLEMMA_HAVE_X86_KERNELS)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vnni");
  if (avx2) out.push_back(Avx2Kernels());
  if (avx512) out.push_back(Avx512Kernels());
  if (avx512 && AmxKernels() != nullptr) out.push_back(AmxKernels());
#endif
#if defined(LLEMMA_HAVE_NEON_KERNELS)
  // The NEON table is built for ARMv8.2 with the dot-product extension
  // (sdot), which Cortex-A76 / Neoverse N1 / Apple M1 and later have.
  if ((getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0) out.push_back(NeonKernels());
#endif
  return out;
}

namespace {
const Kernels& Choose() {
  const char* cap = std::getenv("LLEMMA_ISA");
  const std::string_view want = cap ? cap : "";
  const std::vector<const Kernels*> tables = SupportedKernels();
  // A cap picks the best supported table at or below its tier:
  // generic < avx2, neon < avx512 < amx. An unknown name caps nothing.
  auto rank = [](std::string_view name) {
    if (name == "generic") return 0;
    if (name == "avx2" || name == "neon") return 1;
    if (name == "avx512") return 2;
    return 3;
  };
  const int cap_rank = want.empty() ? 3 : rank(want);
  for (auto it = tables.rbegin(); it != tables.rend(); ++it)
    if (rank((*it)->name) <= cap_rank) return **it;
  return GenericKernels();
}
}  // namespace

const Kernels& ActiveKernels() {
  static const Kernels& k = Choose();
  return k;
}

}  // namespace llemma::cpu::internal
