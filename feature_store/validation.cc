#include "feature_store/validation.h"

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace recsys::feature_store::internal {
namespace {

bool IsCoupon(EventType type) {
  return type == EventType::kCouponIssued || type == EventType::kCouponRedeemed;
}

bool IsItemEvent(EventType type) {
  switch (type) {
    case EventType::kView:
    case EventType::kAddToCart:
    case EventType::kPurchase:
    case EventType::kImpression:
    case EventType::kClick:
      return true;
    case EventType::kCouponIssued:
    case EventType::kCouponRedeemed:
      return false;
  }
  return false;
}

}  // namespace

absl::Status ValidateEvents(absl::Span<const Event> events) {
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& event = events[i];
    if (IsCoupon(event.type)) {
      return absl::UnimplementedError(absl::StrCat(
          "events[", i, "]: coupon event '", EventTypeName(event.type),
          "' is not handled by the feature store"));
    }
    if (!IsItemEvent(event.type)) {
      return absl::InvalidArgumentError(
          absl::StrCat("events[", i, "].type ", static_cast<int>(event.type),
                       " is unknown"));
    }
    if (event.user_id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("events[", i, "].user_id is empty"));
    }
    if (event.item_id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("events[", i, "].item_id is empty"));
    }
    if (event.time == absl::InfinitePast() ||
        event.time == absl::InfiniteFuture()) {
      return absl::InvalidArgumentError(
          absl::StrCat("events[", i, "].time is infinite"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateUsers(absl::Span<const UserFeatures> users) {
  for (size_t i = 0; i < users.size(); ++i) {
    const UserFeatures& user = users[i];
    if (user.user_id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("users[", i, "].user_id is empty"));
    }
    for (size_t j = 0; j < user.purchases.size(); ++j) {
      const PurchaseRecord& purchase = user.purchases[j];
      if (purchase.item_id.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("users[", i, "].purchases[", j, "].item_id is empty"));
      }
      if (purchase.count < 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("users[", i, "].purchases[", j, "].count is ",
                         purchase.count, ", must be at least 1"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateItems(absl::Span<const ItemFeatures> items) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].item_id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("items[", i, "].item_id is empty"));
    }
    if (items[i].listed == absl::InfiniteFuture()) {
      return absl::InvalidArgumentError(
          absl::StrCat("items[", i, "].listed is infinite"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateItemIds(absl::Span<const std::string> item_ids) {
  for (size_t i = 0; i < item_ids.size(); ++i) {
    if (item_ids[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("item_ids[", i, "] is empty"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateUserId(absl::string_view user_id) {
  if (user_id.empty()) return absl::InvalidArgumentError("user_id is empty");
  return absl::OkStatus();
}

absl::Time TruncateToSeconds(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return t;
  return absl::FromUnixSeconds(absl::ToUnixSeconds(t));
}

}  // namespace recsys::feature_store::internal
