// Coupons as the marketing domain sees them: definition, scope, eligibility
// and budget state. These mirror recsys.v1.Coupon and friends
// (proto/recsys/v1/marketing.proto) field for field, with the same defaults;
// the protobuf messages stay at the edges (the config readers in coupons.cc,
// the Redis store, server/), which convert through marketing_proto.h.
//
// Validation (ValidateCoupon in coupons.h) names fields by their proto path
// ("coupons[2].percent_off"), so the names below are the proto's.
//
// Money is in the shop's currency (5.5 = 5.50); stores keep it in cents.
//
// Thread safety: plain values.
#ifndef RECSYS_MARKETING_COUPON_H_
#define RECSYS_MARKETING_COUPON_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace recsys::marketing {

// The numbers are recsys.v1.CouponType's, which the Redis store also keeps
// (its Lua scripts switch on them): never renumber. A value read from the
// API or a file may be outside the list (ValidateCoupon rejects it).
enum class CouponType : int {
  kUnspecified = 0,
  // amount_off off the order (never more than the order value).
  kAmountOff = 1,
  // percent_off of the order value, at most max_discount when that is > 0.
  kPercentOff = 2,
  // Spend X, save Y: amount_off off an order of at least threshold_spend.
  kThreshold = 3,
  // Shipping is free: worth MarketingConfig::free_shipping_value.
  kFreeShipping = 4,
};

// The API's name of `type` ("COUPON_AMOUNT_OFF", "COUPON_PERCENT_OFF",
// "COUPON_THRESHOLD", "COUPON_FREE_SHIPPING", "COUPON_TYPE_UNSPECIFIED"),
// used in messages; "" for a value outside the list.
absl::string_view CouponTypeName(CouponType type);

// Which items a coupon applies to.
struct CouponScope {
  // The numbers are recsys.v1.CouponScope.Kind's.
  enum class Kind : int {
    // Every item; categories and item_ids must be empty.
    kAll = 0,
    // Items of `categories` (non-empty).
    kCategories = 1,
    // The items `item_ids` (non-empty).
    kItems = 2,
  };
  Kind kind = Kind::kAll;
  // Category names, for kCategories. Default: empty.
  std::vector<std::string> categories;
  // Item ids, for kItems. Default: empty.
  std::vector<std::string> item_ids;

  friend bool operator==(const CouponScope&, const CouponScope&) = default;
};

// Who may receive a coupon. Empty lists admit everyone.
struct CouponEligibility {
  // Segment names, e.g. "dormant" (segments.h). Default: empty (all).
  std::vector<std::string> segments;
  // Tier names, e.g. "gold". Default: empty (all).
  std::vector<std::string> tiers;
  // Only for users without any order yet (their first order). Default: false.
  bool first_order_only = false;
  // Growth tier names (intelligence config), e.g. "platinum": a tier-only
  // coupon. Default: empty (all). A customer without a known growth tier
  // (no intelligence record, or it could not be read) is not eligible.
  std::vector<std::string> growth_tiers;
  // Interest tags: the customer has at least one. Default: empty (all).
  std::vector<std::string> tags;

  friend bool operator==(const CouponEligibility&,
                         const CouponEligibility&) = default;
};

struct Coupon {
  // Unique within the catalog; no whitespace. Default: "" (invalid).
  std::string id;
  // Default: kUnspecified (invalid).
  CouponType type = CouponType::kUnspecified;
  // kAmountOff and kThreshold: money off (> 0). Otherwise 0. Default 0.
  double amount_off = 0;
  // kPercentOff: percent of the order value, in (0, 100]. Otherwise 0.
  // Default 0.
  double percent_off = 0;
  // kThreshold: minimum order value (> amount_off). Otherwise 0. Default 0.
  double threshold_spend = 0;
  // kPercentOff: cap on the discount; 0 = no cap. Otherwise 0. Default 0.
  double max_discount = 0;
  // Default: every item.
  CouponScope scope;
  // Default: everyone.
  CouponEligibility eligibility;
  // Validity window [valid_from_unix, valid_until_unix) in unix seconds;
  // 0 = open on that side (the default). Issuing and redeeming need it.
  int64_t valid_from_unix = 0;
  int64_t valid_until_unix = 0;
  // Maximum number of redemptions over all users; 0 = unlimited (default).
  int64_t budget_count = 0;
  // Maximum total discount money over all redemptions; 0 = unlimited
  // (default).
  double budget_money = 0;
  // Maximum issuances of this coupon to one user; 0 = unlimited (default).
  int32_t per_user_cap = 0;
  // Campaign the coupon belongs to: issuing it records a contact for this
  // campaign (contact-frequency caps). Default "": the coupon id.
  std::string campaign;
  // Free text shown instead of the generated one (DescribeCoupon). Default "".
  std::string description;

  friend bool operator==(const Coupon&, const Coupon&) = default;
};

// A set of coupon definitions, as written in deploy/coupons.textproto or
// sent with Admin.PutCoupons. Validation names entries "coupons[i]".
struct CouponCatalog {
  // Default: empty.
  std::vector<Coupon> coupons;

  friend bool operator==(const CouponCatalog&, const CouponCatalog&) = default;
};

// Usage of a coupon, from its coupon store (MakeCouponState).
struct CouponState {
  // Issuances and redemptions over all users. Default 0.
  int64_t issued = 0;
  int64_t redeemed = 0;
  // Total discount granted by the redemptions. Default 0.
  double discount_spent = 0;
  // budget_count - redeemed and budget_money - discount_spent, never
  // negative; -1 when that budget is unlimited (0 in the coupon).
  // Default 0 (as the proto's).
  int64_t remaining_count = 0;
  double remaining_money = 0;

  friend bool operator==(const CouponState&, const CouponState&) = default;
};

struct CouponWithState {
  Coupon coupon;
  CouponState state;

  friend bool operator==(const CouponWithState&,
                         const CouponWithState&) = default;
};

}  // namespace recsys::marketing

#endif  // RECSYS_MARKETING_COUPON_H_
