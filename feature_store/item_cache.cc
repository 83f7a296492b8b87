#include "feature_store/item_cache.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "feature_store/validation.h"

namespace recsys::feature_store {
namespace {

class ItemCache final : public ItemCachingFeatureStore {
 public:
  ItemCache(std::unique_ptr<FeatureStore> owned, FeatureStore* base,
            const ItemCacheOptions& options)
      : owned_(std::move(owned)), base_(base), options_(options) {}

  std::string Describe() const override {
    return absl::StrCat(base_->Describe(), ", item cache (max staleness ",
                        absl::FormatDuration(options_.max_staleness), ")");
  }

  absl::StatusOr<UserFeatures> GetUser(absl::string_view user_id,
                                       absl::Time deadline) const override {
    return base_->GetUser(user_id, deadline);
  }

  absl::StatusOr<std::vector<std::optional<ItemFeatures>>> GetItems(
      absl::Span<const std::string> item_ids,
      absl::Time deadline) const override;

  absl::StatusOr<std::vector<std::optional<ItemFeatures>>> GetItemsUncached(
      absl::Span<const std::string> item_ids, absl::Time deadline) const override {
    return base_->GetItemsUncached(item_ids, deadline);
  }

  absl::StatusOr<RecordOutcome> RecordEvents(absl::Span<const Event> events,
                                             absl::Time deadline) override {
    return base_->RecordEvents(events, deadline);
  }

  absl::Status PutUsers(absl::Span<const UserFeatures> users) override {
    return base_->PutUsers(users);
  }

  absl::Status PutItems(absl::Span<const ItemFeatures> items) override {
    absl::Status status = base_->PutItems(items);
    // Dropped whether or not the write went through: a failed batch may
    // have been partly applied.
    absl::MutexLock lock(&mu_);
    for (const ItemFeatures& item : items) {
      if (items_.erase(item.item_id) > 0) invalidated_.fetch_add(1, std::memory_order_relaxed);
    }
    ++epoch_;
    return status;
  }

  absl::StatusOr<std::vector<ListedItem>> GetListedItems(
      int limit, absl::Time deadline) const override {
    return base_->GetListedItems(limit, deadline);
  }

  absl::StatusOr<std::vector<TrialCounts>> GetTrialCounts(
      absl::Span<const std::string> item_ids,
      absl::Time deadline) const override {
    return base_->GetTrialCounts(item_ids, deadline);
  }

  absl::StatusOr<ItemChanges> GetItemChanges(int64_t since,
                                             absl::Time deadline) const override {
    return base_->GetItemChanges(since, deadline);
  }

  absl::Status Ping(absl::Time deadline) const override { return base_->Ping(deadline); }

  absl::Status MarkLoaded(absl::string_view model_version, absl::Time loaded_at) override {
    return base_->MarkLoaded(model_version, loaded_at);
  }
  absl::Status CheckLoaded(absl::Time deadline) const override {
    return base_->CheckLoaded(deadline);
  }

  ItemCacheStats stats() const override {
    ItemCacheStats stats;
    {
      absl::ReaderMutexLock lock(&mu_);
      stats.items = static_cast<int64_t>(items_.size());
      stats.catalog_version = version_;
      stats.last_refresh = last_refresh_;
    }
    stats.hits = hits_.load(std::memory_order_relaxed);
    stats.misses = misses_.load(std::memory_order_relaxed);
    stats.refreshes = refreshes_.load(std::memory_order_relaxed);
    stats.refresh_failures = refresh_failures_.load(std::memory_order_relaxed);
    stats.invalidated = invalidated_.load(std::memory_order_relaxed);
    return stats;
  }

 private:
  // Reads the change feed when it is due and drops the changed items.
  void MaybeRefresh(absl::Time deadline) const;

  const std::unique_ptr<FeatureStore> owned_;  // null when borrowed
  FeatureStore* const base_;
  const ItemCacheOptions options_;

  // Held while the change feed is read, so that one caller reads it at a
  // time; never held together with a wait on mu_ by another path.
  mutable absl::Mutex refresh_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  // A cached answer of the store, compact (a 100k-item catalog is a few
  // MiB): the id is the map's key, the category an index into
  // categories_.
  struct Entry {
    std::string title;
    double price = 0;
    int64_t stock = -1;
    absl::Time listed = absl::InfinitePast();
    uint32_t category = 0;
    bool known = false;  // false: the store does not know the item
    bool slow_mover = false;
  };
  Entry ToEntry(const std::optional<ItemFeatures>& item) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<ItemFeatures> FromEntry(const std::string& id, const Entry& entry) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  mutable absl::flat_hash_map<std::string, Entry> items_ ABSL_GUARDED_BY(mu_);
  // Distinct category names, and their indices.
  mutable std::vector<std::string> categories_ ABSL_GUARDED_BY(mu_);
  mutable absl::flat_hash_map<std::string, uint32_t> category_index_ ABSL_GUARDED_BY(mu_);
  // Catalog version the entries are current with; -1 until first read.
  mutable int64_t version_ ABSL_GUARDED_BY(mu_) = -1;
  // Bulk-data generation the entries belong to (ItemChanges::generation).
  mutable int64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  // Raised whenever entries are dropped: a miss read before that may hold
  // features older than the drop, and is then not kept.
  mutable uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  mutable absl::Time next_refresh_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  mutable std::atomic<int64_t> hits_{0};
  mutable std::atomic<int64_t> misses_{0};
  mutable std::atomic<int64_t> refreshes_{0};
  // When the change feed was last read successfully; InfinitePast: never.
  mutable absl::Time last_refresh_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  mutable std::atomic<int64_t> refresh_failures_{0};
  mutable std::atomic<int64_t> invalidated_{0};
};

ItemCache::Entry ItemCache::ToEntry(const std::optional<ItemFeatures>& item) const {
  Entry entry;
  if (!item.has_value()) return entry;
  entry.known = true;
  entry.title = item->title;
  entry.price = item->price;
  entry.stock = item->stock;
  entry.listed = item->listed;
  entry.slow_mover = item->slow_mover;
  auto [it, inserted] =
      category_index_.try_emplace(item->category, static_cast<uint32_t>(categories_.size()));
  if (inserted) categories_.push_back(item->category);
  entry.category = it->second;
  return entry;
}

std::optional<ItemFeatures> ItemCache::FromEntry(const std::string& id, const Entry& entry) const {
  if (!entry.known) return std::nullopt;
  ItemFeatures item;
  item.item_id = id;
  item.category = categories_[entry.category];
  item.title = entry.title;
  item.price = entry.price;
  item.stock = entry.stock;
  item.listed = entry.listed;
  item.slow_mover = entry.slow_mover;
  return item;
}

void ItemCache::MaybeRefresh(absl::Time deadline) const {
  const bool every_call = options_.max_staleness <= absl::ZeroDuration();
  if (!every_call) {
    {
      absl::ReaderMutexLock lock(&mu_);
      if (absl::Now() < next_refresh_) return;
    }
    // Another caller is reading the feed: serve from memory meanwhile.
    if (!refresh_mu_.TryLock()) return;
  } else {
    refresh_mu_.Lock();
  }
  int64_t since = -1;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (!every_call && absl::Now() < next_refresh_) {  // done meanwhile
      refresh_mu_.Unlock();
      return;
    }
    since = version_;
  }
  absl::StatusOr<ItemChanges> changes =
      base_->GetItemChanges(since < 0 ? FeatureStore::kLatestCatalogVersion : since, deadline);
  {
    absl::MutexLock lock(&mu_);
    if (!every_call) next_refresh_ = absl::Now() + options_.max_staleness;
    if (!changes.ok()) {
      refresh_failures_.fetch_add(1, std::memory_order_relaxed);
    } else {
      refreshes_.fetch_add(1, std::memory_order_relaxed);
      last_refresh_ = absl::Now();
      // A new generation (a bulk load switched, or a rollback) changes any
      // item's metadata: drop everything, as for a reset.
      if (since < 0 || changes->reset || changes->generation != generation_) {
        invalidated_.fetch_add(static_cast<int64_t>(items_.size()), std::memory_order_relaxed);
        items_.clear();
        ++epoch_;
      } else if (!changes->item_ids.empty()) {
        for (const std::string& id : changes->item_ids) {
          if (items_.erase(id) > 0) invalidated_.fetch_add(1, std::memory_order_relaxed);
        }
        ++epoch_;
      }
      version_ = changes->version;
      generation_ = changes->generation;
    }
  }
  refresh_mu_.Unlock();
}

absl::StatusOr<std::vector<std::optional<ItemFeatures>>> ItemCache::GetItems(
    absl::Span<const std::string> item_ids, absl::Time deadline) const {
  RECSYS_RETURN_IF_ERROR(internal::ValidateItemIds(item_ids));
  std::vector<std::optional<ItemFeatures>> result(item_ids.size());
  if (item_ids.empty()) return result;
  MaybeRefresh(deadline);

  std::vector<size_t> missing;
  uint64_t epoch = 0;
  bool keep = false;
  {
    absl::ReaderMutexLock lock(&mu_);
    epoch = epoch_;
    keep = version_ >= 0;
    for (size_t i = 0; i < item_ids.size(); ++i) {
      auto it = items_.find(item_ids[i]);
      if (it == items_.end()) {
        missing.push_back(i);
      } else {
        result[i] = FromEntry(it->first, it->second);
      }
    }
  }
  hits_.fetch_add(static_cast<int64_t>(item_ids.size() - missing.size()),
                  std::memory_order_relaxed);
  if (missing.empty()) return result;
  misses_.fetch_add(static_cast<int64_t>(missing.size()), std::memory_order_relaxed);

  std::vector<std::string> ids;
  ids.reserve(missing.size());
  for (size_t i : missing) ids.push_back(item_ids[i]);
  RECSYS_ASSIGN_OR_RETURN(std::vector<std::optional<ItemFeatures>> fetched,
                          base_->GetItems(ids, deadline));
  if (fetched.size() != ids.size()) {
    return absl::InternalError(absl::StrCat("feature store returned ", fetched.size(),
                                            " items for ", ids.size()));
  }
  {
    absl::MutexLock lock(&mu_);
    // Kept only if nothing was dropped since the read began (the read may
    // predate the change that dropped it) and a version is known.
    if (keep && epoch == epoch_) {
      for (size_t j = 0; j < ids.size() && items_.size() < options_.max_items; ++j) {
        if (!items_.contains(ids[j])) items_.emplace(ids[j], ToEntry(fetched[j]));
      }
    }
  }
  for (size_t j = 0; j < missing.size(); ++j) result[missing[j]] = std::move(fetched[j]);
  return result;
}

absl::Status ValidateOptions(const ItemCacheOptions& options) {
  if (options.max_staleness < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ItemCacheOptions.max_staleness: must not be negative, got ",
                     absl::FormatDuration(options.max_staleness)));
  }
  if (options.max_items == 0) {
    return absl::InvalidArgumentError("ItemCacheOptions.max_items: must be at least 1");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ItemCachingFeatureStore>> NewItemCachingFeatureStore(
    std::unique_ptr<FeatureStore> base, const ItemCacheOptions& options) {
  if (base == nullptr) return absl::InvalidArgumentError("base: must not be null");
  RECSYS_RETURN_IF_ERROR(ValidateOptions(options));
  FeatureStore* borrowed = base.get();
  return std::make_unique<ItemCache>(std::move(base), borrowed, options);
}

absl::StatusOr<std::unique_ptr<ItemCachingFeatureStore>> NewItemCachingFeatureStore(
    FeatureStore* base, const ItemCacheOptions& options) {
  if (base == nullptr) return absl::InvalidArgumentError("base: must not be null");
  RECSYS_RETURN_IF_ERROR(ValidateOptions(options));
  return std::make_unique<ItemCache>(nullptr, base, options);
}

}  // namespace recsys::feature_store
