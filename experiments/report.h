// The experiment report (Admin.GetExperimentReport): per variant the
// counters and rates, and each treatment's lifts over the control computed
// by stats/ (docs/experiments.md, "Statistics"):
//   - gmv_per_user: attributed GMV per exposed user; CUPED with the
//     pre-period spend when it has variance, else the plain comparison;
//   - conversion: share of exposed users with an attributed purchase;
//   - ctr: clicks / impressions, users as the unit (delta method).
// Absolute lifts carry the always-valid (mSPRT) confidence sequence and
// p-value of this look, so operators may watch the report live; relative
// lifts the fixed-horizon delta-method interval. The SRM check compares
// exposed users per variant with the configured shares.
//
// Per segment (SegmentSums: the user's marketing segment at exposure, known
// for coupon experiments exposed through RecommendCoupons): each variant's
// conversion and margin net of discounts per exposed user, and for every
// variant but the baseline the incremental conversion (variant − baseline)
// and incremental margin per exposed user (m·GMV − discount, variant −
// baseline), each with its always-valid interval. The baseline is the
// experiment's first variant with a holdout coupon policy, else the
// control.
//
// Thread safety: free functions; safe to call concurrently.
#ifndef RECSYS_EXPERIMENTS_REPORT_H_
#define RECSYS_EXPERIMENTS_REPORT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "experiments/counter_store.h"
#include "experiments/experiment_plan.h"
#include "stats/stats.h"

namespace recsys::experiments {

struct LiftReport {
  std::string metric;  // "gmv_per_user", "conversion", "ctr"
  double control = 0;
  double treatment = 0;
  double absolute = 0, absolute_low = 0, absolute_high = 0;
  double relative = 0, relative_low = 0, relative_high = 0;
  double p_value = 1;
  // Fixed-horizon (Welch) standard error of `absolute`.
  double standard_error = 0;
  // How it was computed, or why it could not be ("not enough data: ...").
  std::string method;
};

// One variant's figures among the users of one segment.
struct SegmentReport {
  std::string segment;
  int64_t exposed_users = 0;
  int64_t converted_users = 0;
  double conversion_rate = 0;
  double gmv = 0;
  double coupon_cost = 0;
  // (margin · gmv − coupon_cost) / exposed_users.
  double margin_per_user = 0;
  // Against the baseline's users of the same segment (metrics
  // "incremental_conversion", "incremental_margin"); empty for the
  // baseline.
  std::vector<LiftReport> lifts;
};

struct VariantReport {
  std::string variant;
  bool control = false;
  double share = 0;
  int64_t exposed_users = 0;
  int64_t impressions = 0;
  int64_t clicks = 0;
  double ctr = 0;
  int64_t converted_users = 0;
  double conversion_rate = 0;
  double gmv = 0;
  double gmv_per_exposed_user = 0;
  int64_t coupons_issued = 0;
  int64_t coupons_redeemed = 0;
  double coupon_cost = 0;
  double net_margin = 0;
  std::map<std::string, SlotCounts> slots;
  std::vector<LiftReport> lifts;  // empty for the control
  // By segment name; empty when no exposure carried a segment.
  std::vector<SegmentReport> segments;
};

struct ExperimentReport {
  std::string experiment;
  std::string layer;
  bool running = false;
  std::vector<VariantReport> variants;  // config order
  double srm_p_value = 1;
  bool srm = false;
  std::string statistics;
  // The variant the segment rows compare with (see the file comment).
  std::string segment_baseline;
};

// The variant segment rows compare with: the first with a holdout coupon
// policy, else the control (an index into experiment.variants).
int SegmentBaseline(const Experiment& experiment);

// stats/ moments of one segment's conversion (y = 1 if converted) and of
// its margin net of discounts (y = margin·GMV − discount) per exposed user.
stats::Moments SegmentConversionMoments(const SegmentSums& s);
stats::Moments SegmentMarginMoments(const SegmentSums& s, double margin);

// The report of `experiment` from its counters; `margin` is the gross
// margin on GMV (ExperimentPlan::margin). Never fails: a lift without
// enough data says so in its method.
ExperimentReport BuildReport(const Experiment& experiment,
                             const ExperimentCounts& counts, double margin,
                             absl::Time now);

// Reports of `name` (empty: every experiment of `plan`) read from
// `counters`. NotFound naming `experiment` for an unknown name; the
// counters' errors otherwise.
absl::StatusOr<std::vector<ExperimentReport>> ReadReports(
    const ExperimentPlan& plan, const CounterStore& counters,
    absl::string_view name, absl::Time deadline);

}  // namespace recsys::experiments

#endif  // RECSYS_EXPERIMENTS_REPORT_H_
