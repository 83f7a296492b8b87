// The estimators of customer intelligence, as pure functions so that each
// can be checked on hand-computed cases:
//   - repurchase cycles: a user's intervals shrunk toward a prior cycle;
//   - logistic regression with an L2 penalty (Newton's method) and Platt
//     calibration of its scores on a held-out split;
//   - the classifier figures of the evaluation: AUC, expected calibration
//     error, lift of the top decile.
//
// Thread safety: free functions without shared state; LogisticModel is
// immutable after fitting and may be shared.
#ifndef RECSYS_INTELLIGENCE_ESTIMATORS_H_
#define RECSYS_INTELLIGENCE_ESTIMATORS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace recsys::intelligence {

// Median of `values` (the mean of the two middle values for an even
// count); 0 for none.
double Median(std::vector<double> values);

// The cycle estimator: the mean of the user's own intervals shrunk toward
// `prior_days` with the weight of `strength` intervals,
//   (sum(intervals) + strength * prior) / (n + strength).
// No interval gives the prior; many intervals approach their mean.
double ShrunkCycle(absl::Span<const double> intervals_days, double prior_days,
                   double strength);

// Days between consecutive distinct times (sorted ascending).
std::vector<double> IntervalsDays(absl::Span<const int64_t> sorted_times_unix);

struct LogisticOptions {
  // L2 penalty on the weights (not the bias), in units of the summed
  // log-likelihood.
  double l2 = 1;
  // Newton iterations at most, and the stop when the largest step is
  // smaller.
  int max_iterations = 50;
  double tolerance = 1e-9;
};

// p = sigmoid(bias + sum(weights[j] * (x[j] - mean[j]) / scale[j])), then
// calibrated: sigmoid(platt_a * logit + platt_b).
struct LogisticModel {
  std::vector<double> weights;
  double bias = 0;
  std::vector<double> mean;
  std::vector<double> scale;
  double platt_a = 1;
  double platt_b = 0;
  int iterations = 0;

  double Logit(absl::Span<const double> x) const;
  // Uncalibrated and calibrated probabilities.
  double Raw(absl::Span<const double> x) const;
  double Probability(absl::Span<const double> x) const;
};

// Fits on rows `x` (all the same width) with labels 0/1. Features are
// standardised (mean 0, scale 1; a constant feature keeps scale 1).
// InvalidArgument: no rows, ragged rows, a label other than 0/1, a
// non-finite value, negative l2.
absl::StatusOr<LogisticModel> FitLogistic(
    const std::vector<std::vector<double>>& x, absl::Span<const int> y,
    const LogisticOptions& options = {});

// Platt scaling: (a, b) maximising the likelihood of
// sigmoid(a * logit + b) on a held-out split (a tiny L2 keeps it finite on
// separable data). InvalidArgument as FitLogistic.
absl::Status FitPlatt(absl::Span<const double> logits, absl::Span<const int> y,
                      LogisticModel* model);

// Area under the ROC curve with ties counted half (mid-ranks); 0.5 when one
// class is absent.
double Auc(absl::Span<const double> scores, absl::Span<const int> y);

// Expected calibration error over `bins` equal-width probability bins:
// sum over bins of (n_bin / n) * |mean(p) - mean(y)|.
double ExpectedCalibrationError(absl::Span<const double> p,
                                absl::Span<const int> y, int bins = 10);

// Positive rate among the top tenth by score (ceil(n / 10) users; ties
// broken by index) over the positive rate of all; 0 without positives.
double TopDecileLift(absl::Span<const double> scores, absl::Span<const int> y);

}  // namespace recsys::intelligence

#endif  // RECSYS_INTELLIGENCE_ESTIMATORS_H_
