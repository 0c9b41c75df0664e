// Element types of weights and activations, with names as used on the command
// line (`--dtype bf16`) and in safetensors headers ("BF16").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "llemma/core/status.h"

namespace llemma {

// Float types, and the block-quantized types of GGUF files: a row of n
// elements is n / block_size blocks, each holding its own scale.
//   Q8_0: 32 elements = f16 scale d + 32 × int8 q;    x = d · q
//   Q4_0: 32 elements = f16 scale d + 16 bytes of nibbles (low nibbles are
//         elements 0..15, high nibbles 16..31);       x = d · (q − 8)
//   Q4_K, Q5_K, Q6_K: 256-element super-blocks with per-32 (Q4_K, Q5_K) or
//         per-16 (Q6_K) scales, as in GGUF files.
//   Q2_K, Q3_K: 256-element super-blocks of 2- and 3-bit values with per-16
//         scales (and Q2_K per-16 minimums), as in GGUF files.
//   Q4_0P, Q8_0P: Q4_0 / Q8_0 matrices repacked in panels of 16 rows, for the
//         integer GEMM kernels (in memory only, never in files; same bytes per
//         element as the plain form). A panel holds, per 32-column block, the
//         16 rows' f16 scales and then their values interleaved 4 columns at
//         a time, so one 64-byte load feeds 16 rows. Rows are not contiguous:
//         read single rows with cpu::DequantizeMatrixRow. Layout details in
//         backend/cpu/quants.h.
//   Q4_KP, Q5_KP, Q6_KP: Q4_K / Q5_K / Q6_K in panels of 16 rows (148, 180
//         and 210 bytes per 256 elements per row).
//   Q2_KP, Q3_KP: Q2_K / Q3_K in panels of 16 rows (84 and 114 bytes per
//         256 elements per row).
enum class DType : uint8_t {
  kF32, kF16, kBF16, kQ8_0, kQ4_0, kQ4_K, kQ5_K, kQ6_K, kQ4_0P, kQ8_0P, kQ4_KP, kQ5_KP, kQ6_KP,
  kQ2_K, kQ3_K, kQ2_KP, kQ3_KP
};

// K-quant panel layouts.
inline bool IsKPanel(DType t) {
  return t == DType::kQ4_KP || t == DType::kQ5_KP || t == DType::kQ6_KP || t == DType::kQ2_KP || t == DType::kQ3_KP;
}
// Panel layouts (Q4_0P, Q8_0P and the K panels): rows come in groups of 16.
inline bool IsPanel(DType t) { return t == DType::kQ4_0P || t == DType::kQ8_0P || IsKPanel(t); }
constexpr int64_t kPanelRows = 16;

inline bool IsQuantized(DType t) { return t != DType::kF32 && t != DType::kF16 && t != DType::kBF16; }
inline bool IsKQuant(DType t) {
  return t == DType::kQ4_K || t == DType::kQ5_K || t == DType::kQ6_K || t == DType::kQ2_K || t == DType::kQ3_K ||
         IsKPanel(t);
}
// Elements per block (1 for float types).
inline int64_t DTypeBlockSize(DType t) {
  return IsKQuant(t) ? 256 : IsQuantized(t) ? 32 : 1;
}
// Bytes per block (per element for float types).
inline size_t DTypeBlockBytes(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF16:
    case DType::kBF16: return 2;
    case DType::kQ8_0: return 34;
    case DType::kQ4_0: return 18;
    case DType::kQ4_K: return 144;
    case DType::kQ5_K: return 176;
    case DType::kQ6_K: return 210;
    case DType::kQ4_0P: return 18;
    case DType::kQ8_0P: return 34;
    case DType::kQ4_KP: return 148;
    case DType::kQ5_KP: return 180;
    case DType::kQ6_KP: return 210;
    case DType::kQ2_K: return 84;
    case DType::kQ3_K: return 110;
    case DType::kQ2_KP: return 84;
    case DType::kQ3_KP: return 114;
  }
  return 0;
}
// Element size of a float type. Not meaningful for quantized types.
inline size_t DTypeSize(DType t) { return DTypeBlockBytes(t); }
// Bytes of a row of n elements (n must be a multiple of the block size); for
// panel types the average per row.
inline size_t RowBytes(DType t, int64_t n) {
  return static_cast<size_t>(n / DTypeBlockSize(t)) * DTypeBlockBytes(t);
}

// "f32", "f16", "bf16", "q8_0", "q4_0".
const char* DTypeName(DType t);

// Parses a name as printed by DTypeName (also "float32", "float16", "bfloat16").
StatusOr<DType> ParseDType(std::string_view name);

// Converts n elements between float types (f32/f16/bf16).
void ConvertElements(DType from, const void* src, DType to, void* dst, size_t n);

}  // namespace llemma
