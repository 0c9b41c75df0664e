#include "llemma/core/dtype.h"

#include <cstring>

#include "llemma/core/half.h"

namespace llemma {

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
    case DType::kQ8_0: return "q8_0";
    case DType::kQ4_0: return "q4_0";
    case DType::kQ4_K: return "q4_k";
    case DType::kQ5_K: return "q5_k";
    case DType::kQ6_K: return "q6_k";
    case DType::kQ4_0P: return "q4_0";  // the in-memory panel form of q4_0
    case DType::kQ8_0P: return "q8_0";
    case DType::kQ4_KP: return "q4_k";
    case DType::kQ5_KP: return "q5_k";
    case DType::kQ6_KP: return "q6_k";
    case DType::kQ2_K:
    case DType::kQ2_KP: return "q2_k";
    case DType::kQ3_K:
    case DType::kQ3_KP: return "q3_k";
  }
  return "?";
}

StatusOr<DType> ParseDType(std::string_view name) {
  if (name == "f32" || name == "float32" || name == "fp32") return DType::kF32;
  if (name == "f16" || name == "float16" || name == "fp16") return DType::kF16;
  if (name == "bf16" || name == "bfloat16") return DType::kBF16;
  if (name == "q8_0") return DType::kQ8_0;
  if (name == "q4_0") return DType::kQ4_0;
  if (name == "q4_k") return DType::kQ4_K;
  if (name == "q5_k") return DType::kQ5_K;
  if (name == "q6_k") return DType::kQ6_K;
  return InvalidArgumentError("unknown dtype '" + std::string(name) +
                              "': use one of f32, bf16, f16, q8_0, q4_0, q4_k, q5_k, q6_k");
}

namespace {
template <typename Load, typename Store>
void ConvertLoop(const void* src, void* dst, size_t n, Load load, Store store) {
  for (size_t i = 0; i < n; ++i) store(dst, i, load(src, i));
}
float LoadF32(const void* p, size_t i) { return static_cast<const float*>(p)[i]; }
float LoadF16(const void* p, size_t i) { return F16ToF32(static_cast<const uint16_t*>(p)[i]); }
float LoadBf16(const void* p, size_t i) { return Bf16ToF32(static_cast<const uint16_t*>(p)[i]); }
void StoreF32(void* p, size_t i, float v) { static_cast<float*>(p)[i] = v; }
void StoreF16(void* p, size_t i, float v) { static_cast<uint16_t*>(p)[i] = F32ToF16(v); }
void StoreBf16(void* p, size_t i, float v) { static_cast<uint16_t*>(p)[i] = F32ToBf16(v); }
}  // namespace

void ConvertElements(DType from, const void* src, DType to, void* dst, size_t n) {
  if (from == to) {
    std::memcpy(dst, src, n * DTypeSize(from));
    return;
  }
  auto load = from == DType::kF32 ? LoadF32 : from == DType::kF16 ? LoadF16 : LoadBf16;
  auto store = to == DType::kF32 ? StoreF32 : to == DType::kF16 ? StoreF16 : StoreBf16;
  ConvertLoop(src, dst, n, load, store);
}

}  // namespace llemma
