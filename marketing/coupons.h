// Coupon definitions and the marketing configuration: validation, defaults,
// text-format files, and the discount a coupon grants.
//
//   absl::StatusOr<CouponCatalog> catalog =
//       LoadCouponCatalog("deploy/coupons.textproto");
//   absl::StatusOr<MarketingConfig> config =
//       LoadMarketingConfig("deploy/marketing.textproto");  // defaults applied
//
// The files are recsys.v1.CouponCatalog / recsys.v1.MarketingConfig in
// protobuf text format; the readers convert them to the domain structs of
// coupon.h and marketing_config.h (through marketing_proto.h), and every
// check below runs on those structs.
//
// Every check fails with InvalidArgument whose message starts with the path
// of the offending field, e.g.
//   "coupons[2].percent_off: must be in (0, 100], got 150"
//   "coupons[0].valid_until_unix: must be after valid_from_unix (...)"
//   "segments.dormant_days: must be below deep_dormant_days (...)"
// and, for text-format syntax errors, with the origin, line and column.
//
// Money: stores keep money in whole cents (ToCents rounds to the nearest
// cent), so positive amounts must be at least 0.01.
//
// Thread safety: free functions without shared state.
#ifndef RECSYS_MARKETING_COUPONS_H_
#define RECSYS_MARKETING_COUPONS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "marketing/coupon.h"
#include "marketing/marketing_config.h"
#include "marketing/segments.h"

namespace recsys::marketing {

// Default incrementality prior of a segment: core 0.1, potential 0.3,
// new 0.5, at_risk 0.5, dormant 0.7, deep_dormant 0.8.
double DefaultIncrementality(Segment segment);

// `config` with every zero (unset) field replaced by its default, and every
// segment missing from `incrementality` given its default prior.
MarketingConfig WithDefaults(const MarketingConfig& config);

// Checks `config` after WithDefaults: non-negative fields; at_risk_days <
// dormant_days < deep_dormant_days; new_days, new_max_orders >= 1;
// core_min_score in [1, 5]; tiers 0 < silver < gold < black, trailing_days
// >= 1; incrementality keys are segment names and values in [0, 1];
// gross_margin_rate in (0, 1]; default_basket_value > 0;
// free_shipping_value >= 0; everything finite.
absl::Status ValidateMarketingConfig(const MarketingConfig& config);

// Incrementality prior of `segment` in a config that went through
// WithDefaults (falls back to DefaultIncrementality otherwise).
double IncrementalityPrior(const MarketingConfig& config,
                           Segment segment);

// Checks one coupon; `field` prefixes the messages ("coupons[2]").
//   - id: non-empty, at most 128 bytes, no whitespace or control bytes;
//   - type: set;
//   - amounts finite; amount_off / percent_off / threshold_spend /
//     max_discount set exactly as the type needs (see marketing.proto),
//     percent_off in (0, 100], threshold_spend > amount_off;
//   - scope: SCOPE_ALL with empty lists, or a non-empty list of non-empty,
//     distinct categories / item ids matching the kind;
//   - eligibility: known, distinct segment and tier names;
//   - valid_from_unix, valid_until_unix >= 0, until after from when both set;
//   - budget_count, budget_money, per_user_cap >= 0;
//   - campaign, description: no line breaks or tabs in campaign.
absl::Status ValidateCoupon(const Coupon& coupon,
                            absl::string_view field = "coupon");

// ValidateCoupon for each coupon ("coupons[i]") and distinct ids.
absl::Status ValidateCatalog(const CouponCatalog& catalog);

// Text-format parsing. `origin` (e.g. a file name) prefixes the messages.
// InvalidArgument for syntax errors ("<origin>: line 3, column 7: ...") and
// failed validation ("<origin>: coupons[1].id: ..."). The config comes back
// with defaults applied.
absl::StatusOr<CouponCatalog> ParseCouponCatalog(
    absl::string_view text, absl::string_view origin = "coupon catalog");
absl::StatusOr<MarketingConfig> ParseMarketingConfig(
    absl::string_view text, absl::string_view origin = "marketing config");
// Read a file and parse it; NotFound when it cannot be opened.
absl::StatusOr<CouponCatalog> LoadCouponCatalog(
    const std::string& path);
absl::StatusOr<MarketingConfig> LoadMarketingConfig(
    const std::string& path);

// Money <-> whole cents (rounded to nearest).
int64_t ToCents(double money);
double FromCents(int64_t cents);

// Discount in cents that `coupon` grants on an order of `order_cents`
// (shipping costs `shipping_cents`):
//   amount off: min(amount_off, order);
//   percent off: floor(order * percent_off / 100), capped by max_discount
//                when > 0;
//   threshold: min(amount_off, order) when order >= threshold_spend, else
//              -1 (not applicable);
//   free shipping: shipping_cents.
// The coupon stores compute the same figure (Redis in Lua, with the same
// floating-point steps).
int64_t DiscountCents(const Coupon& coupon, int64_t order_cents,
                      int64_t shipping_cents);

// The minimal whitespace-free check used for ids and names ("" fails).
bool IsValidId(absl::string_view id);

}  // namespace recsys::marketing

#endif  // RECSYS_MARKETING_COUPONS_H_
