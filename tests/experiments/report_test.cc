#include "experiments/report.h"

#include "gtest/gtest.h"
#include "stats/stats.h"

namespace recsys::experiments {
namespace {

constexpr char kConfig[] = R"pb(
  margin: 0.25
  layers {
    name: "home"
    experiments {
      name: "layout"
      traffic_share: 1
      slots: "feed"
      control: "a"
      variants { name: "a" share: 0.5 }
      variants { name: "b" share: 0.5 }
    }
  }
)pb";

VariantCounts Counts(double n, double conv, double sum_y, double sum_y2) {
  VariantCounts c;
  c.sums.exposed_users = static_cast<int64_t>(n);
  c.sums.converted_users = static_cast<int64_t>(conv);
  c.sums.sum_y = sum_y;
  c.sums.sum_y2 = sum_y2;
  c.sums.sum_den = 2 * n;
  c.sums.sum_den2 = 4 * n;
  c.sums.sum_num = conv;
  c.sums.sum_num2 = conv;
  c.sums.sum_num_den = 2 * conv;
  SlotCounts& s = c.slots["feed"];
  s.impressions = static_cast<int64_t>(2 * n);
  s.clicks = static_cast<int64_t>(conv);
  s.gmv = sum_y;
  s.discount = 10;
  return c;
}

TEST(ReportTest, RatesLiftsAndSrmFromTheCounters) {
  auto plan = ExperimentPlan::Parse(kConfig);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ExperimentCounts counts;
  counts["a"] = Counts(1000, 100, 5000, 400000);
  counts["b"] = Counts(1000, 150, 7000, 600000);
  const ExperimentReport r = BuildReport(*(*plan)->Find("layout"), counts,
                                         (*plan)->margin(), absl::Now());
  ASSERT_EQ(r.variants.size(), 2u);
  const VariantReport& a = r.variants[0];
  const VariantReport& b = r.variants[1];
  EXPECT_TRUE(a.control);
  EXPECT_EQ(a.exposed_users, 1000);
  EXPECT_DOUBLE_EQ(a.conversion_rate, 0.1);
  EXPECT_DOUBLE_EQ(a.gmv_per_exposed_user, 5);
  EXPECT_DOUBLE_EQ(a.ctr, 0.05);
  EXPECT_DOUBLE_EQ(a.net_margin, 5000 * 0.25 - 10);
  EXPECT_TRUE(a.lifts.empty());
  ASSERT_EQ(b.lifts.size(), 3u);
  // The GMV lift is the stats library's (no covariate: plain comparison).
  stats::Moments ma{.n = 1000, .sum_y = 5000, .sum_y2 = 400000};
  stats::Moments mb{.n = 1000, .sum_y = 7000, .sum_y2 = 600000};
  auto expected = stats::CompareMeans(ma, mb);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(b.lifts[0].metric, "gmv_per_user");
  EXPECT_DOUBLE_EQ(b.lifts[0].absolute, 2);
  EXPECT_DOUBLE_EQ(b.lifts[0].absolute_low, expected->always_valid_ci.lower);
  EXPECT_DOUBLE_EQ(b.lifts[0].p_value, expected->always_valid_p_value);
  EXPECT_EQ(b.lifts[1].metric, "conversion");
  EXPECT_NEAR(b.lifts[1].absolute, 0.05, 1e-12);
  EXPECT_NEAR(b.lifts[1].relative, 0.5, 1e-12);
  EXPECT_EQ(b.lifts[2].metric, "ctr");
  EXPECT_FALSE(r.srm);

  // A 52/48 split of 20,000 users against 50/50 shares.
  counts["a"].sums.exposed_users = 10400;
  counts["b"].sums.exposed_users = 9600;
  EXPECT_TRUE(
      BuildReport(*(*plan)->Find("layout"), counts, 0.25, absl::Now()).srm);
}

TEST(ReportTest, WithoutDataTheLiftsSaySo) {
  auto plan = ExperimentPlan::Parse(kConfig);
  ASSERT_TRUE(plan.ok());
  const ExperimentReport r =
      BuildReport(*(*plan)->Find("layout"), {}, 0.3, absl::Now());
  ASSERT_EQ(r.variants[1].lifts.size(), 3u);
  EXPECT_NE(r.variants[1].lifts[0].method.find("not enough data"),
            std::string::npos);
}

}  // namespace
}  // namespace recsys::experiments
