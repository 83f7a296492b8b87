#include "common/parallel.h"

#include <atomic>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace recsys {
namespace {

// Counts how often each index of [0, n) is visited.
std::vector<int> Visits(int64_t n, int threads, int64_t chunk,
                        int* max_thread = nullptr) {
  std::vector<std::atomic<int>> visits(n > 0 ? n : 0);
  std::atomic<int> top{-1};
  ParallelFor(n, threads, chunk, [&](int thread, int64_t begin, int64_t end) {
    EXPECT_LT(begin, end);
    int seen = top.load();
    while (thread > seen && !top.compare_exchange_weak(seen, thread)) {
    }
    for (int64_t i = begin; i < end; ++i) visits[i].fetch_add(1);
  });
  if (max_thread != nullptr) *max_thread = top.load();
  std::vector<int> out;
  for (auto& v : visits) out.push_back(v.load());
  return out;
}

TEST(ParallelForTest, EveryIndexExactlyOnce) {
  for (int64_t n : {1, 2, 7, 63, 64, 65, 1001}) {
    for (int threads : {1, 2, 3, 5, 8}) {
      for (int64_t chunk : {1, 3, 16, 64, 5000}) {
        const std::vector<int> visits = Visits(n, threads, chunk);
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(visits[i], 1) << "n=" << n << " threads=" << threads
                                  << " chunk=" << chunk << " i=" << i;
        }
      }
    }
  }
}

TEST(ParallelForTest, NoWorkForEmptyRange) {
  int calls = 0;
  ParallelFor(0, 4, 8, [&](int, int64_t, int64_t) { ++calls; });
  ParallelFor(-5, 4, 8, [&](int, int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(ParallelForTest, ClampsThreadsAndChunk) {
  // threads < 1 and chunk < 1 count as 1: one worker, unit chunks.
  int max_thread = 0;
  std::vector<int> visits = Visits(9, 0, 0, &max_thread);
  EXPECT_EQ(max_thread, 0);
  for (int v : visits) EXPECT_EQ(v, 1);
  // Never more workers than chunks.
  visits = Visits(10, 16, 5, &max_thread);
  EXPECT_LE(max_thread, 1);
  for (int v : visits) EXPECT_EQ(v, 1);
}

TEST(ParallelForTest, ChunksAreAlignedToChunkSize) {
  std::vector<std::atomic<int>> starts(100);
  ParallelFor(100, 3, 7, [&](int, int64_t begin, int64_t end) {
    EXPECT_EQ(begin % 7, 0);
    EXPECT_EQ(end, std::min<int64_t>(100, begin + 7));
    starts[begin].fetch_add(1);
  });
  for (int64_t i = 0; i < 100; ++i) EXPECT_EQ(starts[i].load(), i % 7 == 0 ? 1 : 0);
}

}  // namespace
}  // namespace recsys
