// FaultyFeatureStore wraps another FeatureStore and, while failing is set,
// answers every call with Unavailable instead of forwarding it. Tests use it
// to check that callers degrade rather than fail. While lose_write_acks is
// set, RecordEvents is forwarded (the events are applied) and then answered
// Unavailable, as when Redis applied a pipeline whose replies never
// arrived: tests of retries use it.
//
// Thread safety: safe for concurrent use; set_failing may be called at any
// time. The wrapped store must outlive this object.
#ifndef RECSYS_FEATURE_STORE_FAULTY_FEATURE_STORE_H_
#define RECSYS_FEATURE_STORE_FAULTY_FEATURE_STORE_H_

#include <atomic>
#include <string>

#include "feature_store/feature_store.h"

namespace recsys::feature_store {

class FaultyFeatureStore : public FeatureStore {
 public:
  // `base` is borrowed and must remain live while this object is in use.
  explicit FaultyFeatureStore(FeatureStore* base) : base_(base) {}

  void set_failing(bool failing) { failing_.store(failing); }
  bool failing() const { return failing_.load(); }
  void set_lose_write_acks(bool lose) { lose_write_acks_.store(lose); }

  std::string Describe() const override;
  absl::StatusOr<UserFeatures> GetUser(absl::string_view user_id,
                                       absl::Time deadline) const override;
  absl::StatusOr<std::vector<std::optional<ItemFeatures>>> GetItems(
      absl::Span<const std::string> item_ids,
      absl::Time deadline) const override;
  absl::StatusOr<std::vector<std::optional<ItemFeatures>>> GetItemsUncached(
      absl::Span<const std::string> item_ids, absl::Time deadline) const override;
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
  // Forwarded to the wrapped store (no faults injected).
  absl::Status MarkLoaded(absl::string_view model_version, absl::Time loaded_at) override {
    return base_->MarkLoaded(model_version, loaded_at);
  }
  absl::Status CheckLoaded(absl::Time deadline) const override {
    return base_->CheckLoaded(deadline);
  }

 private:
  FeatureStore* const base_;
  std::atomic<bool> failing_{false};
  std::atomic<bool> lose_write_acks_{false};
};

}  // namespace recsys::feature_store

#endif  // RECSYS_FEATURE_STORE_FAULTY_FEATURE_STORE_H_
