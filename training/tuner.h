// Self-tuning of the production ranker and the validation guard.
//
// Protocol. Two validation windows of w days are carved from the end of
// the training data (TuneWindowDays gives w):
//
//   ... period 1 ... | window 1 [end-2w, end-w) | window 2 [end-w, end]
//   ........... period 2 ..................... |
//
// For each candidate iALS configuration (TuneGrid: the configured one and
// variations around it), iALS is trained on period 1 and the ranker's
// weights are fit on window 1 for every feature set (RankerFeatureSet:
// without / with item neighbours / with popular and trending items / with
// title neighbours, each with and without discovery weights; on the first
// configuration the set whose discovery weights score best also tries
// 0.01x, 0.1x, 10x and 100x the L2 penalty on them; configurations after the first try only the sets and
// the discovery penalty the best configuration so far preferred); iALS is
// then trained on period 2 and every fit is scored on window 2, a window
// none of them saw: Recall@k of the ranker with and without the user's
// bought items (all items / new items). What does not depend on the
// configuration (the periods' histories, item statistics and neighbours,
// the baselines' scores) is computed once. Per configuration the feature
// set best on all items gives the main weights and the weights best on new
// items (a set's discovery weights or its main ones) give the discovery
// weights; the configuration with the best sum of the two recalls wins.
// The first configuration runs once per kind of item neighbours (cosine,
// and EASE where the catalog is small enough: TunerOptions::ease_max_items;
// the EASE trial skips the set without neighbours, which it cannot change);
// later configurations use the kind of the best trial so far, and the
// chosen kind goes into the weights (RankerWeights::neighbors). Its weights are then refit on window 2 (iALS of period 2, as the plain
// trainer fits them) and the caller retrains the chosen iALS on all its
// data.
//
// Guard: on window 2, per setting, the chosen ranker's recall is compared
// with the baselines' — popularity, buy-again (all items only), the vector
// alone (the chosen iALS's nearest items), the item neighbours alone and
// the reciprocal rank fusion of those two lists (the vector alone and the
// fusion scored for the chosen configuration only) —
// as RankItems returns them when RankerWeights::serve_* name them. The
// ranker keeps a setting only when it beats the best baseline there beyond
// chance (TunerOptions::guard_confidence: the paired interval of the two
// recalls over window 2's users lies above 0); otherwise the best baseline
// serves it (serve_all / serve_new in the returned weights, stored in the
// manifest, honoured by model::RankItems, so by the server and the
// evaluator alike).
//
// Budget: candidates run in grid order until the next one is expected to
// end after budget_seconds (the first always runs; the second is expected
// to take the first's iALS and examples time plus its fits and scoring per
// feature set times the sets it tries, later ones the previous one's time).
//
// Leaks: the tuner sees only the rows the caller's RowVisitor gives; the
// trainer's visitor reads the input with the trainer's own time filter, so
// no row at or after the cut reaches it.
//
// Thread safety: pure functions; `threads` workers inside.
#ifndef RECSYS_TRAINING_TUNER_H_
#define RECSYS_TRAINING_TUNER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "model/ranker.h"
#include "recsys/v1/model_manifest.pb.h"
#include "training/als.h"
#include "training/csv_reader.h"
#include "training/interactions.h"
#include "training/ranker_fit.h"

namespace recsys::training {

// One candidate configuration of the factorisation.
struct TuneCandidate {
  AlsOptions als;
  ConfidenceOptions confidence;
  // Short description, e.g. "factors=128,reg=20,alpha=3,decay=30".
  std::string spec;
};

// The configured candidate first, then variations around it, at most
// `max_candidates`: regularisation x4 and x1/4, alpha x3 and x1/3, half the
// factors, the decay switched (30 days <-> none). Every candidate keeps the
// base's iterations, solver, threads and seed.
std::vector<TuneCandidate> TuneGrid(const AlsOptions& als,
                                    const ConfidenceOptions& confidence,
                                    int max_candidates);

// The window length rule: validation_days, shortened to a sixth of the
// data's time span (whole days, at least 1) so both fit periods keep at
// least two thirds of it. 0 when the span is under 6 days (no tuning).
int TuneWindowDays(int64_t first_unix, int64_t last_unix, int validation_days);

// Calls its argument once per purchase row the tuner may see.
using RowVisitor = std::function<absl::Status(
    const std::function<void(const PurchaseRow&)>& row)>;

// The two periods and windows (see the file comment).
struct TuneWindows {
  int window_days = 0;
  int64_t window1_start_unix = 0;
  int64_t window2_start_unix = 0;
  int64_t end_unix = 0;
  InteractionData period1;
  InteractionData period2;
  // WindowLabels of window 1 over period 1's rows, of window 2 over period 2's.
  std::vector<std::vector<int32_t>> labels1;
  std::vector<std::vector<int32_t>> labels2;
  int64_t window1_rows = 0;
  int64_t window2_rows = 0;
};

// One pass over `rows`. end_unix is the latest row time the caller knows
// (rows after it count in window 2). FailedPrecondition when either period
// or window is empty.
absl::StatusOr<TuneWindows> BuildTuneWindows(
    const RowVisitor& rows, const InteractionOptions& interactions,
    int64_t end_unix, int window_days);

// The multiples of the L2 penalty the tuner also fits discovery weights with
// on its first configuration: a window's new purchases are few, so the fit
// may need more shrinkage; or less, when a weak signal such as the title
// similarity needs a large weight to count.
inline constexpr double kDiscoveryL2Factors[] = {0.01, 0.1, 10, 100};

struct TunerOptions {
  // Recall@k of the selection and the guard.
  int k = 20;
  // Options of the weight fits (feature_set and discovery are the tuner's).
  RankerFitOptions fit;
  // FAISS spec of the inner-product indexes of the trials.
  std::string index_spec = "Flat";
  // Time budget of the candidates, in seconds (> 0).
  double budget_seconds = 60;
  // Apply the guard (false: serve_all / serve_new stay the ranker).
  bool guard = true;
  // How sure the guard must be that the ranker beats the best baseline of a
  // setting before it serves the ranker there: the lower end of the
  // interval, at this confidence, of the ranker's recall minus the
  // baseline's, paired over window 2's users (stats::ComparePaired), must be
  // above 0; otherwise the baseline serves. 0: the ranker serves whenever its
  // recall is at least the best baseline's. The interval is reported
  // (RankerGuardReport) either way, at 0.95 when this is 0. The default asks
  // for the conventional 95%: the simpler model serves unless the window's
  // users show the ranker better beyond chance.
  double guard_confidence = 0.95;
  // The first configuration is also tried with EASE item neighbours
  // (model::NeighborKind::kEase, lambda ease_lambda) when the catalog has at
  // most this many items; the later ones use the kind that scored best. 0:
  // cosine neighbours only. The trainer solves EASE once more over all its
  // data for the published model's neighbours (neighbors.bin), which the
  // server loads as they are.
  int ease_max_items = 5000;
  // EASE's L2 penalty (RankerStatsOptions::ease_lambda).
  double ease_lambda = 1000;
  // Progress and every candidate's scores, one line each. Null: silent.
  std::function<void(absl::string_view)> log;
};

struct TuneOutcome {
  // Index into the candidates of the choice.
  int chosen = 0;
  // Feature set of the main weights (all items) and of the weights used
  // without bought items (discovery: that set's discovery weights, else its
  // main weights).
  RankerFeatureSet feature_set = RankerFeatureSet::kBase;
  RankerFeatureSet feature_set_new = RankerFeatureSet::kBase;
  bool discovery = false;
  // Weights refit on window 2 with the chosen configuration, with the
  // guard's decision and scores.
  model::RankerWeights weights;
  RankerFitResult fit;
  // The guard's score of the fusion of the vector and neighbour lists on
  // window 2 (RankerGuardReport has no field for it; the weights' origin
  // records it).
  double fusion_all = 0;
  double fusion_new = 0;
  // Every candidate's scores, the choice and the budget (the manifest's
  // tuning field).
  recsys::v1::TuningReport report;
};

// Runs the search and the guard. InvalidArgument for no candidates or a
// budget <= 0; FailedPrecondition when no candidate could be fit (e.g. no
// window purchase among the candidates); TrainAls and VectorIndex errors.
absl::StatusOr<TuneOutcome> TuneRanker(
    const TuneWindows& windows, const std::vector<TuneCandidate>& candidates,
    const TunerOptions& options);

// The guard's decision for one setting: whether the ranker (validation
// recall `ranker`, per window user `ranker_users`) serves rather than its
// best baseline (`rival`, `rival_users`, the same users in the same order).
// The ranker serves when its recall is at least the rival's and, with
// `confidence` > 0, the paired interval at that confidence of its per-user
// recall minus the rival's (stats::ComparePaired; NaN pairs skipped) lies
// above 0; an interval that cannot be computed (fewer than 2 pairs, users
// of different counts) counts as not above 0, so the rival, the simpler
// model, serves without evidence. `lower` / `upper` receive the interval
// at `confidence`, or at 0.95 when it is 0 (unchanged when it cannot be
// computed).
bool GuardKeepsRanker(double ranker, absl::Span<const double> ranker_users, double rival,
                      absl::Span<const double> rival_users, double confidence, double* lower,
                      double* upper);

// Validation Recall@k on a window of `weights` over a model: per user with
// window purchases, |top-k ∩ T| / min(|T|, k), all items (T = the window's
// items) and new items (T without the user's history; users with an empty
// T skipped). `user_factors` and the history CSR are the model's rows.
// score_all = false scores the new-items setting only (all stays 0).
struct WindowRecall {
  double all = 0;
  double new_items = 0;
  int64_t users_all = 0;
  int64_t users_new = 0;
  // Per window user (the users with labels, by row), for paired
  // comparisons: the recall on all items (empty when score_all is false)
  // and on new items (NaN for a user without new items).
  std::vector<double> user_all;
  std::vector<double> user_new;
};
absl::StatusOr<WindowRecall> ScoreOnWindow(
    const model::RankerModel& model, absl::Span<const float> user_factors,
    absl::Span<const int64_t> history_indptr,
    absl::Span<const model::HistoryEntry> history,
    const std::vector<std::vector<int32_t>>& labels, int64_t now_unix, int k,
    int vector_candidates, int threads, bool score_all = true);

}  // namespace recsys::training

#endif  // RECSYS_TRAINING_TUNER_H_
