// Hyperparameter search (iALS grids or random draws, plus any model spec),
// selected on validation data carved from the training data only.
//
// Time protocol: TuneOnTimeWindow receives the training period alone (rows
// before the test cut; it refuses a log with any row at or after the cut)
// and splits it again at cut - validation_days: trials train on the rows
// before that and are scored on the window's purchases. The test window is
// therefore never read during selection; the caller evaluates the chosen
// configuration on the test window once, afterwards.
//
// Leave-one-out protocol: TuneOnLeaveOneOut receives only the training
// pairs and holds out one further item per user (CarveLeaveOneOut).
//
// Thread safety: pure functions; `threads` workers inside.
#ifndef RECSYS_EVALUATION_TUNING_H_
#define RECSYS_EVALUATION_TUNING_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "evaluation/dataset.h"
#include "evaluation/evaluator.h"
#include "evaluation/json.h"
#include "evaluation/models.h"
#include "evaluation/production_ranker.h"

namespace recsys::evaluation {

// Values tried per parameter; an empty list keeps the base spec's value.
struct SearchSpace {
  std::vector<int> factors;
  std::vector<float> regularization;
  // IalsSpec::reg_exponent.
  std::vector<float> nu;
  std::vector<float> alpha;
  std::vector<int> iterations;
  std::vector<float> decay_half_life_days;
  std::vector<training::ConfidenceScaling> scaling;
  std::vector<training::ConfidenceSignal> signal;
};

// Parses "factors=32|64|128;reg=0.01|0.05;nu=0|1;alpha=1|5|10;iterations=15;
// decay=0|90;scaling=log|linear;signal=events|quantity|binary" (keys optional,
// in any order). InvalidArgument names the bad part.
absl::StatusOr<SearchSpace> ParseSearchSpace(absl::string_view text);

// Candidates are model specs as accepted by TrainModelFromSpec, e.g.
// "ials[factors=64,reg=20]" or "ease[lambda=300]". TuneOnTimeWindow also
// accepts "production_ranker[<iALS spec>]": the production ranker with that
// iALS, its weights fit on the `validation_days` before the validation cut
// (a window nested inside the training period) and scored on the
// validation window.
std::string IalsCandidate(const IalsSpec& spec);
std::vector<std::string> IalsCandidates(const std::vector<IalsSpec>& specs);

// Trains a candidate on `train`. "production_ranker[...]" candidates also
// need `training_period` (the rows `train` was built from, all before
// `now_unix`) and `ranker_options`; the others ignore them.
absl::StatusOr<std::unique_ptr<Model>> TrainCandidate(
    absl::string_view spec, const PurchaseLog* training_period,
    const training::InteractionData* train, int64_t now_unix,
    const ProductionRankerOptions& ranker_options, int threads);

// Every combination (the cross product), in a fixed order.
std::vector<IalsSpec> GridConfigs(const IalsSpec& base,
                                  const SearchSpace& space);
// `trials` combinations drawn uniformly (with a SplitMix64 seeded by
// `seed`) without repeats; all of them if the grid is smaller.
std::vector<IalsSpec> RandomConfigs(const IalsSpec& base,
                                    const SearchSpace& space, int trials,
                                    uint64_t seed);

struct Trial {
  // The candidate's model spec.
  std::string spec;
  // Time protocol: validation results per setting (k = 10 and 20).
  std::vector<SettingResult> validation;
  // Leave-one-out protocol: validation HR / NDCG.
  LeaveOneOutResult loo;
  double objective = 0;
  double seconds = 0;
};

struct TuneResult {
  std::vector<Trial> trials;
  // Index of the selected trial (highest objective; the earliest on ties).
  int best = -1;
  // What was maximised, e.g. "validation ndcg@20 (new)".
  std::string objective;
  // Validation data actually used.
  Json validation_info;
};

struct TimeTuneOptions {
  // Production ranker candidates: options other than the iALS (whose spec
  // comes from the candidate text).
  ProductionRankerOptions ranker;
  // The test cut; every row of the training period must be before it.
  int64_t cut_unix = 0;
  // Validation window [cut - days, cut).
  int validation_days = 30;
  // Setting and k of the objective NDCG@k.
  std::string select_setting = kSettingNew;
  int select_k = 20;
  int threads = 2;
  // Called after every trial (progress).
  std::function<void(const Trial&, int index, int total)> on_trial;
};

// InvalidArgument when `training_period` has a row at or after
// options.cut_unix, or no configuration is given; FailedPrecondition when
// the validation window has no evaluable user.
absl::StatusOr<TuneResult> TuneOnTimeWindow(
    const PurchaseLog& training_period,
    const std::vector<std::string>& candidates, const TimeTuneOptions& options);

struct LeaveOneOutTuneOptions {
  int k = 10;
  int negatives = 99;
  uint64_t seed = 1;
  // "ndcg" or "hit_rate" at k.
  std::string select_metric = "ndcg";
  int threads = 2;
  std::function<void(const Trial&, int index, int total)> on_trial;
};

absl::StatusOr<TuneResult> TuneOnLeaveOneOut(
    const training::InteractionData& train,
    const std::vector<std::string>& candidates,
    const LeaveOneOutTuneOptions& options);

// Report of every trial.
Json TuneResultToJson(const TuneResult& result);
std::string FormatTuneTable(const TuneResult& result);

}  // namespace recsys::evaluation

#endif  // RECSYS_EVALUATION_TUNING_H_
