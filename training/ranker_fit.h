// Learning the production ranker's weights (recommender/ranker.h).
//
// Protocol: the caller splits its training period at `now_unix` into a fit
// period (before) and a validation window (after, e.g. the last 30 days).
// With a model trained on the fit period only, every user with purchases in
// the window is ranked as the server would rank them at `now_unix`; each
// candidate (vector neighbours ∪ history) becomes one example, labelled 1 if
// the user bought the item in the window. A logistic regression with L2
// (Newton's method; ten features, so each step is a 10 x 10 solve) gives the
// weights. Because candidates include both sources, the weights learn how
// much repurchase versus discovery deserves, per user and item features.
//
// Thread safety: pure function; `threads` workers build the examples.
#ifndef RECSYS_TRAINING_RANKER_FIT_H_
#define RECSYS_TRAINING_RANKER_FIT_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/model_format.h"
#include "model/ranker.h"

namespace recsys::training {

struct RankerFitOptions {
  // Vector candidates per user (RankOptions::vector_candidates).
  int vector_candidates = 200;
  // Time constant of the recency feature.
  float recency_tau_days = 30;
  // L2 penalty on the weights.
  double l2 = 1e-3;
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

}  // namespace recsys::training

#endif  // RECSYS_TRAINING_RANKER_FIT_H_
