#include "marketing/coupon_ranking.h"

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "marketing/coupons.h"
#include "tests/testing/status_matchers.h"

namespace recsys::marketing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1700000000;
const absl::Time kAt = absl::FromUnixSeconds(kNow);

CouponWithState Entry(Coupon c, int64_t redeemed = 0, double spent = 0) {
  CouponWithState e;
  e.coupon = c;
  e.state = MakeCouponState(c, redeemed, redeemed, ToCents(spent));
  return e;
}

Coupon AmountOff(absl::string_view id, double amount) {
  Coupon c;
  c.id = std::string(id);
  c.type = CouponType::kAmountOff;
  c.amount_off = amount;
  return c;
}

Coupon PercentOff(absl::string_view id, double percent, double max = 0) {
  Coupon c;
  c.id = std::string(id);
  c.type = CouponType::kPercentOff;
  c.percent_off = percent;
  c.max_discount = max;
  return c;
}

CustomerInfo Customer(Segment segment, Tier tier = Tier::kNone, int orders = 5,
                      double aov = 50) {
  CustomerInfo c;
  c.segment = segment;
  c.tier = tier;
  c.orders = orders;
  c.recency_days = 120;
  c.average_order_value = aov;
  return c;
}

PropensityFn Constant(double p) {
  return [p](const Coupon&) { return p; };
}

std::vector<std::string> Ids(const std::vector<RankedCoupon>& ranked) {
  std::vector<std::string> ids;
  for (const RankedCoupon& r : ranked) ids.push_back(r.coupon_id);
  return ids;
}

std::vector<RankedCoupon> MustRank(
    const std::vector<CouponWithState>& coupons, const CustomerInfo& customer,
    const PropensityFn& propensity = Constant(0.5),
    const std::vector<UserCouponCounts>& counts = {}, int max_results = 0) {
  absl::StatusOr<std::vector<RankedCoupon>> ranked =
      RankCoupons(coupons, customer, counts, kAt, {}, propensity, max_results);
  EXPECT_TRUE(ranked.ok()) << ranked.status();
  return ranked.ok() ? *ranked : std::vector<RankedCoupon>{};
}

absl::Status Eligible(const CouponWithState& coupon,
                      const CustomerInfo& customer,
                      UserCouponCounts counts = {}, absl::Time now = kAt) {
  return CheckEligible(coupon, customer, counts, now, WithDefaults({}));
}

TEST(CheckEligibleTest, ValidityWindow) {
  Coupon c = AmountOff("w", 5);
  c.valid_from_unix = kNow - 10;
  c.valid_until_unix = kNow + 10;
  const CustomerInfo who = Customer(Segment::kPotential);
  RECSYS_EXPECT_OK(Eligible(Entry(c), who));
  RECSYS_EXPECT_OK(
      Eligible(Entry(c), who, {}, absl::FromUnixSeconds(kNow - 10)));
  const absl::Status early =
      Eligible(Entry(c), who, {}, absl::FromUnixSeconds(kNow - 11));
  EXPECT_EQ(early.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(early.message()), HasSubstr("not valid before"));
  const absl::Status late =
      Eligible(Entry(c), who, {}, absl::FromUnixSeconds(kNow + 10));
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(late.message()), HasSubstr("expired"));
}

TEST(CheckEligibleTest, SegmentsTiersAndFirstOrder) {
  Coupon c = AmountOff("c", 5);
  c.eligibility.segments.push_back("dormant");
  c.eligibility.segments.push_back("deep_dormant");
  RECSYS_EXPECT_OK(Eligible(Entry(c), Customer(Segment::kDormant)));
  RECSYS_EXPECT_OK(Eligible(Entry(c), Customer(Segment::kDeepDormant)));
  EXPECT_THAT(
      std::string(Eligible(Entry(c), Customer(Segment::kCore)).message()),
      HasSubstr("segment 'core' not eligible"));

  c.eligibility.segments.clear();
  c.eligibility.tiers.push_back("gold");
  RECSYS_EXPECT_OK(Eligible(Entry(c), Customer(Segment::kCore, Tier::kGold)));
  EXPECT_EQ(Eligible(Entry(c), Customer(Segment::kCore, Tier::kSilver)).code(),
            absl::StatusCode::kFailedPrecondition);

  c.eligibility.tiers.clear();
  c.eligibility.first_order_only = true;
  RECSYS_EXPECT_OK(Eligible(Entry(c), Customer(Segment::kNew, Tier::kNone, 0)));
  RECSYS_EXPECT_OK(Eligible(Entry(c), CustomerInfo()));
  EXPECT_THAT(
      std::string(Eligible(Entry(c), Customer(Segment::kNew, Tier::kNone, 1))
                      .message()),
      HasSubstr("first-order coupon"));
}

TEST(CheckEligibleTest, GrowthTierOnlyAndTagCoupons) {
  Coupon c = AmountOff("vip", 5);
  c.eligibility.growth_tiers = {"platinum", "diamond"};
  CustomerInfo who = Customer(Segment::kCore);
  who.growth_tier = "platinum";
  RECSYS_EXPECT_OK(Eligible(Entry(c), who));
  who.growth_tier = "silver";
  const absl::Status silver = Eligible(Entry(c), who);
  EXPECT_EQ(silver.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(silver.message()), HasSubstr("growth tier 'silver' not eligible"));
  // No intelligence record: no tier-only coupon.
  who.growth_tier.clear();
  EXPECT_THAT(std::string(Eligible(Entry(c), who).message()),
              HasSubstr("growth tier is unknown"));

  c.eligibility.growth_tiers.clear();
  c.eligibility.tags = {"fitness_enthusiast", "runner"};
  who.tags = {"likes:sports", "runner"};
  RECSYS_EXPECT_OK(Eligible(Entry(c), who));
  who.tags = {"likes:sports"};
  EXPECT_THAT(std::string(Eligible(Entry(c), who).message()),
              HasSubstr("none of the coupon's tags"));
  // Both conditions hold together.
  c.eligibility.growth_tiers = {"platinum"};
  who.tags = {"runner"};
  who.growth_tier = "gold";
  EXPECT_EQ(Eligible(Entry(c), who).code(), absl::StatusCode::kFailedPrecondition);
  who.growth_tier = "platinum";
  RECSYS_EXPECT_OK(Eligible(Entry(c), who));
}

TEST(CheckEligibleTest, BudgetsAndCap) {
  Coupon c = AmountOff("c", 5);
  c.budget_count = 3;
  const CustomerInfo who = Customer(Segment::kPotential);
  RECSYS_EXPECT_OK(Eligible(Entry(c, 2), who));
  EXPECT_EQ(Eligible(Entry(c, 3), who).code(),
            absl::StatusCode::kResourceExhausted);

  c.budget_count = 0;
  c.budget_money = 12;
  RECSYS_EXPECT_OK(Eligible(Entry(c, 1, 5), who));  // 7 left >= 5
  const absl::Status short_money =
      Eligible(Entry(c, 2, 10), who);  // 2 left < 5
  EXPECT_EQ(short_money.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(short_money.message()),
              HasSubstr("below the discount 5.00"));
  EXPECT_EQ(Eligible(Entry(c, 3, 12), who).code(),
            absl::StatusCode::kResourceExhausted);

  c.budget_money = 0;
  c.per_user_cap = 2;
  RECSYS_EXPECT_OK(Eligible(Entry(c), who, {.issued = 1}));
  EXPECT_EQ(Eligible(Entry(c), who, {.issued = 2}).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(RankCouponsTest, IneligibleCouponsAreNeverReturned) {
  Coupon expired = AmountOff("expired", 5);
  expired.valid_until_unix = kNow;
  Coupon future = AmountOff("future", 5);
  future.valid_from_unix = kNow + 1;
  Coupon no_count = AmountOff("no_count", 5);
  no_count.budget_count = 10;
  Coupon no_money = AmountOff("no_money", 5);
  no_money.budget_money = 20;
  Coupon capped = AmountOff("capped", 5);
  capped.per_user_cap = 1;
  Coupon wrong_segment = AmountOff("wrong_segment", 5);
  wrong_segment.eligibility.segments.push_back("core");
  Coupon wrong_tier = AmountOff("wrong_tier", 5);
  wrong_tier.eligibility.tiers.push_back("black");
  Coupon first = AmountOff("first", 5);
  first.eligibility.first_order_only = true;
  const std::vector<CouponWithState> coupons = {
      Entry(expired),         Entry(future), Entry(no_count, 10),
      Entry(no_money, 4, 20), Entry(capped), Entry(wrong_segment),
      Entry(wrong_tier),      Entry(first),  Entry(AmountOff("ok", 5))};
  std::vector<UserCouponCounts> counts(coupons.size());
  counts[4].issued = 1;
  const std::vector<RankedCoupon> ranked = MustRank(
      coupons, Customer(Segment::kDormant, Tier::kGold), Constant(0.5), counts);
  EXPECT_THAT(Ids(ranked), ElementsAre("ok"));
  // Without the issuance the capped coupon is back.
  EXPECT_THAT(Ids(MustRank(coupons, Customer(Segment::kDormant, Tier::kGold))),
              ElementsAre("capped", "ok"));
}

TEST(RankCouponsTest, OrderFollowsExpectedValue) {
  // Dormant customer: u = 0.7, margin 0.3, basket 50. With p = 0.5:
  //   5 off:   0.5 * (0.7 * 50 * 0.3 - 5)  = 2.75
  //   10% off: 0.5 * (10.5 - 5)            = 2.75 (ties with 5 off: id order)
  //   20 off:  0.5 * (10.5 - 20)           = -4.75
  //   1 off:   0.5 * (10.5 - 1)            = 4.75
  const std::vector<CouponWithState> coupons = {
      Entry(AmountOff("b_five", 5)), Entry(PercentOff("a_ten_percent", 10)),
      Entry(AmountOff("twenty", 20)), Entry(AmountOff("one", 1))};
  const std::vector<RankedCoupon> ranked =
      MustRank(coupons, Customer(Segment::kDormant));
  EXPECT_THAT(Ids(ranked),
              ElementsAre("one", "a_ten_percent", "b_five", "twenty"));
  EXPECT_DOUBLE_EQ(ranked[0].expected_value, 4.75);
  EXPECT_DOUBLE_EQ(ranked[1].expected_value, 2.75);
  EXPECT_DOUBLE_EQ(ranked[3].expected_value, -4.75);
  EXPECT_DOUBLE_EQ(ranked[0].incrementality, 0.7);
  EXPECT_DOUBLE_EQ(ranked[0].basket_value, 50);
  EXPECT_DOUBLE_EQ(ranked[0].discount, 1);
  EXPECT_DOUBLE_EQ(ranked[0].propensity, 0.5);

  // max_results keeps the best.
  EXPECT_THAT(
      Ids(MustRank(coupons, Customer(Segment::kDormant), Constant(0.5), {}, 2)),
      ElementsAre("one", "a_ten_percent"));
}

TEST(RankCouponsTest, PropensityAndIncrementalityMatter) {
  Coupon grocery = AmountOff("grocery", 3);
  grocery.scope.kind = CouponScope::Kind::kCategories;
  grocery.scope.categories.push_back("grocery");
  Coupon toys = AmountOff("toys", 3);
  toys.scope.kind = CouponScope::Kind::kCategories;
  toys.scope.categories.push_back("toys");
  const std::vector<CouponWithState> coupons = {Entry(toys), Entry(grocery)};
  auto by_scope = [](const Coupon& c) {
    return c.scope.categories[0] == "grocery" ? 0.8 : 0.1;
  };
  std::vector<RankedCoupon> ranked =
      MustRank(coupons, Customer(Segment::kDormant), by_scope);
  EXPECT_THAT(Ids(ranked), ElementsAre("grocery", "toys"));
  EXPECT_DOUBLE_EQ(ranked[0].expected_value, 0.8 * (0.7 * 50 * 0.3 - 3));

  // A core customer (u = 0.1) buys anyway: 0.1 * 50 * 0.3 = 1.5 < 3, so the
  // more likely purchase is the bigger loss.
  ranked = MustRank(coupons, Customer(Segment::kCore), by_scope);
  EXPECT_THAT(Ids(ranked), ElementsAre("toys", "grocery"));
  EXPECT_LT(ranked[1].expected_value, 0);

  // Propensities outside [0, 1] are clamped; NaN is 0.
  ranked = MustRank(coupons, Customer(Segment::kDormant), Constant(7));
  EXPECT_DOUBLE_EQ(ranked[0].propensity, 1);
  ranked =
      MustRank(coupons, Customer(Segment::kDormant), Constant(std::nan("")));
  EXPECT_DOUBLE_EQ(ranked[0].propensity, 0);
  EXPECT_DOUBLE_EQ(ranked[0].expected_value, 0);
}

TEST(RankCouponsTest, PriceSensitivityFromTheIntelligenceRecord) {
  // Typical or unknown figures: neutral.
  EXPECT_DOUBLE_EQ(PriceSensitivity(0.2, 1), 1);
  EXPECT_DOUBLE_EQ(PriceSensitivity(-1, -1), 1);
  EXPECT_DOUBLE_EQ(PriceSensitivity(std::nan(""), 0), 1);
  // Half the lines at a discount, typical prices: e^(2 * 0.3).
  EXPECT_NEAR(PriceSensitivity(0.5, 1), std::exp(0.6), 1e-12);
  // Never at a discount, items 30% dearer: e^(-0.4) / 1.3.
  EXPECT_NEAR(PriceSensitivity(0, 1.3), std::exp(-0.4) / 1.3, 1e-12);
  // Clamped to [1/4, 4].
  EXPECT_DOUBLE_EQ(PriceSensitivity(1, 0.1), 4);
  EXPECT_DOUBLE_EQ(PriceSensitivity(0, 10), 0.25);
}

// A price-sensitive customer values a discount more: u_f = 1 - (1 - u)^f.
TEST(RankCouponsTest, PriceSensitiveCustomersChangeTheRanking) {
  Coupon grocery = AmountOff("grocery", 3);
  grocery.scope.kind = CouponScope::Kind::kCategories;
  grocery.scope.categories.push_back("grocery");
  Coupon toys = AmountOff("toys", 3);
  toys.scope.kind = CouponScope::Kind::kCategories;
  toys.scope.categories.push_back("toys");
  const std::vector<CouponWithState> coupons = {Entry(toys), Entry(grocery)};
  auto by_scope = [](const Coupon& c) {
    return c.scope.categories[0] == "grocery" ? 0.8 : 0.1;
  };
  // A typical core customer (u = 0.1) buys anyway: every discount loses
  // money, the least likely one least.
  CustomerInfo core = Customer(Segment::kCore);
  std::vector<RankedCoupon> ranked = MustRank(coupons, core, by_scope);
  EXPECT_THAT(Ids(ranked), ElementsAre("toys", "grocery"));
  EXPECT_LT(ranked[0].expected_value, 0);
  EXPECT_DOUBLE_EQ(ranked[0].incrementality, 0.1);

  // The same segment, price-sensitive (f = 4): u_f = 1 - 0.9^4 = 0.3439,
  // so 0.3439 * 50 * 0.3 = 5.16 > 3: the coupon pays, the likelier first.
  core.price_sensitivity = 4;
  ranked = MustRank(coupons, core, by_scope);
  EXPECT_THAT(Ids(ranked), ElementsAre("grocery", "toys"));
  const double u4 = 1 - std::pow(0.9, 4);
  EXPECT_NEAR(ranked[0].incrementality, u4, 1e-12);
  EXPECT_DOUBLE_EQ(ranked[0].uplift.value, 0.1);  // before the adjustment
  EXPECT_NEAR(ranked[0].expected_value, 0.8 * (u4 * 50 * 0.3 - 3), 1e-12);
  EXPECT_GT(ranked[0].expected_value, 0);

  // A dormant customer (u = 0.7) who never needs a discount (f = 1/4):
  // u_f = 1 - 0.3^0.25 = 0.26, so 0.26 * 15 = 3.9 > 3 still pays, but less.
  CustomerInfo dormant = Customer(Segment::kDormant);
  const double typical = MustRank(coupons, dormant, by_scope)[0].expected_value;
  dormant.price_sensitivity = 0.25;
  ranked = MustRank(coupons, dormant, by_scope);
  EXPECT_THAT(Ids(ranked), ElementsAre("grocery", "toys"));
  EXPECT_NEAR(ranked[0].incrementality, 1 - std::pow(0.3, 0.25), 1e-12);
  EXPECT_LT(ranked[0].expected_value, typical);
  // Not a number, or not positive: neutral.
  dormant.price_sensitivity = std::nan("");
  EXPECT_DOUBLE_EQ(MustRank(coupons, dormant, by_scope)[0].expected_value,
                   typical);
}

// The measured uplift of a coupon's campaign replaces the segment's prior in
// the expected value, and each coupon says which incrementality it used.
TEST(RankCouponsTest, MeasuredUpliftReplacesThePriorPerCampaign) {
  Coupon measured = AmountOff("measured", 3);
  measured.campaign = "welcome";
  Coupon plain = AmountOff("plain", 3);
  const std::vector<CouponWithState> coupons = {Entry(measured), Entry(plain)};
  experiments::UpliftEstimate estimate;
  estimate.experiment = "welcome_holdout";
  estimate.incrementality = 0.9;
  estimate.standard_error = 0.01;  // 1.96·se <= 0.05: used alone
  IncrementalityFn uplift = [&](const Coupon& c, double prior) {
    return experiments::BlendIncrementality(
        prior, c.campaign == "welcome" ? &estimate : nullptr, {});
  };
  auto ranked = RankCoupons(coupons, Customer(Segment::kCore), {}, kAt,
                            MarketingConfig(), Constant(0.5), 0, uplift);
  ASSERT_TRUE(ranked.ok()) << ranked.status();
  ASSERT_EQ(ranked->size(), 2u);
  const RankedCoupon& first = (*ranked)[0];
  EXPECT_EQ(first.coupon_id, "measured");
  EXPECT_EQ(first.uplift.use, experiments::UpliftUse::kMeasured);
  EXPECT_DOUBLE_EQ(first.incrementality, 0.9);
  EXPECT_DOUBLE_EQ(first.uplift.prior, 0.1);  // core's prior
  EXPECT_EQ(first.uplift.experiment, "welcome_holdout");
  EXPECT_DOUBLE_EQ(first.expected_value, 0.5 * (0.9 * 50 * 0.3 - 3));
  const RankedCoupon& second = (*ranked)[1];
  EXPECT_EQ(second.uplift.use, experiments::UpliftUse::kPrior);
  EXPECT_DOUBLE_EQ(second.incrementality, 0.1);
  EXPECT_DOUBLE_EQ(second.expected_value, 0.5 * (0.1 * 50 * 0.3 - 3));

  // A wide interval: shrunk toward the prior by w = tau² / (tau² + se²).
  estimate.standard_error = 0.2;
  ranked = RankCoupons(coupons, Customer(Segment::kCore), {}, kAt,
                       MarketingConfig(), Constant(0.5), 0, uplift);
  ASSERT_TRUE(ranked.ok()) << ranked.status();
  const RankedCoupon& shrunk = (*ranked)[0];
  EXPECT_EQ(shrunk.uplift.use, experiments::UpliftUse::kShrunk);
  EXPECT_DOUBLE_EQ(shrunk.uplift.weight, 0.5);  // 0.04 / (0.04 + 0.04)
  EXPECT_DOUBLE_EQ(shrunk.incrementality, 0.5 * 0.9 + 0.5 * 0.1);
}

TEST(RankCouponsTest, ThresholdCouponLiftsTheBasket) {
  Coupon spend60 = AmountOff("spend60", 8);
  spend60.type = CouponType::kThreshold;
  spend60.threshold_spend = 60;
  // Potential customer, basket 40 -> 60 with the coupon, u = 0.3:
  //   EV = p * (0.3 * 60 * 0.3 + 0.7 * 20 * 0.3 - 8) = 0.5 * (5.4 + 4.2 - 8) =
  //   0.8
  const std::vector<RankedCoupon> ranked = MustRank(
      {Entry(spend60)}, Customer(Segment::kPotential, Tier::kNone, 3, 40));
  ASSERT_EQ(ranked.size(), 1u);
  EXPECT_DOUBLE_EQ(ranked[0].basket_value, 60);
  EXPECT_DOUBLE_EQ(ranked[0].discount, 8);
  EXPECT_NEAR(ranked[0].expected_value, 0.8, 1e-12);
}

TEST(RankCouponsTest, DefaultBasketAndFreeShipping) {
  Coupon ship;
  ship.id = "ship";
  ship.type = CouponType::kFreeShipping;
  // A customer without orders: basket = default 40, discount = shipping 5.
  const std::vector<RankedCoupon> ranked =
      MustRank({Entry(ship)}, CustomerInfo());
  ASSERT_EQ(ranked.size(), 1u);
  EXPECT_DOUBLE_EQ(ranked[0].basket_value, 40);
  EXPECT_DOUBLE_EQ(ranked[0].discount, 5);
  EXPECT_DOUBLE_EQ(ranked[0].expected_value, 0.5 * (0.5 * 40 * 0.3 - 5));
}

TEST(RankCouponsTest, Reasons) {
  Coupon first = AmountOff("first", 10);
  first.eligibility.first_order_only = true;
  Coupon recall = PercentOff("recall", 15, 25);
  recall.scope.kind = CouponScope::Kind::kCategories;
  recall.scope.categories.push_back("coffee_tea");
  Coupon perk;
  perk.id = "perk";
  perk.type = CouponType::kFreeShipping;
  perk.description = "free shipping for members";

  std::vector<RankedCoupon> r = MustRank({Entry(first)}, CustomerInfo());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].reason, CouponReason::kFirstOrder);
  EXPECT_EQ(r[0].reason_text, "first order: 10.00 off");

  r = MustRank({Entry(recall)}, Customer(Segment::kDeepDormant));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].reason, CouponReason::kWinBack);
  EXPECT_EQ(
      r[0].reason_text,
      "win-back: 15% off (up to 25.00) on coffee_tea; last order 120 days ago");

  r = MustRank({Entry(perk)}, Customer(Segment::kCore, Tier::kGold));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].reason, CouponReason::kSegmentOffer);
  EXPECT_EQ(r[0].reason_text,
            "offer for core customers (gold tier): free shipping for members");
  EXPECT_EQ(CouponReasonName(CouponReason::kAffinity), "affinity");
  EXPECT_EQ(CouponReasonName(CouponReason::kWinBack), "win_back");
}

TEST(RankCouponsTest, CustomerInfoFromSegment) {
  UserSegment u;
  u.segment = Segment::kAtRisk;
  u.tier = Tier::kSilver;
  u.frequency = 4;
  u.monetary = 200;
  u.recency_days = 50;
  const CustomerInfo c = CustomerInfoFrom(u);
  EXPECT_EQ(c.segment, Segment::kAtRisk);
  EXPECT_EQ(c.tier, Tier::kSilver);
  EXPECT_EQ(c.orders, 4);
  EXPECT_EQ(c.recency_days, 50);
  EXPECT_DOUBLE_EQ(c.average_order_value, 50);
  EXPECT_EQ(CustomerInfo().segment, Segment::kNew);
}

TEST(RankCouponsTest, BadArguments) {
  const std::vector<CouponWithState> coupons = {Entry(AmountOff("a", 1))};
  const std::vector<UserCouponCounts> two(2);
  EXPECT_EQ(RankCoupons(coupons, CustomerInfo(), two, kAt, {}, Constant(0.5))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  MarketingConfig bad;
  bad.gross_margin_rate = 2;
  EXPECT_EQ(RankCoupons(coupons, CustomerInfo(), {}, kAt, bad, Constant(0.5))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RankCoupons(coupons, CustomerInfo(), {}, kAt, {}, Constant(0.5), -1)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recsys::marketing
