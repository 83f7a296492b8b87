#include "intelligence/estimators.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace recsys::intelligence {
namespace {

TEST(MedianTest, OddEvenAndEmpty) {
  EXPECT_EQ(Median({3, 1, 2}), 2);
  EXPECT_EQ(Median({4, 1, 3, 2}), 2.5);
  EXPECT_EQ(Median({}), 0);
}

TEST(ShrunkCycleTest, ShrinksTheUsersMeanTowardThePrior) {
  // (10 + 20 + 2 * 30) / (2 + 2) = 22.5
  const std::vector<double> intervals = {10, 20};
  EXPECT_DOUBLE_EQ(ShrunkCycle(intervals, 30, 2), 22.5);
  // No interval of its own: the prior.
  EXPECT_DOUBLE_EQ(ShrunkCycle({}, 30, 2), 30);
  // Many intervals approach their own mean (7): (100 * 7 + 2 * 30) / 102.
  const std::vector<double> many(100, 7.0);
  EXPECT_NEAR(ShrunkCycle(many, 30, 2), 760.0 / 102, 1e-12);
}

TEST(IntervalsDaysTest, SkipsRepeatedTimes) {
  const std::vector<int64_t> times = {0, 86400, 86400, 4 * 86400};
  EXPECT_EQ(IntervalsDays(times), (std::vector<double>{1, 3}));
}

TEST(AucTest, HandComputedAndTies) {
  // Pairs (pos, neg): 0.35 > 0.1, 0.35 < 0.4, 0.8 > both: 3 of 4.
  EXPECT_DOUBLE_EQ(Auc(std::vector<double>{0.1, 0.4, 0.35, 0.8},
                       std::vector<int>{0, 0, 1, 1}),
                   0.75);
  EXPECT_DOUBLE_EQ(Auc(std::vector<double>{0.5, 0.5}, std::vector<int>{0, 1}),
                   0.5);
  EXPECT_DOUBLE_EQ(Auc(std::vector<double>{0.2, 0.9}, std::vector<int>{1, 1}),
                   0.5);
}

TEST(ExpectedCalibrationErrorTest, HandComputed) {
  // Bin [0.1, 0.2): mean p 0.1, mean y 0.5 -> 0.5 * 0.4; bin [0.9, 1]:
  // 0.9 vs 1 -> 0.5 * 0.1. Sum 0.25.
  EXPECT_NEAR(ExpectedCalibrationError(std::vector<double>{0.1, 0.1, 0.9, 0.9},
                                       std::vector<int>{0, 1, 1, 1}),
              0.25, 1e-12);
}

TEST(TopDecileLiftTest, HandComputed) {
  // 20 users, 4 positives (rate 0.2); the top 2 by score are positives.
  std::vector<double> scores;
  std::vector<int> y;
  for (int i = 0; i < 20; ++i) {
    scores.push_back(20 - i);
    y.push_back(i < 2 || i == 10 || i == 15 ? 1 : 0);
  }
  EXPECT_DOUBLE_EQ(TopDecileLift(scores, y), 5.0);
  EXPECT_DOUBLE_EQ(TopDecileLift(scores, std::vector<int>(20, 0)), 0);
}

TEST(FitLogisticTest, UnpenalisedFitMatchesGroupRates) {
  // x = 0: 1 of 4 positive; x = 1: 3 of 4. The MLE reproduces the rates.
  std::vector<std::vector<double>> x;
  std::vector<int> y = {1, 0, 0, 0, 1, 1, 1, 0};
  for (int i = 0; i < 8; ++i) x.push_back({i < 4 ? 0.0 : 1.0});
  RECSYS_ASSERT_OK_AND_ASSIGN(LogisticModel model,
                              FitLogistic(x, y, {.l2 = 0}));
  EXPECT_NEAR(model.Raw(std::vector<double>{0}), 0.25, 1e-6);
  EXPECT_NEAR(model.Raw(std::vector<double>{1}), 0.75, 1e-6);
  // Uncalibrated: Probability == Raw.
  EXPECT_NEAR(model.Probability(std::vector<double>{1}), 0.75, 1e-6);
}

TEST(FitLogisticTest, L2ShrinksTowardTheBaseRate) {
  std::vector<std::vector<double>> x;
  std::vector<int> y = {1, 0, 0, 0, 1, 1, 1, 0};
  for (int i = 0; i < 8; ++i) x.push_back({i < 4 ? 0.0 : 1.0});
  RECSYS_ASSERT_OK_AND_ASSIGN(LogisticModel model,
                              FitLogistic(x, y, {.l2 = 1000}));
  EXPECT_NEAR(model.Raw(std::vector<double>{1}), 0.5, 0.01);
  EXPECT_GT(model.Raw(std::vector<double>{1}),
            model.Raw(std::vector<double>{0}));
}

TEST(FitLogisticTest, RefusesBadInput) {
  EXPECT_EQ(FitLogistic({}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      FitLogistic({{1.0}, {1.0, 2.0}}, std::vector<int>{0, 1}).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FitLogistic({{1.0}}, std::vector<int>{2}).status().message(),
            "y[0]: must be 0 or 1, got 2");
  EXPECT_EQ(FitLogistic({{NAN}}, std::vector<int>{1}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FitPlattTest, RecoversTheCalibrationMap) {
  // At logit -1 the rate is 1/4, at +1 it is 3/4: a * -1 + b = -ln 3 and
  // a + b = ln 3, so a = ln 3, b = 0.
  std::vector<double> logits;
  std::vector<int> y = {1, 0, 0, 0, 1, 1, 1, 0};
  for (int i = 0; i < 8; ++i) logits.push_back(i < 4 ? -1 : 1);
  LogisticModel model;
  RECSYS_ASSERT_OK(FitPlatt(logits, y, &model));
  EXPECT_NEAR(model.platt_a, std::log(3.0), 1e-4);
  EXPECT_NEAR(model.platt_b, 0, 1e-4);
}

}  // namespace
}  // namespace recsys::intelligence
