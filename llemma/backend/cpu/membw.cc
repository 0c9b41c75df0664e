#include "llemma/backend/cpu/membw.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "llemma/backend/cpu/kernels.h"
#include "llemma/core/aligned_buffer.h"
#include "llemma/core/timer.h"

namespace llemma::cpu {

double MeasureReadBandwidth(ThreadPool& pool, int64_t bytes, int repetitions) {
  const int64_t n = bytes / static_cast<int64_t>(sizeof(float));
  AlignedBuffer buf(static_cast<size_t>(n) * sizeof(float));
  float* data = buf.as<float>();
  pool.ParallelFor(static_cast<size_t>(n), [&](size_t b, size_t e, int) {
    for (size_t i = b; i < e; ++i) data[i] = static_cast<float>(i & 1023) * 1e-3f;
  });
  // A dot product of the buffer with itself over 4 KiB windows reads it once
  // with the same vector loads the matmul kernels use.
  const internal::Kernels& k = internal::ActiveKernels();
  std::vector<float> sink(pool.size(), 0.0f);
  double best = 0;
  for (int r = 0; r < repetitions; ++r) {
    const int64_t t0 = NowMicros();
    constexpr int64_t kChunk = 1024;
    pool.ParallelFor(static_cast<size_t>(n / kChunk), [&](size_t b, size_t e, int tid) {
      float acc = 0;
      for (size_t c = b; c < e; ++c) acc += k.dot_f32(data + c * kChunk, data, kChunk);
      sink[tid] += acc;
    });
    const double secs = (NowMicros() - t0) / 1e6;
    best = std::max(best, static_cast<double>(bytes) / secs / 1e9);
  }
  volatile float keep = sink[0];
  (void)keep;
  return best;
}

}  // namespace llemma::cpu
