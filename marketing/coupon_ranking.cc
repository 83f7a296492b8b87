#include "marketing/coupon_ranking.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "marketing/coupons.h"

namespace recsys::marketing {
namespace {

std::string Money(double value) { return absl::StrFormat("%.2f", value); }

std::string Percent(double value) {
  return value == std::floor(value) ? absl::StrFormat("%.0f%%", value)
                                    : absl::StrFormat("%g%%", value);
}

bool Contains(const std::vector<std::string>& list, absl::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// u_f = 1 - (1 - u)^f (coupon_ranking.h); f not positive or not finite
// counts as 1.
double WithSensitivity(double u, double f) {
  if (!(f > 0) || !std::isfinite(f) || f == 1) return u;
  return std::clamp(1 - std::pow(1 - u, f), 0.0, 1.0);
}

// The expected basket, and the basket when the coupon is used.
double ExpectedBasket(const CustomerInfo& customer,
                      const MarketingConfig& config) {
  return customer.average_order_value > 0 ? customer.average_order_value
                                          : config.default_basket_value;
}

double BasketWithCoupon(const Coupon& coupon, double basket) {
  if (coupon.type == CouponType::kThreshold) {
    return std::max(basket, coupon.threshold_spend);
  }
  return basket;
}

int64_t DiscountOn(const Coupon& coupon, double basket,
                   const MarketingConfig& config) {
  return std::max<int64_t>(
      0, DiscountCents(coupon, ToCents(basket),
                       ToCents(config.free_shipping_value)));
}

}  // namespace

absl::string_view CouponReasonName(CouponReason reason) {
  switch (reason) {
    case CouponReason::kFirstOrder:
      return "first_order";
    case CouponReason::kWinBack:
      return "win_back";
    case CouponReason::kSegmentOffer:
      return "segment_offer";
    case CouponReason::kAffinity:
      return "affinity";
  }
  return "unknown";
}

CustomerInfo CustomerInfoFrom(const UserSegment& user) {
  CustomerInfo c;
  c.segment = user.segment;
  c.tier = user.tier;
  c.orders = user.frequency;
  c.recency_days = user.recency_days;
  c.average_order_value = user.average_order_value();
  return c;
}

std::string DescribeCoupon(const Coupon& coupon) {
  if (!coupon.description.empty()) return coupon.description;
  std::string text;
  switch (coupon.type) {
    case CouponType::kAmountOff:
      text = absl::StrCat(Money(coupon.amount_off), " off");
      break;
    case CouponType::kPercentOff:
      text = absl::StrCat(Percent(coupon.percent_off), " off");
      if (coupon.max_discount > 0) {
        absl::StrAppend(&text, " (up to ", Money(coupon.max_discount), ")");
      }
      break;
    case CouponType::kThreshold:
      text = absl::StrCat("save ", Money(coupon.amount_off), " on orders of ",
                          Money(coupon.threshold_spend), " or more");
      break;
    case CouponType::kFreeShipping:
      text = "free shipping";
      break;
    default:
      text = "coupon";
  }
  const CouponScope& scope = coupon.scope;
  if (scope.kind == CouponScope::Kind::kCategories) {
    absl::StrAppend(&text, " on ", absl::StrJoin(scope.categories, ", "));
  } else if (scope.kind == CouponScope::Kind::kItems) {
    absl::StrAppend(
        &text, " on ", scope.item_ids.size(),
        scope.item_ids.size() == 1 ? " selected item" : " selected items");
  }
  return text;
}

absl::Status CheckEligible(const CouponWithState& entry,
                           const CustomerInfo& customer,
                           const UserCouponCounts& counts, absl::Time now,
                           const MarketingConfig& config) {
  const Coupon& c = entry.coupon;
  const CouponState& s = entry.state;
  const int64_t t = absl::ToUnixSeconds(now);
  if (c.valid_from_unix > 0 && t < c.valid_from_unix) {
    return absl::FailedPreconditionError(
        absl::StrCat("not valid before ", c.valid_from_unix));
  }
  if (c.valid_until_unix > 0 && t >= c.valid_until_unix) {
    return absl::FailedPreconditionError(
        absl::StrCat("expired at ", c.valid_until_unix));
  }
  const CouponEligibility& e = c.eligibility;
  if (e.first_order_only && customer.orders > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "first-order coupon; the customer has ", customer.orders, " orders"));
  }
  if (!e.segments.empty() &&
      !Contains(e.segments, SegmentName(customer.segment))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "segment '", SegmentName(customer.segment), "' not eligible"));
  }
  if (!e.tiers.empty() && !Contains(e.tiers, TierName(customer.tier))) {
    return absl::FailedPreconditionError(
        absl::StrCat("tier '", TierName(customer.tier), "' not eligible"));
  }
  if (!e.growth_tiers.empty() && !Contains(e.growth_tiers, customer.growth_tier)) {
    return absl::FailedPreconditionError(
        customer.growth_tier.empty()
            ? std::string("growth-tier coupon; the customer's growth tier is unknown")
            : absl::StrCat("growth tier '", customer.growth_tier, "' not eligible"));
  }
  if (!e.tags.empty() && absl::c_none_of(e.tags, [&](const std::string& tag) {
        return absl::c_linear_search(customer.tags, tag);
      })) {
    return absl::FailedPreconditionError("the customer has none of the coupon's tags");
  }
  if (s.remaining_count == 0) {
    return absl::ResourceExhaustedError("no redemptions left in the budget");
  }
  if (s.remaining_money >= 0) {
    const double basket = BasketWithCoupon(c, ExpectedBasket(customer, config));
    const int64_t discount = DiscountOn(c, basket, config);
    const int64_t left = ToCents(s.remaining_money);
    if (left <= 0 || left < discount) {
      return absl::ResourceExhaustedError(
          absl::StrCat("money budget left ", Money(s.remaining_money),
                       " is below the discount ", Money(FromCents(discount))));
    }
  }
  if (c.per_user_cap > 0 && counts.issued >= c.per_user_cap) {
    return absl::ResourceExhaustedError(
        absl::StrCat("customer holds ", counts.issued,
                     " issuances, the per-user cap is ", c.per_user_cap));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<RankedCoupon>> RankCoupons(
    absl::Span<const CouponWithState> coupons, const CustomerInfo& customer,
    absl::Span<const UserCouponCounts> counts, absl::Time now,
    const MarketingConfig& config_in, const PropensityFn& propensity,
    int max_results, const IncrementalityFn& incrementality) {
  if (!counts.empty() && counts.size() != coupons.size()) {
    return absl::InvalidArgumentError(absl::StrCat("counts: ", counts.size(),
                                                   " entries for ",
                                                   coupons.size(), " coupons"));
  }
  if (max_results < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_results: must be >= 0, got ", max_results));
  }
  const MarketingConfig config = WithDefaults(config_in);
  RECSYS_RETURN_IF_ERROR(ValidateMarketingConfig(config));
  const double basket = ExpectedBasket(customer, config);
  const double margin = config.gross_margin_rate;
  const double prior = IncrementalityPrior(config, customer.segment);

  std::vector<RankedCoupon> ranked;
  for (size_t i = 0; i < coupons.size(); ++i) {
    const UserCouponCounts no_counts;
    if (!CheckEligible(coupons[i], customer,
                       counts.empty() ? no_counts : counts[i], now, config)
             .ok()) {
      continue;
    }
    const Coupon& c = coupons[i].coupon;
    double p = propensity ? propensity(c) : 0;
    if (!(p >= 0)) p = 0;  // NaN too
    p = std::min(p, 1.0);
    const double with_coupon = BasketWithCoupon(c, basket);
    const double discount = FromCents(DiscountOn(c, with_coupon, config));

    RankedCoupon r;
    r.uplift = incrementality
                   ? incrementality(c, prior)
                   : experiments::BlendIncrementality(
                         prior, nullptr, experiments::UpliftOptions());
    r.uplift.value = std::clamp(r.uplift.value, 0.0, 1.0);
    if (!(r.uplift.value >= 0)) r.uplift.value = 0;  // NaN
    const double u =
        WithSensitivity(r.uplift.value, customer.price_sensitivity);
    r.coupon_id = c.id;
    r.type = c.type;
    r.propensity = p;
    r.incrementality = u;
    r.basket_value = with_coupon;
    r.discount = discount;
    r.expected_value =
        p * (u * with_coupon * margin +
             (1 - u) * (with_coupon - basket) * margin - discount);
    if (c.eligibility.first_order_only) {
      r.reason = CouponReason::kFirstOrder;
      r.reason_text = absl::StrCat("first order: ", DescribeCoupon(c));
    } else if (IsDormant(customer.segment)) {
      r.reason = CouponReason::kWinBack;
      r.reason_text =
          absl::StrCat("win-back: ", DescribeCoupon(c), "; last order ",
                       customer.recency_days, " days ago");
    } else {
      r.reason = CouponReason::kSegmentOffer;
      r.reason_text = absl::StrCat("offer for ", SegmentName(customer.segment),
                                   " customers");
      if (customer.tier != Tier::kNone) {
        absl::StrAppend(&r.reason_text, " (", TierName(customer.tier),
                        " tier)");
      }
      absl::StrAppend(&r.reason_text, ": ", DescribeCoupon(c));
    }
    ranked.push_back(std::move(r));
  }
  std::sort(ranked.begin(), ranked.end(),
            [](const RankedCoupon& a, const RankedCoupon& b) {
              if (a.expected_value != b.expected_value)
                return a.expected_value > b.expected_value;
              return a.coupon_id < b.coupon_id;
            });
  if (max_results > 0 && ranked.size() > static_cast<size_t>(max_results)) {
    ranked.resize(max_results);
  }
  return ranked;
}

double PriceSensitivity(double discount_share, double relative_price_level) {
  constexpr double kDiscountWeight = 2;
  constexpr double kTypicalDiscountShare = 0.2;
  constexpr double kPriceWeight = 1;
  constexpr double kMaxSensitivity = 4;
  const double share = discount_share >= 0 && std::isfinite(discount_share)
                           ? std::min(discount_share, 1.0)
                           : kTypicalDiscountShare;
  const double level =
      relative_price_level > 0 && std::isfinite(relative_price_level)
          ? relative_price_level
          : 1;
  const double f = std::exp(kDiscountWeight * (share - kTypicalDiscountShare)) *
                   std::pow(level, -kPriceWeight);
  return std::clamp(f, 1 / kMaxSensitivity, kMaxSensitivity);
}

}  // namespace recsys::marketing
