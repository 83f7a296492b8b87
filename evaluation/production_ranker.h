// The production ranker (recommender/ranker.h) as an evaluated model, and
// the same ranking from a published model directory.
//
// Offline, the ranker is built exactly as the trainer and server build it:
//   1. the training period is split at now - validation_days into a fit
//      period and a validation window;
//   2. iALS trained on the fit period; training::FitRankerOnWindow (the
//      trainer's own step: an inner-product VectorIndex over its item
//      factors, model::ComputeRankerItemStats over its purchase
//      history, training::FitRanker) learns the weights from the window's
//      purchases (labels from training::WindowLabels);
//   3. iALS is trained again on the whole training period; with a fresh
//      index and item statistics and the fitted weights, every user is
//      ranked by model::RankItems at `now` (the time split's cut).
// With `tune` (the default, as recsys_nightly trains), steps 1-2 are the
// trainer's self-tuning instead (training/tuner.h: two windows at the end of
// the training period, the candidates of TuneGrid within the time budget,
// the feature sets, the guard), and step 3 trains the chosen iALS; the
// guard's decision is part of the weights, so RankItems serves the winning
// baseline where the ranker lost on validation, as the server does.
//
// BundleRanker ranks from a model::ModelBundle (what the server
// loads): the bundle's RankerModel (weights from the manifest, item
// statistics from the training history, the inner-product index), the
// user's vector and training history from the bundle. Both paths call
// RankWithRanker, so for the same factors, history and weights they return
// the same lists.
//
// Thread safety: built objects are immutable; ranking calls are const and
// safe to call concurrently.
#ifndef RECSYS_EVALUATION_PRODUCTION_RANKER_H_
#define RECSYS_EVALUATION_PRODUCTION_RANKER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "evaluation/dataset.h"
#include "evaluation/models.h"
#include "model/model_format.h"
#include "model/model_store.h"
#include "model/ranker.h"
#include "training/ranker_fit.h"

namespace recsys::evaluation {

// The ranked item rows for one user (RankItems with `now_unix` and
// `vector_candidates`); include_bought = false drops the user's history.
absl::StatusOr<std::vector<int32_t>> RankWithRanker(
    const model::RankerModel& model, absl::Span<const float> user_vector,
    absl::Span<const model::HistoryEntry> history, int k,
    int64_t now_unix, bool include_bought, int vector_candidates);

struct ProductionRankerOptions {
  // The iALS of both trainings (fit period and full training period).
  IalsSpec ials;
  // Length of the validation window at the end of the training period.
  int validation_days = 30;
  // Options of training::FitRanker (vector_candidates is overwritten by the
  // field below).
  training::RankerFitOptions fit;
  // RankOptions::vector_candidates when ranking.
  int vector_candidates = 200;
  // FAISS spec of the item index.
  std::string index_spec = "Flat";
  // Self-tuning and the guard, as recsys_train --tune (see above). The
  // budget: tune_budget_seconds when > 0, else tune_budget_factor x the
  // measured plain training (the caller's read of the input,
  // tune_read_seconds, plus iALS on the whole training period and the plain
  // fit of the ranker's weights: the trainer's unit, which includes its
  // read).
  bool tune = true;
  double tune_budget_factor = 5;
  double tune_budget_seconds = 0;
  int tune_max_candidates = 6;
  // TunerOptions::ease_max_items (as recsys_train's --tune_ease_max_items).
  int tune_ease_max_items = 5000;
  // TunerOptions::guard_confidence (as recsys_train's
  // --tune_guard_confidence).
  double tune_guard_confidence = 0.95;
  // Seconds the caller spent reading the input (RunSplitProtocol measures
  // them), counted in the plain training.
  double tune_read_seconds = 0;
};

// What the weight fit saw, for the report.
struct RankerFitReport {
  int64_t fit_period_rows = 0;
  int64_t window_rows = 0;
  int32_t fit_users = 0;
  int32_t fit_items = 0;
  int64_t window_start_unix = 0;
  int64_t window_end_unix = 0;
  training::RankerFitResult fit;
  double seconds = 0;
  // With tune: the tuner's report (candidates empty when not tuned) and the
  // served weights (guard decision included).
  recsys::v1::TuningReport tuning;
  model::RankerWeights weights;
  // With tune: the guard's validation recall of the fusion of the vector
  // and neighbour lists (training::TuneOutcome::fusion_*).
  double fusion_all = 0;
  double fusion_new = 0;
};

// Builds the production ranker model. `training_period` holds only rows
// before `now_unix` (InvalidArgument otherwise); `train` is the interaction
// data built from the same rows (e.g. EvalSplit::train of a time split at
// now_unix) and must outlive the model. `report` (nullable) receives the
// fit statistics. FailedPrecondition when the window has no purchases of
// fit-period users; the errors of TrainAls, VectorIndex and FitRanker.
// The returned model implements Recommend only (ScoreAll: Unimplemented).
absl::StatusOr<std::unique_ptr<Model>> NewProductionRankerModel(
    const PurchaseLog& training_period, const training::InteractionData* train,
    int64_t now_unix, const ProductionRankerOptions& options,
    RankerFitReport* report);

// The production ranker with given weights over an already trained model,
// without the fit: `data` must carry dim, item_factors, user_factors and
// history (user rows of `train`). For tests and for ranking a model whose
// weights were fit elsewhere.
absl::StatusOr<std::unique_ptr<Model>> NewRankerModelFromData(
    const training::InteractionData* train, model::ModelData data,
    model::RankerWeights weights, int64_t now_unix, int vector_candidates,
    absl::string_view index_spec = "Flat");

// The ranker's ceiling on a time split: the production ranker's candidates
// and features with weights fit on the test period itself. The labels are
// the evaluated users' test items (those in the training catalog); iALS is
// trained once on split.train with options.ials; per setting (all items,
// new items) the best by recall@k on the test period of every feature set,
// neighbour kind (cosine; EASE up to options.tune_ease_max_items items) and
// discovery penalty (the tuner's). It reads the test period, so it is never
// served nor selected on: it measures how much of the ranker's gap to a
// target better weights alone could close (docs/evaluation.md). `split`
// must outlive the model. InvalidArgument for a split that is not a time
// split; FailedPrecondition when no evaluated user has a test item in the
// catalog; the errors of TrainAls, VectorIndex and FitRanker.
absl::StatusOr<std::unique_ptr<Model>> NewRankerCeilingModel(
    const EvalSplit& split, const ProductionRankerOptions& options, int k = 20);

// Ranking from a published model, as the server does (without a feature
// store: the history is the model's training history).
class BundleRanker {
 public:
  // `bundle` is borrowed and must outlive the ranker.
  explicit BundleRanker(const model::ModelBundle* bundle,
                        int vector_candidates = 200);

  // The k best item ids for `user_id` at `now_unix`. NotFound for a user
  // unknown to the model; InvalidArgument for k < 1.
  absl::StatusOr<std::vector<std::string>> Rank(
      absl::string_view user_id, int k, int64_t now_unix,
      bool include_bought = true) const;

 private:
  // Immutable after construction.
  const model::ModelBundle* const bundle_;
  const int vector_candidates_;
  const model::RankerModel model_;
};

// One-shot form of BundleRanker(&bundle).Rank(user_id, k, now_unix).
absl::StatusOr<std::vector<std::string>> RankForUser(
    const model::ModelBundle& bundle, absl::string_view user_id, int k,
    int64_t now_unix);

}  // namespace recsys::evaluation

#endif  // RECSYS_EVALUATION_PRODUCTION_RANKER_H_
