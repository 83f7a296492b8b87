// The production ranker: one scoring of candidates from several sources —
// the user's own purchase history (repurchase), the nearest items by the
// user's vector (discovery), the item neighbours of what the user bought
// (cosine item-kNN or EASE over the training history: NeighborKind), the
// items whose titles resemble what the user bought (model/item_text.h) and
// the popular and trending items —
// with weights learned from data, so how much each source counts depends on
// the user (how often they re-buy, how much history they have) and on the
// item (how often its buyers re-buy it, how popular it is now).
//
// A validation guard (training/tuner.h) may decide that a baseline serves
// instead: RankerWeights::serve_all / serve_new name what RankItems returns
// with and without bought items (the ranker or a baseline), so
// the server and the evaluator follow the same decision.
//
// The same function ranks for the server (RecommendProducts slots that use
// the blended ranker) and for the offline evaluator, so the evaluated lists
// are exactly the served ones.
//
// Score of candidate i for user u: w · f(u, i), with features f
// (RankerFeature below). Weights come from training::FitRanker (logistic
// regression on a validation window carved from the training period) and
// are stored in the model manifest (ModelManifest.ranker);
// DefaultRankerWeights() serves models trained without that window.
//
// Thread safety: pure functions over borrowed, immutable inputs; safe to
// call concurrently. Ranking keeps one scratch array of item scores per
// thread: 4 bytes and a bit per item of the largest catalog ranked on that
// thread.
#ifndef RECSYS_MODEL_RANKER_H_
#define RECSYS_MODEL_RANKER_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "model/item_text.h"
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
  // Σ over the user's bought items of cosine(item, i) among the item's kept
  // neighbours, divided by the largest such sum among the user's items
  // (0 without neighbours).
  kFeatKnnScore,
  // 1 / log2(2 + rank) of i in that neighbour order (0 beyond
  // RankOptions::knn_candidates).
  kFeatKnnRank,
  // log(1 + recent buyers of i) / log(1 + recent buyers of the top item);
  // recent: last purchase within RankerStatsOptions::trending_days of the
  // history's latest purchase.
  kFeatTrending,
  // Σ over the user's bought items of the title similarity (item_text.h) of
  // i among the item's kept title neighbours, divided by the largest such
  // sum among the user's items (0 without title neighbours).
  kFeatTitleScore,
  // 1 / log2(2 + rank) of i in that order (0 beyond
  // RankOptions::title_candidates).
  kFeatTitleRank,
  kNumRankerFeatures,
};

// What serves a setting: the ranker, or a baseline the guard preferred.
// kVector: the nearest items by the user's vector (iALS alone); kNeighbors:
// the item neighbours of the user's purchases by summed similarity
// (item-kNN alone); kFusion: reciprocal rank fusion of those two lists
// (RankItems).
enum class RankerServe : int {
  kRanker = 0,
  kPopularity = 1,
  kBuyAgain = 2,
  kVector = 3,
  kNeighbors = 4,
  kFusion = 5,
};
// The constant c of reciprocal rank fusion, score = Σ 1 / (c + rank): the
// value of Cormack, Clarke and Büttcher (SIGIR 2009), not tuned here.
inline constexpr float kFusionRankConstant = 60.0f;
// "ranker", "popularity", "buy_again", "vector", "neighbors", "fusion".
absl::string_view RankerServeName(RankerServe serve);
// Empty text is kRanker; an unknown name is kRanker too (old readers ignore
// what they do not know).
RankerServe RankerServeFromName(absl::string_view name);

// Short names, for reports and the manifest ("vector_score", ...).
absl::string_view RankerFeatureName(int feature);

// How the ranker's item neighbours (RankerItemStats::neighbor_*) are
// computed from the purchase history: kCosine, the cosine similarity of the
// items' binary buyer columns; kEase, the item-item weights of EASE
// (model/ease.h) over the same binary matrix, positive weights only.
enum class NeighborKind : int { kCosine = 0, kEase = 1 };
// "cosine", "ease".
absl::string_view NeighborKindName(NeighborKind kind);

struct RankerWeights {
  std::array<float, kNumRankerFeatures> w{};
  // Weights when bought items are excluded (RankOptions::include_bought =
  // false), fit on the candidates the user had not bought; used only when
  // has_discovery.
  std::array<float, kNumRankerFeatures> discovery{};
  bool has_discovery = false;
  // Time constant of the recency feature, in days.
  float recency_tau_days = 30;
  // The item neighbours the weights were fit with; whoever computes the
  // RankerItemStats for these weights uses them (RankerStatsOptionsFor).
  NeighborKind neighbors = NeighborKind::kCosine;
  // EASE's lambda when neighbors is kEase.
  double ease_lambda = 0;
  // Where the weights come from, e.g. "fit on 2011-08-02..2011-09-01" or
  // "default".
  std::string origin;
  // The validation guard's decision per setting (with / without bought
  // items) and the scores it was taken on (empty: no guard ran).
  RankerServe serve_all = RankerServe::kRanker;
  RankerServe serve_new = RankerServe::kRanker;
  recsys::v1::RankerGuardReport guard;
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
  // kFeatTrending per item.
  std::vector<float> trending;
  // Item rows by buyers, then purchase events (descending), then row: the
  // popularity baseline's order.
  std::vector<int32_t> popular_order;
  // Item rows by recent buyers (descending), then popular_order; only items
  // with a recent buyer.
  std::vector<int32_t> trending_order;
  // Item neighbours (CSR over item rows, best first): the similarity of
  // RankerStatsOptions::neighbor_kind. Empty when not computed (see
  // RankerStatsOptions::max_neighbor_work).
  ItemNeighbors neighbors;
  // Title neighbours (TitleNeighbors); empty when the catalog has no
  // titles or they were not computed (AddRankerContentStats).
  ItemNeighbors title_neighbors;
};

struct RankerStatsOptions {
  // Neighbours kept per item; 0: no neighbours are computed (e.g. when the
  // model stores them: ModelData::ranker_neighbors).
  int neighbors = 50;
  // Recent buyers (trending): last purchase at most this many days before
  // the history's latest purchase.
  int trending_days = 30;
  // Per user, only the most recent this many items count for neighbours.
  int max_user_items = 300;
  // Neighbours are skipped when the co-purchase count (Σ over users of
  // min(items, max_user_items)²) exceeds this, bounding the time to about a
  // second per 10^8 (the trainer computes them once and stores them with
  // the model; the server computes them only for a model without them).
  int64_t max_neighbor_work = 400'000'000;
  // The kind of neighbours. kEase solves a dense num_items² system (about
  // 0.2 GB and a few seconds at 5,000 items); with more than kEaseMaxItems
  // items, or when the solve fails, no neighbours are computed.
  NeighborKind neighbor_kind = NeighborKind::kCosine;
  // EASE's L2 penalty (kEase only): the value the evaluation's EASE chose
  // on validation data (docs/evaluation.md, "Tuning").
  double ease_lambda = 1000;
  // Title neighbours (AddRankerContentStats).
  TitleNeighborOptions title;
};

// Fills stats->title_neighbors from the catalog's titles (`items`, parallel
// to item rows; TitleNeighbors with options.title): what the title features
// need. Items beyond the stats' item count are ignored; rows past `items`
// have no title neighbours.
void AddRankerContentStats(absl::Span<const ItemMeta> items,
                           const RankerStatsOptions& options, RankerItemStats* stats);

// The statistics options that match `weights` (their neighbour kind and
// EASE lambda; the rest at defaults).
RankerStatsOptions RankerStatsOptionsFor(const RankerWeights& weights);

// Computes RankerItemStats from a purchase-history CSR (model_format.h).
// Deterministic: the trainer, the evaluator and the server loading a model
// get the same statistics from the same history.
RankerItemStats ComputeRankerItemStats(int32_t num_items,
                                       absl::Span<const int64_t> history_indptr,
                                       absl::Span<const HistoryEntry> history,
                                       const RankerStatsOptions& options = {});

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
  // How many item neighbours of the user's purchases are candidates (the
  // neighbour rank feature counts this far; see RankItems).
  int knn_candidates = 100;
  // How many title neighbours of the user's purchases are candidates (the
  // title rank feature counts this far).
  int title_candidates = 100;
  // How many of the most popular and of the trending items are candidates
  // (each; see RankItems).
  int popular_candidates = 30;
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
// As below, with no neighbour score (knn_score 0, knn_rank -1).
void RankerFeatures(const RankerModel& model, const RankerUserStats& user_stats,
                    int32_t item, float vector_score, int vector_rank,
                    const HistoryEntry* history_entry, int64_t now_unix,
                    float* features);

// Which sources proposed a candidate (RankerCandidate::sources bits).
enum RankerSource : uint8_t {
  kSourceVector = 1,
  kSourceHistory = 2,
  kSourceNeighbors = 4,
  kSourcePopular = 8,
  kSourceTitle = 16,
};

// One candidate of a user with what its features need.
struct RankerCandidate {
  int32_t item = 0;
  float vector_score = 0;
  // Rank among the vector candidates (-1: not one).
  int vector_rank = -1;
  // Normalised neighbour score (kFeatKnnScore) and rank (-1: beyond
  // knn_candidates).
  float knn_score = 0;
  int knn_rank = -1;
  // The same for title neighbours (kFeatTitleScore, kFeatTitleRank).
  float title_score = 0;
  int title_rank = -1;
  // The user's history entry (nullptr: not bought). Points into the
  // RankerUser's history.
  const HistoryEntry* entry = nullptr;
  // RankerSource bits.
  uint8_t sources = 0;
};
void RankerFeatures(const RankerModel& model, const RankerUserStats& user_stats,
                    const RankerCandidate& candidate, int64_t now_unix,
                    float* features);

// The candidates of one user, without scoring: vector neighbours, then
// (with include_bought) the history, the item neighbours and the title
// neighbours of the history, the popular and the trending items; each item once, filtered by
// options.filter (and without bought items unless include_bought).
// InvalidArgument for a vector of the wrong size; the index's errors.
absl::StatusOr<std::vector<RankerCandidate>> CollectRankerCandidates(
    const RankerModel& model, const RankerUser& user, const RankOptions& options);

// Candidate generation and scoring; the k best, best first. Neighbour
// candidates join only when the weights in use give a neighbour feature a
// non-zero weight, title neighbours likewise with the title features, popular and trending ones only when kFeatTrending has
// one (so weights fit without them, as in older models, rank the vector
// and history candidates alone). When the
// weights' guard names a baseline for the setting (serve_all with bought
// items, serve_new without), that baseline's list is returned instead:
// popularity (popular_order), buy-again (the history by events, then the
// latest purchase), vector (the index's nearest items), neighbours (the
// summed neighbour similarity of the user's purchases) or their fusion
// (Σ 1 / (kFusionRankConstant + rank) over the vector and the neighbour
// lists, each cut at max(k, knn_candidates)). InvalidArgument for a vector of
// the wrong size or k < 1.
absl::StatusOr<std::vector<RankedItem>> RankItems(const RankerModel& model,
                                                  const RankerUser& user,
                                                  const RankOptions& options);

}  // namespace recsys::model

#endif  // RECSYS_MODEL_RANKER_H_
