// Seeded simulations with known truth (stats/simulation.h). Each check's
// band is wide enough to hold for almost any seed (several binomial
// standard deviations at the run counts used), and the seeds are fixed, so
// a run of the suite cannot flake.
#include "stats/simulation.h"

#include <cmath>

#include "gtest/gtest.h"

namespace recsys::stats {
namespace {

SimulationOptions Options(int runs) {
  SimulationOptions o;
  o.runs = runs;
  o.seed = 20240611;
  o.users_per_variant = 2000;
  return o;
}

// |mean estimate - truth| within 4 standard errors of the mean over runs
// (the interval width is 2 · 1.96 standard errors of one run's estimate).
void ExpectUnbiased(const CoverageRow& row) {
  const double se_of_mean =
      row.mean_ci_width / (2 * 1.96) / std::sqrt(row.runs);
  EXPECT_NEAR(row.mean_absolute, row.true_absolute, 4 * se_of_mean)
      << row.metric;
}

TEST(SimulationTest, MeanMetricIntervalsCoverTheTrueLift) {
  absl::StatusOr<CoverageRow> row = SimulateMeanCoverage(Options(400));
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(row->runs, 400);
  // 95% nominal; one binomial sd at 400 runs is 0.011.
  EXPECT_GE(row->coverage_absolute, 0.92);
  EXPECT_LE(row->coverage_absolute, 0.98);
  EXPECT_GE(row->coverage_relative, 0.92);
  EXPECT_LE(row->coverage_relative, 0.98);
  EXPECT_GE(row->coverage_always_valid, row->coverage_absolute);
  EXPECT_DOUBLE_EQ(row->true_relative, 0.10);
  ExpectUnbiased(*row);
}

TEST(SimulationTest, RatioMetricIntervalsCoverTheTrueLift) {
  absl::StatusOr<CoverageRow> row = SimulateRatioCoverage(Options(400));
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_GE(row->coverage_absolute, 0.92);
  EXPECT_LE(row->coverage_absolute, 0.98);
  EXPECT_GE(row->coverage_relative, 0.92);
  EXPECT_LE(row->coverage_relative, 0.98);
  EXPECT_NEAR(row->true_absolute, 0.004, 1e-15);
  ExpectUnbiased(*row);
}

TEST(SimulationTest, CupedReducesVarianceAndKeepsCoverage) {
  CoverageRow unadjusted;
  absl::StatusOr<CoverageRow> row =
      SimulateCupedCoverage(Options(400), &unadjusted);
  ASSERT_TRUE(row.ok()) << row.status();
  // x and y share the user's spending rate: corr² about 0.48 at the
  // defaults, so about half of the variance goes.
  EXPECT_GT(row->mean_variance_reduction, 0.35);
  EXPECT_LT(row->mean_variance_reduction, 0.60);
  EXPECT_LT(row->mean_ci_width, 0.8 * unadjusted.mean_ci_width);
  EXPECT_GE(row->coverage_absolute, 0.92);
  EXPECT_LE(row->coverage_absolute, 0.98);
  EXPECT_GE(unadjusted.coverage_absolute, 0.92);
  EXPECT_LE(unadjusted.coverage_absolute, 0.98);
  ExpectUnbiased(*row);
  ExpectUnbiased(unadjusted);
}

TEST(SimulationTest, CupedWithoutCorrelationRemovesNothing) {
  SimulationOptions o = Options(50);
  o.shop.spend_log_sd = 0.01;  // rates nearly equal: x and y independent
  absl::StatusOr<CoverageRow> row = SimulateCupedCoverage(o);
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_LT(std::abs(row->mean_variance_reduction), 0.01);
}

TEST(SimulationTest, PeekingInflatesFixedHorizonButNotMsprt) {
  SimulationOptions o = Options(400);
  o.looks = 50;
  o.users_per_look = 200;
  absl::StatusOr<PeekingRow> aa = SimulatePeeking(o, 0);
  ASSERT_TRUE(aa.ok()) << aa.status();
  EXPECT_EQ(aa->users_per_variant, 10000);
  // The always-valid test keeps its promise under continuous monitoring.
  EXPECT_LE(aa->msprt_any_look, 0.05);
  // One look at the planned horizon is a 5% test.
  EXPECT_LE(aa->fixed_last_look, 0.08);
  // Stopping at the first of 50 looks with p < 0.05 is not (about 0.3).
  EXPECT_GT(aa->fixed_any_look, 0.15);
  EXPECT_GT(aa->fixed_any_look, 3 * aa->msprt_any_look);
}

TEST(SimulationTest, MsprtDetectsARealEffect) {
  SimulationOptions o = Options(100);
  o.looks = 20;
  o.users_per_look = 2000;
  absl::StatusOr<PeekingRow> ab = SimulatePeeking(o, 0.3);
  ASSERT_TRUE(ab.ok()) << ab.status();
  // +30% GMV at 40000 users per variant: z about 8 at the end.
  EXPECT_GT(ab->msprt_any_look, 0.9);
}

TEST(SimulationTest, SrmFiresOnA52To48AssignmentAndNotOn50To50) {
  absl::StatusOr<SrmRow> fair = SimulateSrm(Options(400), 10000, 0.5);
  ASSERT_TRUE(fair.ok()) << fair.status();
  EXPECT_LE(fair->flagged, 0.01);  // alpha = 0.001
  // A planted 52/48 assignment of 100000 users: chi² about 160.
  absl::StatusOr<SrmRow> skewed = SimulateSrm(Options(100), 100000, 0.52);
  ASSERT_TRUE(skewed.ok()) << skewed.status();
  EXPECT_EQ(skewed->flagged, 1);
}

TEST(SimulationTest, SameSeedSameRowsAndRunsDoNotShareStreams) {
  SimulationOptions o = Options(20);
  absl::StatusOr<CoverageRow> a = SimulateMeanCoverage(o);
  absl::StatusOr<CoverageRow> b = SimulateMeanCoverage(o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->mean_absolute, b->mean_absolute);
  EXPECT_EQ(a->mean_ci_width, b->mean_ci_width);
  o.seed += 1;
  absl::StatusOr<CoverageRow> c = SimulateMeanCoverage(o);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->mean_absolute, c->mean_absolute);
}

TEST(SimulationTest, RefusesBadOptionsNamingTheField) {
  SimulationOptions o = Options(0);
  EXPECT_EQ(SimulateMeanCoverage(o).status().message().find("runs: "), 0u);
  o = Options(10);
  o.users_per_variant = 1;
  EXPECT_EQ(
      SimulateRatioCoverage(o).status().message().find("users_per_variant: "),
      0u);
  o = Options(10);
  o.shop.conversion = 0.95;  // · 1.1 > 1
  EXPECT_EQ(
      SimulateMeanCoverage(o).status().message().find("shop.conversion: "), 0u);
  EXPECT_TRUE(
      absl::IsInvalidArgument(SimulateSrm(Options(10), 1, 0.5).status()));
}

}  // namespace
}  // namespace recsys::stats
