// Measured coupon uplift: what a campaign's holdout says about the share of
// coupon-driven purchases that would not have happened without the coupon
// (the incrementality u of marketing/coupon_ranking.h), per campaign and
// segment, and how RecommendCoupons blends it with the configured prior
// (docs/experiments.md, "Measured uplift").
//
// Estimate. For a campaign C of an experiment with a variant whose policy
// holds C out: among the users of segment s, c_h = conversion of the
// holdout variants' users, c_t = conversion of the others' (pooled); both
// per exposed user, from SegmentSums. Then
//   u_hat = (c_t − c_h) / c_t = 1 − c_h / c_t
// (the share of the treated users' conversions the coupon caused), with
// the delta-method standard error
//   se² = se_h² / c_t² + c_h² · se_t² / c_t⁴,   se_v² = c_v (1 − c_v) / n_v
// (the sample variance of a 0/1 indicator with n − 1 denominator, over n).
// No estimate below `min_users` users on either side or when c_t = 0.
//
// Blend (normal-normal shrinkage toward the prior u0 of the segment, with
// prior standard deviation tau = prior_sd):
//   w = tau² / (tau² + se²),   u = w · u_hat + (1 − w) · u0
// and once the interval is tight, z · se <= measured_half_width (z the
// normal quantile of `confidence`), the measured value alone: u = u_hat,
// w = 1. u is clamped to [0, 1]. Without an estimate: u = u0 (kPrior).
//
// Thread safety: free functions; UpliftSource is safe for concurrent use.
#ifndef RECSYS_EXPERIMENTS_UPLIFT_H_
#define RECSYS_EXPERIMENTS_UPLIFT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "experiments/attribution.h"
#include "experiments/counter_store.h"
#include "experiments/experiment_plan.h"

namespace recsys::experiments {

struct UpliftOptions {
  // tau: standard deviation of the prior on the incrementality (a share in
  // [0, 1]). 0.2: a configured prior of 0.5 is believed to about ±0.4 at
  // 95%, so a few hundred users per side already weigh as much as it.
  double prior_sd = 0.2;
  // Use the measured value alone once z·se <= this (the interval's half
  // width, in incrementality units). 0.05: ±5 points.
  double measured_half_width = 0.05;
  // Two-sided confidence of that interval, in (0, 1).
  double confidence = 0.95;
  // Fewest exposed users of the segment on each side (holdout, treated)
  // for an estimate; >= 2.
  int64_t min_users = 30;
  // UpliftSource: how often the counters are read again. 0: never in the
  // background (Refresh only).
  absl::Duration refresh_interval = absl::Seconds(60);
  // UpliftSource: deadline of one refresh's counter reads.
  absl::Duration refresh_timeout = absl::Seconds(2);
};

// OK, or InvalidArgument naming the field.
absl::Status ValidateUpliftOptions(const UpliftOptions& options);

// One campaign × segment measurement.
struct UpliftEstimate {
  std::string experiment;
  std::string campaign;
  std::string segment;
  int64_t holdout_users = 0;
  int64_t treated_users = 0;
  double holdout_conversion = 0;  // c_h
  double treated_conversion = 0;  // c_t
  double incrementality = 0;      // u_hat; may be < 0 or, not in theory, > 1
  double standard_error = 0;
};

// The estimates of every campaign of `experiment` that a variant holds out,
// per segment present in `counts`, that meet the rules above.
std::vector<UpliftEstimate> EstimateUplift(const Experiment& experiment,
                                           const ExperimentCounts& counts,
                                           const UpliftOptions& options);

enum class UpliftUse {
  kPrior = 0,     // no estimate: the configured prior
  kShrunk = 1,    // w·measured + (1 − w)·prior
  kMeasured = 2,  // the interval is tight enough: measured alone
};

// "prior", "shrunk", "measured".
absl::string_view UpliftUseName(UpliftUse use);

// The incrementality used and its inputs.
struct Incrementality {
  UpliftUse use = UpliftUse::kPrior;
  double value = 0;  // what the expected value uses
  double prior = 0;
  // Set unless kPrior.
  double measured = 0;
  double standard_error = 0;
  double weight = 0;  // w; 1 for kMeasured, 0 for kPrior
  std::string experiment;
  int64_t holdout_users = 0;
  int64_t treated_users = 0;
};

// The blend above; `estimate` may be null (kPrior).
Incrementality BlendIncrementality(double prior, const UpliftEstimate* estimate,
                                   const UpliftOptions& options);

// The estimates of every experiment of the served plan, read from the
// shared counters by Refresh (and every refresh_interval by a background
// thread) and kept in memory: Find does no I/O.
class UpliftSource {
 public:
  // Borrowed pointers must outlive the source. InvalidArgument for bad
  // options. With refresh_interval > 0 a thread refreshes right away and
  // then every interval until the source is destroyed; a failed refresh is
  // logged and keeps the previous estimates.
  static absl::StatusOr<std::unique_ptr<UpliftSource>> Create(
      const PlanHolder* plans, const CounterStore* counters,
      const UpliftOptions& options);
  ~UpliftSource();

  // Reads the counters of every experiment of the served plan that holds
  // a campaign out and replaces the estimates. The counters' error
  // (Unavailable, DeadlineExceeded) leaves them as they were.
  absl::Status Refresh(absl::Time deadline);

  // The estimate for `campaign` and `segment`, if any (when experiments
  // disagree, the one with the most users).
  std::optional<UpliftEstimate> Find(absl::string_view campaign,
                                     absl::string_view segment) const;

  // Every estimate of the last successful refresh.
  std::vector<UpliftEstimate> All() const;

  const UpliftOptions& options() const { return options_; }

 private:
  UpliftSource(const PlanHolder* plans, const CounterStore* counters,
               const UpliftOptions& options);
  void Loop();

  // Immutable after construction.
  const PlanHolder* const plans_;
  const CounterStore* const counters_;
  const UpliftOptions options_;

  mutable absl::Mutex mu_;
  // "<campaign>\0<segment>" -> estimate.
  absl::flat_hash_map<std::string, UpliftEstimate> estimates_
      ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace recsys::experiments

#endif  // RECSYS_EXPERIMENTS_UPLIFT_H_
