// ThreadPool: a fixed set of worker threads that run one data-parallel loop at
// a time. The calling thread takes part, so ThreadPool(1) runs everything
// inline. Workers spin briefly between jobs (decode issues hundreds of small
// loops per token) and then sleep.
//
//   ThreadPool pool(4);
//   pool.ParallelFor(rows, [&](size_t begin, size_t end, int tid) { ... });
//
// Owned by one Context/caller; ParallelFor must not be called concurrently or
// re-entrantly on the same pool.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace llemma {

class ThreadPool {
 public:
  // n_threads <= 0 means one per hardware core.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(begin, end, thread_index) over [0, n) split into contiguous chunks
  // of at least `grain` items (up to 4 per thread), which threads claim as
  // they finish the previous one; thread_index (< size()) names the thread,
  // for per-thread scratch. Returns when all are done.
  void ParallelFor(size_t n, const std::function<void(size_t, size_t, int)>& fn,
                   size_t grain = 1);

  // Like ParallelFor, for loops that stream memory (decode): each claim takes
  // a share of what is left (about 1/(2·size())), never under min_chunk
  // items, so threads start on long runs and finish together on short ones.
  void ParallelForGuided(size_t n, const std::function<void(size_t, size_t, int)>& fn,
                         size_t min_chunk);

  static int HardwareThreads();

 private:
  void WorkerLoop(int index);
  void RunChunks(int thread);
  void RunGuided(int thread);
  void Dispatch(size_t n, const std::function<void(size_t, size_t, int)>& fn, int chunks, size_t guided_min);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  // Current job, valid while pending_ > 0.
  const std::function<void(size_t, size_t, int)>* fn_ = nullptr;
  size_t n_ = 0;
  int n_chunks_ = 0;
  std::atomic<int> next_chunk_{0};
  size_t guided_min_ = 0;  // > 0: guided claims from next_item_
  std::atomic<size_t> next_item_{0};
};

}  // namespace llemma
