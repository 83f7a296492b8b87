// Learning the production ranker's weights (recommender/ranker.h).
//
// Protocol: the caller splits its training period at `now_unix` into a fit
// period (before) and a validation window (after, e.g. the last 30 days).
// With a model trained on the fit period only, every user with purchases in
// the window is ranked as the server would rank them at `now_unix`; each
// candidate (vector neighbours ∪ history) becomes one example, labelled 1 if
// the user bought the item in the window. A logistic regression with L2
// (Newton's method; a few features, so each step is a small solve) gives the
// weights (the sums over the examples run on `threads` workers, in fixed
// blocks, so the weights do not depend on the thread count). Because
// candidates include both sources, the weights learn how
// much repurchase versus discovery deserves, per user and item features.
// RankerFitOptions::feature_set adds the item-neighbour and the
// popular/trending candidates with their features; `discovery` fits a
// second weight vector on the not-bought candidates.
//
// FitRankerOnWindow is that whole step for a model already trained on the
// fit period (the trainer and the evaluation's production ranker both call
// it); WindowLabels turns the window's purchases into its labels.
//
// Thread safety: FitRanker and FitRankerOnWindow are pure functions;
// `threads` workers build the examples and sum the fit. A WindowLabels is
// not thread-safe.
#ifndef RECSYS_TRAINING_RANKER_FIT_H_
#define RECSYS_TRAINING_RANKER_FIT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "model/model_format.h"
#include "model/ranker.h"
#include "training/als.h"
#include "training/interactions.h"

namespace recsys::training {

// Which of the ranker's inputs a fit uses: the vector and history
// candidates with the first ten features (kBase, as models before the
// neighbour features), plus the item neighbours (kNeighbors: candidates and
// kFeatKnnScore / kFeatKnnRank), plus the popular and trending items
// (kNeighborsTrending: candidates and kFeatTrending), plus the items whose
// titles resemble the user's purchases (kContent: the title neighbours as
// candidates, with kFeatTitleScore / kFeatTitleRank).
enum class RankerFeatureSet {
  kBase = 0,
  kNeighbors = 1,
  kNeighborsTrending = 2,
  kContent = 3,
};
absl::string_view RankerFeatureSetName(RankerFeatureSet set);

struct RankerFitOptions {
  // Inputs of the fit (the tuner tries each).
  RankerFeatureSet feature_set = RankerFeatureSet::kBase;
  // Also fit discovery weights (RankerWeights::discovery) on the candidates
  // the user had not bought.
  bool discovery = false;
  // Vector candidates per user (RankOptions::vector_candidates).
  int vector_candidates = 200;
  // Time constant of the recency feature.
  float recency_tau_days = 30;
  // L2 penalty on the weights.
  double l2 = 1e-3;
  // L2 penalty on the discovery weights; negative: `l2`.
  double discovery_l2 = -1;
  // Fit the main weights. False: only the discovery weights are fit (w
  // stays 0, log_loss 0), e.g. to try another discovery penalty without
  // refitting the main weights, which do not depend on it.
  bool main_weights = true;
  // Newton iterations (stops earlier when the step is tiny).
  int max_iterations = 30;
  // At most this many window users are used (the first ones by row).
  int max_users = 50000;
  int threads = 2;
};

struct RankerFitResult {
  model::RankerWeights weights;
  int users = 0;
  int64_t examples = 0;
  int64_t positives = 0;
  // Share of window purchases that were among the candidates (an upper
  // bound on what any weighting can reach).
  double candidate_recall = 0;
  double log_loss = 0;
};

// Labelled candidates of a window from every source (vector, history,
// neighbours, popular and trending), so that several feature sets can be
// fit from one pass: row i of x has kNumRankerFeatures features and a
// constant 1; sources[i] holds its RankerSource bits.
struct RankerExamples {
  std::vector<float> x;
  std::vector<uint8_t> y;
  std::vector<uint8_t> sources;
  int users = 0;
  // Distinct window purchases of those users.
  int64_t window_items = 0;
};

// The examples FitRanker fits (arguments as FitRanker's; the feature set and
// discovery options are not used here).
absl::StatusOr<RankerExamples> BuildRankerExamples(
    const model::RankerModel& model, absl::Span<const float> user_factors,
    absl::Span<const int64_t> history_indptr,
    absl::Span<const model::HistoryEntry> history,
    const std::vector<std::vector<int32_t>>& window_items, int64_t now_unix,
    const RankerFitOptions& options);

// The logistic fit of options.feature_set (and options.discovery) on
// `examples`. FailedPrecondition when no candidate of the set is positive.
absl::StatusOr<RankerFitResult> FitRankerWeights(const RankerExamples& examples,
                                                 const RankerFitOptions& options);

// `model` and `user_factors` (num_users x model.dim; may be empty: no
// vectors) come from training on the fit period; `history` is the fit
// period's purchase history (CSR over user rows); `window_items[u]` lists
// the item rows user u bought in the validation window (rows of users
// without window purchases may be empty or absent). The returned weights
// keep model.weights->recency_tau_days = options.recency_tau_days.
// FailedPrecondition when the window has no positive example.
absl::StatusOr<RankerFitResult> FitRanker(
    const model::RankerModel& model, absl::Span<const float> user_factors,
    absl::Span<const int64_t> history_indptr,
    absl::Span<const model::HistoryEntry> history,
    const std::vector<std::vector<int32_t>>& window_items, int64_t now_unix,
    const RankerFitOptions& options);

// The labels of a validation window: per user row of the fit period, the
// item rows of the fit period the user bought in the window.
class WindowLabels {
 public:
  // `fit_period` is borrowed and must outlive this object.
  explicit WindowLabels(const InteractionData& fit_period);

  // Records one purchase inside the window. Ignored when the user or the
  // item does not occur in the fit period.
  void Add(absl::string_view user_id, absl::string_view item_id);

  // window_items for FitRanker / FitRankerOnWindow: one list per user row
  // (num_users() lists), sorted, without duplicates. Leaves this empty.
  std::vector<std::vector<int32_t>> Take();

 private:
  absl::flat_hash_map<absl::string_view, int32_t> user_rows_;
  absl::flat_hash_map<absl::string_view, int32_t> item_rows_;
  std::vector<std::vector<int32_t>> items_;
};

struct WindowFitOptions {
  // Options of FitRanker (threads: at least 1 is used).
  RankerFitOptions fit;
  // FAISS spec of the inner-product index over the fit model's items.
  std::string index_spec = "Flat";
};

// The fit-on-window step: fits the ranker's weights on the validation window
// [window_start_unix, window_end_unix) at the end of the data.
// `fit_period` holds the interactions before window_start_unix, `fit_model`
// the iALS trained on them (its rows are fit_period's rows) and
// `window_items` the window's labels (WindowLabels over fit_period). Ranks
// as the server would at window_start_unix: a `index_spec` inner-product
// index over fit_model's item factors, item statistics from fit_period's
// history, the user vectors of fit_model; then FitRanker. The weights'
// origin reads "fit on the window <start>..<end> (<FitRanker's origin>)",
// dates in UTC.
// Errors: InvalidArgument when fit_model does not match fit_period; those
// of VectorIndex and FitRanker (FailedPrecondition: no positive example).
absl::StatusOr<RankerFitResult> FitRankerOnWindow(
    const InteractionData& fit_period, const AlsModel& fit_model,
    const std::vector<std::vector<int32_t>>& window_items,
    int64_t window_start_unix, int64_t window_end_unix,
    const WindowFitOptions& options);

}  // namespace recsys::training

#endif  // RECSYS_TRAINING_RANKER_FIT_H_
