#include "marketing/coupons.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "marketing/marketing_proto.h"
#include "marketing/text_proto.h"
#include "recsys/v1/marketing.pb.h"

namespace recsys::marketing {
namespace {


absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::Status CheckMoney(absl::string_view field, double value) {
  if (!std::isfinite(value)) return Invalid(field, "must be finite");
  if (value < 0)
    return Invalid(field, absl::StrCat("must be >= 0, got ", value));
  if (value > 1e12)
    return Invalid(field, absl::StrCat("must be <= 1e12, got ", value));
  if (value > 0 && value < 0.01) {
    return Invalid(
        field,
        absl::StrCat("must be 0 or >= 0.01 (money is kept in cents), got ",
                     value));
  }
  return absl::OkStatus();
}

absl::Status MustBeZero(absl::string_view field, double value,
                        absl::string_view type) {
  if (value != 0) {
    return Invalid(field,
                   absl::StrCat("must be 0 for ", type, ", got ", value));
  }
  return absl::OkStatus();
}

// Non-empty, distinct entries.
absl::Status CheckList(absl::string_view field,
                       const std::vector<std::string>& list) {
  absl::flat_hash_set<absl::string_view> seen;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string name = absl::StrCat(field, "[", i, "]");
    if (list[i].empty()) return Invalid(name, "must not be empty");
    if (!seen.insert(list[i]).second) {
      return Invalid(name, absl::StrCat("duplicate '", list[i], "'"));
    }
  }
  return absl::OkStatus();
}

std::string SegmentChoices() {
  std::string out;
  for (int i = 0; i < kNumSegments; ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ", ",
                    SegmentName(static_cast<Segment>(i)));
  }
  return out;
}

std::string TierChoices() {
  std::string out;
  for (int i = 0; i < kNumTiers; ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ", ", TierName(static_cast<Tier>(i)));
  }
  return out;
}

}  // namespace

absl::string_view CouponTypeName(CouponType type) {
  switch (type) {
    case CouponType::kUnspecified:
      return "COUPON_TYPE_UNSPECIFIED";
    case CouponType::kAmountOff:
      return "COUPON_AMOUNT_OFF";
    case CouponType::kPercentOff:
      return "COUPON_PERCENT_OFF";
    case CouponType::kThreshold:
      return "COUPON_THRESHOLD";
    case CouponType::kFreeShipping:
      return "COUPON_FREE_SHIPPING";
  }
  return "";
}

bool IsValidId(absl::string_view id) {
  if (id.empty() || id.size() > 128 || !IsValidUtf8(id)) return false;
  for (char c : id) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

double DefaultIncrementality(Segment segment) {
  switch (segment) {
    case Segment::kCore:
      return 0.1;
    case Segment::kPotential:
      return 0.3;
    case Segment::kNew:
      return 0.5;
    case Segment::kAtRisk:
      return 0.5;
    case Segment::kDormant:
      return 0.7;
    case Segment::kDeepDormant:
      return 0.8;
  }
  return 0.3;
}

MarketingConfig WithDefaults(const MarketingConfig& config) {
  using D = MarketingDefaults;
  MarketingConfig c = config;
  SegmentThresholds& s = c.segments;
  if (s.at_risk_days == 0) s.at_risk_days = D::kAtRiskDays;
  if (s.dormant_days == 0) s.dormant_days = D::kDormantDays;
  if (s.deep_dormant_days == 0) s.deep_dormant_days = D::kDeepDormantDays;
  if (s.new_days == 0) s.new_days = D::kNewDays;
  if (s.new_max_orders == 0) s.new_max_orders = D::kNewMaxOrders;
  if (s.core_min_score == 0) s.core_min_score = D::kCoreMinScore;
  TierThresholds& t = c.tiers;
  if (t.silver == 0) t.silver = D::kSilver;
  if (t.gold == 0) t.gold = D::kGold;
  if (t.black == 0) t.black = D::kBlack;
  if (t.trailing_days == 0) t.trailing_days = D::kTrailingDays;
  for (int i = 0; i < kNumSegments; ++i) {
    const Segment segment = static_cast<Segment>(i);
    // An explicit prior (0 included) is kept.
    c.incrementality.try_emplace(std::string(SegmentName(segment)),
                                 DefaultIncrementality(segment));
  }
  if (c.gross_margin_rate == 0) c.gross_margin_rate = D::kGrossMarginRate;
  if (c.default_basket_value == 0)
    c.default_basket_value = D::kDefaultBasketValue;
  if (c.free_shipping_value == 0) c.free_shipping_value = D::kFreeShippingValue;
  return c;
}

absl::Status ValidateMarketingConfig(const MarketingConfig& config) {
  const SegmentThresholds& s = config.segments;
  const struct {
    const char* name;
    int32_t value;
  } days[] = {{"segments.at_risk_days", s.at_risk_days},
              {"segments.dormant_days", s.dormant_days},
              {"segments.deep_dormant_days", s.deep_dormant_days},
              {"segments.new_days", s.new_days},
              {"segments.new_max_orders", s.new_max_orders},
              {"tiers.trailing_days", config.tiers.trailing_days}};
  for (const auto& d : days) {
    if (d.value < 1)
      return Invalid(d.name, absl::StrCat("must be >= 1, got ", d.value));
  }
  if (s.at_risk_days >= s.dormant_days) {
    return Invalid("segments.at_risk_days",
                   absl::StrCat("must be below dormant_days (",
                                s.dormant_days, "), got ", s.at_risk_days));
  }
  if (s.dormant_days >= s.deep_dormant_days) {
    return Invalid(
        "segments.dormant_days",
        absl::StrCat("must be below deep_dormant_days (", s.deep_dormant_days,
                     "), got ", s.dormant_days));
  }
  if (s.core_min_score < 1 || s.core_min_score > 5) {
    return Invalid("segments.core_min_score",
                   absl::StrCat("must be in [1, 5], got ", s.core_min_score));
  }
  const TierThresholds& t = config.tiers;
  RECSYS_RETURN_IF_ERROR(CheckMoney("tiers.silver", t.silver));
  RECSYS_RETURN_IF_ERROR(CheckMoney("tiers.gold", t.gold));
  RECSYS_RETURN_IF_ERROR(CheckMoney("tiers.black", t.black));
  if (!(t.silver > 0)) return Invalid("tiers.silver", "must be > 0");
  if (!(t.gold > t.silver)) {
    return Invalid("tiers.gold", absl::StrCat("must be above silver (",
                                              t.silver, "), got ", t.gold));
  }
  if (!(t.black > t.gold)) {
    return Invalid("tiers.black", absl::StrCat("must be above gold (", t.gold,
                                               "), got ", t.black));
  }
  for (const auto& [name, prior] : config.incrementality) {
    const std::string field = absl::StrCat("incrementality[\"", name, "\"]");
    if (!SegmentFromName(name)) {
      return Invalid(
          field, absl::StrCat("unknown segment '", name, "' (expected one of ",
                              SegmentChoices(), ")"));
    }
    if (!std::isfinite(prior) || prior < 0 || prior > 1) {
      return Invalid(field, absl::StrCat("must be in [0, 1], got ", prior));
    }
  }
  const double margin = config.gross_margin_rate;
  if (!std::isfinite(margin) || margin <= 0 || margin > 1) {
    return Invalid("gross_margin_rate",
                   absl::StrCat("must be in (0, 1], got ", margin));
  }
  RECSYS_RETURN_IF_ERROR(
      CheckMoney("default_basket_value", config.default_basket_value));
  if (!(config.default_basket_value > 0)) {
    return Invalid("default_basket_value", "must be > 0");
  }
  RECSYS_RETURN_IF_ERROR(
      CheckMoney("free_shipping_value", config.free_shipping_value));
  return absl::OkStatus();
}

double IncrementalityPrior(const MarketingConfig& config, Segment segment) {
  auto it = config.incrementality.find(std::string(SegmentName(segment)));
  if (it == config.incrementality.end())
    return DefaultIncrementality(segment);
  return it->second;
}

absl::Status ValidateCoupon(const Coupon& coupon, absl::string_view field) {
  auto name = [&](absl::string_view sub) {
    return absl::StrCat(field, ".", sub);
  };
  if (coupon.id.empty()) return Invalid(name("id"), "must not be empty");
  if (!IsValidId(coupon.id)) {
    return Invalid(
        name("id"),
        absl::StrCat("must be at most 128 bytes without whitespace or control "
                     "characters, got '",
                     coupon.id, "'"));
  }
  for (const auto& [sub, value] :
       {std::pair<const char*, double>{"amount_off", coupon.amount_off},
        {"percent_off", coupon.percent_off},
        {"threshold_spend", coupon.threshold_spend},
        {"max_discount", coupon.max_discount},
        {"budget_money", coupon.budget_money}}) {
    if (sub == absl::string_view("percent_off")) {
      if (!std::isfinite(value)) return Invalid(name(sub), "must be finite");
      continue;
    }
    RECSYS_RETURN_IF_ERROR(CheckMoney(name(sub), value));
  }
  const absl::string_view type_name = CouponTypeName(coupon.type);
  switch (coupon.type) {
    case CouponType::kAmountOff:
      if (!(coupon.amount_off > 0)) {
        return Invalid(name("amount_off"),
                       absl::StrCat("must be > 0 for ", type_name));
      }
      RECSYS_RETURN_IF_ERROR(
          MustBeZero(name("percent_off"), coupon.percent_off, type_name));
      RECSYS_RETURN_IF_ERROR(MustBeZero(name("threshold_spend"),
                                        coupon.threshold_spend, type_name));
      RECSYS_RETURN_IF_ERROR(
          MustBeZero(name("max_discount"), coupon.max_discount, type_name));
      break;
    case CouponType::kPercentOff:
      if (!(coupon.percent_off > 0 && coupon.percent_off <= 100)) {
        return Invalid(
            name("percent_off"),
            absl::StrCat("must be in (0, 100], got ", coupon.percent_off));
      }
      RECSYS_RETURN_IF_ERROR(
          MustBeZero(name("amount_off"), coupon.amount_off, type_name));
      RECSYS_RETURN_IF_ERROR(MustBeZero(name("threshold_spend"),
                                        coupon.threshold_spend, type_name));
      break;
    case CouponType::kThreshold:
      if (!(coupon.amount_off > 0)) {
        return Invalid(name("amount_off"),
                       absl::StrCat("must be > 0 for ", type_name));
      }
      if (!(coupon.threshold_spend > coupon.amount_off)) {
        return Invalid(name("threshold_spend"),
                       absl::StrCat("must be above amount_off (",
                                    coupon.amount_off, ") for ", type_name,
                                    ", got ", coupon.threshold_spend));
      }
      RECSYS_RETURN_IF_ERROR(
          MustBeZero(name("percent_off"), coupon.percent_off, type_name));
      RECSYS_RETURN_IF_ERROR(
          MustBeZero(name("max_discount"), coupon.max_discount, type_name));
      break;
    case CouponType::kFreeShipping:
      RECSYS_RETURN_IF_ERROR(
          MustBeZero(name("amount_off"), coupon.amount_off, type_name));
      RECSYS_RETURN_IF_ERROR(
          MustBeZero(name("percent_off"), coupon.percent_off, type_name));
      RECSYS_RETURN_IF_ERROR(MustBeZero(name("threshold_spend"),
                                        coupon.threshold_spend, type_name));
      RECSYS_RETURN_IF_ERROR(
          MustBeZero(name("max_discount"), coupon.max_discount, type_name));
      break;
    default:
      return Invalid(name("type"),
                     absl::StrCat("must be set to a known coupon type, got ",
                                  static_cast<int>(coupon.type)));
  }

  const CouponScope& scope = coupon.scope;
  switch (scope.kind) {
    case CouponScope::Kind::kAll:
      if (!scope.categories.empty() || !scope.item_ids.empty()) {
        return Invalid(name("scope"),
                       "SCOPE_ALL takes no categories or item_ids; set kind to "
                       "SCOPE_CATEGORIES or SCOPE_ITEMS");
      }
      break;
    case CouponScope::Kind::kCategories:
      if (scope.categories.empty()) {
        return Invalid(name("scope.categories"),
                       "must not be empty for SCOPE_CATEGORIES");
      }
      if (!scope.item_ids.empty()) {
        return Invalid(name("scope.item_ids"),
                       "must be empty for SCOPE_CATEGORIES");
      }
      RECSYS_RETURN_IF_ERROR(
          CheckList(name("scope.categories"), scope.categories));
      break;
    case CouponScope::Kind::kItems:
      if (scope.item_ids.empty()) {
        return Invalid(name("scope.item_ids"),
                       "must not be empty for SCOPE_ITEMS");
      }
      if (!scope.categories.empty()) {
        return Invalid(name("scope.categories"),
                       "must be empty for SCOPE_ITEMS");
      }
      RECSYS_RETURN_IF_ERROR(
          CheckList(name("scope.item_ids"), scope.item_ids));
      break;
    default:
      return Invalid(name("scope.kind"),
                     absl::StrCat("unknown kind ", static_cast<int>(scope.kind)));
  }

  const CouponEligibility& e = coupon.eligibility;
  RECSYS_RETURN_IF_ERROR(CheckList(name("eligibility.segments"), e.segments));
  for (size_t i = 0; i < e.segments.size(); ++i) {
    if (!SegmentFromName(e.segments[i])) {
      return Invalid(
          name(absl::StrCat("eligibility.segments[", i, "]")),
          absl::StrCat("unknown segment '", e.segments[i],
                       "' (expected one of ", SegmentChoices(), ")"));
    }
  }
  RECSYS_RETURN_IF_ERROR(CheckList(name("eligibility.tiers"), e.tiers));
  for (size_t i = 0; i < e.tiers.size(); ++i) {
    if (!TierFromName(e.tiers[i])) {
      return Invalid(name(absl::StrCat("eligibility.tiers[", i, "]")),
                     absl::StrCat("unknown tier '", e.tiers[i],
                                  "' (expected one of ", TierChoices(), ")"));
    }
  }
  // Growth tiers and tags are names of the intelligence config, which the
  // catalog does not see: only their form is checked here.
  RECSYS_RETURN_IF_ERROR(
      CheckList(name("eligibility.growth_tiers"), e.growth_tiers));
  RECSYS_RETURN_IF_ERROR(CheckList(name("eligibility.tags"), e.tags));

  if (coupon.valid_from_unix < 0) {
    return Invalid(
        name("valid_from_unix"),
        absl::StrCat("must be >= 0, got ", coupon.valid_from_unix));
  }
  if (coupon.valid_until_unix < 0) {
    return Invalid(
        name("valid_until_unix"),
        absl::StrCat("must be >= 0, got ", coupon.valid_until_unix));
  }
  if (coupon.valid_from_unix > 0 && coupon.valid_until_unix > 0 &&
      coupon.valid_until_unix <= coupon.valid_from_unix) {
    return Invalid(name("valid_until_unix"),
                   absl::StrCat("must be after valid_from_unix (",
                                coupon.valid_from_unix, "), got ",
                                coupon.valid_until_unix));
  }
  if (coupon.budget_count < 0) {
    return Invalid(name("budget_count"),
                   absl::StrCat("must be >= 0 (0 = unlimited), got ",
                                coupon.budget_count));
  }
  if (coupon.per_user_cap < 0) {
    return Invalid(name("per_user_cap"),
                   absl::StrCat("must be >= 0 (0 = unlimited), got ",
                                coupon.per_user_cap));
  }
  if (!coupon.campaign.empty() && !IsValidId(coupon.campaign)) {
    return Invalid(
        name("campaign"),
        absl::StrCat("must be at most 128 bytes without whitespace or control "
                     "characters, got '",
                     coupon.campaign, "'"));
  }
  return absl::OkStatus();
}

absl::Status ValidateCatalog(const CouponCatalog& catalog) {
  absl::flat_hash_map<absl::string_view, int> first;
  for (size_t i = 0; i < catalog.coupons.size(); ++i) {
    const std::string field = absl::StrCat("coupons[", i, "]");
    RECSYS_RETURN_IF_ERROR(ValidateCoupon(catalog.coupons[i], field));
    auto [it, inserted] = first.try_emplace(catalog.coupons[i].id, i);
    if (!inserted) {
      return Invalid(field + ".id",
                     absl::StrCat("duplicate id '", catalog.coupons[i].id,
                                  "' (also coupons[", it->second, "])"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CouponCatalog> ParseCouponCatalog(absl::string_view text,
                                                 absl::string_view origin) {
  recsys::v1::CouponCatalog proto;
  RECSYS_RETURN_IF_ERROR(ParseTextProto(text, origin, &proto));
  CouponCatalog catalog = FromProto(proto);
  RECSYS_RETURN_IF_ERROR(Prefixed(origin, ValidateCatalog(catalog)));
  return catalog;
}

absl::StatusOr<MarketingConfig> ParseMarketingConfig(absl::string_view text,
                                                     absl::string_view origin) {
  recsys::v1::MarketingConfig proto;
  RECSYS_RETURN_IF_ERROR(ParseTextProto(text, origin, &proto));
  // Fields the file leaves out are 0 in the proto, and take their defaults.
  MarketingConfig config = WithDefaults(FromProto(proto));
  RECSYS_RETURN_IF_ERROR(Prefixed(origin, ValidateMarketingConfig(config)));
  return config;
}

absl::StatusOr<CouponCatalog> LoadCouponCatalog(const std::string& path) {
  RECSYS_ASSIGN_OR_RETURN(std::string text,
                          ReadTextFile(path, "coupon catalog"));
  return ParseCouponCatalog(text, path);
}

absl::StatusOr<MarketingConfig> LoadMarketingConfig(const std::string& path) {
  RECSYS_ASSIGN_OR_RETURN(std::string text,
                          ReadTextFile(path, "marketing config"));
  return ParseMarketingConfig(text, path);
}

int64_t ToCents(double money) { return std::llround(money * 100); }

double FromCents(int64_t cents) { return static_cast<double>(cents) / 100; }

int64_t DiscountCents(const Coupon& coupon, int64_t order_cents,
                      int64_t shipping_cents) {
  order_cents = std::max<int64_t>(order_cents, 0);
  switch (coupon.type) {
    case CouponType::kAmountOff:
      return std::min(ToCents(coupon.amount_off), order_cents);
    case CouponType::kPercentOff: {
      // Same steps as the Redis store's Lua script.
      int64_t d = static_cast<int64_t>(std::floor(
          static_cast<double>(order_cents) * coupon.percent_off / 100 +
          1e-9));
      const int64_t cap = ToCents(coupon.max_discount);
      if (cap > 0) d = std::min(d, cap);
      return d;
    }
    case CouponType::kThreshold:
      if (order_cents < ToCents(coupon.threshold_spend)) return -1;
      return std::min(ToCents(coupon.amount_off), order_cents);
    case CouponType::kFreeShipping:
      return shipping_cents;
    default:
      return 0;
  }
}

}  // namespace recsys::marketing
