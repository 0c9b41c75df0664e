#include "llemma/backend/cpu/quants.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "llemma/core/check.h"
#include "llemma/core/half.h"

namespace llemma::cpu {

namespace {

void QuantizeQ8_0(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* xb = x + b * kQK;
    float amax = 0;
    for (int i = 0; i < kQK; ++i) amax = std::max(amax, std::fabs(xb[i]));
    const float d = amax / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[b].d = F32ToF16(d);
    for (int i = 0; i < kQK; ++i) y[b].qs[i] = static_cast<int8_t>(std::lround(xb[i] * id));
  }
}

// The scale maps the element of largest magnitude to -8 exactly, so the
// asymmetric 4-bit range [-8, 7] is used fully on that side.
void QuantizeQ4_0(const float* x, BlockQ4_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* xb = x + b * kQK;
    float amax = 0, max = 0;
    for (int i = 0; i < kQK; ++i) {
      if (std::fabs(xb[i]) > amax) {
        amax = std::fabs(xb[i]);
        max = xb[i];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[b].d = F32ToF16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = std::min(15, static_cast<int>(xb[j] * id + 8.5f));
      const int hi = std::min(15, static_cast<int>(xb[j + kQK / 2] * id + 8.5f));
      y[b].qs[j] = static_cast<uint8_t>(std::max(0, lo) | (std::max(0, hi) << 4));
    }
  }
}

}  // namespace

void QuantizeRow(DType type, const float* x, void* dst, int64_t n) {
  LLEMMA_CHECK_EQ(n % DTypeBlockSize(type), 0);
  switch (type) {
    case DType::kQ8_0: return QuantizeQ8_0(x, static_cast<BlockQ8_0*>(dst), n);
    case DType::kQ4_0: return QuantizeQ4_0(x, static_cast<BlockQ4_0*>(dst), n);
    default: return ConvertElements(DType::kF32, x, type, dst, n);
  }
}

void DequantizeRow(DType type, const void* src, float* dst, int64_t n) {
  LLEMMA_CHECK_EQ(n % DTypeBlockSize(type), 0);
  if (type == DType::kQ8_0) {
    const BlockQ8_0* x = static_cast<const BlockQ8_0*>(src);
    for (int64_t b = 0; b < n / kQK; ++b) {
      const float d = F16ToF32(x[b].d);
      for (int i = 0; i < kQK; ++i) dst[b * kQK + i] = d * x[b].qs[i];
    }
  } else if (type == DType::kQ4_0) {
    const BlockQ4_0* x = static_cast<const BlockQ4_0*>(src);
    for (int64_t b = 0; b < n / kQK; ++b) {
      const float d = F16ToF32(x[b].d);
      for (int j = 0; j < kQK / 2; ++j) {
        dst[b * kQK + j] = d * ((x[b].qs[j] & 0x0F) - 8);
        dst[b * kQK + j + kQK / 2] = d * ((x[b].qs[j] >> 4) - 8);
      }
    }
  } else {
    ConvertElements(type, src, DType::kF32, dst, n);
  }
}

namespace ref {

float VecDotQ8_0(const void* w, const BlockQ8_0* x, int64_t n) {
  const BlockQ8_0* wb = static_cast<const BlockQ8_0*>(w);
  float acc = 0;
  for (int64_t b = 0; b < n / kQK; ++b) {
    int32_t s = 0;
    for (int i = 0; i < kQK; ++i) s += wb[b].qs[i] * x[b].qs[i];
    acc += F16ToF32(wb[b].d) * F16ToF32(x[b].d) * static_cast<float>(s);
  }
  return acc;
}

float VecDotQ4_0(const void* w, const BlockQ8_0* x, int64_t n) {
  const BlockQ4_0* wb = static_cast<const BlockQ4_0*>(w);
  float acc = 0;
  for (int64_t b = 0; b < n / kQK; ++b) {
    int32_t s = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      s += ((wb[b].qs[j] & 0x0F) - 8) * x[b].qs[j];
      s += ((wb[b].qs[j] >> 4) - 8) * x[b].qs[j + kQK / 2];
    }
    acc += F16ToF32(wb[b].d) * F16ToF32(x[b].d) * static_cast<float>(s);
  }
  return acc;
}

}  // namespace ref

}  // namespace llemma::cpu
