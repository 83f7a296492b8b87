// Measured coupon uplift: the report's per-segment rows on hand-computed
// counts, the estimate and its shrinkage toward the prior, the cached
// source, and a seeded simulation through the real counter store whose
// measured uplift converges to the simulated truth.
#include "experiments/uplift.h"

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/random.h"
#include "experiments/attribution.h"
#include "experiments/counter_store.h"
#include "experiments/experiment_plan.h"
#include "experiments/report.h"
#include "gtest/gtest.h"

namespace recsys::experiments {
namespace {

constexpr char kConfig[] = R"pb(
  layers {
    name: "coupons"
    experiments {
      name: "welcome_holdout"
      traffic_share: 1
      campaigns: "welcome"
      control: "holdout"
      variants {
        name: "holdout"
        share: 0.5
        coupons { campaign: "welcome" holdout: true }
      }
      variants { name: "coupon" share: 0.5 }
    }
  }
)pb";

std::shared_ptr<const ExperimentPlan> Plan() {
  auto plan = ExperimentPlan::Parse(kConfig);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return plan.ok() ? *plan : EmptyPlan();
}

// `users` users of whom `converted` bought one order of `order` and, in
// the coupon variant, were granted `discount` on it.
SegmentSums Sums(int64_t users, int64_t converted, double order,
                 double discount) {
  SegmentSums s;
  s.exposed_users = users;
  s.converted_users = converted;
  s.sum_y = converted * order;
  s.sum_y2 = converted * order * order;
  s.sum_d = converted * discount;
  s.sum_d2 = converted * discount * discount;
  s.sum_yd = converted * order * discount;
  return s;
}

const LiftReport* FindLift(const SegmentReport& r, const std::string& metric) {
  for (const LiftReport& l : r.lifts) {
    if (l.metric == metric) return &l;
  }
  return nullptr;
}

// Holdout: 100 new users, 5 buy 40. Coupon: 100 new users, 12 buy 40 with
// 5 off. Margin 0.3.
//   conversion 0.05 vs 0.12: +0.07; per-user variances (n - 1):
//     0.05·0.95·100/99 = 0.0479798, 0.12·0.88·100/99 = 0.1066667;
//     se = sqrt((0.0479798 + 0.1066667)/100) = 0.0393251.
//   margin per user: holdout 0.3·200/100 = 0.60; coupon (0.3·480 - 60)/100 =
//     0.84 (a buyer nets 0.3·40 - 5 = 7); +0.24; variances
//     (5·144 - 100·0.36)/99 = 6.909091 and (12·49 - 100·0.7056)/99 =
//     5.226667; se = sqrt((6.909091 + 5.226667)/100) = 0.348364.
TEST(UpliftReportTest, PerSegmentRowsOnHandComputedCounts) {
  auto plan = Plan();
  const Experiment* e = plan->Find("welcome_holdout");
  ASSERT_NE(e, nullptr);
  ExperimentCounts counts;
  counts["holdout"].segments["new"] = Sums(100, 5, 40, 0);
  counts["coupon"].segments["new"] = Sums(100, 12, 40, 5);
  const ExperimentReport report =
      BuildReport(*e, counts, 0.3, absl::FromUnixSeconds(1764000000));
  EXPECT_EQ(report.segment_baseline, "holdout");
  ASSERT_EQ(report.variants.size(), 2u);
  const VariantReport& holdout = report.variants[0];
  const VariantReport& coupon = report.variants[1];
  ASSERT_EQ(holdout.segments.size(), 1u);
  EXPECT_TRUE(holdout.segments[0].lifts.empty());
  EXPECT_DOUBLE_EQ(holdout.segments[0].conversion_rate, 0.05);
  EXPECT_NEAR(holdout.segments[0].margin_per_user, 0.60, 1e-12);
  ASSERT_EQ(coupon.segments.size(), 1u);
  const SegmentReport& row = coupon.segments[0];
  EXPECT_EQ(row.segment, "new");
  EXPECT_EQ(row.exposed_users, 100);
  EXPECT_EQ(row.converted_users, 12);
  EXPECT_DOUBLE_EQ(row.conversion_rate, 0.12);
  EXPECT_DOUBLE_EQ(row.gmv, 480);
  EXPECT_DOUBLE_EQ(row.coupon_cost, 60);
  EXPECT_NEAR(row.margin_per_user, 0.84, 1e-12);

  const LiftReport* conversion = FindLift(row, "incremental_conversion");
  ASSERT_NE(conversion, nullptr);
  EXPECT_NEAR(conversion->absolute, 0.07, 1e-12);
  EXPECT_NEAR(conversion->standard_error, 0.0393251, 1e-6);
  // The always-valid interval is wider than ±1.96 se and holds the estimate.
  EXPECT_LT(conversion->absolute_low, 0.07 - 1.96 * 0.0393251);
  EXPECT_GT(conversion->absolute_high, 0.07 + 1.96 * 0.0393251);
  const LiftReport* margin = FindLift(row, "incremental_margin");
  ASSERT_NE(margin, nullptr);
  EXPECT_NEAR(margin->absolute, 0.24, 1e-9);
  EXPECT_NEAR(margin->standard_error, 0.348364, 1e-5);
}

// A segment only one side has: the other side counts as empty, and the
// comparison says there is not enough data.
TEST(UpliftReportTest, ASegmentMissingOnOneSideHasNoLift) {
  auto plan = Plan();
  ExperimentCounts counts;
  counts["coupon"].segments["dormant"] = Sums(50, 4, 20, 2);
  const ExperimentReport report =
      BuildReport(*plan->Find("welcome_holdout"), counts, 0.3, absl::Now());
  ASSERT_EQ(report.variants[1].segments.size(), 1u);
  for (const LiftReport& l : report.variants[1].segments[0].lifts) {
    EXPECT_EQ(l.method.rfind("not enough data", 0), 0u) << l.method;
  }
}

// u = 1 - c_h / c_t with its delta-method standard error.
TEST(UpliftEstimateTest, MeasuresTheShareOfPurchasesTheCouponCaused) {
  auto plan = Plan();
  ExperimentCounts counts;
  counts["holdout"].segments["new"] = Sums(100, 5, 40, 0);
  counts["coupon"].segments["new"] = Sums(100, 12, 40, 5);
  counts["holdout"].segments["core"] = Sums(20, 2, 40, 0);  // < min_users
  counts["coupon"].segments["core"] = Sums(100, 30, 40, 5);
  const std::vector<UpliftEstimate> estimates =
      EstimateUplift(*plan->Find("welcome_holdout"), counts, UpliftOptions());
  ASSERT_EQ(estimates.size(), 1u);
  const UpliftEstimate& e = estimates[0];
  EXPECT_EQ(e.campaign, "welcome");
  EXPECT_EQ(e.segment, "new");
  EXPECT_EQ(e.experiment, "welcome_holdout");
  EXPECT_EQ(e.holdout_users, 100);
  EXPECT_EQ(e.treated_users, 100);
  EXPECT_NEAR(e.incrementality, 1 - 0.05 / 0.12, 1e-12);
  // se_h² = 0.0479798/100, se_t² = 0.1066667/100.
  const double se =
      std::sqrt(0.0479798 / 100 / (0.12 * 0.12) +
                0.05 * 0.05 * 0.1066667 / 100 / std::pow(0.12, 4));
  EXPECT_NEAR(e.standard_error, se, 1e-6);
}

// The same conversion rates at growing sample sizes: the weight of the
// measurement grows, the value moves from the prior to the measurement and
// switches to it alone once 1.96·se <= 0.05.
TEST(UpliftEstimateTest, ShrinkageMovesFromThePriorToTheMeasurement) {
  auto plan = Plan();
  const Experiment& e = *plan->Find("welcome_holdout");
  const UpliftOptions options;
  const double prior = 0.2;
  Incrementality none = BlendIncrementality(prior, nullptr, options);
  EXPECT_EQ(none.use, UpliftUse::kPrior);
  EXPECT_DOUBLE_EQ(none.value, prior);
  EXPECT_DOUBLE_EQ(none.weight, 0);

  double last_weight = 0;
  double last_distance = 1;
  std::vector<UpliftUse> uses;
  for (int64_t n : {100, 200, 800, 3200, 12800, 51200}) {
    ExperimentCounts counts;
    counts["holdout"].segments["new"] = Sums(n, n * 5 / 100, 40, 0);
    counts["coupon"].segments["new"] = Sums(n, n * 10 / 100, 40, 5);
    const std::vector<UpliftEstimate> estimates =
        EstimateUplift(e, counts, options);
    ASSERT_EQ(estimates.size(), 1u) << n;
    EXPECT_NEAR(estimates[0].incrementality, 0.5, 1e-9) << n;
    const Incrementality u = BlendIncrementality(prior, &estimates[0], options);
    uses.push_back(u.use);
    if (u.use == UpliftUse::kShrunk) {
      EXPECT_GT(u.weight, last_weight) << n;
    } else {
      EXPECT_GE(u.weight, last_weight) << n;
    }
    const double tau2 = options.prior_sd * options.prior_sd;
    const double se2 =
        estimates[0].standard_error * estimates[0].standard_error;
    if (u.use == UpliftUse::kShrunk) {
      EXPECT_NEAR(u.weight, tau2 / (tau2 + se2), 1e-12);
      EXPECT_NEAR(u.value, u.weight * 0.5 + (1 - u.weight) * prior, 1e-12);
      EXPECT_GT(1.96 * estimates[0].standard_error,
                options.measured_half_width);
    } else {
      EXPECT_EQ(u.use, UpliftUse::kMeasured);
      EXPECT_DOUBLE_EQ(u.value, 0.5);
      EXPECT_LE(1.96 * estimates[0].standard_error,
                options.measured_half_width);
    }
    const double distance = std::abs(u.value - 0.5);
    if (u.use == UpliftUse::kShrunk) {
      EXPECT_LT(distance, last_distance) << n;
    } else {
      EXPECT_LE(distance, last_distance) << n;
    }
    last_weight = u.weight;
    last_distance = distance;
  }
  EXPECT_EQ(uses.front(), UpliftUse::kShrunk);
  EXPECT_EQ(uses.back(), UpliftUse::kMeasured);
}

TEST(UpliftEstimateTest, BlendIsClampedAndOptionsAreChecked) {
  UpliftEstimate negative;
  negative.incrementality = -0.4;
  negative.standard_error = 0.001;
  EXPECT_DOUBLE_EQ(BlendIncrementality(0.3, &negative, {}).value, 0);
  UpliftOptions bad;
  bad.prior_sd = 0;
  EXPECT_EQ(ValidateUpliftOptions(bad).message().rfind("uplift.prior_sd", 0),
            0u);
  bad = UpliftOptions();
  bad.min_users = 1;
  EXPECT_FALSE(ValidateUpliftOptions(bad).ok());
  bad = UpliftOptions();
  bad.confidence = 1;
  EXPECT_FALSE(ValidateUpliftOptions(bad).ok());
  EXPECT_TRUE(ValidateUpliftOptions(UpliftOptions()).ok());
}

// True per-segment rates of the simulation: order probability without a
// coupon and the added probability with one.
struct Truth {
  const char* segment;
  double base;
  double uplift;
  double incrementality() const { return uplift / (base + uplift); }
};
constexpr Truth kTruths[] = {
    {"new", 0.05, 0.04}, {"dormant", 0.02, 0.06}, {"core", 0.20, 0.02}};

// Simulates `users` visitors per segment (ids from `first`), assigned by
// the plan, exposed with their segment as RecommendCoupons exposes them;
// a visitor of the coupon variant gets the coupon, orders with probability
// base (+ uplift with the coupon) and redeems 5 off an order of 40.
void Simulate(const ExperimentPlan& plan, CounterStore* store, Rng* rng,
              int first, int users) {
  const absl::Time t = absl::FromUnixSeconds(1764000000);
  CountRules rules;
  std::vector<ExperimentEvent> batch;
  for (const Truth& truth : kTruths) {
    for (int i = first; i < first + users; ++i) {
      const std::string user = absl::StrCat("sim-", truth.segment, "-", i);
      const std::vector<Assignment> arms = plan.Assign(user, t, {});
      ASSERT_EQ(arms.size(), 1u);
      const std::string variant = arms[0].variant->name;
      const bool coupon = variant == "coupon";
      ExperimentEvent e;
      e.experiment = "welcome_holdout";
      e.variant = variant;
      e.slot = "coupons";
      e.user_id = user;
      e.time = t;
      e.segment = truth.segment;
      e.type = CountedEvent::kImpression;
      batch.push_back(e);
      e.segment.clear();  // later events: the stored segment holds
      if (rng->Uniform() < truth.base + (coupon ? truth.uplift : 0)) {
        if (coupon) {
          e.type = CountedEvent::kCouponRedeemed;
          e.value = 5;
          batch.push_back(e);
        }
        e.type = CountedEvent::kPurchase;
        e.value = 40;
        batch.push_back(e);
      }
    }
  }
  auto out = store->Record(batch, rules, absl::InfiniteFuture());
  ASSERT_TRUE(out.ok()) << out.status();
}

// The measured incrementality per segment converges to the truth: within
// 3.5 standard errors at every look, standard errors shrinking as 1/√n,
// and after 32,000 users per segment and variant tight enough to be used
// alone. The report's incremental conversion interval covers the true
// uplift. Seeded: the same draws every run.
TEST(UpliftSimulationTest, MeasuredUpliftConvergesToTheTruth) {
  auto plan = Plan();
  auto store = NewInMemoryCounterStore();
  Rng rng(20261203);
  std::map<std::string, double> first_se;
  int simulated = 0;
  for (int total : {2000, 8000, 64000}) {
    Simulate(*plan, store.get(), &rng, simulated, total - simulated);
    simulated = total;
    auto counts = store->Read("welcome_holdout", absl::InfiniteFuture());
    ASSERT_TRUE(counts.ok()) << counts.status();
    const std::vector<UpliftEstimate> estimates = EstimateUplift(
        *plan->Find("welcome_holdout"), *counts, UpliftOptions());
    ASSERT_EQ(estimates.size(), 3u);
    for (const Truth& truth : kTruths) {
      const UpliftEstimate* e = nullptr;
      for (const auto& x : estimates) {
        if (x.segment == truth.segment) e = &x;
      }
      ASSERT_NE(e, nullptr) << truth.segment;
      SCOPED_TRACE(absl::StrCat(
          truth.segment, " at ", total, " users: ", e->incrementality, " ± ",
          e->standard_error, ", truth ", truth.incrementality()));
      EXPECT_LT(std::abs(e->incrementality - truth.incrementality()),
                3.5 * e->standard_error);
      if (total == 2000) first_se[truth.segment] = e->standard_error;
      if (total == 64000) {
        // 32 times the users: about 1/√32 = 0.18 of the standard error.
        const double ratio = e->standard_error / first_se[truth.segment];
        EXPECT_GT(ratio, 0.12);
        EXPECT_LT(ratio, 0.25);
        const Incrementality u = BlendIncrementality(0.5, e, UpliftOptions());
        EXPECT_EQ(u.use, UpliftUse::kMeasured);
        EXPECT_LT(std::abs(u.value - truth.incrementality()), 0.06);
      }
    }
    const ExperimentReport report =
        BuildReport(*plan->Find("welcome_holdout"), *counts, 0.3, absl::Now());
    for (const SegmentReport& row : report.variants[1].segments) {
      const LiftReport* lift = FindLift(row, "incremental_conversion");
      ASSERT_NE(lift, nullptr);
      double uplift = 0;
      for (const Truth& truth : kTruths) {
        if (row.segment == truth.segment) uplift = truth.uplift;
      }
      EXPECT_LE(lift->absolute_low, uplift) << row.segment << " " << total;
      EXPECT_GE(lift->absolute_high, uplift) << row.segment << " " << total;
    }
  }
}

// The source reads the counters on Refresh only (no background thread
// here) and answers from memory.
TEST(UpliftSourceTest, RefreshReadsTheCountersFindAnswersFromMemory) {
  PlanHolder plans;
  plans.Set(Plan());
  auto store = NewInMemoryCounterStore();
  UpliftOptions options;
  options.refresh_interval = absl::ZeroDuration();
  auto source = UpliftSource::Create(&plans, store.get(), options);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_FALSE((*source)->Find("welcome", "new").has_value());
  Rng rng(7);
  Simulate(*plans.Get(), store.get(), &rng, 0, 400);
  EXPECT_FALSE((*source)->Find("welcome", "new").has_value());  // not yet read
  ASSERT_TRUE((*source)->Refresh(absl::InfiniteFuture()).ok());
  auto found = (*source)->Find("welcome", "new");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->experiment, "welcome_holdout");
  EXPECT_GT(found->holdout_users + found->treated_users, 300);
  EXPECT_FALSE((*source)->Find("other_campaign", "new").has_value());
  EXPECT_EQ((*source)->All().size(), 3u);
  EXPECT_FALSE(UpliftSource::Create(&plans, nullptr, options).ok());
}

// With a refresh interval, a background thread reads the counters; the
// source stops it when destroyed.
TEST(UpliftSourceTest, TheBackgroundThreadRefreshes) {
  PlanHolder plans;
  plans.Set(Plan());
  auto store = NewInMemoryCounterStore();
  Rng rng(8);
  Simulate(*plans.Get(), store.get(), &rng, 0, 400);
  UpliftOptions options;
  options.refresh_interval = absl::Milliseconds(20);
  auto source = UpliftSource::Create(&plans, store.get(), options);
  ASSERT_TRUE(source.ok()) << source.status();
  // Waits for the first refresh (no bound on how long it takes).
  while (!(*source)->Find("welcome", "core").has_value()) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  source->reset();
}

}  // namespace
}  // namespace recsys::experiments
