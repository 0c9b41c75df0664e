// Element types of weights and activations, with names as used on the command
// line (`--dtype bf16`) and in safetensors headers ("BF16").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "llemma/core/status.h"

namespace llemma {

enum class DType : uint8_t { kF32, kF16, kBF16 };

inline size_t DTypeSize(DType t) { return t == DType::kF32 ? 4 : 2; }

// "f32", "f16", "bf16".
const char* DTypeName(DType t);

// Parses "f32" | "f16" | "bf16" (also "float32", "float16", "bfloat16").
StatusOr<DType> ParseDType(std::string_view name);

// Converts n elements from `src` (of type `from`) to `dst` (of type `to`).
void ConvertElements(DType from, const void* src, DType to, void* dst, size_t n);

}  // namespace llemma
