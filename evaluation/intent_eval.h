// Offline evaluation of the purchase-intent model (intelligence/compute.h)
// on a time split, against the RFM-rule baseline in the same run:
//   - the model is fitted as the nightly job fits it, with history up to
//     `as_of` only (its own labels come from (as_of - horizon, as_of]);
//   - every user with an order by as_of is scored; the label is an order
//     in (as_of, as_of + horizon];
//   - the baseline scores r + f + m (marketing/segments.h, quantile scores
//     at as_of); its probability is the buy rate of users with the same
//     sum over the previous window (scores at as_of - horizon, orders in
//     (as_of - horizon, as_of]), so both are calibrated on past data only.
// Figures: AUC, expected calibration error (10 bins), lift of the top
// decile, mean predicted probability.
//
// Thread safety: free functions without shared state.
#ifndef RECSYS_EVALUATION_INTENT_EVAL_H_
#define RECSYS_EVALUATION_INTENT_EVAL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "intelligence/compute.h"
#include "intelligence/config.h"
#include "training/csv_reader.h"

namespace recsys::evaluation {

struct IntentEvalOptions {
  // Split time: features and fit up to it, labels after it.
  int64_t as_of_unix = 0;
  // Intent settings (intent_horizon_days is the label window too).
  intelligence::IntelligenceConfig config;
};

struct ClassifierFigures {
  std::string name;
  double auc = 0;
  double ece = 0;
  double top_decile_lift = 0;
  double mean_probability = 0;
};

struct IntentEvalReport {
  int64_t users = 0;
  // Share of users with an order in (as_of, as_of + horizon].
  double positive_rate = 0;
  intelligence::IntentReport fit;
  // The model, then the baseline.
  std::vector<ClassifierFigures> rows;
};

// InvalidArgument: as_of_unix <= 0, no user with an order by as_of, or no
// label of either class.
absl::StatusOr<IntentEvalReport> EvaluateIntent(
    const std::vector<training::PurchaseRow>& rows,
    const IntentEvalOptions& options);

// The report as a Markdown table (one line per row) with a header line.
std::string FormatIntentTable(const IntentEvalReport& report);

}  // namespace recsys::evaluation

#endif  // RECSYS_EVALUATION_INTENT_EVAL_H_
