// The kernels compiled for AVX2 (see CMakeLists.txt for the flags).
#include "llemma/backend/cpu/kernels.h"

#include <algorithm>
#include <cstring>

#include "llemma/core/half.h"

namespace llemma::cpu::internal {
namespace avx2 {
#include "llemma/backend/cpu/kernels_impl.inc"
constexpr Kernels kTable = LLEMMA_KERNEL_TABLE("avx2");
}  // namespace avx2

const Kernels* Avx2Kernels() { return &avx2::kTable; }

}  // namespace llemma::cpu::internal
