// The production ranker: one scoring of candidates from two sources — the
// user's own purchase history (repurchase) and the nearest items by the
// user's vector (discovery) — with weights learned from data, so how much
// each source counts depends on the user (how often they re-buy, how much
// history they have) and on the item (how often its buyers re-buy it).
//
// The same function ranks for the server (RecommendProducts slots that use
// the blended ranker) and for the offline evaluator, so the evaluated lists
// are exactly the served ones.
//
// Score of candidate i for user u: w · f(u, i), with features f
// (RankerFeature below). Weights come from training::FitRanker (logistic
// regression on a validation window carved from the training period) and
// are stored in the model manifest (ModelManifest.ranker); DefaultRankerWeights()
// serves models trained without that window.
//
// Thread safety: pure functions over borrowed, immutable inputs.
#ifndef RECSYS_MODEL_RANKER_H_
#define RECSYS_MODEL_RANKER_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "model/model_format.h"
#include "model/vector_index.h"
#include "recsys/v1/model_manifest.pb.h"

namespace recsys::model {

enum RankerFeature : int {
  // x_u · y_i (0 when the user has no vector).
  kFeatVectorScore = 0,
  // 1 / log2(2 + rank) of i in the user's vector candidates (0 if absent).
  kFeatVectorRank,
  // 1 if the user bought i before.
  kFeatBought,
  // log(1 + purchase events of i by u).
  kFeatLogCount,
  // exp(-days since u last bought i / recency_tau_days) (0 if never).
  kFeatRecency,
  // bought × the user's repeat ratio (share of their purchase events that
  // re-bought an item they had bought before).
  kFeatBoughtXUserRepeat,
  // bought × the item's repeat rate (share of its buyers who bought it more
  // than once): staples.
  kFeatBoughtXItemRepeat,
  // The item's repeat rate, bought or not.
  kFeatItemRepeat,
  // log(1 + buyers of i) / log(1 + buyers of the most popular item).
  kFeatPopularity,
  // bought × log(1 + distinct items the user bought).
  kFeatBoughtXLogHistory,
  kNumRankerFeatures,
};

// Short names, for reports and the manifest ("vector_score", ...).
absl::string_view RankerFeatureName(int feature);

struct RankerWeights {
  std::array<float, kNumRankerFeatures> w{};
  // Time constant of the recency feature, in days.
  float recency_tau_days = 30;
  // Where the weights come from, e.g. "fit on 2011-08-02..2011-09-01" or
  // "default".
  std::string origin;
};

// Hand-set weights for models trained without a validation window:
// vector score first, repurchase of staples second.
RankerWeights DefaultRankerWeights();

// Stored form, in the model manifest (ModelManifest.ranker). Unknown
// feature names are ignored and missing ones are 0; a config without any
// weight gives DefaultRankerWeights().
recsys::v1::RankerConfig RankerWeightsToConfig(const RankerWeights& weights);
RankerWeights RankerWeightsFromConfig(const recsys::v1::RankerConfig& config);
// JSON form, for reports.
std::string RankerWeightsToJson(const RankerWeights& weights);

// Per-item statistics the ranker uses, derived from the training history.
struct RankerItemStats {
  // Share of the item's buyers with count >= 2; 0 for items nobody bought.
  std::vector<float> repeat_rate;
  // log(1 + buyers) / log(1 + max buyers).
  std::vector<float> popularity;
};

// Computes RankerItemStats from a purchase-history CSR (model_format.h).
RankerItemStats ComputeRankerItemStats(int32_t num_items,
                                       absl::Span<const int64_t> history_indptr,
                                       absl::Span<const HistoryEntry> history);

// The model-side inputs of the ranker; all borrowed.
struct RankerModel {
  // Inner-product index over item_factors (ids = item rows).
  const VectorIndex* index = nullptr;
  absl::Span<const float> item_factors;  // num_items x dim
  int dim = 0;
  const RankerItemStats* item_stats = nullptr;
  const RankerWeights* weights = nullptr;
};

// The RankerModel over these parts, all borrowed: each must outlive the
// result. `index` searches `item_factors` (num_items x dim, ids = rows).
RankerModel MakeRankerModel(const VectorIndex* index,
                            absl::Span<const float> item_factors, int dim,
                            const RankerItemStats* item_stats,
                            const RankerWeights* weights);

// What is known of the user at ranking time.
struct RankerUser {
  // Empty: no vector (only history and item statistics rank).
  absl::Span<const float> vector;
  // Purchases: item row, count, last purchase (unix seconds).
  absl::Span<const HistoryEntry> history;
};

struct RankOptions {
  int k = 20;
  // Ranking time (unix seconds), for recency.
  int64_t now_unix = 0;
  // How many nearest items by vector are candidates.
  int vector_candidates = 200;
  // Whether already-bought items may be returned (the repurchase source).
  bool include_bought = true;
  // Optional filter on item rows (exclusions, categories, ...). Borrowed.
  const IdFilter* filter = nullptr;
};

struct RankedItem {
  int32_t item = 0;
  float score = 0;
  // True when the item came from the user's own history.
  bool bought = false;
};

// Fills `features` (kNumRankerFeatures floats) for one candidate.
// `history_entry` is the user's entry for the item (nullptr if not bought);
// `vector_rank` is its rank among vector candidates (-1 if absent).
struct RankerUserStats {
  float repeat_ratio = 0;
  float log_history = 0;
};
RankerUserStats ComputeRankerUserStats(absl::Span<const HistoryEntry> history);
void RankerFeatures(const RankerModel& model, const RankerUserStats& user_stats,
                    int32_t item, float vector_score, int vector_rank,
                    const HistoryEntry* history_entry, int64_t now_unix,
                    float* features);

// Candidate generation (vector neighbours ∪ history) and scoring; the k best,
// best first. InvalidArgument for a vector of the wrong size or k < 1.
absl::StatusOr<std::vector<RankedItem>> RankItems(const RankerModel& model,
                                                  const RankerUser& user,
                                                  const RankOptions& options);

}  // namespace recsys::model

#endif  // RECSYS_MODEL_RANKER_H_
