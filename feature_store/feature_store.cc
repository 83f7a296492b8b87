#include "feature_store/feature_store.h"

#include <optional>

#include "absl/strings/string_view.h"

namespace recsys::feature_store {
namespace {

struct NamedType {
  EventType type;
  absl::string_view name;
};

// The names are stored in Redis values; never rename one.
constexpr NamedType kEventTypeNames[] = {
    {EventType::kView, "view"},
    {EventType::kAddToCart, "add_to_cart"},
    {EventType::kPurchase, "purchase"},
    {EventType::kImpression, "impression"},
    {EventType::kClick, "click"},
    {EventType::kCouponIssued, "coupon_issued"},
    {EventType::kCouponRedeemed, "coupon_redeemed"},
};

}  // namespace

absl::string_view EventTypeName(EventType type) {
  for (const NamedType& entry : kEventTypeNames) {
    if (entry.type == type) return entry.name;
  }
  return "unknown";
}

std::optional<EventType> EventTypeFromName(absl::string_view name) {
  for (const NamedType& entry : kEventTypeNames) {
    if (entry.name == name) return entry.type;
  }
  return std::nullopt;
}

}  // namespace recsys::feature_store
