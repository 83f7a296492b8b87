// ParallelFor: a blocking parallel loop over an index range.
//
//   recsys::ParallelFor(n, threads, /*chunk=*/64,
//                       [&](int thread, int64_t begin, int64_t end) { ... });
//
// Runs fn(thread, begin, end) over [0, n) in chunks of `chunk` indices
// ([0, chunk), [chunk, 2 chunk), ..., the last one shorter), handed out in
// order through an atomic counter to min(threads, number of chunks) workers.
// The calling thread is worker 0; the others are std::threads started for
// the call and joined before it returns. Every index is passed exactly once.
// `thread` (in [0, workers)) lets fn index per-worker scratch; which worker
// runs which chunk is not deterministic, so results must not depend on it
// (index per-chunk outputs by begin / chunk instead).
//
// n <= 0 runs nothing; threads < 1 and chunk < 1 count as 1.
//
// Thread safety: fn is called concurrently from several threads and must be
// safe for that; ParallelFor itself keeps no state between calls.
#ifndef RECSYS_COMMON_PARALLEL_H_
#define RECSYS_COMMON_PARALLEL_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace recsys {

template <typename Fn>
void ParallelFor(int64_t n, int threads, int64_t chunk, const Fn& fn) {
  if (n <= 0) return;
  chunk = std::max<int64_t>(1, chunk);
  const int64_t chunks = (n + chunk - 1) / chunk;
  threads = static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(threads, chunks)));
  std::atomic<int64_t> next{0};
  auto worker = [&](int thread) {
    while (true) {
      const int64_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks) return;
      const int64_t begin = c * chunk;
      fn(thread, begin, std::min(n, begin + chunk));
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker, t);
  worker(0);
  for (std::thread& t : pool) t.join();
}

}  // namespace recsys

#endif  // RECSYS_COMMON_PARALLEL_H_
