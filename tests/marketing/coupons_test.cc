#include "marketing/coupons.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "intelligence/config.h"
#include "tests/testing/status_matchers.h"

namespace recsys::marketing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

Coupon Valid(CouponType type) {
  Coupon c;
  c.id = "c1";
  c.type = type;
  switch (type) {
    case CouponType::kAmountOff:
      c.amount_off = 5;
      break;
    case CouponType::kPercentOff:
      c.percent_off = 15;
      c.max_discount = 20;
      break;
    case CouponType::kThreshold:
      c.amount_off = 10;
      c.threshold_spend = 50;
      break;
    default:
      break;
  }
  return c;
}

// The message of ValidateCoupon(coupon, "coupons[2]"), or "OK".
std::string Error(const Coupon& coupon) {
  const absl::Status s = ValidateCoupon(coupon, "coupons[2]");
  if (s.ok()) return "OK";
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  return std::string(s.message());
}

std::string Mutated(CouponType type,
                    const std::function<void(Coupon&)>& change) {
  Coupon c = Valid(type);
  change(c);
  return Error(c);
}

TEST(ValidateCouponTest, ValidCouponsOfEveryType) {
  for (auto type :
       {CouponType::kAmountOff, CouponType::kPercentOff,
        CouponType::kThreshold, CouponType::kFreeShipping}) {
    EXPECT_EQ(Error(Valid(type)), "OK") << static_cast<int>(type);
  }
}

TEST(ValidateCouponTest, Id) {
  EXPECT_EQ(
      Mutated(CouponType::kAmountOff, [](Coupon& c) { c.id.clear(); }),
      "coupons[2].id: must not be empty");
  EXPECT_THAT(
      Mutated(CouponType::kAmountOff,
              [](Coupon& c) { c.id = "a b"; }),
      StartsWith(
          "coupons[2].id: must be at most 128 bytes without whitespace"));
  EXPECT_THAT(Mutated(CouponType::kAmountOff,
                      [](Coupon& c) { c.id = std::string(129, 'x'); }),
              StartsWith("coupons[2].id:"));
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) { c.id = "WELCOME-10_a.b"; }),
            "OK");
}

TEST(ValidateCouponTest, Type) {
  EXPECT_EQ(Mutated(CouponType::kFreeShipping,
                    [](Coupon& c) {
                      c.type = CouponType::kUnspecified;
                    }),
            "coupons[2].type: must be set to a known coupon type, got 0");
  EXPECT_EQ(Mutated(CouponType::kFreeShipping,
                    [](Coupon& c) {
                      c.type = static_cast<CouponType>(9);
                    }),
            "coupons[2].type: must be set to a known coupon type, got 9");
}

TEST(ValidateCouponTest, PercentOff) {
  EXPECT_EQ(Mutated(CouponType::kPercentOff,
                    [](Coupon& c) { c.percent_off = 150; }),
            "coupons[2].percent_off: must be in (0, 100], got 150");
  EXPECT_EQ(Mutated(CouponType::kPercentOff,
                    [](Coupon& c) { c.percent_off = 0; }),
            "coupons[2].percent_off: must be in (0, 100], got 0");
  EXPECT_EQ(Mutated(CouponType::kPercentOff,
                    [](Coupon& c) { c.percent_off = 100; }),
            "OK");
  EXPECT_EQ(Mutated(CouponType::kPercentOff,
                    [](Coupon& c) { c.amount_off = 3; }),
            "coupons[2].amount_off: must be 0 for COUPON_PERCENT_OFF, got 3");
  EXPECT_EQ(Mutated(CouponType::kPercentOff,
                    [](Coupon& c) { c.max_discount = -1; }),
            "coupons[2].max_discount: must be >= 0, got -1");
  EXPECT_EQ(Mutated(CouponType::kPercentOff,
                    [](Coupon& c) { c.percent_off = std::nan(""); }),
            "coupons[2].percent_off: must be finite");
}

TEST(ValidateCouponTest, AmountOff) {
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) { c.amount_off = 0; }),
            "coupons[2].amount_off: must be > 0 for COUPON_AMOUNT_OFF");
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) { c.amount_off = -5; }),
            "coupons[2].amount_off: must be >= 0, got -5");
  EXPECT_THAT(Mutated(CouponType::kAmountOff,
                      [](Coupon& c) { c.amount_off = 0.001; }),
              StartsWith("coupons[2].amount_off: must be 0 or >= 0.01 (money "
                         "is kept in cents)"));
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) { c.amount_off = INFINITY; }),
            "coupons[2].amount_off: must be finite");
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) { c.percent_off = 10; }),
            "coupons[2].percent_off: must be 0 for COUPON_AMOUNT_OFF, got 10");
  EXPECT_EQ(
      Mutated(CouponType::kAmountOff,
              [](Coupon& c) { c.threshold_spend = 10; }),
      "coupons[2].threshold_spend: must be 0 for COUPON_AMOUNT_OFF, got 10");
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) { c.max_discount = 10; }),
            "coupons[2].max_discount: must be 0 for COUPON_AMOUNT_OFF, got 10");
}

TEST(ValidateCouponTest, Threshold) {
  EXPECT_EQ(Mutated(CouponType::kThreshold,
                    [](Coupon& c) { c.threshold_spend = 10; }),
            "coupons[2].threshold_spend: must be above amount_off (10) for "
            "COUPON_THRESHOLD, "
            "got 10");
  EXPECT_EQ(Mutated(CouponType::kThreshold,
                    [](Coupon& c) { c.amount_off = 0; }),
            "coupons[2].amount_off: must be > 0 for COUPON_THRESHOLD");
  EXPECT_EQ(Mutated(CouponType::kThreshold,
                    [](Coupon& c) { c.percent_off = 5; }),
            "coupons[2].percent_off: must be 0 for COUPON_THRESHOLD, got 5");
}

TEST(ValidateCouponTest, FreeShipping) {
  EXPECT_EQ(Mutated(CouponType::kFreeShipping,
                    [](Coupon& c) { c.amount_off = 5; }),
            "coupons[2].amount_off: must be 0 for COUPON_FREE_SHIPPING, got 5");
  EXPECT_EQ(
      Mutated(CouponType::kFreeShipping,
              [](Coupon& c) { c.threshold_spend = 5; }),
      "coupons[2].threshold_spend: must be 0 for COUPON_FREE_SHIPPING, got 5");
}

TEST(ValidateCouponTest, Scope) {
  EXPECT_THAT(
      Mutated(CouponType::kAmountOff,
              [](Coupon& c) { c.scope.categories.push_back("bakery"); }),
      StartsWith(
          "coupons[2].scope: SCOPE_ALL takes no categories or item_ids"));
  EXPECT_EQ(
      Mutated(CouponType::kAmountOff,
              [](Coupon& c) {
                c.scope.kind = CouponScope::Kind::kCategories;
              }),
      "coupons[2].scope.categories: must not be empty for SCOPE_CATEGORIES");
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) {
                      c.scope.kind = CouponScope::Kind::kItems;
                    }),
            "coupons[2].scope.item_ids: must not be empty for SCOPE_ITEMS");
  EXPECT_EQ(
      Mutated(CouponType::kAmountOff,
              [](Coupon& c) {
                c.scope.kind = CouponScope::Kind::kCategories;
                c.scope.categories.push_back("bakery");
                c.scope.categories.push_back("");
              }),
      "coupons[2].scope.categories[1]: must not be empty");
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) {
                      c.scope.kind = CouponScope::Kind::kItems;
                      c.scope.item_ids.push_back("i1");
                      c.scope.item_ids.push_back("i1");
                    }),
            "coupons[2].scope.item_ids[1]: duplicate 'i1'");
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) {
                      c.scope.kind = CouponScope::Kind::kItems;
                      c.scope.item_ids.push_back("i1");
                      c.scope.categories.push_back("bakery");
                    }),
            "coupons[2].scope.categories: must be empty for SCOPE_ITEMS");
  EXPECT_EQ(
      Mutated(CouponType::kAmountOff,
              [](Coupon& c) {
                c.scope.kind = CouponScope::Kind::kCategories;
                c.scope.categories.push_back("bakery");
              }),
      "OK");
}

TEST(ValidateCouponTest, Eligibility) {
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) {
                      c.eligibility.segments.push_back("dormnt");
                    }),
            "coupons[2].eligibility.segments[0]: unknown segment 'dormnt' "
            "(expected one of "
            "core, potential, new, at_risk, dormant, deep_dormant)");
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) {
                      c.eligibility.tiers.push_back("gold");
                      c.eligibility.tiers.push_back("platinum");
                    }),
            "coupons[2].eligibility.tiers[1]: unknown tier 'platinum' "
            "(expected one of none, "
            "silver, gold, black)");
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) {
                      c.eligibility.segments.push_back("dormant");
                      c.eligibility.segments.push_back("dormant");
                    }),
            "coupons[2].eligibility.segments[1]: duplicate 'dormant'");
  EXPECT_EQ(
      Mutated(CouponType::kAmountOff,
              [](Coupon& c) { c.eligibility.segments.push_back(""); }),
      "coupons[2].eligibility.segments[0]: must not be empty");
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) {
                      c.eligibility.growth_tiers = {"platinum", "platinum"};
                    }),
            "coupons[2].eligibility.growth_tiers[1]: duplicate 'platinum'");
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) { c.eligibility.tags = {"runner", ""}; }),
            "coupons[2].eligibility.tags[1]: must not be empty");
}

TEST(ValidateCouponTest, ValidityWindow) {
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) {
                      c.valid_from_unix = 2000;
                      c.valid_until_unix = 1000;
                    }),
            "coupons[2].valid_until_unix: must be after valid_from_unix "
            "(2000), got 1000");
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) {
                      c.valid_from_unix = 2000;
                      c.valid_until_unix = 2000;
                    }),
            "coupons[2].valid_until_unix: must be after valid_from_unix "
            "(2000), got 2000");
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) { c.valid_from_unix = -1; }),
            "coupons[2].valid_from_unix: must be >= 0, got -1");
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) { c.valid_until_unix = -1; }),
            "coupons[2].valid_until_unix: must be >= 0, got -1");
  // Open on either side.
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) { c.valid_until_unix = 10; }),
            "OK");
}

TEST(ValidateCouponTest, BudgetsAndCap) {
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) { c.budget_count = -1; }),
            "coupons[2].budget_count: must be >= 0 (0 = unlimited), got -1");
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) { c.budget_money = -10; }),
            "coupons[2].budget_money: must be >= 0, got -10");
  EXPECT_EQ(Mutated(CouponType::kAmountOff,
                    [](Coupon& c) { c.per_user_cap = -2; }),
            "coupons[2].per_user_cap: must be >= 0 (0 = unlimited), got -2");
  EXPECT_THAT(Mutated(CouponType::kAmountOff,
                      [](Coupon& c) { c.campaign = "win back"; }),
              StartsWith("coupons[2].campaign: must be at most 128 bytes"));
}

TEST(ValidateCatalogTest, DuplicateIdsAndIndexes) {
  CouponCatalog catalog;
  catalog.coupons.push_back(Valid(CouponType::kAmountOff));
  catalog.coupons.push_back(Valid(CouponType::kFreeShipping));
  catalog.coupons[1].id = "c2";
  RECSYS_EXPECT_OK(ValidateCatalog(catalog));
  catalog.coupons.push_back(Valid(CouponType::kPercentOff));
  EXPECT_EQ(ValidateCatalog(catalog).message(),
            "coupons[2].id: duplicate id 'c1' (also coupons[0])");
  catalog.coupons[2].id = "c3";
  catalog.coupons[2].percent_off = 150;
  EXPECT_EQ(ValidateCatalog(catalog).message(),
            "coupons[2].percent_off: must be in (0, 100], got 150");
  RECSYS_EXPECT_OK(ValidateCatalog(CouponCatalog()));
}

TEST(ParseCouponCatalogTest, TextFormatAndErrors) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      CouponCatalog catalog, ParseCouponCatalog(R"pb(
        coupons {
          id: "WELCOME10"
          type: COUPON_AMOUNT_OFF
          amount_off: 10
          eligibility { first_order_only: true segments: "new" }
          scope { kind: SCOPE_CATEGORIES categories: "coffee_tea" }
        }
      )pb"));
  ASSERT_EQ(catalog.coupons.size(), 1);
  EXPECT_EQ(catalog.coupons[0].scope.categories[0], "coffee_tea");

  absl::StatusOr<CouponCatalog> bad = ParseCouponCatalog(
      "coupons {\n  id: \"x\"\n  typ: 1\n}\n", "coupons.textproto");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()),
              StartsWith("coupons.textproto: line 3, column 6:"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("typ"));

  bad = ParseCouponCatalog(
      "coupons { id: \"x\" type: COUPON_PERCENT_OFF percent_off: 150 }",
      "coupons.textproto");
  EXPECT_EQ(bad.status().message(),
            "coupons.textproto: coupons[0].percent_off: must be in (0, 100], "
            "got 150");
}

TEST(MarketingConfigTest, DefaultsApplied) {
  const MarketingConfig c = WithDefaults(MarketingConfig());
  EXPECT_EQ(c.segments.at_risk_days, 45);
  EXPECT_EQ(c.segments.dormant_days, 90);
  EXPECT_EQ(c.segments.deep_dormant_days, 180);
  EXPECT_EQ(c.segments.new_days, 30);
  EXPECT_EQ(c.segments.new_max_orders, 1);
  EXPECT_EQ(c.segments.core_min_score, 4);
  EXPECT_EQ(c.tiers.silver, MarketingDefaults::kSilver);
  EXPECT_EQ(c.tiers.gold, MarketingDefaults::kGold);
  EXPECT_EQ(c.tiers.black, MarketingDefaults::kBlack);
  EXPECT_EQ(c.tiers.trailing_days, 365);
  EXPECT_DOUBLE_EQ(c.gross_margin_rate, 0.3);
  EXPECT_DOUBLE_EQ(c.default_basket_value, 40);
  EXPECT_DOUBLE_EQ(c.free_shipping_value, 5);
  EXPECT_EQ(c.incrementality.size(), kNumSegments);
  EXPECT_DOUBLE_EQ(IncrementalityPrior(c, Segment::kCore), 0.1);
  EXPECT_DOUBLE_EQ(IncrementalityPrior(c, Segment::kDeepDormant), 0.8);
  RECSYS_EXPECT_OK(ValidateMarketingConfig(c));

  MarketingConfig partial;
  partial.incrementality["core"] = 0;  // an explicit 0 is kept
  partial.segments.dormant_days = 100;
  const MarketingConfig p = WithDefaults(partial);
  EXPECT_DOUBLE_EQ(IncrementalityPrior(p, Segment::kCore), 0);
  EXPECT_DOUBLE_EQ(IncrementalityPrior(p, Segment::kDormant), 0.7);
  EXPECT_EQ(p.segments.dormant_days, 100);
}

std::string ConfigError(const std::function<void(MarketingConfig&)>& change) {
  MarketingConfig c;
  change(c);
  const absl::Status s = ValidateMarketingConfig(WithDefaults(c));
  return s.ok() ? "OK" : std::string(s.message());
}

TEST(MarketingConfigTest, Validation) {
  EXPECT_EQ(ConfigError([](MarketingConfig& c) {
              c.segments.dormant_days = -3;
            }),
            "segments.dormant_days: must be >= 1, got -3");
  EXPECT_EQ(ConfigError([](MarketingConfig& c) {
              c.segments.at_risk_days = 90;
            }),
            "segments.at_risk_days: must be below dormant_days (90), got 90");
  EXPECT_EQ(
      ConfigError([](MarketingConfig& c) {
        c.segments.dormant_days = 180;
      }),
      "segments.dormant_days: must be below deep_dormant_days (180), got 180");
  EXPECT_EQ(ConfigError([](MarketingConfig& c) {
              c.segments.core_min_score = 6;
            }),
            "segments.core_min_score: must be in [1, 5], got 6");
  EXPECT_EQ(ConfigError([](MarketingConfig& c) {
              c.segments.new_days = -1;
            }),
            "segments.new_days: must be >= 1, got -1");
  EXPECT_EQ(
      ConfigError([](MarketingConfig& c) { c.tiers.gold = 100; }),
      "tiers.gold: must be above silver (500), got 100");
  EXPECT_EQ(ConfigError(
                [](MarketingConfig& c) { c.tiers.black = 1000; }),
            "tiers.black: must be above gold (1500), got 1000");
  EXPECT_EQ(ConfigError(
                [](MarketingConfig& c) { c.tiers.silver = -1; }),
            "tiers.silver: must be >= 0, got -1");
  EXPECT_EQ(ConfigError([](MarketingConfig& c) {
              c.tiers.trailing_days = -1;
            }),
            "tiers.trailing_days: must be >= 1, got -1");
  EXPECT_EQ(ConfigError([](MarketingConfig& c) {
              c.incrementality["vip"] = 0.5;
            }),
            "incrementality[\"vip\"]: unknown segment 'vip' (expected one of "
            "core, potential, "
            "new, at_risk, dormant, deep_dormant)");
  EXPECT_EQ(ConfigError([](MarketingConfig& c) {
              c.incrementality["dormant"] = 1.5;
            }),
            "incrementality[\"dormant\"]: must be in [0, 1], got 1.5");
  EXPECT_EQ(
      ConfigError([](MarketingConfig& c) { c.gross_margin_rate = 1.2; }),
      "gross_margin_rate: must be in (0, 1], got 1.2");
  EXPECT_EQ(
      ConfigError([](MarketingConfig& c) { c.default_basket_value = -5; }),
      "default_basket_value: must be >= 0, got -5");
  EXPECT_EQ(
      ConfigError([](MarketingConfig& c) { c.free_shipping_value = -5; }),
      "free_shipping_value: must be >= 0, got -5");
  EXPECT_EQ(ConfigError([](MarketingConfig&) {}), "OK");
}

TEST(MarketingConfigTest, ParseAppliesDefaults) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      MarketingConfig c,
      ParseMarketingConfig(
          "segments { dormant_days: 60 }\nincrementality { key: \"core\" "
          "value: 0.05 }\n"));
  EXPECT_EQ(c.segments.dormant_days, 60);
  EXPECT_EQ(c.segments.deep_dormant_days, 180);
  EXPECT_DOUBLE_EQ(IncrementalityPrior(c, Segment::kCore), 0.05);
  absl::StatusOr<MarketingConfig> bad = ParseMarketingConfig(
      "segments { dormant_days: 600 }", "marketing.textproto");
  EXPECT_EQ(bad.status().message(),
            "marketing.textproto: segments.dormant_days: must be below "
            "deep_dormant_days "
            "(180), got 600");
  bad = ParseMarketingConfig("segments {", "m");
  EXPECT_THAT(std::string(bad.status().message()),
              StartsWith("m: line 1, column"));
}

TEST(ShippedFilesTest, DeployCatalogAndConfigParse) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      CouponCatalog catalog,
      LoadCouponCatalog(RECSYS_DEPLOY_DIR "/coupons.textproto"));
  EXPECT_GE(catalog.coupons.size(), 4);
  bool first_order = false, win_back = false, threshold = false,
       shipping = false;
  for (const Coupon& c : catalog.coupons) {
    first_order |= c.eligibility.first_order_only;
    for (const std::string& s : c.eligibility.segments)
      win_back |= s == "deep_dormant";
    threshold |= c.type == CouponType::kThreshold;
    shipping |= c.type == CouponType::kFreeShipping;
  }
  EXPECT_TRUE(first_order && win_back && threshold && shipping);
  // Growth tiers named by coupons exist in the shipped intelligence config.
  RECSYS_ASSERT_OK_AND_ASSIGN(
      intelligence::IntelligenceConfig intel,
      intelligence::LoadIntelligenceConfig(RECSYS_DEPLOY_DIR "/intelligence.textproto"));
  int tier_only = 0;
  for (const Coupon& c : catalog.coupons) {
    tier_only += !c.eligibility.growth_tiers.empty();
    for (const std::string& tier : c.eligibility.growth_tiers) {
      EXPECT_TRUE(std::any_of(intel.growth_tiers.begin(), intel.growth_tiers.end(),
                              [&](const intelligence::GrowthTier& g) { return g.name == tier; }))
          << c.id << ": " << tier;
    }
  }
  EXPECT_GE(tier_only, 1);
  RECSYS_ASSERT_OK_AND_ASSIGN(
      MarketingConfig config,
      LoadMarketingConfig(RECSYS_DEPLOY_DIR "/marketing.textproto"));
  RECSYS_EXPECT_OK(ValidateMarketingConfig(config));
  EXPECT_EQ(LoadCouponCatalog("/nonexistent/coupons.textproto").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(DiscountTest, EveryType) {
  Coupon amount = Valid(CouponType::kAmountOff);  // 5.00 off
  EXPECT_EQ(DiscountCents(amount, 4000, 500), 500);
  EXPECT_EQ(DiscountCents(amount, 300, 500), 300);  // never above the order
  Coupon percent = Valid(CouponType::kPercentOff);  // 15%, max 20.00
  EXPECT_EQ(DiscountCents(percent, 10000, 500), 1500);
  EXPECT_EQ(DiscountCents(percent, 3333, 500), 499);    // 499.95 rounded down
  EXPECT_EQ(DiscountCents(percent, 50000, 500), 2000);  // capped
  percent.max_discount = 0;
  EXPECT_EQ(DiscountCents(percent, 50000, 500), 7500);
  Coupon threshold = Valid(CouponType::kThreshold);  // 10 off 50
  EXPECT_EQ(DiscountCents(threshold, 4999, 500), -1);
  EXPECT_EQ(DiscountCents(threshold, 5000, 500), 1000);
  EXPECT_EQ(DiscountCents(Valid(CouponType::kFreeShipping), 100, 495),
            495);
  EXPECT_EQ(ToCents(19.99), 1999);
  EXPECT_EQ(ToCents(0.1 + 0.2), 30);
  EXPECT_DOUBLE_EQ(FromCents(1999), 19.99);
}

}  // namespace
}  // namespace recsys::marketing
