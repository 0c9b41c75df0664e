// Wall-clock helpers for the timings printed to stderr (t_load_us etc.).
#pragma once

#include <chrono>
#include <cstdint>

namespace llemma {

inline int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Peak resident set size of this process in bytes (VmHWM), or 0 if unknown.
int64_t PeakRssBytes();
// Current resident set size in bytes (VmRSS), or 0 if unknown.
int64_t CurrentRssBytes();

}  // namespace llemma
