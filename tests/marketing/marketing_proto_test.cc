#include "marketing/marketing_proto.h"

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "marketing/coupons.h"
#include "tests/testing/status_matchers.h"

namespace recsys::marketing {
namespace {

using google::protobuf::util::MessageDifferencer;

template <typename Message>
Message ParseProto(const std::string& text) {
  Message m;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &m)) << text;
  return m;
}

// Every field of recsys.v1.Coupon set, for each coupon type (the amounts
// need not fit the type: conversion copies, validation judges).
const char* const kCoupons[] = {
    R"pb(id: "AMOUNT" type: COUPON_AMOUNT_OFF amount_off: 10 percent_off: 1
         threshold_spend: 2 max_discount: 3
         scope { kind: SCOPE_CATEGORIES categories: "coffee_tea" categories: "bakery" }
         eligibility {
           segments: "new" segments: "core" tiers: "gold" first_order_only: true
           growth_tiers: "platinum" growth_tiers: "diamond" tags: "runner"
         }
         valid_from_unix: 1700000000 valid_until_unix: 1800000000
         budget_count: 5000 budget_money: 50000.5 per_user_cap: 1
         campaign: "welcome" description: "10.00 off")pb",
    R"pb(id: "PERCENT" type: COUPON_PERCENT_OFF percent_off: 12.5 max_discount: 25
         scope { kind: SCOPE_ITEMS item_ids: "i1" item_ids: "i2" }
         eligibility { segments: "dormant" segments: "deep_dormant" }
         budget_count: 2000 budget_money: 30000 per_user_cap: 2
         campaign: "win_back" description: "15% off")pb",
    R"pb(id: "THRESHOLD" type: COUPON_THRESHOLD amount_off: 10
         threshold_spend: 60 eligibility { tiers: "silver" tiers: "black" }
         valid_until_unix: 1900000000)pb",
    R"pb(id: "SHIP" type: COUPON_FREE_SHIPPING)pb",
    // Outside the known lists: kept as numbers.
    R"pb(id: "ODD" type: 9 scope { kind: 7 })pb",
    R"pb()pb",
};

TEST(MarketingProtoTest, CouponRoundTripsForEveryType) {
  for (const char* text : kCoupons) {
    const recsys::v1::Coupon proto = ParseProto<recsys::v1::Coupon>(text);
    const Coupon domain = FromProto(proto);
    EXPECT_TRUE(MessageDifferencer::Equals(ToProto(domain), proto))
        << text << "\nback: " << ToProto(domain).DebugString();
    EXPECT_EQ(FromProto(ToProto(domain)), domain) << text;
  }
}

TEST(MarketingProtoTest, CouponFieldsMapByName) {
  const Coupon c = FromProto(ParseProto<recsys::v1::Coupon>(kCoupons[0]));
  EXPECT_EQ(c.id, "AMOUNT");
  EXPECT_EQ(c.type, CouponType::kAmountOff);
  EXPECT_EQ(c.amount_off, 10);
  EXPECT_EQ(c.percent_off, 1);
  EXPECT_EQ(c.threshold_spend, 2);
  EXPECT_EQ(c.max_discount, 3);
  EXPECT_EQ(c.scope.kind, CouponScope::Kind::kCategories);
  EXPECT_THAT(c.scope.categories, ::testing::ElementsAre("coffee_tea", "bakery"));
  EXPECT_TRUE(c.scope.item_ids.empty());
  EXPECT_THAT(c.eligibility.segments, ::testing::ElementsAre("new", "core"));
  EXPECT_THAT(c.eligibility.tiers, ::testing::ElementsAre("gold"));
  EXPECT_TRUE(c.eligibility.first_order_only);
  EXPECT_THAT(c.eligibility.growth_tiers, ::testing::ElementsAre("platinum", "diamond"));
  EXPECT_THAT(c.eligibility.tags, ::testing::ElementsAre("runner"));
  EXPECT_EQ(c.valid_from_unix, 1700000000);
  EXPECT_EQ(c.valid_until_unix, 1800000000);
  EXPECT_EQ(c.budget_count, 5000);
  EXPECT_EQ(c.budget_money, 50000.5);
  EXPECT_EQ(c.per_user_cap, 1);
  EXPECT_EQ(c.campaign, "welcome");
  EXPECT_EQ(c.description, "10.00 off");

  const Coupon items = FromProto(ParseProto<recsys::v1::Coupon>(kCoupons[1]));
  EXPECT_EQ(items.scope.kind, CouponScope::Kind::kItems);
  EXPECT_THAT(items.scope.item_ids, ::testing::ElementsAre("i1", "i2"));
  EXPECT_EQ(FromProto(ParseProto<recsys::v1::Coupon>(kCoupons[4])).type,
            static_cast<CouponType>(9));
}

TEST(MarketingProtoTest, EnumNumbersAndNamesAreTheApis) {
  for (const recsys::v1::CouponType type :
       {recsys::v1::COUPON_TYPE_UNSPECIFIED, recsys::v1::COUPON_AMOUNT_OFF,
        recsys::v1::COUPON_PERCENT_OFF, recsys::v1::COUPON_THRESHOLD,
        recsys::v1::COUPON_FREE_SHIPPING}) {
    EXPECT_EQ(static_cast<int>(FromProto(type)), static_cast<int>(type));
    EXPECT_EQ(ToProto(FromProto(type)), type);
    EXPECT_EQ(CouponTypeName(FromProto(type)), recsys::v1::CouponType_Name(type));
  }
  EXPECT_EQ(static_cast<int>(CouponScope::Kind::kAll),
            recsys::v1::CouponScope::SCOPE_ALL);
  EXPECT_EQ(static_cast<int>(CouponScope::Kind::kCategories),
            recsys::v1::CouponScope::SCOPE_CATEGORIES);
  EXPECT_EQ(static_cast<int>(CouponScope::Kind::kItems),
            recsys::v1::CouponScope::SCOPE_ITEMS);
}

TEST(MarketingProtoTest, CatalogAndStateRoundTrip) {
  recsys::v1::CouponCatalog catalog;
  for (const char* text : kCoupons) {
    *catalog.add_coupons() = ParseProto<recsys::v1::Coupon>(text);
  }
  const CouponCatalog domain = FromProto(catalog);
  ASSERT_EQ(domain.coupons.size(), std::size(kCoupons));
  EXPECT_EQ(domain.coupons[2].id, "THRESHOLD");
  EXPECT_TRUE(MessageDifferencer::Equals(ToProto(domain), catalog));

  const auto with_state = ParseProto<recsys::v1::CouponWithState>(
      R"pb(coupon { id: "C" type: COUPON_PERCENT_OFF percent_off: 5 }
           state { issued: 7 redeemed: 3 discount_spent: 12.34
                   remaining_count: -1 remaining_money: 87.66 })pb");
  const CouponWithState d = FromProto(with_state);
  EXPECT_EQ(d.coupon.id, "C");
  EXPECT_EQ(d.state.issued, 7);
  EXPECT_EQ(d.state.redeemed, 3);
  EXPECT_EQ(d.state.discount_spent, 12.34);
  EXPECT_EQ(d.state.remaining_count, -1);
  EXPECT_EQ(d.state.remaining_money, 87.66);
  EXPECT_TRUE(MessageDifferencer::Equals(ToProto(d), with_state));
  EXPECT_EQ(FromProto(ToProto(d)), d);
}

TEST(MarketingProtoTest, FullMarketingConfigRoundTrips) {
  const auto proto = ParseProto<recsys::v1::MarketingConfig>(R"pb(
    segments {
      at_risk_days: 40 dormant_days: 80 deep_dormant_days: 170
      new_days: 20 new_max_orders: 2 core_min_score: 3
    }
    tiers { silver: 400 gold: 1400 black: 3900 trailing_days: 300 }
    incrementality { key: "core" value: 0.05 }
    incrementality { key: "potential" value: 0.25 }
    incrementality { key: "new" value: 0.45 }
    incrementality { key: "at_risk" value: 0.55 }
    incrementality { key: "dormant" value: 0.75 }
    incrementality { key: "deep_dormant" value: 0.85 }
    gross_margin_rate: 0.35 default_basket_value: 45 free_shipping_value: 4.5
  )pb");
  const MarketingConfig c = FromProto(proto);
  EXPECT_EQ(c.segments.at_risk_days, 40);
  EXPECT_EQ(c.segments.dormant_days, 80);
  EXPECT_EQ(c.segments.deep_dormant_days, 170);
  EXPECT_EQ(c.segments.new_days, 20);
  EXPECT_EQ(c.segments.new_max_orders, 2);
  EXPECT_EQ(c.segments.core_min_score, 3);
  EXPECT_EQ(c.tiers.silver, 400);
  EXPECT_EQ(c.tiers.gold, 1400);
  EXPECT_EQ(c.tiers.black, 3900);
  EXPECT_EQ(c.tiers.trailing_days, 300);
  EXPECT_EQ(c.incrementality.size(), 6u);
  EXPECT_EQ(c.incrementality.at("deep_dormant"), 0.85);
  EXPECT_EQ(c.gross_margin_rate, 0.35);
  EXPECT_EQ(c.default_basket_value, 45);
  EXPECT_EQ(c.free_shipping_value, 4.5);
  RECSYS_EXPECT_OK(ValidateMarketingConfig(c));
  // Already complete: defaults change nothing.
  EXPECT_EQ(WithDefaults(c), c);

  EXPECT_TRUE(MessageDifferencer::Equals(ToProto(c), proto))
      << ToProto(c).DebugString();
  EXPECT_EQ(FromProto(ToProto(c)), c);
}

TEST(MarketingProtoTest, ZerosAreCopiedNotDefaulted) {
  // An empty proto config is all zeros; WithDefaults, not the conversion,
  // fills the defaults in, so zero and default mean the same thing.
  const MarketingConfig zero = FromProto(recsys::v1::MarketingConfig());
  EXPECT_EQ(zero.segments.dormant_days, 0);
  EXPECT_EQ(zero.gross_margin_rate, 0);
  EXPECT_EQ(WithDefaults(zero), WithDefaults(MarketingConfig()));
}

}  // namespace
}  // namespace recsys::marketing
