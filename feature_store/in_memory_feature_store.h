// InMemoryFeatureStore: the embedded default FeatureStore, kept in process
// memory. The server fills it from the model directory's purchase history
// when no Redis is configured; unit tests use it directly.
//
// Semantics match the Redis store (same list limits, same event handling,
// same validation, times truncated to whole seconds, the same dedup of
// events by EventDedupKey within the dedup window), so tests written
// against one hold for the other. Deadlines are ignored: calls never block
// on I/O.
//
// Thread safety: safe for concurrent use (one absl::Mutex).
#ifndef RECSYS_FEATURE_STORE_IN_MEMORY_FEATURE_STORE_H_
#define RECSYS_FEATURE_STORE_IN_MEMORY_FEATURE_STORE_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "feature_store/feature_store.h"

namespace recsys::feature_store {

struct InMemoryOptions {
  // Lengths kept of the per-user recent-activity and impression lists.
  // Values below 1 are treated as 1.
  int recent_limit = 100;
  int impression_limit = 200;
  // How long an applied event's dedup key is remembered (RecordEvents in
  // feature_store.h). Values below 1 s are treated as 1 s.
  absl::Duration event_dedup_window = kDefaultEventDedupWindow;
  // The clock the dedup window is measured with; null: absl::Now. Tests
  // inject one to expire keys without sleeping.
  std::function<absl::Time()> clock;
};

class InMemoryFeatureStore : public FeatureStore {
 public:
  explicit InMemoryFeatureStore(const InMemoryOptions& options = {});
  ~InMemoryFeatureStore() override;

  std::string Describe() const override;
  absl::StatusOr<UserFeatures> GetUser(absl::string_view user_id,
                                       absl::Time deadline) const override;
  absl::StatusOr<std::vector<std::optional<ItemFeatures>>> GetItems(
      absl::Span<const std::string> item_ids,
      absl::Time deadline) const override;
  absl::StatusOr<RecordOutcome> RecordEvents(absl::Span<const Event> events,
                                             absl::Time deadline) override;
  absl::Status PutUsers(absl::Span<const UserFeatures> users) override;
  absl::Status PutItems(absl::Span<const ItemFeatures> items) override;
  absl::StatusOr<std::vector<ListedItem>> GetListedItems(
      int limit, absl::Time deadline) const override;
  absl::StatusOr<std::vector<TrialCounts>> GetTrialCounts(
      absl::Span<const std::string> item_ids,
      absl::Time deadline) const override;
  absl::StatusOr<ItemChanges> GetItemChanges(
      int64_t since, absl::Time deadline) const override;
  absl::Status Ping(absl::Time deadline) const override;

 private:
  const InMemoryOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, UserFeatures> users_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, ItemFeatures> items_ ABSL_GUARDED_BY(mu_);
  // Listing index: item id -> listing time (only items with a known one).
  absl::flat_hash_map<std::string, absl::Time> listed_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, TrialCounts> trial_ ABSL_GUARDED_BY(mu_);
  // Dedup keys of applied events -> when they expire, and the same keys in
  // the order they were applied (expiry order: the window is fixed and the
  // clock does not go back), so expired keys are dropped from the front.
  absl::flat_hash_map<std::string, absl::Time> applied_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<absl::Time, std::string>> applied_order_
      ABSL_GUARDED_BY(mu_);
  // Catalog change feed: the version of the last PutItems, and the items
  // by the version that last wrote them (both directions).
  int64_t catalog_version_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, int64_t> item_version_ ABSL_GUARDED_BY(mu_);
  absl::btree_set<std::pair<int64_t, std::string>> items_by_version_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace recsys::feature_store

#endif  // RECSYS_FEATURE_STORE_IN_MEMORY_FEATURE_STORE_H_
