#include "model/ranker.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <utility>

#include <google/protobuf/util/json_util.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/dot.h"
#include "model/ease.h"
#include "common/status_macros.h"

namespace recsys::model {
namespace {

constexpr const char* kFeatureNames[kNumRankerFeatures] = {
    "vector_score",           "vector_rank",          "bought",
    "log_count",              "recency",              "bought_x_user_repeat",
    "bought_x_item_repeat",   "item_repeat",          "popularity",
    "bought_x_log_history",   "knn_score",            "knn_rank",
    "trending",               "title_score",          "title_rank",
};

constexpr const char* kServeNames[] = {"ranker", "popularity", "buy_again",
                                       "vector", "neighbors",  "fusion"};
constexpr int kNumServe = 6;

// Σ over the user's purchases of the similarity of each kept neighbour, in
// a dense per-thread array (4 bytes and a bit per item of the largest
// catalog ranked on the thread), so that neither the array nor a hash map
// is touched beyond the summed items (a hash map costs several times more
// per addition); the bits of the summed items are cleared when the object
// goes. Each item's sum is taken in history order, so the floats do not
// depend on anything else. One live object per thread uses the thread's
// array; a nested one (not done today) gets its own. Not thread-safe
// itself; RankItems makes one per call.
class NeighbourScores {
 public:
  NeighbourScores(const ItemNeighbors& neighbors, absl::Span<const HistoryEntry> history) {
    Scratch& shared = ThreadScratch();
    scratch_ = shared.in_use ? &own_ : &shared;
    scratch_->in_use = true;
    if (neighbors.indptr.empty()) return;
    const int32_t num_items = static_cast<int32_t>(neighbors.indptr.size()) - 1;
    if (scratch_->sums.size() < static_cast<size_t>(num_items)) {
      scratch_->sums.resize(num_items);
      scratch_->seen.resize((static_cast<size_t>(num_items) + 63) / 64, 0);
    }
    float* sums = scratch_->sums.data();
    uint64_t* seen = scratch_->seen.data();
    for (const HistoryEntry& h : history) {
      const int32_t item = h.item;
      if (item < 0 || item >= num_items) continue;
      for (int64_t k = neighbors.indptr[item]; k < neighbors.indptr[item + 1]; ++k) {
        const int32_t n = neighbors.items[k];
        const uint64_t bit = uint64_t{1} << (n & 63);
        if ((seen[n >> 6] & bit) == 0) {
          seen[n >> 6] |= bit;
          sums[n] = neighbors.sims[k];
          items_.push_back(n);
        } else {
          sums[n] += neighbors.sims[k];
        }
      }
    }
    num_items_ = num_items;
  }
  ~NeighbourScores() {
    for (int32_t n : items_) scratch_->seen[n >> 6] &= ~(uint64_t{1} << (n & 63));
    scratch_->in_use = false;
  }
  NeighbourScores(const NeighbourScores&) = delete;
  NeighbourScores& operator=(const NeighbourScores&) = delete;

  // The items with a sum, in the order first reached.
  const std::vector<int32_t>& items() const { return items_; }
  // Whether `item` has a sum, and the sum (0 without).
  bool has(int32_t item) const {
    return item >= 0 && item < num_items_ &&
           (scratch_->seen[item >> 6] >> (item & 63) & 1) != 0;
  }
  float score(int32_t item) const { return has(item) ? scratch_->sums[item] : 0.0f; }

 private:
  struct Scratch {
    std::vector<float> sums;
    // One bit per item: summed by the live object.
    std::vector<uint64_t> seen;
    bool in_use = false;
  };
  static Scratch& ThreadScratch() {
    thread_local Scratch scratch;
    return scratch;
  }

  Scratch own_;
  Scratch* scratch_ = nullptr;
  std::vector<int32_t> items_;
  int32_t num_items_ = 0;
};

void WeightsToMap(const std::array<float, kNumRankerFeatures>& w,
                  google::protobuf::Map<std::string, float>* out) {
  for (int f = 0; f < kNumRankerFeatures; ++f) (*out)[kFeatureNames[f]] = w[f];
}

std::array<float, kNumRankerFeatures> WeightsFromMap(
    const google::protobuf::Map<std::string, float>& map) {
  std::array<float, kNumRankerFeatures> w{};
  for (int f = 0; f < kNumRankerFeatures; ++f) {
    auto it = map.find(kFeatureNames[f]);
    w[f] = it == map.end() ? 0.0f : it->second;
  }
  return w;
}

// Allows what the caller's filter allows, minus bought items when the
// repurchase source is off.
class CandidateFilter : public IdFilter {
 public:
  CandidateFilter(const IdFilter* base,
                  const absl::flat_hash_map<int32_t, const HistoryEntry*>* bought)
      : base_(base), bought_(bought) {}
  bool Allowed(int64_t id) const override {
    if (bought_ != nullptr && bought_->contains(static_cast<int32_t>(id))) return false;
    return base_ == nullptr || base_->Allowed(id);
  }

 private:
  const IdFilter* base_;
  const absl::flat_hash_map<int32_t, const HistoryEntry*>* bought_;
};

// Keeps, per row of the dense row-major n x n matrix `b`, the `neighbors`
// largest positive entries off the diagonal (best first, ties by column) as
// the stats' neighbour CSR.
void KeepTopPositive(const std::vector<float>& b, int n, int neighbors, RankerItemStats* stats) {
  std::vector<std::pair<float, int32_t>> best;
  stats->neighbors = ItemNeighbors();
  stats->neighbors.indptr.assign(1, 0);
  for (int i = 0; i < n; ++i) {
    best.clear();
    const float* row = b.data() + static_cast<size_t>(i) * n;
    for (int j = 0; j < n; ++j) {
      if (j != i && row[j] > 0) best.push_back({row[j], j});
    }
    AppendNeighborRow(&best, neighbors, &stats->neighbors);
  }
}

}  // namespace

absl::string_view NeighborKindName(NeighborKind kind) {
  return kind == NeighborKind::kEase ? "ease" : "cosine";
}

RankerStatsOptions RankerStatsOptionsFor(const RankerWeights& weights) {
  RankerStatsOptions options;
  options.neighbor_kind = weights.neighbors;
  if (weights.neighbors == NeighborKind::kEase && weights.ease_lambda > 0) {
    options.ease_lambda = weights.ease_lambda;
  }
  return options;
}

absl::string_view RankerFeatureName(int feature) {
  if (feature < 0 || feature >= kNumRankerFeatures) return "unknown";
  return kFeatureNames[feature];
}

absl::string_view RankerServeName(RankerServe serve) {
  const int i = static_cast<int>(serve);
  return i >= 0 && i < kNumServe ? kServeNames[i] : "ranker";
}

RankerServe RankerServeFromName(absl::string_view name) {
  if (name == kServeNames[1]) return RankerServe::kPopularity;
  if (name == kServeNames[2]) return RankerServe::kBuyAgain;
  if (name == kServeNames[3]) return RankerServe::kVector;
  if (name == kServeNames[4]) return RankerServe::kNeighbors;
  if (name == kServeNames[5]) return RankerServe::kFusion;
  return RankerServe::kRanker;
}

RankerWeights DefaultRankerWeights() {
  RankerWeights w;
  w.w[kFeatVectorScore] = 2.0f;
  w.w[kFeatVectorRank] = 1.0f;
  w.w[kFeatBought] = 0.5f;
  w.w[kFeatLogCount] = 0.3f;
  w.w[kFeatRecency] = 0.5f;
  w.w[kFeatBoughtXUserRepeat] = 1.0f;
  w.w[kFeatBoughtXItemRepeat] = 1.0f;
  w.w[kFeatItemRepeat] = 0.0f;
  w.w[kFeatPopularity] = 0.2f;
  w.w[kFeatBoughtXLogHistory] = 0.0f;
  w.recency_tau_days = 30;
  w.origin = "default";
  return w;
}

recsys::v1::RankerConfig RankerWeightsToConfig(const RankerWeights& weights) {
  recsys::v1::RankerConfig config;
  WeightsToMap(weights.w, config.mutable_weights());
  if (weights.has_discovery) WeightsToMap(weights.discovery, config.mutable_discovery_weights());
  config.set_recency_tau_days(weights.recency_tau_days);
  config.set_origin(weights.origin);
  if (weights.neighbors != NeighborKind::kCosine) {
    config.set_neighbors(std::string(NeighborKindName(weights.neighbors)));
    config.set_ease_lambda(weights.ease_lambda);
  }
  if (weights.serve_all != RankerServe::kRanker) {
    config.set_serve_all(std::string(RankerServeName(weights.serve_all)));
  }
  if (weights.serve_new != RankerServe::kRanker) {
    config.set_serve_new(std::string(RankerServeName(weights.serve_new)));
  }
  if (weights.guard.k() > 0) *config.mutable_guard() = weights.guard;
  return config;
}

RankerWeights RankerWeightsFromConfig(const recsys::v1::RankerConfig& config) {
  if (config.weights().empty()) return DefaultRankerWeights();
  RankerWeights w;
  w.w = WeightsFromMap(config.weights());
  if (!config.discovery_weights().empty()) {
    w.discovery = WeightsFromMap(config.discovery_weights());
    w.has_discovery = true;
  }
  w.recency_tau_days = config.recency_tau_days() > 0 ? config.recency_tau_days() : 30;
  w.origin = config.origin();
  w.serve_all = RankerServeFromName(config.serve_all());
  w.serve_new = RankerServeFromName(config.serve_new());
  w.guard = config.guard();
  if (config.neighbors() == NeighborKindName(NeighborKind::kEase)) {
    w.neighbors = NeighborKind::kEase;
    w.ease_lambda = config.ease_lambda();
  }
  return w;
}

std::string RankerWeightsToJson(const RankerWeights& weights) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(RankerWeightsToConfig(weights), &json,
                                                     options);
  return json;
}

RankerItemStats ComputeRankerItemStats(int32_t num_items,
                                       absl::Span<const int64_t> history_indptr,
                                       absl::Span<const HistoryEntry> history,
                                       const RankerStatsOptions& options) {
  std::vector<int32_t> buyers(num_items, 0), repeaters(num_items, 0), recent(num_items, 0);
  std::vector<int64_t> events(num_items, 0);
  int64_t latest = 0;
  if (!history_indptr.empty()) {
    for (const HistoryEntry& h : history) latest = std::max(latest, h.last_unix);
    const int64_t recent_from = latest - int64_t{options.trending_days} * 86400;
    for (const HistoryEntry& h : history) {
      if (h.item < 0 || h.item >= num_items) continue;
      ++buyers[h.item];
      events[h.item] += std::max(0, h.count);
      if (h.count >= 2) ++repeaters[h.item];
      if (latest > 0 && h.last_unix >= recent_from) ++recent[h.item];
    }
  }
  RankerItemStats stats;
  stats.repeat_rate.assign(num_items, 0.0f);
  stats.popularity.assign(num_items, 0.0f);
  stats.trending.assign(num_items, 0.0f);
  int32_t max_buyers = 0, max_recent = 0;
  for (int32_t b : buyers) max_buyers = std::max(max_buyers, b);
  for (int32_t r : recent) max_recent = std::max(max_recent, r);
  const double denom = std::log1p(static_cast<double>(std::max(1, max_buyers)));
  const double recent_denom = std::log1p(static_cast<double>(std::max(1, max_recent)));
  for (int32_t i = 0; i < num_items; ++i) {
    if (buyers[i] > 0) stats.repeat_rate[i] = static_cast<float>(repeaters[i]) / buyers[i];
    stats.popularity[i] = static_cast<float>(std::log1p(static_cast<double>(buyers[i])) / denom);
    stats.trending[i] =
        static_cast<float>(std::log1p(static_cast<double>(recent[i])) / recent_denom);
  }
  stats.popular_order.resize(num_items);
  for (int32_t i = 0; i < num_items; ++i) stats.popular_order[i] = i;
  std::sort(stats.popular_order.begin(), stats.popular_order.end(), [&](int32_t a, int32_t b) {
    if (buyers[a] != buyers[b]) return buyers[a] > buyers[b];
    if (events[a] != events[b]) return events[a] > events[b];
    return a < b;
  });
  for (int32_t i : stats.popular_order) {
    if (recent[i] > 0) stats.trending_order.push_back(i);
  }
  std::stable_sort(stats.trending_order.begin(), stats.trending_order.end(),
                   [&](int32_t a, int32_t b) { return recent[a] > recent[b]; });

  // Item neighbours: co-purchase counts over each user's most recent items.
  if (history_indptr.size() < 2 || num_items == 0 || options.neighbors < 1) return stats;
  const int64_t num_users = static_cast<int64_t>(history_indptr.size()) - 1;
  // The work bound first, so that a history past it costs no copy of its
  // items.
  int64_t work = 0;
  for (int64_t u = 0; u < num_users && work <= options.max_neighbor_work; ++u) {
    int64_t n = 0;
    for (int64_t k = history_indptr[u]; k < history_indptr[u + 1]; ++k) {
      if (history[k].item >= 0 && history[k].item < num_items) ++n;
    }
    n = std::min<int64_t>(n, options.max_user_items);
    work += n * n;
  }
  if (work > options.max_neighbor_work) return stats;
  std::vector<std::vector<int32_t>> user_items(num_users);
  std::vector<int32_t> item_users_count(num_items, 0);
  for (int64_t u = 0; u < num_users; ++u) {
    std::vector<const HistoryEntry*> entries;
    for (int64_t k = history_indptr[u]; k < history_indptr[u + 1]; ++k) {
      if (history[k].item >= 0 && history[k].item < num_items) entries.push_back(&history[k]);
    }
    if (static_cast<int>(entries.size()) > options.max_user_items) {
      std::partial_sort(entries.begin(), entries.begin() + options.max_user_items, entries.end(),
                        [](const HistoryEntry* a, const HistoryEntry* b) {
                          if (a->last_unix != b->last_unix) return a->last_unix > b->last_unix;
                          return a->item < b->item;
                        });
      entries.resize(options.max_user_items);
    }
    for (const HistoryEntry* e : entries) {
      user_items[u].push_back(e->item);
      ++item_users_count[e->item];
    }
  }
  if (options.neighbor_kind == NeighborKind::kEase) {
    if (num_items > kEaseMaxItems) return stats;
    const int n = num_items;
    std::vector<double> gram(static_cast<size_t>(n) * n, 0.0);
    for (const std::vector<int32_t>& items : user_items) {
      for (int32_t a : items) {
        double* row = gram.data() + static_cast<size_t>(a) * n;
        for (int32_t b : items) row[b] += 1.0;
      }
    }
    absl::StatusOr<std::vector<float>> b = EaseWeights(n, std::move(gram), options.ease_lambda);
    if (b.ok()) KeepTopPositive(*b, n, options.neighbors, &stats);
    return stats;
  }
  std::vector<int64_t> item_indptr(num_items + 1, 0);
  for (int32_t i = 0; i < num_items; ++i) item_indptr[i + 1] = item_indptr[i] + item_users_count[i];
  std::vector<int32_t> item_users(item_indptr[num_items]);
  std::vector<int64_t> fill(item_indptr.begin(), item_indptr.end() - 1);
  for (int64_t u = 0; u < num_users; ++u) {
    for (int32_t i : user_items[u]) item_users[fill[i]++] = static_cast<int32_t>(u);
  }
  std::vector<float> co(num_items, 0.0f);
  std::vector<int32_t> touched;
  std::vector<std::pair<float, int32_t>> best;
  stats.neighbors.indptr.assign(1, 0);
  for (int32_t i = 0; i < num_items; ++i) {
    touched.clear();
    for (int64_t k = item_indptr[i]; k < item_indptr[i + 1]; ++k) {
      for (int32_t j : user_items[item_users[k]]) {
        if (j == i) continue;
        if (co[j] == 0.0f) touched.push_back(j);
        co[j] += 1.0f;
      }
    }
    best.clear();
    for (int32_t j : touched) {
      const double norm = std::sqrt(static_cast<double>(item_users_count[i]) *
                                    static_cast<double>(item_users_count[j]));
      best.push_back({static_cast<float>(co[j] / norm), j});
      co[j] = 0.0f;
    }
    AppendNeighborRow(&best, options.neighbors, &stats.neighbors);
  }
  return stats;
}

void AddRankerContentStats(absl::Span<const ItemMeta> items,
                           const RankerStatsOptions& options, RankerItemStats* stats) {
  const size_t num_items = std::min(items.size(), stats->repeat_rate.size());
  items = items.subspan(0, num_items);
  stats->title_neighbors = TitleNeighbors(items, options.title);
  if (!stats->title_neighbors.indptr.empty()) {
    // Rows past the catalog's titled items: none.
    while (stats->title_neighbors.indptr.size() < stats->repeat_rate.size() + 1) {
      stats->title_neighbors.indptr.push_back(stats->title_neighbors.indptr.back());
    }
  }
}

RankerUserStats ComputeRankerUserStats(absl::Span<const HistoryEntry> history) {
  RankerUserStats stats;
  int64_t events = 0, repeats = 0;
  for (const HistoryEntry& h : history) {
    events += std::max(0, h.count);
    repeats += std::max(0, h.count - 1);
  }
  if (events > 0) stats.repeat_ratio = static_cast<float>(repeats) / events;
  stats.log_history = static_cast<float>(std::log1p(static_cast<double>(history.size())));
  return stats;
}

RankerModel MakeRankerModel(const VectorIndex* index, absl::Span<const float> item_factors,
                            int dim, const RankerItemStats* item_stats,
                            const RankerWeights* weights) {
  RankerModel m;
  m.index = index;
  m.item_factors = item_factors;
  m.dim = dim;
  m.item_stats = item_stats;
  m.weights = weights;
  return m;
}

void RankerFeatures(const RankerModel& model, const RankerUserStats& user_stats, int32_t item,
                    float vector_score, int vector_rank, const HistoryEntry* history_entry,
                    int64_t now_unix, float* f) {
  RankerCandidate c;
  c.item = item;
  c.vector_score = vector_score;
  c.vector_rank = vector_rank;
  c.entry = history_entry;
  RankerFeatures(model, user_stats, c, now_unix, f);
}

void RankerFeatures(const RankerModel& model, const RankerUserStats& user_stats,
                    const RankerCandidate& c, int64_t now_unix, float* f) {
  const RankerItemStats& items = *model.item_stats;
  const HistoryEntry* history_entry = c.entry;
  const int32_t item = c.item;
  const float bought = history_entry != nullptr ? 1.0f : 0.0f;
  const float item_repeat = items.repeat_rate[item];
  f[kFeatVectorScore] = c.vector_score;
  f[kFeatVectorRank] = c.vector_rank >= 0 ? 1.0f / std::log2(2.0f + c.vector_rank) : 0.0f;
  f[kFeatBought] = bought;
  f[kFeatLogCount] =
      history_entry != nullptr ? std::log1p(static_cast<float>(std::max(0, history_entry->count)))
                               : 0.0f;
  float recency = 0;
  if (history_entry != nullptr) {
    const float tau = model.weights != nullptr && model.weights->recency_tau_days > 0
                          ? model.weights->recency_tau_days
                          : 30.0f;
    const double days = std::max<double>(0.0, (now_unix - history_entry->last_unix) / 86400.0);
    recency = static_cast<float>(std::exp(-days / tau));
  }
  f[kFeatRecency] = recency;
  f[kFeatBoughtXUserRepeat] = bought * user_stats.repeat_ratio;
  f[kFeatBoughtXItemRepeat] = bought * item_repeat;
  f[kFeatItemRepeat] = item_repeat;
  f[kFeatPopularity] = items.popularity[item];
  f[kFeatBoughtXLogHistory] = bought * user_stats.log_history;
  f[kFeatKnnScore] = c.knn_score;
  f[kFeatKnnRank] = c.knn_rank >= 0 ? 1.0f / std::log2(2.0f + c.knn_rank) : 0.0f;
  f[kFeatTrending] = items.trending.empty() ? 0.0f : items.trending[item];
  f[kFeatTitleScore] = c.title_score;
  f[kFeatTitleRank] = c.title_rank >= 0 ? 1.0f / std::log2(2.0f + c.title_rank) : 0.0f;
}

absl::StatusOr<std::vector<RankerCandidate>> CollectRankerCandidates(
    const RankerModel& model, const RankerUser& user, const RankOptions& options) {
  if (!user.vector.empty() && static_cast<int>(user.vector.size()) != model.dim) {
    return absl::InvalidArgumentError(absl::StrCat("user vector: expected ", model.dim,
                                                   " floats, got ", user.vector.size()));
  }
  const RankerItemStats& stats = *model.item_stats;
  const int32_t num_items = static_cast<int32_t>(stats.repeat_rate.size());
  absl::flat_hash_map<int32_t, const HistoryEntry*> bought;
  bought.reserve(user.history.size());
  for (const HistoryEntry& h : user.history) {
    if (h.item >= 0 && h.item < num_items) bought[h.item] = &h;
  }
  auto allowed = [&](int32_t item) {
    if (!options.include_bought && bought.contains(item)) return false;
    return options.filter == nullptr || options.filter->Allowed(item);
  };
  auto vector_score = [&](int32_t item) {
    return user.vector.empty()
               ? 0.0f
               : DotSequential(user.vector.data(),
                               model.item_factors.data() + static_cast<size_t>(item) * model.dim,
                               model.dim);
  };

  std::vector<RankerCandidate> candidates;
  absl::flat_hash_map<int32_t, int> position;
  auto add = [&](int32_t item, float score, int rank, uint8_t source) -> RankerCandidate* {
    auto [it, inserted] = position.emplace(item, static_cast<int>(candidates.size()));
    if (!inserted) {
      candidates[it->second].sources |= source;
      return &candidates[it->second];
    }
    RankerCandidate& c = candidates.emplace_back();
    c.item = item;
    c.vector_score = score;
    c.vector_rank = rank;
    auto b = bought.find(item);
    c.entry = b == bought.end() ? nullptr : b->second;
    c.sources = source;
    return &c;
  };
  if (!user.vector.empty() && options.vector_candidates > 0) {
    CandidateFilter filter(options.filter, options.include_bought ? nullptr : &bought);
    SearchOptions search;
    if (options.filter != nullptr || !options.include_bought) search.filter = &filter;
    auto hits = model.index->Search(user.vector, options.vector_candidates, search);
    if (!hits.ok()) return hits.status();
    candidates.reserve(hits->size() + bought.size() + std::max(0, options.knn_candidates) +
                       std::max(0, options.title_candidates) +
                       2 * std::max(0, options.popular_candidates));
    for (size_t r = 0; r < hits->size(); ++r) {
      add(static_cast<int32_t>((*hits)[r].id), (*hits)[r].score, static_cast<int>(r),
          kSourceVector);
    }
  }
  if (options.include_bought) {
    for (const HistoryEntry& h : user.history) {
      if (h.item < 0 || h.item >= num_items) continue;
      if (options.filter != nullptr && !options.filter->Allowed(h.item)) continue;
      auto it = position.find(h.item);
      if (it != position.end()) {
        candidates[it->second].sources |= kSourceHistory;
        continue;
      }
      add(h.item, vector_score(h.item), -1, kSourceHistory);
    }
  }
  // Item and title neighbours of the history: summed similarity,
  // normalised by the largest sum; the best `depth` allowed ones join.
  auto add_neighbours = [&](const ItemNeighbors& neighbors, int depth, uint8_t source,
                            float RankerCandidate::*score_of, int RankerCandidate::*rank_of) {
    if (neighbors.indptr.empty() || bought.empty() || depth <= 0) return;
    const NeighbourScores scores(neighbors, user.history);
    std::vector<std::pair<float, int32_t>> order;
    order.reserve(scores.items().size());
    float max_score = 0;
    for (int32_t item : scores.items()) {
      const float score = scores.score(item);
      max_score = std::max(max_score, score);
      if (allowed(item)) order.push_back({score, item});
    }
    const size_t keep = std::min<size_t>(depth, order.size());
    std::partial_sort(order.begin(), order.begin() + keep, order.end(),
                      [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
                        if (a.first != b.first) return a.first > b.first;
                        return a.second < b.second;
                      });
    for (size_t r = 0; r < keep; ++r) {
      const int32_t item = order[r].second;
      auto it = position.find(item);
      RankerCandidate* c = it != position.end() ? &candidates[it->second]
                                                : add(item, vector_score(item), -1, source);
      c->sources |= source;
      c->*rank_of = static_cast<int>(r);
    }
    if (max_score > 0) {
      for (RankerCandidate& c : candidates) {
        if (scores.has(c.item)) c.*score_of = scores.score(c.item) / max_score;
      }
    }
  };
  add_neighbours(stats.neighbors, options.knn_candidates, kSourceNeighbors,
                 &RankerCandidate::knn_score, &RankerCandidate::knn_rank);
  add_neighbours(stats.title_neighbors, options.title_candidates, kSourceTitle,
                 &RankerCandidate::title_score, &RankerCandidate::title_rank);
  // The popular and the trending items.
  for (const std::vector<int32_t>* list : {&stats.popular_order, &stats.trending_order}) {
    int taken = 0;
    for (size_t r = 0; r < list->size() && taken < options.popular_candidates; ++r) {
      const int32_t item = (*list)[r];
      if (!allowed(item)) continue;
      ++taken;
      auto it = position.find(item);
      if (it != position.end()) {
        candidates[it->second].sources |= kSourcePopular;
      } else {
        add(item, vector_score(item), -1, kSourcePopular);
      }
    }
  }
  return candidates;
}

namespace {

// The guard's baseline list for one setting.
absl::StatusOr<std::vector<RankedItem>> BaselineList(const RankerModel& model,
                                                     const RankerUser& user,
                                                     const RankOptions& options,
                                                     RankerServe serve) {
  const RankerItemStats& stats = *model.item_stats;
  const int32_t num_items = static_cast<int32_t>(stats.repeat_rate.size());
  std::vector<RankedItem> out;
  if (serve == RankerServe::kVector || serve == RankerServe::kNeighbors ||
      serve == RankerServe::kFusion) {
    absl::flat_hash_map<int32_t, const HistoryEntry*> bought;
    for (const HistoryEntry& h : user.history) {
      if (h.item >= 0 && h.item < num_items) bought[h.item] = &h;
    }
    // The nearest items by vector, best first, at most `depth`.
    auto vector_list =
        [&](int depth) -> absl::StatusOr<std::vector<RankedItem>> {
      std::vector<RankedItem> list;
      if (user.vector.empty() || model.index == nullptr) return list;
      CandidateFilter filter(options.filter, options.include_bought ? nullptr : &bought);
      SearchOptions search;
      if (options.filter != nullptr || !options.include_bought)
        search.filter = &filter;
      RECSYS_ASSIGN_OR_RETURN(std::vector<Neighbor> hits,
                              model.index->Search(user.vector, depth, search));
      for (const Neighbor& n : hits) {
        const int32_t item = static_cast<int32_t>(n.id);
        list.push_back({item, n.score, bought.contains(item)});
      }
      return list;
    };
    // The item neighbours by summed similarity, best first, at most `depth`.
    auto neighbour_list = [&](int depth) {
      std::vector<RankedItem> list;
      std::vector<std::pair<float, int32_t>> order;
      const NeighbourScores scores(stats.neighbors, user.history);
      for (int32_t item : scores.items()) {
        if (!options.include_bought && bought.contains(item)) continue;
        if (options.filter != nullptr && !options.filter->Allowed(item))
          continue;
        order.push_back({scores.score(item), item});
      }
      const size_t keep = std::min<size_t>(std::max(0, depth), order.size());
      std::partial_sort(order.begin(), order.begin() + keep, order.end(),
                        [](const std::pair<float, int32_t>& a,
                           const std::pair<float, int32_t>& b) {
                          if (a.first != b.first) return a.first > b.first;
                          return a.second < b.second;
                        });
      for (size_t r = 0; r < keep; ++r) {
        list.push_back({order[r].second, order[r].first,
                        bought.contains(order[r].second)});
      }
      return list;
    };
    if (serve == RankerServe::kVector) return vector_list(options.k);
    if (serve == RankerServe::kNeighbors) return neighbour_list(options.k);
    // Reciprocal rank fusion (Cormack et al. 2009): Σ over the two lists of
    // 1 / (kFusionRankConstant + rank), ranks from 1, each list cut at
    // max(k, knn_candidates).
    const int depth = std::max(options.k, options.knn_candidates);
    RECSYS_ASSIGN_OR_RETURN(std::vector<RankedItem> by_vector,
                            vector_list(depth));
    const std::vector<RankedItem> by_neighbours = neighbour_list(depth);
    absl::flat_hash_map<int32_t, float> fused;
    for (const std::vector<RankedItem>* list :
         std::initializer_list<const std::vector<RankedItem>*>{
             &by_vector, &by_neighbours}) {
      for (size_t r = 0; r < list->size(); ++r) {
        fused[(*list)[r].item] +=
            1.0f / (kFusionRankConstant + static_cast<float>(r + 1));
      }
    }
    for (const auto& [item, score] : fused)
      out.push_back({item, score, bought.contains(item)});
    const size_t keep = std::min<size_t>(options.k, out.size());
    std::partial_sort(out.begin(), out.begin() + keep, out.end(),
                      [](const RankedItem& a, const RankedItem& b) {
                        if (a.score != b.score) return a.score > b.score;
                        return a.item < b.item;
                      });
    out.resize(keep);
    return out;
  }
  if (serve == RankerServe::kBuyAgain) {
    if (!options.include_bought) return out;
    std::vector<const HistoryEntry*> entries;
    for (const HistoryEntry& h : user.history) {
      if (h.item < 0 || h.item >= num_items) continue;
      if (options.filter != nullptr && !options.filter->Allowed(h.item)) continue;
      entries.push_back(&h);
    }
    std::sort(entries.begin(), entries.end(), [](const HistoryEntry* a, const HistoryEntry* b) {
      if (a->count != b->count) return a->count > b->count;
      if (a->last_unix != b->last_unix) return a->last_unix > b->last_unix;
      return a->item < b->item;
    });
    for (const HistoryEntry* h : entries) {
      if (static_cast<int>(out.size()) >= options.k) break;
      out.push_back({h->item, static_cast<float>(h->count), true});
    }
    return out;
  }
  absl::flat_hash_map<int32_t, bool> bought;
  for (const HistoryEntry& h : user.history) bought[h.item] = true;
  for (int32_t item : stats.popular_order) {
    if (static_cast<int>(out.size()) >= options.k) break;
    const bool was_bought = bought.contains(item);
    if (!options.include_bought && was_bought) continue;
    if (options.filter != nullptr && !options.filter->Allowed(item)) continue;
    out.push_back({item, stats.popularity[item], was_bought});
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<RankedItem>> RankItems(const RankerModel& model,
                                                  const RankerUser& user,
                                                  const RankOptions& options) {
  if (options.k < 1) {
    return absl::InvalidArgumentError(absl::StrCat("k: must be >= 1, got ", options.k));
  }
  if (!user.vector.empty() && static_cast<int>(user.vector.size()) != model.dim) {
    return absl::InvalidArgumentError(absl::StrCat("user vector: expected ", model.dim,
                                                   " floats, got ", user.vector.size()));
  }
  const RankerWeights& weights = *model.weights;
  const RankerServe serve = options.include_bought ? weights.serve_all : weights.serve_new;
  if (serve != RankerServe::kRanker) return BaselineList(model, user, options, serve);
  const std::array<float, kNumRankerFeatures>& w =
      !options.include_bought && weights.has_discovery ? weights.discovery : weights.w;
  RankOptions collect = options;
  if (w[kFeatKnnScore] == 0.0f && w[kFeatKnnRank] == 0.0f) collect.knn_candidates = 0;
  if (w[kFeatTitleScore] == 0.0f && w[kFeatTitleRank] == 0.0f) collect.title_candidates = 0;
  if (w[kFeatTrending] == 0.0f) collect.popular_candidates = 0;
  RECSYS_ASSIGN_OR_RETURN(std::vector<RankerCandidate> candidates,
                          CollectRankerCandidates(model, user, collect));
  const RankerUserStats user_stats = ComputeRankerUserStats(user.history);

  std::vector<RankedItem> ranked;
  ranked.reserve(candidates.size());
  float features[kNumRankerFeatures];
  for (const RankerCandidate& c : candidates) {
    RankerFeatures(model, user_stats, c, options.now_unix, features);
    float score = 0;
    for (int f = 0; f < kNumRankerFeatures; ++f) score += w[f] * features[f];
    ranked.push_back({c.item, score, c.entry != nullptr});
  }
  const size_t k = std::min<size_t>(options.k, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + k, ranked.end(),
                    [](const RankedItem& a, const RankedItem& b) {
                      if (a.score != b.score) return a.score > b.score;
                      return a.item < b.item;
                    });
  ranked.resize(k);
  return ranked;
}

}  // namespace recsys::model
