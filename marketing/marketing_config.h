// MarketingConfig: segment and tier thresholds, incrementality priors and
// the economics used to rank coupons, as the marketing domain sees them.
// Mirrors recsys.v1.MarketingConfig (proto/recsys/v1/marketing.proto) field
// for field; the text-format reader (LoadMarketingConfig in coupons.h) and
// the model manifest convert through marketing_proto.h.
//
// As in the proto, a field that is 0 takes its default (WithDefaults in
// coupons.h); a default-constructed config already holds the defaults, so
// WithDefaults changes nothing but the incrementality priors it fills in.
// Validation (ValidateMarketingConfig) names fields by their proto path
// ("segments.dormant_days").
//
// Thread safety: plain values.
#ifndef RECSYS_MARKETING_MARKETING_CONFIG_H_
#define RECSYS_MARKETING_MARKETING_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>

namespace recsys::marketing {

// Defaults of MarketingConfig (docs/marketing.md), used for fields left 0.
struct MarketingDefaults {
  static constexpr int32_t kAtRiskDays = 45;
  static constexpr int32_t kDormantDays = 90;
  static constexpr int32_t kDeepDormantDays = 180;
  static constexpr int32_t kNewDays = 30;
  static constexpr int32_t kNewMaxOrders = 1;
  static constexpr int32_t kCoreMinScore = 4;
  static constexpr double kSilver = 500;
  static constexpr double kGold = 1500;
  static constexpr double kBlack = 4000;
  static constexpr int32_t kTrailingDays = 365;
  static constexpr double kGrossMarginRate = 0.3;
  static constexpr double kDefaultBasketValue = 40;
  static constexpr double kFreeShippingValue = 5;
};

// Segment boundaries (segments.h has the definitions).
struct SegmentThresholds {
  // Days since the last purchase from which a user is at risk [45].
  int32_t at_risk_days = MarketingDefaults::kAtRiskDays;
  // ... dormant [90].
  int32_t dormant_days = MarketingDefaults::kDormantDays;
  // ... deep dormant [180].
  int32_t deep_dormant_days = MarketingDefaults::kDeepDormantDays;
  // A user whose first purchase is less than new_days old [30] and who has
  // at most new_max_orders orders [1] is new.
  int32_t new_days = MarketingDefaults::kNewDays;
  int32_t new_max_orders = MarketingDefaults::kNewMaxOrders;
  // Core: recency, frequency and monetary scores all at least this [4].
  int32_t core_min_score = MarketingDefaults::kCoreMinScore;

  friend bool operator==(const SegmentThresholds&,
                         const SegmentThresholds&) = default;
};

// Membership tiers by spend over the trailing `trailing_days` before the
// reference time: black from `black`, gold from `gold`, silver from
// `silver`, otherwise none. Must increase.
struct TierThresholds {
  // [500]
  double silver = MarketingDefaults::kSilver;
  // [1500]
  double gold = MarketingDefaults::kGold;
  // [4000]
  double black = MarketingDefaults::kBlack;
  // [365]
  int32_t trailing_days = MarketingDefaults::kTrailingDays;

  friend bool operator==(const TierThresholds&,
                         const TierThresholds&) = default;
};

struct MarketingConfig {
  SegmentThresholds segments;
  TierThresholds tiers;
  // Segment name -> incrementality prior in [0, 1]: the share of
  // coupon-driven purchases that would not have happened without the coupon.
  // Segments not listed take DefaultIncrementality (coupons.h); WithDefaults
  // fills them in. Default: empty. Ordered, so validation reports the same
  // key first on every run.
  std::map<std::string, double> incrementality;
  // Gross margin as a share of the order value, in (0, 1] [0.3].
  double gross_margin_rate = MarketingDefaults::kGrossMarginRate;
  // Expected basket of a user without orders [40].
  double default_basket_value = MarketingDefaults::kDefaultBasketValue;
  // What a free-shipping coupon costs the shop per redemption [5].
  double free_shipping_value = MarketingDefaults::kFreeShippingValue;

  friend bool operator==(const MarketingConfig&,
                         const MarketingConfig&) = default;
};

}  // namespace recsys::marketing

#endif  // RECSYS_MARKETING_MARKETING_CONFIG_H_
