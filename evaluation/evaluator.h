// Running models over a split and reporting the results.
//
// Settings of a split evaluation:
//   "all"  every evaluated user; relevant = the distinct items bought in the
//          test part; the model may recommend items the user bought before
//          (except on holdout splits, where training items are excluded);
//   "new"  users with at least one new item; relevant = the test items the
//          user had not bought in training; the user's training items are
//          excluded from the list. Not run on holdout splits (there every
//          test item is new, so it equals "all").
//
// Thread safety: functions are pure apart from calling the (thread-safe)
// models from `threads` worker threads.
#ifndef RECSYS_EVALUATION_EVALUATOR_H_
#define RECSYS_EVALUATION_EVALUATOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "evaluation/dataset.h"
#include "evaluation/json.h"
#include "evaluation/metrics.h"
#include "evaluation/models.h"

namespace recsys::evaluation {

inline constexpr char kSettingAll[] = "all";
inline constexpr char kSettingNew[] = "new";

struct SettingResult {
  std::string setting;
  int64_t users = 0;
  std::vector<MetricsAtK> metrics;  // one per k
  // Per k (as metrics): each split user's Recall@k, in split.users order;
  // NaN for a user not evaluated in this setting (no relevant item).
  std::vector<std::vector<double>> user_recall;
};

struct SplitEvalOptions {
  std::vector<int> ks = {10, 20};
  // Settings to run, from kSettingAll / kSettingNew.
  std::vector<std::string> settings = {kSettingAll, kSettingNew};
  int threads = 2;
};

// Evaluates `model` (trained on split.train) on the split's users. The
// model's errors are returned (the first one).
absl::StatusOr<std::vector<SettingResult>> EvaluateSplit(
    const Model& model, const EvalSplit& split,
    const SplitEvalOptions& options);

// The difference of two models' Recall@k over the same users (a - b over
// the users both evaluated, paired), with its confidence interval: the mean
// of the per-user differences ± z·(standard error) (recsys::stats; a normal
// approximation, fine for the hundreds of users of a split).
struct PairedDifference {
  int64_t users = 0;
  double difference = 0;
  double lower = 0;
  double upper = 0;
};
// InvalidArgument when the results do not belong to the same split and
// setting, k_index is out of range, or fewer than 2 users are shared.
absl::StatusOr<PairedDifference> PairedRecallDifference(const SettingResult& a,
                                                        const SettingResult& b, int k_index,
                                                        double confidence = 0.95);

// The metric of `results` named by `setting`, k and metric ("recall",
// "ndcg", "hit_rate", "map", "coverage"); NaN when absent.
double PickMetric(const std::vector<SettingResult>& results,
                  absl::string_view setting, int k, absl::string_view metric);

struct LeaveOneOutResult {
  int k = 10;
  int64_t users = 0;
  double hit_rate = 0;
  double ndcg = 0;
};

// Ranks every user's held-out item among its negatives by the model's
// scores (LeaveOneOutRank); users without a held-out item are skipped.
absl::StatusOr<LeaveOneOutResult> EvaluateLeaveOneOut(
    const Model& model, const LeaveOneOutData& data, int k, int threads);

// Report pieces.
Json ParamsToJson(const ModelParams& params);
Json SettingResultsToJson(const std::vector<SettingResult>& results);
Json SplitStatsToJson(const EvalSplit& split);
Json LeaveOneOutToJson(const LeaveOneOutResult& result);

// One row of a results table.
struct TableRow {
  std::string model;
  std::vector<SettingResult> results;
  // Free text shown after the numbers (e.g. "quoted").
  std::string note;
};
// A fixed-width table: per row and setting, Recall / NDCG / HR / MAP /
// coverage at every k.
std::string FormatSplitTable(const std::vector<TableRow>& rows,
                             const std::vector<int>& ks);

}  // namespace recsys::evaluation

#endif  // RECSYS_EVALUATION_EVALUATOR_H_
