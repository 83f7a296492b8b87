#include "model/ranker.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include <google/protobuf/util/json_util.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/dot.h"

namespace recsys::model {
namespace {

constexpr const char* kFeatureNames[kNumRankerFeatures] = {
    "vector_score",           "vector_rank",          "bought",
    "log_count",              "recency",              "bought_x_user_repeat",
    "bought_x_item_repeat",   "item_repeat",          "popularity",
    "bought_x_log_history",
};

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

}  // namespace

absl::string_view RankerFeatureName(int feature) {
  if (feature < 0 || feature >= kNumRankerFeatures) return "unknown";
  return kFeatureNames[feature];
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
  for (int f = 0; f < kNumRankerFeatures; ++f) {
    (*config.mutable_weights())[kFeatureNames[f]] = weights.w[f];
  }
  config.set_recency_tau_days(weights.recency_tau_days);
  config.set_origin(weights.origin);
  return config;
}

RankerWeights RankerWeightsFromConfig(const recsys::v1::RankerConfig& config) {
  if (config.weights().empty()) return DefaultRankerWeights();
  RankerWeights w;
  for (int f = 0; f < kNumRankerFeatures; ++f) {
    auto it = config.weights().find(kFeatureNames[f]);
    w.w[f] = it == config.weights().end() ? 0.0f : it->second;
  }
  w.recency_tau_days = config.recency_tau_days() > 0 ? config.recency_tau_days() : 30;
  w.origin = config.origin();
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
                                       absl::Span<const HistoryEntry> history) {
  std::vector<int32_t> buyers(num_items, 0), repeaters(num_items, 0);
  if (!history_indptr.empty()) {
    for (const HistoryEntry& h : history) {
      if (h.item < 0 || h.item >= num_items) continue;
      ++buyers[h.item];
      if (h.count >= 2) ++repeaters[h.item];
    }
  }
  RankerItemStats stats;
  stats.repeat_rate.assign(num_items, 0.0f);
  stats.popularity.assign(num_items, 0.0f);
  int32_t max_buyers = 0;
  for (int32_t b : buyers) max_buyers = std::max(max_buyers, b);
  const double denom = std::log1p(static_cast<double>(std::max(1, max_buyers)));
  for (int32_t i = 0; i < num_items; ++i) {
    if (buyers[i] > 0) stats.repeat_rate[i] = static_cast<float>(repeaters[i]) / buyers[i];
    stats.popularity[i] = static_cast<float>(std::log1p(static_cast<double>(buyers[i])) / denom);
  }
  return stats;
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
  const RankerItemStats& items = *model.item_stats;
  const float bought = history_entry != nullptr ? 1.0f : 0.0f;
  const float item_repeat = items.repeat_rate[item];
  f[kFeatVectorScore] = vector_score;
  f[kFeatVectorRank] = vector_rank >= 0 ? 1.0f / std::log2(2.0f + vector_rank) : 0.0f;
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
}

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
  const int32_t num_items = static_cast<int32_t>(model.item_stats->repeat_rate.size());
  absl::flat_hash_map<int32_t, const HistoryEntry*> bought;
  bought.reserve(user.history.size());
  for (const HistoryEntry& h : user.history) {
    if (h.item >= 0 && h.item < num_items) bought[h.item] = &h;
  }
  const RankerUserStats user_stats = ComputeRankerUserStats(user.history);
  const RankerWeights& weights = *model.weights;

  struct Candidate {
    int32_t item;
    float vector_score;
    int vector_rank;
  };
  std::vector<Candidate> candidates;
  absl::flat_hash_map<int32_t, int> position;
  if (!user.vector.empty() && options.vector_candidates > 0) {
    CandidateFilter filter(options.filter, options.include_bought ? nullptr : &bought);
    SearchOptions search;
    if (options.filter != nullptr || !options.include_bought) search.filter = &filter;
    auto hits = model.index->Search(user.vector, options.vector_candidates, search);
    if (!hits.ok()) return hits.status();
    candidates.reserve(hits->size() + bought.size());
    for (size_t r = 0; r < hits->size(); ++r) {
      const int32_t item = static_cast<int32_t>((*hits)[r].id);
      position[item] = static_cast<int>(candidates.size());
      candidates.push_back({item, (*hits)[r].score, static_cast<int>(r)});
    }
  }
  if (options.include_bought) {
    for (const HistoryEntry& h : user.history) {
      if (h.item < 0 || h.item >= num_items || position.contains(h.item)) continue;
      if (options.filter != nullptr && !options.filter->Allowed(h.item)) continue;
      const float score =
          user.vector.empty()
              ? 0.0f
              : DotSequential(
                    user.vector.data(),
                    model.item_factors.data() + static_cast<size_t>(h.item) * model.dim,
                    model.dim);
      position[h.item] = static_cast<int>(candidates.size());
      candidates.push_back({h.item, score, -1});
    }
  }

  std::vector<RankedItem> ranked;
  ranked.reserve(candidates.size());
  float features[kNumRankerFeatures];
  for (const Candidate& c : candidates) {
    auto it = bought.find(c.item);
    const HistoryEntry* entry = it == bought.end() ? nullptr : it->second;
    RankerFeatures(model, user_stats, c.item, c.vector_score, c.vector_rank, entry,
                   options.now_unix, features);
    float score = 0;
    for (int f = 0; f < kNumRankerFeatures; ++f) score += weights.w[f] * features[f];
    ranked.push_back({c.item, score, entry != nullptr});
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
