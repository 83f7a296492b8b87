#include "marketing/marketing_proto.h"

#include <string>
#include <vector>

namespace recsys::marketing {
namespace {

namespace v1 = recsys::v1;

std::vector<std::string> ToVector(
    const google::protobuf::RepeatedPtrField<std::string>& list) {
  return std::vector<std::string>(list.begin(), list.end());
}

void ToRepeated(const std::vector<std::string>& list,
                google::protobuf::RepeatedPtrField<std::string>* out) {
  out->Reserve(static_cast<int>(list.size()));
  for (const std::string& s : list) out->Add(std::string(s));
}

}  // namespace

CouponType FromProto(v1::CouponType type) {
  return static_cast<CouponType>(static_cast<int>(type));
}

v1::CouponType ToProto(CouponType type) {
  return static_cast<v1::CouponType>(static_cast<int>(type));
}

Coupon FromProto(const v1::Coupon& p) {
  Coupon c;
  c.id = p.id();
  c.type = FromProto(p.type());
  c.amount_off = p.amount_off();
  c.percent_off = p.percent_off();
  c.threshold_spend = p.threshold_spend();
  c.max_discount = p.max_discount();
  c.scope.kind = static_cast<CouponScope::Kind>(static_cast<int>(p.scope().kind()));
  c.scope.categories = ToVector(p.scope().categories());
  c.scope.item_ids = ToVector(p.scope().item_ids());
  c.eligibility.segments = ToVector(p.eligibility().segments());
  c.eligibility.tiers = ToVector(p.eligibility().tiers());
  c.eligibility.first_order_only = p.eligibility().first_order_only();
  c.eligibility.growth_tiers = ToVector(p.eligibility().growth_tiers());
  c.eligibility.tags = ToVector(p.eligibility().tags());
  c.valid_from_unix = p.valid_from_unix();
  c.valid_until_unix = p.valid_until_unix();
  c.budget_count = p.budget_count();
  c.budget_money = p.budget_money();
  c.per_user_cap = p.per_user_cap();
  c.campaign = p.campaign();
  c.description = p.description();
  return c;
}

v1::Coupon ToProto(const Coupon& c) {
  v1::Coupon p;
  p.set_id(c.id);
  p.set_type(ToProto(c.type));
  p.set_amount_off(c.amount_off);
  p.set_percent_off(c.percent_off);
  p.set_threshold_spend(c.threshold_spend);
  p.set_max_discount(c.max_discount);
  // An all-default scope / eligibility is left unset, as a parsed catalog
  // leaves it (the serialized bytes then match the old store's).
  if (!(c.scope == CouponScope())) {
    v1::CouponScope* scope = p.mutable_scope();
    scope->set_kind(
        static_cast<v1::CouponScope::Kind>(static_cast<int>(c.scope.kind)));
    ToRepeated(c.scope.categories, scope->mutable_categories());
    ToRepeated(c.scope.item_ids, scope->mutable_item_ids());
  }
  if (!(c.eligibility == CouponEligibility())) {
    v1::CouponEligibility* e = p.mutable_eligibility();
    ToRepeated(c.eligibility.segments, e->mutable_segments());
    ToRepeated(c.eligibility.tiers, e->mutable_tiers());
    e->set_first_order_only(c.eligibility.first_order_only);
    ToRepeated(c.eligibility.growth_tiers, e->mutable_growth_tiers());
    ToRepeated(c.eligibility.tags, e->mutable_tags());
  }
  p.set_valid_from_unix(c.valid_from_unix);
  p.set_valid_until_unix(c.valid_until_unix);
  p.set_budget_count(c.budget_count);
  p.set_budget_money(c.budget_money);
  p.set_per_user_cap(c.per_user_cap);
  p.set_campaign(c.campaign);
  p.set_description(c.description);
  return p;
}

CouponCatalog FromProto(const v1::CouponCatalog& p) {
  CouponCatalog catalog;
  catalog.coupons.reserve(p.coupons_size());
  for (const v1::Coupon& c : p.coupons()) catalog.coupons.push_back(FromProto(c));
  return catalog;
}

v1::CouponCatalog ToProto(const CouponCatalog& catalog) {
  v1::CouponCatalog p;
  p.mutable_coupons()->Reserve(static_cast<int>(catalog.coupons.size()));
  for (const Coupon& c : catalog.coupons) *p.add_coupons() = ToProto(c);
  return p;
}

CouponState FromProto(const v1::CouponState& p) {
  CouponState s;
  s.issued = p.issued();
  s.redeemed = p.redeemed();
  s.discount_spent = p.discount_spent();
  s.remaining_count = p.remaining_count();
  s.remaining_money = p.remaining_money();
  return s;
}

v1::CouponState ToProto(const CouponState& s) {
  v1::CouponState p;
  p.set_issued(s.issued);
  p.set_redeemed(s.redeemed);
  p.set_discount_spent(s.discount_spent);
  p.set_remaining_count(s.remaining_count);
  p.set_remaining_money(s.remaining_money);
  return p;
}

CouponWithState FromProto(const v1::CouponWithState& p) {
  return CouponWithState{FromProto(p.coupon()), FromProto(p.state())};
}

v1::CouponWithState ToProto(const CouponWithState& c) {
  v1::CouponWithState p;
  *p.mutable_coupon() = ToProto(c.coupon);
  *p.mutable_state() = ToProto(c.state);
  return p;
}

MarketingConfig FromProto(const v1::MarketingConfig& p) {
  MarketingConfig c;
  const v1::SegmentThresholds& s = p.segments();
  c.segments.at_risk_days = s.at_risk_days();
  c.segments.dormant_days = s.dormant_days();
  c.segments.deep_dormant_days = s.deep_dormant_days();
  c.segments.new_days = s.new_days();
  c.segments.new_max_orders = s.new_max_orders();
  c.segments.core_min_score = s.core_min_score();
  const v1::TierThresholds& t = p.tiers();
  c.tiers.silver = t.silver();
  c.tiers.gold = t.gold();
  c.tiers.black = t.black();
  c.tiers.trailing_days = t.trailing_days();
  c.incrementality.insert(p.incrementality().begin(), p.incrementality().end());
  c.gross_margin_rate = p.gross_margin_rate();
  c.default_basket_value = p.default_basket_value();
  c.free_shipping_value = p.free_shipping_value();
  return c;
}

v1::MarketingConfig ToProto(const MarketingConfig& c) {
  v1::MarketingConfig p;
  v1::SegmentThresholds* s = p.mutable_segments();
  s->set_at_risk_days(c.segments.at_risk_days);
  s->set_dormant_days(c.segments.dormant_days);
  s->set_deep_dormant_days(c.segments.deep_dormant_days);
  s->set_new_days(c.segments.new_days);
  s->set_new_max_orders(c.segments.new_max_orders);
  s->set_core_min_score(c.segments.core_min_score);
  v1::TierThresholds* t = p.mutable_tiers();
  t->set_silver(c.tiers.silver);
  t->set_gold(c.tiers.gold);
  t->set_black(c.tiers.black);
  t->set_trailing_days(c.tiers.trailing_days);
  for (const auto& [name, prior] : c.incrementality) {
    (*p.mutable_incrementality())[name] = prior;
  }
  p.set_gross_margin_rate(c.gross_margin_rate);
  p.set_default_basket_value(c.default_basket_value);
  p.set_free_shipping_value(c.free_shipping_value);
  return p;
}

}  // namespace recsys::marketing
