#include "llemma/backend/cpu/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "llemma/backend/cpu/quants.h"
#include "llemma/core/half.h"

#include <cstdlib>
#include <string_view>

namespace llemma::cpu::internal {
namespace generic {
#include "llemma/backend/cpu/kernels_impl.inc"
constexpr Kernels kTable = LLEMMA_KERNEL_TABLE("generic");
}  // namespace generic

const Kernels& GenericKernels() { return generic::kTable; }

#if !defined(LLEMMA_HAVE_X86_KERNELS)
const Kernels* Avx2Kernels() { return nullptr; }
const Kernels* Avx512Kernels() { return nullptr; }
const Kernels* AmxKernels() { return nullptr; }
#endif

namespace {
const Kernels& Choose() {
  const char* cap = std::getenv("LLEMMA_ISA");
  const std::string_view want = cap ? cap : "";
#if defined(LLEMMA_HAVE_X86_KERNELS)
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
                      __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  const bool capped = want == "generic" || want == "avx2" || want == "avx512";
  if (avx512 && !capped && AmxKernels() != nullptr) return *AmxKernels();
  if (avx512 && want != "generic" && want != "avx2") return *Avx512Kernels();
  if (avx2 && want != "generic") return *Avx2Kernels();
#endif
  (void)want;  // only the x86 build has kernel sets to choose between
  return GenericKernels();
}
}  // namespace

const Kernels& ActiveKernels() {
  static const Kernels& k = Choose();
  return k;
}

}  // namespace llemma::cpu::internal
