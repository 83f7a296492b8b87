// ParallelFor for the evaluation: runs fn(thread, begin, end) over [0, n) in
// chunks handed out through an atomic counter to `threads` workers (the
// calling thread is one of them). Results must not depend on which thread
// ran a chunk.
#ifndef RECSYS_EVALUATION_PARALLEL_H_
#define RECSYS_EVALUATION_PARALLEL_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace recsys::evaluation {

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

}  // namespace recsys::evaluation

#endif  // RECSYS_EVALUATION_PARALLEL_H_
