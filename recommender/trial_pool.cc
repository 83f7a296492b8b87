#include "recommender/trial_pool.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/time/clock.h"
#include "common/status_macros.h"

namespace recsys::recommender {

absl::string_view TrialVectorSourceName(TrialVectorSource source) {
  switch (source) {
    case TrialVectorSource::kModel:
      return "model";
    case TrialVectorSource::kCategoryMean:
      return "category_mean";
    case TrialVectorSource::kNone:
      break;
  }
  return "none";
}

TrialSnapshot::TrialSnapshot(std::string model_version, absl::Time built_at,
                             std::vector<TrialItem> items)
    : model_version_(std::move(model_version)),
      built_at_(built_at),
      items_(std::move(items)) {
  for (size_t i = 0; i < items_.size(); ++i)
    by_id_.emplace(items_[i].item_id, i);
}

const TrialItem* TrialSnapshot::Find(absl::string_view item_id) const {
  auto it = by_id_.find(item_id);
  return it == by_id_.end() ? nullptr : &items_[it->second];
}

bool InTrialWindow(const TrialItem& item, absl::Time t, int days) {
  return InTrialWindowWithEarlyAccess(item, t, days, 0);
}

bool InTrialWindowWithEarlyAccess(const TrialItem& item, absl::Time t, int days, int early_days) {
  return item.listed != absl::InfinitePast() && t >= item.listed - absl::Hours(24) * early_days &&
         t < item.listed + absl::Hours(24) * days;
}

std::vector<float> CategoryMeanVector(const model::ModelBundle& bundle,
                                      absl::string_view category) {
  const std::vector<int32_t>& rows = bundle.category_popular(category);
  if (rows.empty() || bundle.dim() < 1) return {};
  std::vector<double> sum(bundle.dim(), 0.0);
  double norms = 0;
  for (int32_t row : rows) {
    absl::Span<const float> v = bundle.item_vector(row);
    double sq = 0;
    for (int d = 0; d < bundle.dim(); ++d) {
      sum[d] += v[d];
      sq += static_cast<double>(v[d]) * v[d];
    }
    norms += std::sqrt(sq);
  }
  double length = 0;
  for (double x : sum) length += x * x;
  length = std::sqrt(length);
  std::vector<float> mean(bundle.dim(), 0.0f);
  if (length == 0) return mean;
  const double scale = norms / static_cast<double>(rows.size()) / length;
  for (int d = 0; d < bundle.dim(); ++d)
    mean[d] = static_cast<float>(sum[d] * scale);
  return mean;
}

absl::StatusOr<std::shared_ptr<const TrialSnapshot>> BuildTrialSnapshot(
    const model::ModelBundle& bundle, const feature_store::FeatureStore& store,
    int max_items, absl::Time deadline) {
  RECSYS_ASSIGN_OR_RETURN(std::vector<feature_store::ListedItem> listed,
                          store.GetListedItems(max_items, deadline));
  std::vector<std::string> ids;
  ids.reserve(listed.size());
  for (const auto& l : listed) ids.push_back(l.item_id);
  std::vector<std::optional<feature_store::ItemFeatures>> features;
  if (!ids.empty()) {
    RECSYS_ASSIGN_OR_RETURN(features, store.GetItems(ids, deadline));
  }
  absl::flat_hash_map<std::string, std::vector<float>> category_means;
  std::vector<TrialItem> items;
  items.reserve(listed.size());
  for (size_t i = 0; i < listed.size(); ++i) {
    TrialItem item;
    item.item_id = listed[i].item_id;
    item.listed = listed[i].listed;
    item.row = bundle.ItemRow(item.item_id);
    if (item.row >= 0) {
      const model::ItemMeta& meta = bundle.item(item.row);
      item.category = meta.category;
      item.title = meta.title;
      item.price = meta.price;
    }
    if (i < features.size() && features[i].has_value()) {
      const feature_store::ItemFeatures& f = *features[i];
      if (!f.category.empty()) item.category = f.category;
      if (!f.title.empty()) item.title = f.title;
      if (f.price > 0) item.price = f.price;
    }
    if (item.row >= 0) {
      absl::Span<const float> v = bundle.item_vector(item.row);
      item.vector.assign(v.begin(), v.end());
      item.vector_source = TrialVectorSource::kModel;
    } else if (!item.category.empty()) {
      auto [it, inserted] = category_means.try_emplace(item.category);
      if (inserted) it->second = CategoryMeanVector(bundle, item.category);
      if (!it->second.empty()) {
        item.vector = it->second;
        item.vector_source = TrialVectorSource::kCategoryMean;
      }
    }
    items.push_back(std::move(item));
  }
  return std::make_shared<const TrialSnapshot>(bundle.version(), absl::Now(),
                                               std::move(items));
}

TrialPool::TrialPool(const feature_store::FeatureStore* store,
                     const TrialPoolOptions& options)
    : store_(store), options_(options) {}

void TrialPool::Invalidate() {
  absl::MutexLock lock(&mu_);
  for (auto& [version, cached] : cache_) {
    // Same items, but stale: the next Get rebuilds, and readers meanwhile
    // still have the old items.
    cached.snapshot = std::make_shared<const TrialSnapshot>(
        cached.snapshot->model_version(), absl::InfinitePast(),
        cached.snapshot->items());
    cached.next_try = absl::InfinitePast();
  }
}

std::shared_ptr<const TrialSnapshot> TrialPool::Get(const model::ModelBundle& bundle,
                                                    absl::Time deadline) const
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  const absl::Time now = absl::Now();
  std::shared_ptr<const TrialSnapshot> cached;
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(bundle.version());
    if (it != cache_.end()) {
      it->second.used = now;
      cached = it->second.snapshot;
      if (now - cached->built_at() < options_.refresh ||
          now < it->second.next_try) {
        return cached;
      }
    }
  }
  if (cached != nullptr) {
    // Someone else is rebuilding: the previous snapshot will do.
    if (!rebuild_mu_.TryLock()) return cached;
  } else {
    rebuild_mu_.Lock();
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(bundle.version());
    if (it != cache_.end() &&
        now - it->second.snapshot->built_at() < options_.refresh) {
      std::shared_ptr<const TrialSnapshot> fresh = it->second.snapshot;
      rebuild_mu_.Unlock();
      return fresh;
    }
  }
  absl::StatusOr<std::shared_ptr<const TrialSnapshot>> built =
      BuildTrialSnapshot(bundle, *store_, options_.max_items, deadline);
  std::shared_ptr<const TrialSnapshot> result;
  {
    absl::MutexLock lock(&mu_);
    Cached& entry = cache_[bundle.version()];
    entry.used = now;
    if (built.ok()) {
      entry.snapshot = *std::move(built);
      entry.next_try = absl::InfinitePast();
    } else {
      entry.next_try = absl::Now() + options_.retry_after_failure;
      if (entry.snapshot == nullptr) {
        entry.snapshot = std::make_shared<const TrialSnapshot>(
            bundle.version(), absl::InfinitePast(), std::vector<TrialItem>());
      }
    }
    result = entry.snapshot;
    // The least recently used versions go.
    while (static_cast<int>(cache_.size()) > std::max(1, options_.max_models)) {
      auto oldest = cache_.end();
      for (auto it = cache_.begin(); it != cache_.end(); ++it) {
        if (it->first == bundle.version()) continue;
        if (oldest == cache_.end() || it->second.used < oldest->second.used)
          oldest = it;
      }
      if (oldest == cache_.end()) break;
      cache_.erase(oldest);
    }
  }
  rebuild_mu_.Unlock();
  return result;
}

}  // namespace recsys::recommender
