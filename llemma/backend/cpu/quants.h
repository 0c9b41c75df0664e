// Block-quantized weight formats with GGUF's byte layouts (Q8_0, Q4_0), their
// reference quantizers, and dequantization. Dot products against activations
// quantized to Q8_0 live in the per-ISA kernel tables (kernels.h); the scalar
// versions here are their reference. Pure functions; thread-safe.
//
//   std::vector<uint8_t> q(RowBytes(DType::kQ4_0, n));
//   cpu::QuantizeRow(DType::kQ4_0, x, q.data(), n);
//   cpu::DequantizeRow(DType::kQ4_0, q.data(), y, n);
#pragma once

#include <cstdint>

#include "llemma/core/dtype.h"

namespace llemma::cpu {

constexpr int64_t kQK = 32;  // elements per Q8_0 / Q4_0 block

struct BlockQ8_0 {
  uint16_t d;       // f16 scale
  int8_t qs[kQK];   // x = d · q
};
static_assert(sizeof(BlockQ8_0) == 34);

struct BlockQ4_0 {
  uint16_t d;            // f16 scale
  uint8_t qs[kQK / 2];   // element j in the low nibble of byte j, element j+16 in the high nibble
};
static_assert(sizeof(BlockQ4_0) == 18);

// K-quant super-blocks (256 elements), as stored in GGUF files.
constexpr int64_t kQK_K = 256;
struct BlockQ4_K {
  uint16_t d;            // f16 super-block scale of the sub-block scales
  uint16_t dmin;         // f16 super-block scale of the sub-block minimums
  uint8_t scales[12];    // 8 × (6-bit scale, 6-bit min), packed
  uint8_t qs[128];       // 4-bit values: per 64 elements, 32 low nibbles then 32 high nibbles
};
static_assert(sizeof(BlockQ4_K) == 144);
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[32];        // fifth bits
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ5_K) == 176);
struct BlockQ6_K {
  uint8_t ql[128];       // low 4 bits
  uint8_t qh[64];        // high 2 bits
  int8_t scales[16];     // per 16 elements
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// The 2- and 3-bit K-quants of GGUF files (QuantizeRow writes them with our
// own fitting; panels hold them for the kernels):
//   Q2_K (84 bytes per 256): 16 bytes of scales (byte g: the 4-bit scale of
//     elements 16g..16g+15 in its low nibble, the 4-bit min in its high
//     nibble), 64 bytes qs, f16 d, f16 dmin. Element e = 128h + 32k + l has
//     q = (qs[32h + l] >> 2k) & 3; x = d·sc·q − dmin·m.
//   Q3_K (110 bytes per 256): 32 bytes hmask, 64 bytes qs, 12 bytes of 16
//     6-bit scales s (low 4 bits of s_g in byte g % 8 at bit 4(g / 8), top 2
//     bits in byte 8 + g % 4 at bit 2(g / 4)), f16 d. Element
//     e = 128h + 32k + l has low bits (qs[32h + l] >> 2k) & 3 and high bit
//     b = (hmask[l] >> (4h + k)) & 1; x = d·(s_(e/16) − 32)·(low − 4 + 4b).
struct BlockQ2_K {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d, dmin;
};
static_assert(sizeof(BlockQ2_K) == 84);
struct BlockQ3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110);

// Q5_0 (22 bytes per 32 elements), a block type of GGUF files without
// kernels of its own, held exactly as Q8_0: f16 d, a little-endian u32
// whose bit j is the fifth bit of element j, 16 bytes of nibbles (element j
// low, j + 16 high); x = d·(q − 16). As Q8_0: the same d and q − 16.
constexpr size_t kQ5_0BlockBytes = 22;
void WidenQ5_0ToQ8_0(const void* src, BlockQ8_0* dst, int64_t n);

// Quantizes n elements (n % block size == 0) into `dst`; float types convert.
// K-quant types are written with our own scale fitting (the byte layout is
// GGUF's, readable by llama.cpp).
void QuantizeRow(DType type, const float* x, void* dst, int64_t n);
// Expands n elements of any type to float.
void DequantizeRow(DType type, const void* src, float* dst, int64_t n);

// Panel layouts (DType::kQ4_0P / kQ8_0P) for the integer GEMM kernels. A
// [rows, cols] matrix (rows % 16 == 0, cols % 32 == 0) becomes rows/16 panels
// stored one after another; a panel is cols/32 blocks of 16 rows × 32 columns:
//   Q8_0P block (544 bytes): 16 f16 scales (row r at r), then for s = 0..7
//     64 bytes holding, for row r, bytes 4r..4r+3 = q[r][4s..4s+3] + 128
//     (unsigned).
//   Q4_0P block (288 bytes): 16 f16 scales, then for p = 0..3 64 bytes where
//     byte 4r+j holds the nibble of column 8p+j (low) and 8p+4+j (high), each
//     the stored Q4_0 nibble (value + 8).
// The unsigned weights meet signed 8-bit activations in u8×s8 dot products;
// the +128 / +8 offsets are removed with the activations' block sums.
//   Q4_KP super-block (16 rows × 256 columns, 2368 bytes): 16 f16 d, 16 f16
//     dmin, then per 32-column sub-block j: 16 scales (u8, 6 bits), 16 mins
//     (u8), and 256 bytes of nibbles in Q4_0P order (the Q4_K values 0..15);
//     element = d·scale·q − dmin·min, exactly as Q4_K.
//   Q5_KP super-block (2880 bytes): as Q4_KP, with per sub-block 352 bytes:
//     16 scales, 16 mins, 256 bytes of the low 4 bits in Q4_0P order, then
//     64 bytes of fifth bits: bit s of byte 4r+i is the fifth bit of column
//     4s+i of row r. element = d·scale·q − dmin·min with q = 0..31.
//   Q6_KP super-block (3360 bytes): 16 f16 d, then per 32-column sub-block
//     416 bytes: 16 int8 scales of columns 0..15 (one per row), 16 of
//     columns 16..31, 256 bytes of the low 4 bits of q (0..63) in Q4_0P
//     order, and two 64-byte planes of the top 2 bits: bits 2m..2m+1 of
//     byte 4r+i of plane h belong to column 4(4h+m)+i of row r.
//     element = (d·scale)·(q − 32), exactly as Q6_K.
//   Q2_KP super-block (1344 bytes, the size of 16 Q2_K blocks): 16 f16 d,
//     16 f16 dmin, then per 32-column sub-block 160 bytes: 16 bytes for
//     columns 0..15 (one per row, as Q2_K stores them: the 4-bit scale in
//     the low nibble, the 4-bit min in the high one), 16 for columns
//     16..31, and two 64-byte planes of the 2-bit values q (0..3): bits
//     2m..2m+1 of byte 4r+i of plane h belong to column 4(4h+m)+i of row r
//     (the order of Q6_KP's top bits). element = d·scale·q − dmin·min,
//     exactly as Q2_K.
//   Q3_KP super-block (1824 bytes): 16 f16 d, then per 32-column sub-block
//     224 bytes: 16 int8 scales (s − 32) of columns 0..15, 16 of columns
//     16..31, two 64-byte planes of the low 2 bits of q (as Q2_KP), and 64
//     bytes of third bits (bit s of byte 4r+i: column 4s+i of row r, as
//     Q5_KP's fifth bits). element = (d·scale)·(q − 4) with q = 0..7,
//     exactly as Q3_K.
constexpr size_t kQ8PanelBlockBytes = 544;
constexpr size_t kQ4PanelBlockBytes = 288;
constexpr size_t kQ4KPanelSuperBytes = 2368;
constexpr size_t kQ5KPanelSuperBytes = 2880;
constexpr size_t kQ6KPanelSuperBytes = 3360;
constexpr size_t kQ4KPanelSubBytes = 288;
constexpr size_t kQ5KPanelSubBytes = 352;
constexpr size_t kQ6KPanelSubBytes = 416;
constexpr size_t kQ2KPanelSuperBytes = 1344;
constexpr size_t kQ3KPanelSuperBytes = 1824;
constexpr size_t kQ2KPanelSubBytes = 160;
constexpr size_t kQ3KPanelSubBytes = 224;
// Offsets in a Q2_KP / Q3_KP sub-block: the two 2-bit planes, Q3's third bits.
constexpr size_t kLowKPlanesAt = 32, kQ3ThirdBitsAt = 160;
// Repacks `rows` plain Q4_0 / Q8_0 / Q2_K … Q6_K rows (src) into
// panels (dst: the same size for Q4_0 and Q8_0, RowBytes(panel type) per row
// for the K-quants).
void RepackPanels(DType plain, const void* src, void* dst, int64_t rows, int64_t cols);
// The panel type RepackPanels makes of `plain`.
DType PanelTypeOf(DType plain);
// Row `row` of a matrix of any type (panel types included) as float.
void DequantizeMatrixRow(DType type, const void* data, int64_t row, int64_t cols, float* dst);

namespace ref {
// Σ dequant(w)[i] · dequant(x)[i] over n elements, computed block by block
// with integer sums as the fast kernels do.
float VecDotQ8_0(const void* w, const BlockQ8_0* x, int64_t n);
float VecDotQ4_0(const void* w, const BlockQ8_0* x, int64_t n);
}  // namespace ref

}  // namespace llemma::cpu
