#include "metrics/metrics.h"

#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace recsys::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(CounterTest, ManyThreadsAddUpToKnownTotals) {
  Registry registry;
  Family<Counter>* family = registry.AddCounter("t_total", "Test.", {"k"});
  Counter* a = family->Get({"a"});
  Histogram* h =
      registry.AddHistogram("t_seconds", "Test.", {}, {1, 2, 3})->Get({});
  Gauge* g = registry.AddGauge("t_gauge", "Test.")->Get({});
  constexpr int kThreads = 32;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half the threads look the child up on every call, half keep it.
      for (int i = 0; i < kPerThread; ++i) {
        (t % 2 == 0 ? a : family->Get({"a"}))->Increment();
        family->Get({t % 4 == 0 ? "b" : "c"})->Increment(2);
        h->Observe(i % 4 + 0.5);  // 0.5, 1.5, 2.5, 3.5 in turn
        g->Add(1);
        g->Add(-1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(a->Value(), kThreads * kPerThread);
  EXPECT_EQ(family->Get({"b"})->Value(), 8 * kPerThread * 2);
  EXPECT_EQ(family->Get({"c"})->Value(), 24 * kPerThread * 2);
  EXPECT_EQ(g->Value(), 0);
  const Histogram::Snapshot s = h->Read();
  const uint64_t n = uint64_t{kThreads} * kPerThread;
  EXPECT_EQ(s.count, n);
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{n / 4, n / 2, 3 * n / 4, n}));
  EXPECT_DOUBLE_EQ(s.sum, n / 4 * (0.5 + 1.5 + 2.5 + 3.5));
}

TEST(HistogramTest, BoundsAreInclusiveUpperLimits) {
  Histogram h({1, 2});
  h.Observe(1);    // le="1"
  h.Observe(1.5);  // le="2"
  h.Observe(2);    // le="2"
  h.Observe(7);    // +Inf
  const Histogram::Snapshot s = h.Read();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{1, 3, 4}));
  EXPECT_EQ(s.count, 4u);
  EXPECT_DOUBLE_EQ(s.sum, 11.5);
}

TEST(RegistryTest, ExpositionFormat) {
  Registry registry;
  registry.AddCounter("a_total", "Help with \\ and\nnewline.", {"m", "code"})
      ->Get({"x\"y", "OK"})
      ->Increment(3);
  registry.AddGauge("b_bytes", "B.")->Get({})->Set(1.5);
  Histogram* h =
      registry.AddHistogram("c_seconds", "C.", {"m"}, {0.001, 0.5})->Get({"q"});
  h->Observe(0.25);
  EXPECT_EQ(registry.Exposition(),
            "# HELP a_total Help with \\\\ and\\nnewline.\n"
            "# TYPE a_total counter\n"
            "a_total{m=\"x\\\"y\",code=\"OK\"} 3\n"
            "# HELP b_bytes B.\n"
            "# TYPE b_bytes gauge\n"
            "b_bytes 1.5\n"
            "# HELP c_seconds C.\n"
            "# TYPE c_seconds histogram\n"
            "c_seconds_bucket{m=\"q\",le=\"0.001\"} 0\n"
            "c_seconds_bucket{m=\"q\",le=\"0.5\"} 1\n"
            "c_seconds_bucket{m=\"q\",le=\"+Inf\"} 1\n"
            "c_seconds_sum{m=\"q\"} 0.25\n"
            "c_seconds_count{m=\"q\"} 1\n");
}

TEST(RegistryTest, AddingTheSameFamilyTwiceReturnsIt) {
  Registry registry;
  Family<Counter>* first = registry.AddCounter("x_total", "X.", {"a"});
  EXPECT_EQ(registry.AddCounter("x_total", "X.", {"a"}), first);
}

TEST(RegistryDeathTest, ConflictingOrInvalidDefinitionsAbort) {
  Registry registry;
  registry.AddCounter("x_total", "X.", {"a"});
  EXPECT_DEATH(registry.AddGauge("x_total", "X.", {"a"}), "different");
  EXPECT_DEATH(registry.AddCounter("x_total", "X.", {"b"}), "different");
  EXPECT_DEATH(registry.AddCounter("1x", "X."), "invalid name");
  EXPECT_DEATH(registry.AddCounter("y_total", "Y.", {"__a"}), "label");
  EXPECT_DEATH(registry.AddHistogram("h", "H.", {}, {2, 1}), "ascending");
  EXPECT_DEATH(registry.AddCounter("x_total", "X.", {"a"})->Get({"1", "2"}),
               "2 label values for 1");
}

TEST(RegistryTest, CollectorsRunAtScrapeTimeAndMerge) {
  Registry registry;
  int calls = 0;
  registry.AddCollector([&calls] {
    ++calls;
    return std::vector<FamilySnapshot>{
        MakeFamily("shared_total", "Shared.", Type::kCounter, {"slot"},
                   {{{"home"}, 7}, {{"cart"}, static_cast<double>(calls)}})};
  });
  registry.AddCollector([] {
    return std::vector<FamilySnapshot>{MakeFamily(
        "shared_total", "Shared.", Type::kCounter, {"slot"}, {{{"pdp"}, 1}})};
  });
  EXPECT_EQ(calls, 0);
  const std::string text = registry.Exposition();
  EXPECT_EQ(calls, 1);
  EXPECT_THAT(text, HasSubstr("shared_total{slot=\"home\"} 7\n"
                              "shared_total{slot=\"cart\"} 1\n"
                              "shared_total{slot=\"pdp\"} 1\n"));
  EXPECT_EQ(text.find("# TYPE shared_total"),
            text.rfind("# TYPE shared_total"));
}

TEST(RegistryTest, RemovedCollectorIsNotRun) {
  Registry registry;
  int calls = 0;
  const int64_t id = registry.AddCollector([&calls] {
    ++calls;
    return std::vector<FamilySnapshot>{};
  });
  registry.Exposition();
  registry.RemoveCollector(id);
  registry.RemoveCollector(id + 100);  // unknown: ignored
  registry.Exposition();
  EXPECT_EQ(calls, 1);
}

TEST(RegistryTest, ClashingCollectorFamilyIsDropped) {
  Registry registry;
  registry.AddGauge("g", "G.")->Get({})->Set(1);
  registry.AddCollector([] {
    return std::vector<FamilySnapshot>{
        MakeFamily("g", "G.", Type::kCounter, {}, {{{}, 5}})};
  });
  const std::string text = registry.Exposition();
  EXPECT_THAT(text, HasSubstr("g 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("g 5\n")));
}

TEST(RegistryTest, LargeAndSpecialValues) {
  Registry registry;
  registry.AddGauge("big", "B.")->Get({})->Set(1e15 + 1);
  registry.AddGauge("frac", "F.")->Get({})->Set(0.1);
  registry.AddGauge("nan", "N.")->Get({})->Set(std::nan(""));
  const std::string text = registry.Exposition();
  EXPECT_THAT(text, HasSubstr("big 1000000000000001\n"));
  EXPECT_THAT(text, HasSubstr("frac 0.10000000000000001\n"));
  EXPECT_THAT(text, HasSubstr("nan NaN\n"));
}

}  // namespace
}  // namespace recsys::metrics
