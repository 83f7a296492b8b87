// Item-feature cache: a FeatureStore that wraps another and keeps the item
// features it has read (GetItems) in process memory, so that the request
// path's stock and rule checks cost a hash lookup instead of a Redis
// command per item.
//
// Freshness. Item features change only through PutItems (Admin.UpdateItems,
// the trainer's bulk load, another replica). The cache follows the store's
// catalog change feed (FeatureStore::GetItemChanges):
//   - GetItems first asks the store for the items written since the version
//     it last saw, at most once per `max_staleness` (on the calling thread,
//     one round trip, by one caller at a time), and drops those items;
//   - PutItems through the cache drops the written items at once, so an
//     update made through this process is seen by its next request;
//   - a store whose version went backwards (flushed or restored Redis), or
//     whose bulk-data generation changed (ItemChanges::generation: a bulk
//     load switched, or a rollback), empties the cache.
// So an answer reflects every write made through any process at most
// `max_staleness` (plus one round trip) earlier. max_staleness = 0 checks
// the feed on every GetItems call.
//
// Degradation. While the store cannot be reached, items already cached are
// served as last seen (stale, but their stock and flags are the best
// knowledge there is) and GetItems fails only when an item is missing from
// the cache. Items are cached only once a catalog version is known.
//
// Every other call (users, events, listings, trial counters, ping, and
// GetItemsUncached for read-modify-write updates) goes straight to the
// wrapped store.
//
// Thread safety: safe for concurrent use, as the wrapped store is. Lookups
// share a reader lock; a miss reads the store without holding any lock.
#ifndef RECSYS_FEATURE_STORE_ITEM_CACHE_H_
#define RECSYS_FEATURE_STORE_ITEM_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "feature_store/feature_store.h"

namespace recsys::feature_store {

struct ItemCacheOptions {
  // How old the cached features may be relative to writes made through
  // other processes (see the file comment). Zero: the change feed is read on
  // every GetItems call. InfiniteDuration: only writes through this cache
  // are seen. Default 1 s.
  absl::Duration max_staleness = absl::Seconds(1);
  // Items kept at most (unknown items count too); past it, misses are read
  // through without being kept. Default 4,000,000 (about 0.8 GB of typical
  // shop items).
  size_t max_items = 4'000'000;
};

// Counters since construction, for logs and GetModelInfo.
struct ItemCacheStats {
  int64_t items = 0;         // cached now (known and unknown)
  int64_t hits = 0;          // item lookups answered from memory
  int64_t misses = 0;        // item lookups read from the store
  int64_t refreshes = 0;     // change-feed reads that succeeded
  int64_t refresh_failures = 0;
  int64_t invalidated = 0;   // items dropped after a change
  int64_t catalog_version = -1;  // last version seen; -1: none yet
  // Last successful change-feed read (the cache is at most this old plus
  // max_staleness behind other writers); InfinitePast: none yet.
  absl::Time last_refresh = absl::InfinitePast();
};

class ItemCachingFeatureStore : public FeatureStore {
 public:
  virtual ItemCacheStats stats() const = 0;
};

// Wraps `base` (owned). InvalidArgument, naming the field, for a negative
// max_staleness or a zero max_items.
absl::StatusOr<std::unique_ptr<ItemCachingFeatureStore>> NewItemCachingFeatureStore(
    std::unique_ptr<FeatureStore> base, const ItemCacheOptions& options);
// Wraps `base`, borrowed: it must outlive the cache.
absl::StatusOr<std::unique_ptr<ItemCachingFeatureStore>> NewItemCachingFeatureStore(
    FeatureStore* base, const ItemCacheOptions& options);

}  // namespace recsys::feature_store

#endif  // RECSYS_FEATURE_STORE_ITEM_CACHE_H_
