#include "feature_store/feature_store.h"

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include <xxhash.h>

#include "absl/strings/str_cat.h"
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

// Appends `field` to `out` with its length in front, so that no two
// different field lists encode to the same bytes.
void AppendField(std::string& out, absl::string_view field) {
  absl::StrAppend(&out, field.size(), ":", field, ";");
}

}  // namespace

std::string EventDedupKey(const Event& event) {
  if (!event.event_id.empty()) return absl::StrCat("id:", event.event_id);
  std::string content;
  content.reserve(64 + event.user_id.size() + event.item_id.size() +
                  event.coupon_id.size() + event.slot.size());
  AppendField(content, absl::StrCat(static_cast<int>(event.type)));
  AppendField(content, event.user_id);
  AppendField(content, event.item_id);
  AppendField(content, event.coupon_id);
  AppendField(content, absl::StrCat(absl::ToUnixSeconds(event.time)));
  AppendField(content, event.slot);
  AppendField(content, absl::StrCat(event.quantity));
  // The price's bits: two prices are the same exactly when they compare so
  // (0.0 and -0.0 apart; prices are >= 0).
  uint64_t price_bits = 0;
  static_assert(sizeof(price_bits) == sizeof(event.price));
  std::memcpy(&price_bits, &event.price, sizeof(price_bits));
  AppendField(content, absl::StrCat(price_bits));
  const XXH128_hash_t hash = XXH3_128bits(content.data(), content.size());
  return absl::StrCat("h:", absl::Hex(hash.high64, absl::kZeroPad16),
                      absl::Hex(hash.low64, absl::kZeroPad16));
}

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
