#include "llemma/backend/cpu/quants.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

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

// Sub-block j's 6-bit scale and min from the 12 packed bytes of Q4_K/Q5_K:
// j < 4: low 6 bits of bytes j and j+4; j ≥ 4: a nibble of byte j+4 plus the
// top 2 bits of bytes j-4 (scale) and j (min).
void ScaleMinK4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

void DequantizeQ4_K(const BlockQ4_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = F16ToF32(x[b].d), dmin = F16ToF32(x[b].dmin);
    const uint8_t* q = x[b].qs;
    for (int j = 0; j < 8; j += 2) {  // 64 elements per step
      uint8_t sc, m;
      ScaleMinK4(j, x[b].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      ScaleMinK4(j + 1, x[b].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
      q += 32;
    }
  }
}

void DequantizeQ5_K(const BlockQ5_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = F16ToF32(x[b].d), dmin = F16ToF32(x[b].dmin);
    const uint8_t* ql = x[b].qs;
    const uint8_t* qh = x[b].qh;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < 8; j += 2) {
      uint8_t sc, m;
      ScaleMinK4(j, x[b].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      ScaleMinK4(j + 1, x[b].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
      ql += 32;
      u1 <<= 2;
      u2 <<= 2;
    }
  }
}

void DequantizeQ6_K(const BlockQ6_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = F16ToF32(x[b].d);
    const uint8_t* ql = x[b].ql;
    const uint8_t* qh = x[b].qh;
    const int8_t* sc = x[b].scales;
    for (int half = 0; half < 2; ++half) {  // 128 elements each
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = static_cast<int>((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = static_cast<int>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = static_cast<int>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = static_cast<int>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

}  // namespace

void RepackPanels(DType plain, const void* src, void* dst, int64_t rows, int64_t cols) {
  LLEMMA_CHECK(plain == DType::kQ4_0 || plain == DType::kQ8_0) << DTypeName(plain);
  LLEMMA_CHECK(rows % kPanelRows == 0 && cols % kQK == 0) << rows << "x" << cols;
  const bool q4 = plain == DType::kQ4_0;
  const size_t row_bytes = RowBytes(plain, cols), block_bytes = q4 ? kQ4PanelBlockBytes : kQ8PanelBlockBytes;
  const int64_t nb = cols / kQK;
  for (int64_t p = 0; p < rows / kPanelRows; ++p) {
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* out = static_cast<uint8_t*>(dst) + (p * nb + b) * block_bytes;
      for (int r = 0; r < kPanelRows; ++r) {
        const uint8_t* row = static_cast<const uint8_t*>(src) + (p * kPanelRows + r) * row_bytes;
        if (q4) {
          const BlockQ4_0& blk = reinterpret_cast<const BlockQ4_0*>(row)[b];
          std::memcpy(out + 2 * r, &blk.d, 2);
          auto nibble = [&](int k) { return k < 16 ? blk.qs[k] & 0x0F : blk.qs[k - 16] >> 4; };
          for (int g = 0; g < 4; ++g)
            for (int j = 0; j < 4; ++j)
              out[32 + 64 * g + 4 * r + j] = static_cast<uint8_t>(nibble(8 * g + j) | nibble(8 * g + 4 + j) << 4);
        } else {
          const BlockQ8_0& blk = reinterpret_cast<const BlockQ8_0*>(row)[b];
          std::memcpy(out + 2 * r, &blk.d, 2);
          for (int s = 0; s < 8; ++s)
            for (int j = 0; j < 4; ++j) out[32 + 64 * s + 4 * r + j] = static_cast<uint8_t>(blk.qs[4 * s + j] + 128);
        }
      }
    }
  }
}

void DequantizeMatrixRow(DType type, const void* data, int64_t row, int64_t cols, float* dst) {
  if (!IsPanel(type)) {
    return DequantizeRow(type, static_cast<const uint8_t*>(data) + row * RowBytes(type, cols), dst, cols);
  }
  const bool q4 = type == DType::kQ4_0P;
  const size_t block_bytes = q4 ? kQ4PanelBlockBytes : kQ8PanelBlockBytes;
  const int64_t nb = cols / kQK, p = row / kPanelRows, r = row % kPanelRows;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = static_cast<const uint8_t*>(data) + (p * nb + b) * block_bytes;
    uint16_t dh;
    std::memcpy(&dh, blk + 2 * r, 2);
    const float d = F16ToF32(dh);
    for (int k = 0; k < kQK; ++k) {
      int q;
      if (q4) {
        const uint8_t byte = blk[32 + 64 * (k / 8) + 4 * r + k % 4];
        q = ((k % 8) < 4 ? byte & 0x0F : byte >> 4) - 8;
      } else {
        q = static_cast<int>(blk[32 + 64 * (k / 4) + 4 * r + k % 4]) - 128;
      }
      dst[b * kQK + k] = d * static_cast<float>(q);
    }
  }
}

void QuantizeRow(DType type, const float* x, void* dst, int64_t n) {
  LLEMMA_CHECK_EQ(n % DTypeBlockSize(type), 0);
  switch (type) {
    case DType::kQ8_0: return QuantizeQ8_0(x, static_cast<BlockQ8_0*>(dst), n);
    case DType::kQ4_0: return QuantizeQ4_0(x, static_cast<BlockQ4_0*>(dst), n);
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16: return ConvertElements(DType::kF32, x, type, dst, n);
    default: LLEMMA_CHECK(false) << "cannot quantize to " << DTypeName(type);
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
  } else if (type == DType::kQ4_K) {
    DequantizeQ4_K(static_cast<const BlockQ4_K*>(src), dst, n);
  } else if (type == DType::kQ5_K) {
    DequantizeQ5_K(static_cast<const BlockQ5_K*>(src), dst, n);
  } else if (type == DType::kQ6_K) {
    DequantizeQ6_K(static_cast<const BlockQ6_K*>(src), dst, n);
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
