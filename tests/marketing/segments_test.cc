#include "marketing/segments.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "marketing/coupons.h"
#include "tests/testing/status_matchers.h"

namespace recsys::marketing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kAsOf = 1700000000;
constexpr int64_t kDay = 86400;

int64_t DaysAgo(int days) { return kAsOf - days * kDay; }

const UserSegment* Find(const std::vector<UserSegment>& users,
                        absl::string_view id) {
  for (const UserSegment& u : users) {
    if (u.user_id == id) return &u;
  }
  return nullptr;
}

std::vector<UserSegment> MustBuild(
    const SegmentBuilder& builder, int64_t as_of = kAsOf,
    const MarketingConfig& config = {}) {
  absl::StatusOr<std::vector<UserSegment>> users = builder.Build(config, as_of);
  EXPECT_TRUE(users.ok()) << users.status();
  return users.ok() ? *users : std::vector<UserSegment>{};
}

TEST(SegmentNamesTest, RoundTrip) {
  for (int i = 0; i < kNumSegments; ++i) {
    const Segment s = static_cast<Segment>(i);
    EXPECT_EQ(SegmentFromName(SegmentName(s)), s);
  }
  for (int i = 0; i < kNumTiers; ++i) {
    const Tier t = static_cast<Tier>(i);
    EXPECT_EQ(TierFromName(TierName(t)), t);
  }
  for (Lifecycle l : {Lifecycle::kNew, Lifecycle::kActive, Lifecycle::kLapsing,
                      Lifecycle::kLapsed, Lifecycle::kChurned}) {
    EXPECT_EQ(LifecycleFromName(LifecycleName(l)), l);
  }
  EXPECT_EQ(SegmentName(Segment::kDeepDormant), "deep_dormant");
  EXPECT_EQ(SegmentName(Segment::kAtRisk), "at_risk");
  EXPECT_EQ(SegmentFromName("dormnt"), std::nullopt);
  EXPECT_EQ(TierFromName("platinum"), std::nullopt);
  EXPECT_TRUE(IsDormant(Segment::kDormant));
  EXPECT_TRUE(IsDormant(Segment::kDeepDormant));
  EXPECT_FALSE(IsDormant(Segment::kAtRisk));
}

TEST(SegmentBuilderTest, RecencyBoundaries) {
  SegmentBuilder b;
  // Each user: an old first order (so nobody is new) and a last order N
  // days before as_of.
  for (int days : {44, 45, 89, 90, 179, 180, 400}) {
    const std::string user = absl::StrCat("d", days);
    b.Add(user, "", DaysAgo(500), 10);
    b.Add(user, "", DaysAgo(days), 10);
  }
  const std::vector<UserSegment> users = MustBuild(b);
  ASSERT_EQ(users.size(), 7u);
  auto segment = [&](absl::string_view id) { return Find(users, id)->segment; };
  auto stage = [&](absl::string_view id) { return Find(users, id)->lifecycle; };
  EXPECT_NE(segment("d44"), Segment::kAtRisk);
  EXPECT_EQ(segment("d45"), Segment::kAtRisk);
  EXPECT_EQ(segment("d89"), Segment::kAtRisk);
  EXPECT_EQ(segment("d90"), Segment::kDormant);
  EXPECT_EQ(segment("d179"), Segment::kDormant);
  EXPECT_EQ(segment("d180"), Segment::kDeepDormant);
  EXPECT_EQ(segment("d400"), Segment::kDeepDormant);
  EXPECT_EQ(stage("d44"), Lifecycle::kActive);
  EXPECT_EQ(stage("d45"), Lifecycle::kLapsing);
  EXPECT_EQ(stage("d89"), Lifecycle::kLapsing);
  EXPECT_EQ(stage("d90"), Lifecycle::kLapsed);
  EXPECT_EQ(stage("d180"), Lifecycle::kChurned);
  EXPECT_EQ(Find(users, "d89")->recency_days, 89);
  EXPECT_EQ(Find(users, "d90")->recency_days, 90);
}

TEST(SegmentBuilderTest, RecencyRoundsDown) {
  SegmentBuilder b;
  // 89 days and 23 hours: still 89 whole days, so at risk, not dormant.
  b.Add("almost", "", DaysAgo(90) + 3600, 10);
  b.Add("almost", "", DaysAgo(400), 10);
  const std::vector<UserSegment> users = MustBuild(b);
  EXPECT_EQ(users[0].recency_days, 89);
  EXPECT_EQ(users[0].segment, Segment::kAtRisk);
}

TEST(SegmentBuilderTest, ConfiguredThresholds) {
  MarketingConfig config;
  config.segments.at_risk_days = 20;
  config.segments.dormant_days = 60;
  config.segments.deep_dormant_days = 120;
  SegmentBuilder b;
  for (int days : {19, 20, 60, 120}) {
    const std::string user = absl::StrCat("d", days);
    b.Add(user, "", DaysAgo(300), 10);
    b.Add(user, "", DaysAgo(days), 10);
  }
  const std::vector<UserSegment> users = MustBuild(b, kAsOf, config);
  EXPECT_NE(Find(users, "d19")->segment, Segment::kAtRisk);
  EXPECT_EQ(Find(users, "d20")->segment, Segment::kAtRisk);
  EXPECT_EQ(Find(users, "d60")->segment, Segment::kDormant);
  EXPECT_EQ(Find(users, "d120")->segment, Segment::kDeepDormant);
}

TEST(SegmentBuilderTest, NewUsers) {
  SegmentBuilder b;
  b.Add("new", "", DaysAgo(10), 25);
  // Two orders in the first month: no longer new (new_max_orders 1).
  b.Add("two_orders", "", DaysAgo(20), 25);
  b.Add("two_orders", "", DaysAgo(5), 25);
  // First order exactly 30 days ago: not new.
  b.Add("thirty", "", DaysAgo(30), 25);
  // One order 29 days ago: new.
  b.Add("twenty_nine", "", DaysAgo(29), 25);
  const std::vector<UserSegment> users = MustBuild(b);
  EXPECT_EQ(Find(users, "new")->segment, Segment::kNew);
  EXPECT_EQ(Find(users, "new")->lifecycle, Lifecycle::kNew);
  EXPECT_NE(Find(users, "two_orders")->segment, Segment::kNew);
  EXPECT_EQ(Find(users, "two_orders")->lifecycle, Lifecycle::kNew);
  EXPECT_NE(Find(users, "thirty")->segment, Segment::kNew);
  EXPECT_EQ(Find(users, "thirty")->lifecycle, Lifecycle::kActive);
  EXPECT_EQ(Find(users, "twenty_nine")->segment, Segment::kNew);
}

TEST(SegmentBuilderTest, CoreNeedsAllThreeScores) {
  SegmentBuilder b;
  // Ten users; "best" is the most recent, most frequent and biggest spender.
  // "rich_rare" spends a lot in one old-ish order; "frequent_cheap" buys
  // often for little.
  for (int i = 0; i < 7; ++i) {
    const std::string user = absl::StrCat("filler", i);
    b.Add(user, "", DaysAgo(200), 5);
    b.Add(user, "", DaysAgo(30 + i), 5);
  }
  for (int k = 0; k < 12; ++k) b.Add("best", "", DaysAgo(1 + 10 * k), 100);
  b.Add("rich_rare", "", DaysAgo(300), 5000);
  b.Add("rich_rare", "", DaysAgo(2), 10);
  for (int k = 0; k < 12; ++k)
    b.Add("frequent_cheap", "", DaysAgo(3 + 10 * k), 0.5);
  const std::vector<UserSegment> users = MustBuild(b);
  ASSERT_EQ(users.size(), 10u);
  const UserSegment* best = Find(users, "best");
  EXPECT_EQ(best->segment, Segment::kCore);
  EXPECT_EQ(best->r_score, 5);
  EXPECT_GE(best->f_score, 4);
  EXPECT_GE(best->m_score, 4);
  EXPECT_EQ(best->frequency, 12);
  EXPECT_DOUBLE_EQ(best->monetary, 1200);
  // rich_rare: top monetary, recent, but only two orders -> potential.
  EXPECT_EQ(Find(users, "rich_rare")->m_score, 5);
  EXPECT_EQ(Find(users, "rich_rare")->segment, Segment::kPotential);
  // frequent_cheap: frequent and recent, low spend -> potential.
  EXPECT_EQ(Find(users, "frequent_cheap")->segment, Segment::kPotential);

  // A lower bar makes more users core.
  MarketingConfig lenient;
  lenient.segments.core_min_score = 1;
  const std::vector<UserSegment> all_core = MustBuild(b, kAsOf, lenient);
  EXPECT_EQ(Find(all_core, "frequent_cheap")->segment, Segment::kCore);
}

TEST(SegmentBuilderTest, QuantileScores) {
  SegmentBuilder b;
  // Spend 10..50, recency 40..0 days, 1..5 orders.
  for (int i = 0; i < 5; ++i) {
    const std::string user = absl::StrCat("u", i);
    for (int k = 0; k <= i; ++k)
      b.Add(user, "", DaysAgo(40 - 10 * i) - k * 3600, 10);
  }
  const std::vector<UserSegment> users = MustBuild(b);
  ASSERT_EQ(users.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    const UserSegment& u = users[i];
    EXPECT_EQ(u.user_id, absl::StrCat("u", i));
    EXPECT_EQ(u.r_score, i + 1) << u.user_id;
    EXPECT_EQ(u.f_score, i + 1) << u.user_id;
    EXPECT_EQ(u.m_score, i + 1) << u.user_id;
    EXPECT_EQ(u.frequency, i + 1);
  }
}

TEST(SegmentBuilderTest, TiedValuesGetTiedScores) {
  SegmentBuilder b;
  // Spends 10, 10, 30, 40, 50; all one order on the same day.
  const double spend[] = {10, 10, 30, 40, 50};
  for (int i = 0; i < 5; ++i)
    b.Add(absl::StrCat("u", i), "", DaysAgo(5), spend[i]);
  const std::vector<UserSegment> users = MustBuild(b);
  std::vector<int> m, r, f;
  for (const UserSegment& u : users) {
    m.push_back(u.m_score);
    r.push_back(u.r_score);
    f.push_back(u.f_score);
  }
  EXPECT_THAT(m, ElementsAre(1, 1, 3, 4, 5));
  // Everybody tied on recency and frequency: nobody is strictly worse.
  EXPECT_THAT(r, ElementsAre(1, 1, 1, 1, 1));
  EXPECT_THAT(f, ElementsAre(1, 1, 1, 1, 1));
}

TEST(SegmentBuilderTest, TierThresholdsOnTrailingSpend) {
  SegmentBuilder b;
  b.Add("none", "", DaysAgo(10), 499.99);
  b.Add("silver", "", DaysAgo(10), 500);
  b.Add("gold", "", DaysAgo(10), 1500);
  b.Add("black", "", DaysAgo(10), 4000);
  // 10000 spent exactly 365 days ago is outside the trailing window.
  b.Add("old_money", "", DaysAgo(365), 10000);
  b.Add("old_money", "", DaysAgo(10), 600);
  // 364 days ago is inside.
  b.Add("recent_money", "", DaysAgo(364), 1000);
  b.Add("recent_money", "", DaysAgo(10), 600);
  const std::vector<UserSegment> users = MustBuild(b);
  EXPECT_EQ(Find(users, "none")->tier, Tier::kNone);
  EXPECT_EQ(Find(users, "silver")->tier, Tier::kSilver);
  EXPECT_EQ(Find(users, "gold")->tier, Tier::kGold);
  EXPECT_EQ(Find(users, "black")->tier, Tier::kBlack);
  EXPECT_EQ(Find(users, "old_money")->tier, Tier::kSilver);
  EXPECT_DOUBLE_EQ(Find(users, "old_money")->trailing_spend, 600);
  EXPECT_DOUBLE_EQ(Find(users, "old_money")->monetary, 10600);
  EXPECT_EQ(Find(users, "recent_money")->tier, Tier::kGold);

  MarketingConfig config;
  config.tiers.silver = 100;
  config.tiers.gold = 200;
  config.tiers.black = 300;
  const std::vector<UserSegment> cheap = MustBuild(b, kAsOf, config);
  EXPECT_EQ(Find(cheap, "none")->tier, Tier::kBlack);
}

TEST(SegmentBuilderTest, OrdersAreDistinctOrderIdsOrTimes) {
  SegmentBuilder b;
  // Without order ids: lines at the same time form one order.
  b.Add("a", "", DaysAgo(3), 5);
  b.Add("a", "", DaysAgo(3), 7);
  b.Add("a", "", DaysAgo(2), 1);
  // With order ids: one order across two times (latest time counts).
  b.Add("b", "o1", DaysAgo(4), 5);
  b.Add("b", "o1", DaysAgo(3), 5);
  b.Add("b", "o2", DaysAgo(3), 5);
  const std::vector<UserSegment> users = MustBuild(b);
  EXPECT_EQ(Find(users, "a")->frequency, 2);
  EXPECT_DOUBLE_EQ(Find(users, "a")->monetary, 13);
  EXPECT_DOUBLE_EQ(Find(users, "a")->average_order_value(), 6.5);
  EXPECT_EQ(Find(users, "b")->frequency, 2);
  EXPECT_EQ(Find(users, "b")->first_purchase_unix, DaysAgo(3));
  EXPECT_EQ(Find(users, "b")->last_purchase_unix, DaysAgo(3));
}

TEST(SegmentBuilderTest, AsOfDefaultsToLatestLineAndIgnoresLaterOrders) {
  SegmentBuilder b;
  b.Add("a", "", DaysAgo(100), 5);
  b.Add("b", "", kAsOf, 5);
  b.Add("", "", kAsOf + kDay, 5);  // skipped
  b.Add("c", "", DaysAgo(1),
        std::numeric_limits<double>::quiet_NaN());  // skipped
  EXPECT_EQ(b.lines(), 4);
  EXPECT_EQ(b.skipped(), 2);
  EXPECT_EQ(b.last_time_unix(), kAsOf);
  std::vector<UserSegment> users = MustBuild(b, 0);
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0].as_of_unix, kAsOf);
  EXPECT_EQ(users[0].recency_days, 100);
  EXPECT_EQ(users[0].segment, Segment::kDormant);
  // An earlier as_of leaves out b, whose only order is later.
  users = MustBuild(b, DaysAgo(50));
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0].user_id, "a");
  EXPECT_EQ(users[0].recency_days, 50);
}

TEST(SegmentBuilderTest, InvalidConfigIsRejected) {
  SegmentBuilder b;
  b.Add("a", "", kAsOf, 5);
  MarketingConfig config;
  config.segments.dormant_days = 200;  // above deep_dormant 180
  absl::StatusOr<std::vector<UserSegment>> users = b.Build(config, kAsOf);
  EXPECT_EQ(users.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(users.status().message()),
              HasSubstr("segments.dormant_days"));
}

TEST(SegmentSummaryTest, SharesAndTable) {
  SegmentBuilder b;
  b.Add("new", "", DaysAgo(3), 100);
  b.Add("dormant", "", DaysAgo(400), 100);
  b.Add("dormant", "", DaysAgo(100), 200);
  b.Add("deep", "", DaysAgo(200), 600);
  b.Add("deep2", "", DaysAgo(250), 0);
  const std::vector<UserSegment> users = MustBuild(b);
  const SegmentSummary s = Summarize(users, kAsOf);
  EXPECT_EQ(s.users, 4);
  EXPECT_DOUBLE_EQ(s.spend, 1000);
  ASSERT_EQ(s.segments.size(), static_cast<size_t>(kNumSegments));
  ASSERT_EQ(s.tiers.size(), static_cast<size_t>(kNumTiers));
  const GroupShare& deep = s.segments[static_cast<int>(Segment::kDeepDormant)];
  EXPECT_EQ(deep.name, "deep_dormant");
  EXPECT_EQ(deep.users, 2);
  EXPECT_DOUBLE_EQ(deep.user_share, 0.5);
  EXPECT_DOUBLE_EQ(deep.spend, 600);
  EXPECT_DOUBLE_EQ(deep.spend_share, 0.6);
  const GroupShare& core = s.segments[static_cast<int>(Segment::kCore)];
  EXPECT_EQ(core.users, 0);
  EXPECT_DOUBLE_EQ(core.spend_share, 0);
  double user_share = 0, spend_share = 0;
  for (const GroupShare& g : s.segments) {
    user_share += g.user_share;
    spend_share += g.spend_share;
  }
  EXPECT_DOUBLE_EQ(user_share, 1);
  EXPECT_DOUBLE_EQ(spend_share, 1);
  // Trailing spend: dormant 200, deep 600 (200 days ago), new 100.
  EXPECT_EQ(s.tiers[static_cast<int>(Tier::kSilver)].users, 1);
  EXPECT_EQ(s.tiers[static_cast<int>(Tier::kNone)].users, 3);

  const std::string table = FormatSummaryTable(s);
  const std::vector<std::string> lines =
      absl::StrSplit(table, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u + kNumSegments + 1 + 1 + kNumTiers + 1);
  EXPECT_EQ(lines[0],
            "segment            users  users%          spend  spend%");
  EXPECT_EQ(lines[6],
            "deep_dormant           2   50.0%         600.00   60.0%");
  EXPECT_EQ(lines[7],
            "all                    4  100.0%        1000.00  100.0%");
  EXPECT_THAT(table, HasSubstr("silver                 1   25.0%"));

  EXPECT_EQ(s.users, 4);
  ASSERT_EQ(s.segments.size(), static_cast<size_t>(kNumSegments));
  EXPECT_EQ(s.segments[5].name, "deep_dormant");
  EXPECT_DOUBLE_EQ(s.segments[5].spend_share, 0.6);
  EXPECT_EQ(s.tiers.size(), static_cast<size_t>(kNumTiers));
  // The manifest's copy of the summary and config (training/trainer.cc) is
  // checked field by field in tests/training/trainer_test.cc.
}

TEST(SegmentSummaryTest, Empty) {
  const SegmentSummary s = Summarize({}, kAsOf);
  EXPECT_EQ(s.users, 0);
  EXPECT_EQ(s.segments.size(), static_cast<size_t>(kNumSegments));
  EXPECT_THAT(FormatSummaryTable(s),
              HasSubstr("all                    0    0.0%"));
}

TEST(SegmentsTsvTest, RoundTrip) {
  SegmentBuilder b;
  b.Add("a b", "", DaysAgo(3), 12.345);
  b.Add("c", "", DaysAgo(100), 0.1 + 0.2);
  const std::vector<UserSegment> users = MustBuild(b);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string tsv, SegmentsToTsv(users));
  EXPECT_THAT(tsv,
              ::testing::StartsWith("user_id\tsegment\ttier\tlifecycle\t"));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<UserSegment> back,
                              ParseSegmentsTsv(tsv));
  ASSERT_EQ(back.size(), users.size());
  for (size_t i = 0; i < users.size(); ++i) {
    EXPECT_EQ(back[i].user_id, users[i].user_id);
    EXPECT_EQ(back[i].segment, users[i].segment);
    EXPECT_EQ(back[i].tier, users[i].tier);
    EXPECT_EQ(back[i].lifecycle, users[i].lifecycle);
    EXPECT_EQ(back[i].recency_days, users[i].recency_days);
    EXPECT_EQ(back[i].frequency, users[i].frequency);
    EXPECT_EQ(back[i].monetary, users[i].monetary);  // exact
    EXPECT_EQ(back[i].trailing_spend, users[i].trailing_spend);
    EXPECT_EQ(back[i].first_purchase_unix, users[i].first_purchase_unix);
    EXPECT_EQ(back[i].last_purchase_unix, users[i].last_purchase_unix);
    EXPECT_EQ(back[i].r_score, users[i].r_score);
    EXPECT_EQ(back[i].f_score, users[i].f_score);
    EXPECT_EQ(back[i].m_score, users[i].m_score);
    EXPECT_EQ(back[i].as_of_unix, kAsOf);
  }
}

TEST(SegmentsTsvTest, BatchesHandOverEveryRecordInOrderAndStopAtABadLine) {
  SegmentBuilder b;
  for (int i = 0; i < 5; ++i) b.Add("u" + std::to_string(i), "", DaysAgo(3 + i), 10 + i);
  const std::vector<UserSegment> users = MustBuild(b);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string tsv, SegmentsToTsv(users));
  std::vector<size_t> sizes;
  std::vector<std::string> ids;
  RECSYS_ASSERT_OK(ForEachSegmentBatch(tsv, 2, [&](absl::Span<const UserSegment> batch) {
    sizes.push_back(batch.size());
    for (const UserSegment& u : batch) ids.push_back(u.user_id);
    return absl::OkStatus();
  }));
  EXPECT_EQ(sizes, (std::vector<size_t>{2, 2, 1}));
  std::vector<std::string> want;
  for (const UserSegment& u : users) want.push_back(u.user_id);
  EXPECT_EQ(ids, want);

  int handed = 0;
  absl::Status status = ForEachSegmentBatch(
      tsv + "u\tcore\n", 2, [&](absl::Span<const UserSegment> batch) {
        handed += static_cast<int>(batch.size());
        return absl::OkStatus();
      });
  EXPECT_THAT(std::string(status.message()), HasSubstr("line 7: 2 columns"));
  EXPECT_EQ(handed, 4);
  status = ForEachSegmentBatch(tsv, 10, [](absl::Span<const UserSegment>) {
    return absl::UnavailableError("store down");
  });
  EXPECT_EQ(status, absl::UnavailableError("store down"));
  EXPECT_EQ(ForEachSegmentBatch("", 10, [](absl::Span<const UserSegment>) {
              return absl::OkStatus();
            }).code(),
            absl::StatusCode::kDataLoss);
}

TEST(SegmentsTsvTest, Errors) {
  UserSegment tab;
  tab.user_id = "a\tb";
  EXPECT_EQ(SegmentsToTsv({tab}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseSegmentsTsv("").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(
      std::string(ParseSegmentsTsv("wrong header\n").status().message()),
      HasSubstr("line 1"));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string tsv, SegmentsToTsv({}));
  absl::StatusOr<std::vector<UserSegment>> bad =
      ParseSegmentsTsv(tsv + "u\tcore\n");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("line 2: 2 columns"));
  bad = ParseSegmentsTsv(
      tsv + "u\tcore\tnone\tactive\t1\t1\t5\t5\t1\t1\t9\t1\t1\t1\n");
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("score outside 1..5"));
  bad = ParseSegmentsTsv(
      tsv + "u\tvip\tnone\tactive\t1\t1\t5\t5\t1\t1\t1\t1\t1\t1\n");
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("unknown segment"));
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::vector<UserSegment> one,
      ParseSegmentsTsv(
          tsv + "u\tcore\tgold\tactive\t1\t2\t5.5\t5\t10\t20\t5\t4\t3\t30\n"));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].tier, Tier::kGold);
  EXPECT_DOUBLE_EQ(one[0].monetary, 5.5);
  EXPECT_EQ(one[0].m_score, 3);
}

}  // namespace
}  // namespace recsys::marketing
