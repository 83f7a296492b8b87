#include "bench/load_stats.h"

#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace recsys::bench {
namespace {

TEST(RequestMixTest, ParsesWeightsAndPrintsThemBack) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      RequestMix mix, RequestMix::Parse("home_known:70, home_new:10,home_unknown:10,similar:10"));
  EXPECT_EQ(mix.weight(RequestKind::kHomeKnown), 70);
  EXPECT_EQ(mix.weight(RequestKind::kHomeNew), 10);
  EXPECT_EQ(mix.weight(RequestKind::kCoupons), 0);
  EXPECT_EQ(mix.total(), 100);
  EXPECT_EQ(mix.ToString(), "home_known:70,home_new:10,home_unknown:10,similar:10");
  RECSYS_ASSERT_OK_AND_ASSIGN(mix, RequestMix::Parse("coupons:0,similar:3"));
  EXPECT_EQ(mix.ToString(), "similar:3");
}

TEST(RequestMixTest, BadMixesNameTheProblem) {
  for (const auto& [spec, needle] : std::vector<std::pair<std::string, std::string>>{
           {"home:1", "unknown request kind 'home'"},
           {"similar:1,similar:2", "'similar' given twice"},
           {"similar:-1", "weight of 'similar'"},
           {"similar", "weight of 'similar'"},
           {"similar:x", "weight of 'similar'"},
           {"similar:0", "at least one kind"},
           {"", "at least one kind"},
       }) {
    auto mix = RequestMix::Parse(spec);
    ASSERT_FALSE(mix.ok()) << spec;
    EXPECT_TRUE(absl::IsInvalidArgument(mix.status())) << spec;
    EXPECT_NE(mix.status().message().find(needle), absl::string_view::npos)
        << spec << ": " << mix.status();
  }
}

TEST(RequestMixTest, PickSplitsTheRangeInEnumOrder) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RequestMix mix,
                              RequestMix::Parse("similar:1,home_known:2,coupons:1"));
  // Shares in enum order: home_known [0, 1/2), similar [1/2, 3/4), coupons [3/4, 1).
  const uint64_t quarter = uint64_t{1} << 62;
  EXPECT_EQ(mix.Pick(0), RequestKind::kHomeKnown);
  EXPECT_EQ(mix.Pick(2 * quarter - 1), RequestKind::kHomeKnown);
  EXPECT_EQ(mix.Pick(2 * quarter), RequestKind::kSimilar);
  EXPECT_EQ(mix.Pick(3 * quarter - 1), RequestKind::kSimilar);
  EXPECT_EQ(mix.Pick(3 * quarter), RequestKind::kCoupons);
  EXPECT_EQ(mix.Pick(std::numeric_limits<uint64_t>::max()), RequestKind::kCoupons);
}

TEST(RequestPlannerTest, DeterministicAndFollowsTheMix) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RequestMix mix,
                              RequestMix::Parse("home_known:70,home_new:10,similar:20"));
  const RequestPlanner planner(mix, /*seed=*/5, /*num_users=*/1000, /*num_items=*/50);
  const RequestPlanner same(mix, 5, 1000, 50);
  const RequestPlanner other(mix, 6, 1000, 50);
  std::array<int64_t, kNumRequestKinds> counts{};
  int differing = 0;
  constexpr int kPlans = 100000;
  for (int64_t i = 0; i < kPlans; ++i) {
    const PlannedRequest p = planner.Plan(i);
    const PlannedRequest q = same.Plan(i);
    EXPECT_EQ(p.kind, q.kind);
    EXPECT_EQ(p.user, q.user);
    EXPECT_EQ(p.item, q.item);
    differing += other.Plan(i).user != p.user;
    ASSERT_GE(p.user, 0);
    ASSERT_LT(p.user, 1000);
    ASSERT_GE(p.item, 0);
    ASSERT_LT(p.item, 50);
    ++counts[static_cast<int>(p.kind)];
  }
  EXPECT_GT(differing, kPlans / 2);
  EXPECT_NEAR(counts[static_cast<int>(RequestKind::kHomeKnown)], 70000, 1000);
  EXPECT_NEAR(counts[static_cast<int>(RequestKind::kHomeNew)], 10000, 600);
  EXPECT_NEAR(counts[static_cast<int>(RequestKind::kSimilar)], 20000, 800);
  EXPECT_EQ(counts[static_cast<int>(RequestKind::kHomeUnknown)], 0);
  EXPECT_EQ(counts[static_cast<int>(RequestKind::kCoupons)], 0);
}

TEST(OpenLoopScheduleTest, SendTimesAreFixedByRateAlone) {
  const absl::Time start = absl::FromUnixSeconds(1000);
  const OpenLoopSchedule schedule(start, 2000);
  EXPECT_EQ(schedule.SendTime(0), start);
  EXPECT_EQ(schedule.SendTime(1), start + absl::Microseconds(500));
  EXPECT_EQ(schedule.SendTime(2000), start + absl::Seconds(1));
  EXPECT_EQ(schedule.SendTime(7 * 2000 + 3), start + absl::Seconds(7) + absl::Microseconds(1500));
  EXPECT_EQ(schedule.CountWithin(absl::Seconds(1)), 2000);
  EXPECT_EQ(schedule.CountWithin(absl::Seconds(35)), 70000);
  EXPECT_EQ(schedule.CountWithin(absl::ZeroDuration()), 0);
  EXPECT_EQ(schedule.CountWithin(absl::Microseconds(1)), 1);

  // A rate that does not divide a second: due at 0, 0.4, 0.8, 1.2 s.
  const OpenLoopSchedule slow(start, 2.5);
  EXPECT_EQ(slow.SendTime(3), start + absl::Milliseconds(1200));
  EXPECT_EQ(slow.CountWithin(absl::Seconds(1)), 3);
  EXPECT_EQ(slow.CountWithin(absl::Milliseconds(1200)), 3);
  EXPECT_EQ(slow.CountWithin(absl::Milliseconds(1201)), 4);
}

TEST(SummarizeTest, NearestRankPercentiles) {
  std::vector<absl::Duration> samples;
  // 1..1000 ms, shuffled deterministically.
  for (int i = 0; i < 1000; ++i) samples.push_back(absl::Milliseconds(1 + (i * 379) % 1000));
  const LatencySummary s = Summarize(&samples);
  EXPECT_EQ(s.count, 1000);
  EXPECT_EQ(s.p50, absl::Milliseconds(500));
  EXPECT_EQ(s.p90, absl::Milliseconds(900));
  EXPECT_EQ(s.p99, absl::Milliseconds(990));
  EXPECT_EQ(s.p999, absl::Milliseconds(999));
  EXPECT_EQ(s.max, absl::Milliseconds(1000));
  EXPECT_EQ(s.mean, absl::Microseconds(500500));
  EXPECT_TRUE(std::is_sorted(samples.begin(), samples.end()));
}

TEST(SummarizeTest, FewSamples) {
  std::vector<absl::Duration> one = {absl::Milliseconds(3)};
  LatencySummary s = Summarize(&one);
  EXPECT_EQ(s.count, 1);
  EXPECT_EQ(s.p50, absl::Milliseconds(3));
  EXPECT_EQ(s.p999, absl::Milliseconds(3));
  // With 10 samples the 99th percentile is the largest.
  std::vector<absl::Duration> ten;
  for (int i = 10; i >= 1; --i) ten.push_back(absl::Milliseconds(i));
  s = Summarize(&ten);
  EXPECT_EQ(s.p50, absl::Milliseconds(5));
  EXPECT_EQ(s.p90, absl::Milliseconds(9));
  EXPECT_EQ(s.p99, absl::Milliseconds(10));
  std::vector<absl::Duration> none;
  s = Summarize(&none);
  EXPECT_EQ(s.count, 0);
  EXPECT_EQ(s.max, absl::ZeroDuration());
}

TEST(LatencyRecorderTest, CountsEveryCodeButTimesOnlyOk) {
  LatencyRecorder recorder;
  recorder.Record(RequestKind::kHomeKnown, 0, absl::Milliseconds(2));
  recorder.Record(RequestKind::kHomeKnown, 0, absl::Milliseconds(1));
  recorder.Record(RequestKind::kHomeKnown, 4, absl::Milliseconds(1000));
  recorder.Record(RequestKind::kCoupons, 12, absl::Milliseconds(1));
  LatencyRecorder::Snapshot snap = recorder.Take();
  const int known = static_cast<int>(RequestKind::kHomeKnown);
  const int coupons = static_cast<int>(RequestKind::kCoupons);
  EXPECT_EQ(snap.latencies[known].size(), 2u);
  EXPECT_EQ(snap.codes[known][0], 2);
  EXPECT_EQ(snap.codes[known][4], 1);
  EXPECT_TRUE(snap.latencies[coupons].empty());
  EXPECT_EQ(snap.codes[coupons][12], 1);
  EXPECT_EQ(StatusCodeName(0), "OK");
  EXPECT_EQ(StatusCodeName(4), "DEADLINE_EXCEEDED");
  EXPECT_EQ(StatusCodeName(12), "UNIMPLEMENTED");
  EXPECT_EQ(StatusCodeName(99), "CODE_99");
}

}  // namespace
}  // namespace recsys::bench
