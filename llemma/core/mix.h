// SplitMix64's output function: a fixed bijective mix of 64 bits, for
// deriving independent seeds from a run seed and an index. Pure; thread-safe.
//
//   uint64_t s = Mix64(Mix64(run_seed) ^ problem_hash);
#pragma once

#include <cstdint>

namespace llemma {

inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace llemma
