#include "feature_store/faulty_feature_store.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace recsys::feature_store {
namespace {

absl::Status Injected() { return absl::UnavailableError("injected fault"); }

}  // namespace

std::string FaultyFeatureStore::Describe() const {
  return absl::StrCat("faulty(", base_->Describe(), ")");
}

absl::StatusOr<UserFeatures> FaultyFeatureStore::GetUser(
    absl::string_view user_id, absl::Time deadline) const {
  if (failing()) return Injected();
  return base_->GetUser(user_id, deadline);
}

absl::StatusOr<std::vector<std::optional<ItemFeatures>>>
FaultyFeatureStore::GetItems(absl::Span<const std::string> item_ids,
                             absl::Time deadline) const {
  if (failing()) return Injected();
  return base_->GetItems(item_ids, deadline);
}

absl::StatusOr<std::vector<std::optional<ItemFeatures>>>
FaultyFeatureStore::GetItemsUncached(absl::Span<const std::string> item_ids,
                                     absl::Time deadline) const {
  if (failing()) return Injected();
  return base_->GetItemsUncached(item_ids, deadline);
}

absl::StatusOr<RecordOutcome> FaultyFeatureStore::RecordEvents(
    absl::Span<const Event> events, absl::Time deadline) {
  if (failing()) return Injected();
  absl::StatusOr<RecordOutcome> outcome = base_->RecordEvents(events, deadline);
  if (outcome.ok() && lose_write_acks_.load()) {
    return absl::UnavailableError(
        "injected fault: events applied, acknowledgement lost");
  }
  return outcome;
}

absl::Status FaultyFeatureStore::PutUsers(
    absl::Span<const UserFeatures> users) {
  if (failing()) return Injected();
  return base_->PutUsers(users);
}

absl::Status FaultyFeatureStore::PutItems(
    absl::Span<const ItemFeatures> items) {
  if (failing()) return Injected();
  return base_->PutItems(items);
}

absl::StatusOr<std::vector<ListedItem>> FaultyFeatureStore::GetListedItems(
    int limit, absl::Time deadline) const {
  if (failing()) return Injected();
  return base_->GetListedItems(limit, deadline);
}

absl::StatusOr<std::vector<TrialCounts>> FaultyFeatureStore::GetTrialCounts(
    absl::Span<const std::string> item_ids, absl::Time deadline) const {
  if (failing()) return Injected();
  return base_->GetTrialCounts(item_ids, deadline);
}

absl::StatusOr<ItemChanges> FaultyFeatureStore::GetItemChanges(
    int64_t since, absl::Time deadline) const {
  if (failing()) return Injected();
  return base_->GetItemChanges(since, deadline);
}

absl::Status FaultyFeatureStore::Ping(absl::Time deadline) const {
  if (failing()) return Injected();
  return base_->Ping(deadline);
}

}  // namespace recsys::feature_store
