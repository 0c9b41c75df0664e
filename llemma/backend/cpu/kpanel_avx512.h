// AVX-512 helpers for the panel layouts of quants.h, shared by the AVX-512
// and AMX kernel files (both compiled with AVX-512 flags). Internal to
// backend/cpu.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace llemma::cpu::internal {
namespace {

// The 4 × 64 bytes of Q4_0P-ordered nibbles at q as 8 vectors: u[s] holds,
// in dword n, row n's columns 4s..4s+3 of the 32-column block, one byte each.
inline void PanelNibbles(const uint8_t* q, __m512i* u) {
  const __m512i nibble = _mm512_set1_epi8(0x0F);
  for (int p = 0; p < 4; ++p) {
    const __m512i v = _mm512_loadu_si512(q + 64 * p);
    u[2 * p] = _mm512_and_si512(v, nibble);
    u[2 * p + 1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble);
  }
}

// Bit `from` of every byte of v moved to bit 4 (other bits are shifted
// along too; callers mask). 16-bit shifts keep each byte's bits in place
// for shifts of at most 4.
inline __m512i BitToFour(__m512i v, int from) {
  return from < 4 ? _mm512_slli_epi16(v, 4 - from) : from > 4 ? _mm512_srli_epi16(v, from - 4) : v;
}

// v (step s's low 4 bits of a 32-column block, one byte each) with the
// step's high bits of a Q5_KP sub-block (64 bytes of fifth bits at hb) in
// bit 4, or of a Q6_KP sub-block (two 64-byte planes of 2-bit fields at hb)
// in bits 4..5: one ternary-logic op, v | (bits & mask).
inline __m512i OrQ5High(__m512i v, const uint8_t* hb, int s) {
  return _mm512_ternarylogic_epi32(v, BitToFour(_mm512_loadu_si512(hb), s), _mm512_set1_epi8(0x10), 0xF8);
}
inline __m512i OrQ6High(__m512i v, const uint8_t* hb, int s) {
  return _mm512_ternarylogic_epi32(v, BitToFour(_mm512_loadu_si512(hb + 64 * (s / 4)), 2 * (s % 4)),
                                   _mm512_set1_epi8(0x30), 0xF8);
}

}  // namespace
}  // namespace llemma::cpu::internal
