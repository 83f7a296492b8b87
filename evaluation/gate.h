// The evaluation gate: before a newly trained model is published, it and the
// served model are scored on the same most recent window of the purchase
// history with the production ranker (the ranking the server computes), in
// both settings of evaluator.h ("all" and "new" items); publishing is refused
// when the key metric falls more than a relative margin below the served
// model's.
//
// The window. Scoring a model on purchases it was trained on measures
// memory, not prediction, so the window is held out from both models:
//   window start = max(latest event - window_days, served model's latest
//                      training event + 1 s)
// The model scored for the candidate is the candidate's own pipeline
// (training::Train with the candidate's options) fit on the rows before the
// window start; the served model is scored as published. Both rank with
// BundleRanker (production_ranker.h) at the window start, from their own
// training history. The published candidate is then the same pipeline on
// all rows (the caller's refit; see nightly/).
//
//   GateOptions gate;                         // ndcg@20, "all", margin 0.02
//   auto decision = RunGate(trainer_options, "/models", gate);
//   if (decision.ok() && decision->decision() == "refused") ...
//
// Thread safety: functions keep no shared state; the training uses
// trainer_options.als.threads threads, scoring options.threads threads.
#ifndef RECSYS_EVALUATION_GATE_H_
#define RECSYS_EVALUATION_GATE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "evaluation/dataset.h"
#include "evaluation/evaluator.h"
#include "model/model_store.h"
#include "recsys/v1/model_manifest.pb.h"
#include "training/trainer.h"

namespace recsys::evaluation {

inline constexpr char kGatePassed[] = "passed";
inline constexpr char kGateRefused[] = "refused";
inline constexpr char kGateForced[] = "forced";
inline constexpr char kGateFirstModel[] = "first_model";

struct GateOptions {
  // Longest scoring window, days before the latest event of the input.
  int window_days = 14;
  // Relative margin: refused when candidate < current * (1 - margin).
  double margin = 0.02;
  // The key metric: `metric`@`k` in `setting` (kSettingAll / kSettingNew).
  std::string metric = "ndcg";
  int k = 20;
  std::string setting = kSettingAll;
  // Cut-offs reported besides k (every metric, both settings).
  std::vector<int> report_ks = {10, 20};
  // Fewer evaluated users than this in the key setting: the window cannot
  // tell the models apart, and the gate refuses ("window too small").
  int min_users = 20;
  // RankOptions::vector_candidates of the ranking (as the server's default).
  int vector_candidates = 200;
  // Scoring threads.
  int threads = 2;
  // Progress lines (null: silent).
  std::function<void(absl::string_view)> log;
};

// InvalidArgument naming the bad field.
absl::Status ValidateGateOptions(const GateOptions& options);

// The window start for data whose latest event is `last_event_unix`, given
// the served model's manifest (nullptr: none served).
int64_t GateWindowStart(int64_t last_event_unix,
                        const recsys::v1::ModelManifest* served,
                        const GateOptions& options);

// Scores `bundle` on the time split of `log` at `window_start` (test = rows
// at or after it), in both settings, at options.report_ks and options.k.
// Users and items unknown to the bundle are answered with nothing (a miss).
absl::StatusOr<std::vector<SettingResult>> ScoreBundleOnWindow(
    const model::ModelBundle& bundle, const EvalSplit& split,
    const GateOptions& options);

// The decision from both models' results: "passed" or "refused" (with the
// reason), both scores on the key metric and every reported metric.
// `window_users` is the number of evaluated users in the key setting.
recsys::v1::GateDecision DecideGate(const std::vector<SettingResult>& candidate,
                                    const std::vector<SettingResult>& current,
                                    absl::string_view current_version,
                                    const EvalSplit& split,
                                    const GateOptions& options);

// The served model under `model_root`: the newest version that loads, as
// the server's ModelStore picks it (nullptr when nothing is published; a
// broken newer version is skipped).
absl::StatusOr<std::shared_ptr<const model::ModelBundle>> LoadServedModel(
    const std::string& model_root);

// The whole gate for a candidate trained with `candidate` (its input, read
// options and model parameters; its model_root and version are ignored):
// reads the input, finds the served model under `model_root`, fits the
// candidate's pipeline on the rows before the window into
// `<model_root>/.gate-<pid>/` (removed afterwards), scores both and
// decides. Nothing published: "first_model". The errors of the read
// (InvalidArgument when no row is usable), of training and scoring.
absl::StatusOr<recsys::v1::GateDecision> RunGate(
    const training::TrainerOptions& candidate, const std::string& model_root,
    const GateOptions& options);

// One line for the log: "gate: refused: ndcg@20:all candidate 0.0412 vs
// served 0.1234 (version 2024...) ...".
std::string DescribeGate(const recsys::v1::GateDecision& decision);

}  // namespace recsys::evaluation

#endif  // RECSYS_EVALUATION_GATE_H_
