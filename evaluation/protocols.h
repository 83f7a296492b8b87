// The evaluation protocols end to end: read the data, split, train every
// selected model, evaluate, and produce a text table and a JSON report.
//
//   Split protocol (time split or per-user holdout) on a purchase file:
//     Protocol A is the time split of online_retail.csv.gz at 2011-09-01.
//   Leave-one-out protocol on the NCF files: Protocol B.
//
// docs/evaluation.md describes both precisely.
//
// Thread safety: pure functions; `threads` workers inside.
#ifndef RECSYS_EVALUATION_PROTOCOLS_H_
#define RECSYS_EVALUATION_PROTOCOLS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "evaluation/evaluator.h"
#include "evaluation/json.h"
#include "evaluation/models.h"
#include "evaluation/production_ranker.h"
#include "training/csv_reader.h"

namespace recsys::evaluation {

// Model names: "popularity", "buy_again", "item_knn", "ials", "ease",
// "production_ranker". EASE is skipped (with a note) for catalogs over
// 20,000 items.
struct ModelSelection {
  std::vector<std::string> names = {"popularity", "buy_again",
                                    "item_knn",   "ials",
                                    "ease",       "production_ranker"};
  bool has(absl::string_view name) const;
};
// Parses "a,b,c" (or "all"); InvalidArgument for an unknown name.
absl::StatusOr<ModelSelection> ParseModelSelection(absl::string_view text);

// The model settings shared by both protocols.
struct ModelOptions {
  ModelSelection models;
  IalsSpec ials;
  ItemKnnOptions knn;
  EaseOptions ease;
  // Time split only; ranker.ials is the iALS of the production ranker
  // (which may differ from `ials`, the stand-alone vector model).
  ProductionRankerOptions ranker;
  // Further models given as TrainModelFromSpec text (blends, variants),
  // evaluated after the named ones; their rows show the spec.
  std::vector<std::string> extra_specs;
  // Time split only: also evaluate "ranker_ceiling" (NewRankerCeilingModel,
  // with `ranker`'s options), the ranker with weights fit on the test
  // period: a diagnostic bound, never a baseline.
  bool ranker_ceiling = false;
  int threads = 2;
};

enum class SplitKind { kTime, kHoldout };

struct SplitProtocolOptions {
  // A name for the report, e.g. "A: online_retail time split".
  std::string name;
  std::string input;
  training::ReadOptions read;
  SplitKind kind = SplitKind::kTime;
  // kTime: test = rows at or after cut_unix.
  int64_t cut_unix = 0;
  // kHoldout: share of each user's distinct items held out, and the seed.
  double holdout_fraction = 0.2;
  uint64_t seed = 1;
  std::vector<int> ks = {10, 20};
  ModelOptions model;
  // Progress lines (nullable).
  std::function<void(absl::string_view)> log;
};

struct ProtocolOutput {
  // Human-readable results (the table and notes).
  std::string text;
  // Data stats, parameters and results of every model.
  Json report;
  // Time split: the rows of the table (model, results), for callers.
  std::vector<TableRow> rows;
  // Leave-one-out: results per model.
  std::vector<std::pair<std::string, LeaveOneOutResult>> loo;
};

// Errors: the reader's (NotFound, InvalidArgument...), InvalidArgument for
// bad options, and the models' training errors.
absl::StatusOr<ProtocolOutput> RunSplitProtocol(
    const SplitProtocolOptions& options);

struct LeaveOneOutProtocolOptions {
  std::string name;
  std::string train_path;
  std::string test_rating_path;
  std::string test_negative_path;
  int k = 10;
  ModelOptions model;
  std::function<void(absl::string_view)> log;
};

// buy_again and production_ranker are skipped (noted in the report): the
// held-out item is never in the user's training history, and the pairs
// carry no timestamps for the ranker's validation window and recency.
absl::StatusOr<ProtocolOutput> RunLeaveOneOutProtocol(
    const LeaveOneOutProtocolOptions& options);

// Date of a unix time, "YYYY-MM-DD" (UTC).
std::string UnixDate(int64_t unix_seconds);

}  // namespace recsys::evaluation

#endif  // RECSYS_EVALUATION_PROTOCOLS_H_
