// Which coupons for this user: eligibility filtering and ranking by expected
// value for the shop (docs/marketing.md, "Ranking coupons").
//
// With p = the user's propensity to buy in the coupon's scope, u = the
// incrementality of the user's segment (the configured prior, or, when an
// IncrementalityFn is given, what it makes of the campaign's measured
// uplift: experiments/uplift.h), B = the expected basket (the
// user's average order value, else config.default_basket_value), B' = the
// basket when the coupon is used (max(B, threshold_spend) for threshold
// coupons, else B), m = config.gross_margin_rate and D = the discount on B'
// (DiscountCents; free shipping: config.free_shipping_value):
//
//   EV = p * (u * B' * m + (1 - u) * (B' - B) * m - D)
//
// The first term is the margin of purchases the coupon causes, the second
// the margin of the extra basket a threshold coupon draws from purchases that
// would have happened anyway, and D is paid on every redemption, incremental
// or not. For coupons other than threshold ones this is p*u*B*m - p*D.
//
// Price sensitivity: u is the chance that the coupon is decisive, so 1 - u
// is the chance the customer buys anyway. A price-sensitive customer buys
// less often without a discount: with the customer's sensitivity f
// (CustomerInfo::price_sensitivity, PriceSensitivity below; 1 neutral),
//
//   u_f = 1 - (1 - u)^f
//
// replaces u above (f > 1 raises it toward 1, f < 1 lowers it toward 0,
// f = 1 or an unknown sensitivity leaves it).
//
// Thread safety: free functions without shared state; `propensity` is called
// from the calling thread only.
#ifndef RECSYS_MARKETING_COUPON_RANKING_H_
#define RECSYS_MARKETING_COUPON_RANKING_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "experiments/uplift.h"
#include "marketing/coupon.h"
#include "marketing/coupon_store.h"
#include "marketing/marketing_config.h"
#include "marketing/segments.h"

namespace recsys::marketing {

// Why a coupon or an audience member was chosen. The server maps these to
// recsys.v1.ReasonCode REASON_FIRST_ORDER, REASON_WIN_BACK,
// REASON_SEGMENT_OFFER and REASON_AFFINITY.
enum class CouponReason {
  // A first_order_only coupon.
  kFirstOrder,
  // Any other coupon for a dormant or deep-dormant user.
  kWinBack,
  // Any other coupon.
  kSegmentOffer,
  // Audience members, ranked by affinity to the offer.
  kAffinity,
};

// "first_order", "win_back", "segment_offer", "affinity".
absl::string_view CouponReasonName(CouponReason reason);

// What ranking needs to know of the user.
struct CustomerInfo {
  Segment segment = Segment::kNew;
  Tier tier = Tier::kNone;
  // Orders so far; 0 = the next order is the first.
  int32_t orders = 0;
  // Days since the last order (for reason texts).
  int32_t recency_days = 0;
  // Average order value; 0 = unknown (config.default_basket_value is used).
  double average_order_value = 0;
  // How much more than a typical customer a discount moves this one
  // (PriceSensitivity); 1 = typical or unknown.
  double price_sensitivity = 1;
  // From the customer-intelligence record (intelligence/intel.h): growth
  // tier ("" = none or unknown) and interest tags (sorted); for coupons'
  // eligibility.growth_tiers and eligibility.tags.
  std::string growth_tier;
  std::vector<std::string> tags;
};

// The sensitivity f of the file comment from the customer-intelligence
// record's price figures (intelligence/intel.h):
//
//   f = clamp(exp(k_d * (discount_share - s_0)) * level^(-k_p),
//             1/f_max, f_max)
//
// with k_d = 2, s_0 = 0.2 (the share of discounted purchases of a typical
// customer), k_p = 1 and f_max = 4: a customer who bought half their lines
// at a discount and at the category's typical price level has f = e^0.6 =
// 1.82; one who never bought at a discount and buys items 30% dearer than
// their category's typical item has f = e^-0.4 / 1.3 = 0.52. An unknown
// figure (< 0, or not finite) counts as typical (discount_share s_0,
// level 1).
double PriceSensitivity(double discount_share, double relative_price_level);

// From the user's segment record. Users without a record are new:
// CustomerInfo{} (segment new, tier none, no orders).
CustomerInfo CustomerInfoFrom(const UserSegment& user);

struct RankedCoupon {
  std::string coupon_id;
  CouponType type = CouponType::kUnspecified;
  // EV of the formula above, in money; may be negative.
  double expected_value = 0;
  // Its inputs: p, u (after the price-sensitivity adjustment: u_f), B'
  // and D.
  double propensity = 0;
  double incrementality = 0;
  // Where u came from: the segment's prior, or the campaign's measured
  // uplift (shrunk toward the prior, or alone); uplift.value == u before
  // the price-sensitivity adjustment.
  experiments::Incrementality uplift;
  double basket_value = 0;
  double discount = 0;
  CouponReason reason = CouponReason::kSegmentOffer;
  // E.g. "win-back: 15% off (up to 20.00) on coffee_tea; last order 120
  // days ago".
  std::string reason_text;
};

// The user's probability of buying in `coupon`'s scope, in [0, 1] (values
// outside are clamped, NaN counts as 0).
using PropensityFn = std::function<double(const Coupon& coupon)>;

// The incrementality to use for `coupon` given the segment's configured
// `prior` (e.g. BlendIncrementality with the campaign's measured uplift).
// Its value is clamped to [0, 1].
using IncrementalityFn = std::function<experiments::Incrementality(
    const Coupon& coupon, double prior)>;

// OK when `coupon` may be offered to the customer at `now`:
//   FailedPrecondition: not yet valid, expired, segment, tier or growth
//     tier not eligible, none of the coupon's tags, first-order coupon for
//     a customer with orders;
//   ResourceExhausted: no redemptions left, money budget left below the
//     discount on the customer's basket, the customer's issuances at the
//     per-user cap.
// The message says which. `config` must have gone through WithDefaults.
absl::Status CheckEligible(const CouponWithState& coupon,
                           const CustomerInfo& customer,
                           const UserCouponCounts& counts, absl::Time now,
                           const MarketingConfig& config);

// The eligible coupons of `coupons`, best expected value first (ties: coupon
// id ascending), at most `max_results` (0 = all). `counts[i]` is the
// customer's history with coupons[i]; an empty span means none. `config`
// gets WithDefaults applied. `incrementality` null: the segment's prior for
// every coupon. InvalidArgument when counts and coupons differ in length or
// the config is invalid.
absl::StatusOr<std::vector<RankedCoupon>> RankCoupons(
    absl::Span<const CouponWithState> coupons, const CustomerInfo& customer,
    absl::Span<const UserCouponCounts> counts, absl::Time now,
    const MarketingConfig& config, const PropensityFn& propensity,
    int max_results = 0, const IncrementalityFn& incrementality = nullptr);

// A short text for the coupon: its description, or e.g. "15% off (up to
// 20.00) on coffee_tea", "save 10.00 on orders of 50.00 or more", "free
// shipping".
std::string DescribeCoupon(const Coupon& coupon);

}  // namespace recsys::marketing

#endif  // RECSYS_MARKETING_COUPON_RANKING_H_
