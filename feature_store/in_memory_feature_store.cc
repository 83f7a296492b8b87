#include "feature_store/in_memory_feature_store.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "feature_store/validation.h"

namespace recsys::feature_store {
namespace {

// Pushes `record` onto the front of `list` (most recent first) and keeps at
// most `limit` entries, like LPUSH + LTRIM in the Redis store.
void PushFront(std::vector<ActivityRecord>& list, ActivityRecord record,
               int limit) {
  list.insert(list.begin(), std::move(record));
  if (list.size() > static_cast<size_t>(limit)) list.resize(limit);
}

bool IsEmpty(const UserFeatures& user) {
  return user.purchases.empty() && user.recent.empty() &&
         user.impressions.empty();
}

}  // namespace

InMemoryFeatureStore::InMemoryFeatureStore(const InMemoryOptions& options)
    : options_{.recent_limit = std::max(1, options.recent_limit),
               .impression_limit = std::max(1, options.impression_limit),
               .event_dedup_window =
                   std::max(absl::Seconds(1), options.event_dedup_window),
               .clock = options.clock ? options.clock : [] { return absl::Now(); }} {}

InMemoryFeatureStore::~InMemoryFeatureStore() = default;

std::string InMemoryFeatureStore::Describe() const {
  absl::MutexLock lock(&mu_);
  return absl::StrCat("in-memory (", users_.size(), " users, ", items_.size(),
                      " items)");
}

absl::StatusOr<UserFeatures> InMemoryFeatureStore::GetUser(
    absl::string_view user_id, absl::Time /*deadline*/) const {
  RECSYS_RETURN_IF_ERROR(internal::ValidateUserId(user_id));
  absl::MutexLock lock(&mu_);
  auto it = users_.find(user_id);
  if (it == users_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no features for user '", user_id, "'"));
  }
  return it->second;
}

absl::StatusOr<std::vector<std::optional<ItemFeatures>>>
InMemoryFeatureStore::GetItems(absl::Span<const std::string> item_ids,
                               absl::Time /*deadline*/) const {
  RECSYS_RETURN_IF_ERROR(internal::ValidateItemIds(item_ids));
  std::vector<std::optional<ItemFeatures>> result;
  result.reserve(item_ids.size());
  absl::MutexLock lock(&mu_);
  for (const std::string& id : item_ids) {
    auto it = items_.find(id);
    if (it == items_.end()) {
      result.emplace_back(std::nullopt);
    } else {
      result.emplace_back(it->second);
    }
  }
  return result;
}

absl::StatusOr<RecordOutcome> InMemoryFeatureStore::RecordEvents(
    absl::Span<const Event> events, absl::Time /*deadline*/) {
  RECSYS_RETURN_IF_ERROR(internal::ValidateEvents(events));
  RecordOutcome outcome;
  const absl::Time now = options_.clock();
  absl::MutexLock lock(&mu_);
  while (!applied_order_.empty() && applied_order_.front().first <= now) {
    auto it = applied_.find(applied_order_.front().second);
    if (it != applied_.end() && it->second <= now) applied_.erase(it);
    applied_order_.pop_front();
  }
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& event = events[i];
    std::string key = EventDedupKey(event);
    if (auto it = applied_.find(key); it != applied_.end() && it->second > now) {
      outcome.duplicates.push_back(static_cast<int>(i));
      continue;
    }
    const absl::Time expires = now + options_.event_dedup_window;
    applied_[key] = expires;
    applied_order_.emplace_back(expires, std::move(key));
    ++outcome.applied;
    if (event.count_for_trial) {
      TrialCounts& counts = trial_[event.item_id];
      if (event.type == EventType::kImpression) ++counts.impressions;
      if (event.type == EventType::kClick) ++counts.clicks;
      if (event.type == EventType::kPurchase) ++counts.purchases;
    }
    UserFeatures& user = users_[event.user_id];
    if (user.user_id.empty()) user.user_id = event.user_id;
    ActivityRecord record{.item_id = event.item_id,
                          .type = event.type,
                          .time = internal::TruncateToSeconds(event.time)};
    switch (event.type) {
      case EventType::kPurchase: {
        auto it = std::find_if(user.purchases.begin(), user.purchases.end(),
                               [&](const PurchaseRecord& p) {
                                 return p.item_id == event.item_id;
                               });
        if (it == user.purchases.end()) {
          user.purchases.push_back(PurchaseRecord{.item_id = event.item_id});
          it = user.purchases.end() - 1;
        }
        if (it->count < std::numeric_limits<int32_t>::max()) ++it->count;
        it->last_purchase = std::max(it->last_purchase, record.time);
        PushFront(user.recent, std::move(record), options_.recent_limit);
        break;
      }
      case EventType::kImpression:
        PushFront(user.impressions, std::move(record),
                  options_.impression_limit);
        break;
      default:  // view, add_to_cart, click (others were rejected above).
        PushFront(user.recent, std::move(record), options_.recent_limit);
        break;
    }
  }
  return outcome;
}

absl::Status InMemoryFeatureStore::PutUsers(
    absl::Span<const UserFeatures> users) {
  RECSYS_RETURN_IF_ERROR(internal::ValidateUsers(users));
  absl::MutexLock lock(&mu_);
  for (const UserFeatures& input : users) {
    // Same outcome as the Redis store's HSET: a repeated item keeps the
    // values of its last occurrence.
    std::vector<PurchaseRecord> purchases;
    absl::flat_hash_map<std::string, size_t> index;
    for (const PurchaseRecord& p : input.purchases) {
      PurchaseRecord stored{
          .item_id = p.item_id,
          .count = p.count,
          .last_purchase = internal::TruncateToSeconds(p.last_purchase)};
      if (stored.last_purchase == absl::InfiniteFuture()) {
        stored.last_purchase = absl::InfinitePast();
      }
      auto [it, inserted] = index.try_emplace(p.item_id, purchases.size());
      if (inserted) {
        purchases.push_back(std::move(stored));
      } else {
        purchases[it->second] = std::move(stored);
      }
    }
    auto it = users_.find(input.user_id);
    if (it == users_.end()) {
      if (purchases.empty()) continue;
      it = users_.try_emplace(input.user_id).first;
      it->second.user_id = input.user_id;
    }
    it->second.purchases = std::move(purchases);
    if (IsEmpty(it->second)) users_.erase(it);
  }
  return absl::OkStatus();
}

absl::Status InMemoryFeatureStore::PutItems(
    absl::Span<const ItemFeatures> items) {
  RECSYS_RETURN_IF_ERROR(internal::ValidateItems(items));
  absl::MutexLock lock(&mu_);
  if (!items.empty()) ++catalog_version_;
  for (const ItemFeatures& item : items) {
    auto [version, inserted] = item_version_.try_emplace(item.item_id, catalog_version_);
    if (!inserted) {
      items_by_version_.erase({version->second, item.item_id});
      version->second = catalog_version_;
    }
    items_by_version_.insert({catalog_version_, item.item_id});
    ItemFeatures& stored = items_[item.item_id];
    const absl::Time listed = stored.listed;
    const double cost = stored.cost;
    const std::string role = stored.role;
    stored = item;
    // A known cost and a set role are recorded; unknown ones keep the old.
    if (stored.cost < 0) stored.cost = cost;
    if (stored.role.empty()) stored.role = role;
    stored.listed = internal::TruncateToSeconds(item.listed);
    // A known listing time is recorded; an unknown one keeps the old.
    if (stored.listed == absl::InfinitePast()) {
      stored.listed = listed;
    } else {
      listed_[item.item_id] = stored.listed;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ListedItem>> InMemoryFeatureStore::GetListedItems(
    int limit, absl::Time /*deadline*/) const {
  if (limit < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: must be at least 1, got ", limit));
  }
  std::vector<ListedItem> result;
  {
    absl::MutexLock lock(&mu_);
    result.reserve(listed_.size());
    for (const auto& [id, listed] : listed_) result.push_back({id, listed});
  }
  std::sort(result.begin(), result.end(),
            [](const ListedItem& a, const ListedItem& b) {
              if (a.listed != b.listed) return a.listed > b.listed;
              return a.item_id > b.item_id;
            });
  if (result.size() > static_cast<size_t>(limit)) result.resize(limit);
  return result;
}

absl::StatusOr<std::vector<TrialCounts>> InMemoryFeatureStore::GetTrialCounts(
    absl::Span<const std::string> item_ids, absl::Time /*deadline*/) const {
  RECSYS_RETURN_IF_ERROR(internal::ValidateItemIds(item_ids));
  std::vector<TrialCounts> result;
  result.reserve(item_ids.size());
  absl::MutexLock lock(&mu_);
  for (const std::string& id : item_ids) {
    auto it = trial_.find(id);
    result.push_back(it == trial_.end() ? TrialCounts{} : it->second);
  }
  return result;
}

absl::StatusOr<ItemChanges> InMemoryFeatureStore::GetItemChanges(
    int64_t since, absl::Time /*deadline*/) const {
  if (since < kLatestCatalogVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("since: must be a catalog version (>= 0) or ",
                     kLatestCatalogVersion, ", got ", since));
  }
  absl::MutexLock lock(&mu_);
  ItemChanges changes;
  changes.version = catalog_version_;
  if (since == kLatestCatalogVersion) return changes;
  if (catalog_version_ < since) {
    changes.reset = true;
    return changes;
  }
  for (auto it = items_by_version_.upper_bound({since, std::string()});
       it != items_by_version_.end(); ++it) {
    if (it->first > since) changes.item_ids.push_back(it->second);
  }
  return changes;
}

absl::Status InMemoryFeatureStore::Ping(absl::Time /*deadline*/) const {
  return absl::OkStatus();
}

}  // namespace recsys::feature_store
