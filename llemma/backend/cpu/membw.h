// Memory-bandwidth probe: how fast this machine streams memory with a given
// number of threads. Decode is bound by it (tokens/s ≤ bandwidth / bytes of
// weights read per token), so benchmarks report speed as a share of it.
#pragma once

#include <cstdint>

#include "llemma/core/thread_pool.h"

namespace llemma::cpu {

// Reads a `bytes`-sized buffer (populated, much larger than the caches)
// `repetitions` times on all threads of `pool`; returns the best GB/s (1e9 B/s).
double MeasureReadBandwidth(ThreadPool& pool, int64_t bytes = int64_t{1} << 30, int repetitions = 5);

}  // namespace llemma::cpu
