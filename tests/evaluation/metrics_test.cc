#include "evaluation/metrics.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace recsys::evaluation {
namespace {

TEST(ScoreListTest, HandComputedValues) {
  // Relevant {1, 3, 5}; list hits at ranks 1 and 3 (1-based).
  const std::vector<int32_t> relevant = {1, 3, 5};
  const std::vector<int32_t> ranked = {3, 9, 5, 7};
  const ListMetrics m = ScoreList(ranked, relevant, 4);
  EXPECT_DOUBLE_EQ(m.recall, 2.0 / 3.0);
  const double dcg = 1.0 + 1.0 / std::log2(4.0);
  const double idcg = 1.0 + 1.0 / std::log2(3.0) + 1.0 / std::log2(4.0);
  EXPECT_DOUBLE_EQ(m.ndcg, dcg / idcg);
  EXPECT_DOUBLE_EQ(m.hit, 1.0);
  // AP = (1/1 + 2/3) / min(3, 4).
  EXPECT_DOUBLE_EQ(m.ap, (1.0 + 2.0 / 3.0) / 3.0);
}

TEST(ScoreListTest, RecallAndApUseMinOfTestSizeAndK) {
  // Five relevant items, K = 2: the denominators are 2, not 5.
  const std::vector<int32_t> relevant = {1, 2, 3, 4, 5};
  const std::vector<int32_t> ranked = {1, 2, 8};
  const ListMetrics m = ScoreList(ranked, relevant, 2);
  EXPECT_DOUBLE_EQ(m.recall, 1.0);
  EXPECT_DOUBLE_EQ(m.ndcg, 1.0);
  EXPECT_DOUBLE_EQ(m.ap, 1.0);
  // Only the first K entries count.
  const ListMetrics late = ScoreList({8, 9, 1}, relevant, 2);
  EXPECT_DOUBLE_EQ(late.recall, 0.0);
  EXPECT_DOUBLE_EQ(late.hit, 0.0);
}

TEST(ScoreListTest, SingleHitAtSecondRank) {
  const ListMetrics m = ScoreList({7, 4}, {4}, 10);
  EXPECT_DOUBLE_EQ(m.recall, 1.0);
  EXPECT_DOUBLE_EQ(m.ndcg, 1.0 / std::log2(3.0));
  EXPECT_DOUBLE_EQ(m.ap, 0.5);
}

TEST(ScoreListTest, EmptyRelevantOrListScoresZero) {
  EXPECT_DOUBLE_EQ(ScoreList({1, 2}, {}, 5).recall, 0.0);
  const ListMetrics m = ScoreList({}, {1}, 5);
  EXPECT_DOUBLE_EQ(m.recall, 0.0);
  EXPECT_DOUBLE_EQ(m.ndcg, 0.0);
  EXPECT_DOUBLE_EQ(m.hit, 0.0);
}

TEST(MetricsAccumulatorTest, MeansAndCoverage) {
  MetricsAccumulator acc({1, 2}, /*catalog_size=*/10);
  acc.Add({0, 1}, {0});     // hit at rank 1
  acc.Add({2, 3}, {3, 9});  // hit at rank 2
  MetricsAccumulator other({1, 2}, 10);
  other.Add({4, 0}, {5});  // miss
  acc.Merge(other);
  EXPECT_EQ(acc.users(), 3);
  const std::vector<MetricsAtK> r = acc.Results();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].k, 1);
  EXPECT_DOUBLE_EQ(r[0].recall, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(r[0].hit_rate, 1.0 / 3.0);
  // Top-1 lists cover {0, 2, 4}.
  EXPECT_DOUBLE_EQ(r[0].coverage, 0.3);
  EXPECT_EQ(r[1].k, 2);
  // K=2: user 1 recall 1, user 2 recall 1/2, user 3 0.
  EXPECT_DOUBLE_EQ(r[1].recall, 0.5);
  EXPECT_DOUBLE_EQ(r[1].hit_rate, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(
      r[1].ndcg,
      (1.0 + (1.0 / std::log2(3.0)) / (1.0 + 1.0 / std::log2(3.0))) / 3.0);
  EXPECT_DOUBLE_EQ(r[1].map, (1.0 + 0.5 / 2.0) / 3.0);
  // Top-2 lists cover {0, 1, 2, 3, 4}.
  EXPECT_DOUBLE_EQ(r[1].coverage, 0.5);
}

TEST(LeaveOneOutTest, RankCountsTiesAgainstTheModel) {
  EXPECT_EQ(LeaveOneOutRank(0.5f, {0.1f, 0.2f}), 0);
  EXPECT_EQ(LeaveOneOutRank(0.5f, {0.9f, 0.5f, 0.1f}), 2);
  EXPECT_EQ(LeaveOneOutRank(0.5f, {std::numeric_limits<float>::quiet_NaN()}),
            1);
  EXPECT_DOUBLE_EQ(HitAt(9, 10), 1.0);
  EXPECT_DOUBLE_EQ(HitAt(10, 10), 0.0);
  EXPECT_DOUBLE_EQ(NdcgAt(0, 10), 1.0);
  EXPECT_DOUBLE_EQ(NdcgAt(2, 10), 0.5);
  EXPECT_DOUBLE_EQ(NdcgAt(10, 10), 0.0);
}

}  // namespace
}  // namespace recsys::evaluation
