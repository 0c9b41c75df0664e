#include "llemma/core/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <utility>
#include <numeric>
#include <vector>

namespace llemma {
namespace {

TEST(ThreadPool, EveryIndexIsVisitedExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (size_t n : {1u, 2u, 7u, 100u, 1001u}) {
      std::vector<std::atomic<int>> hits(n);
      for (int rep = 0; rep < 20; ++rep) {
        pool.ParallelFor(n, [&](size_t b, size_t e, int) {
          for (size_t i = b; i < e; ++i) hits[i]++;
        });
      }
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 20) << threads << " " << n;
    }
  }
}

TEST(ThreadPool, ThreadIndexIsBelowSize) {
  ThreadPool pool(4);
  std::atomic<int> bad{0};
  pool.ParallelFor(64, [&](size_t, size_t, int tid) {
    if (tid < 0 || tid >= pool.size()) bad++;
  });
  EXPECT_EQ(bad.load(), 0);
}

TEST(ThreadPool, GrainLimitsTheNumberOfChunks) {
  ThreadPool pool(4);
  std::atomic<int> calls{0};
  pool.ParallelFor(10, [&](size_t, size_t, int) { calls++; }, /*grain=*/8);
  EXPECT_EQ(calls.load(), 2);
}

TEST(ThreadPool, AThreadIndexIsNeverInTwoChunksAtOnce) {
  // Callers keep per-thread scratch indexed by thread_index; chunks are
  // claimed dynamically, so check that no index runs two chunks concurrently.
  ThreadPool pool(3);
  std::vector<std::atomic<int>> busy(pool.size());
  std::atomic<int> overlaps{0}, items{0};
  for (int rep = 0; rep < 50; ++rep) {
    pool.ParallelFor(1000, [&](size_t b, size_t e, int tid) {
      if (busy[tid].fetch_add(1) != 0) overlaps++;
      for (size_t i = b; i < e; ++i) items++;
      busy[tid].fetch_sub(1);
    });
  }
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(items.load(), 50 * 1000);
}

TEST(ThreadPool, GuidedClaimsShrinkAndCoverEveryIndexOnce) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (size_t n : {1u, 5u, 64u, 384u, 1001u}) {
      for (size_t min_chunk : {1u, 4u, 64u}) {
        std::vector<std::atomic<int>> hits(n);
        std::mutex mu;
        std::vector<std::pair<size_t, size_t>> runs;
        pool.ParallelForGuided(n, [&](size_t b, size_t e, int) {
          for (size_t i = b; i < e; ++i) hits[i]++;
          std::lock_guard<std::mutex> lock(mu);
          runs.emplace_back(b, e);
        }, min_chunk);
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << threads << " " << n << " " << min_chunk;
        if (threads == 1) continue;
        std::sort(runs.begin(), runs.end());
        for (size_t r = 0; r < runs.size(); ++r) {
          const size_t size = runs[r].second - runs[r].first, left = n - runs[r].first;
          // Each claim is 1/(2·threads) of what was left, at least min_chunk
          // (or all that was left), so the last runs are the short ones.
          EXPECT_EQ(size, std::min(left, std::max(min_chunk, left / (2 * threads))))
              << threads << " " << n << " " << min_chunk << " run " << r;
        }
      }
    }
  }
}

}  // namespace
}  // namespace llemma
