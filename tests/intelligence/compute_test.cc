#include "intelligence/compute.h"

#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace recsys::intelligence {
namespace {

using ::recsys::Rng;
using ::testing::ElementsAre;

constexpr int64_t kT = 1700000000;
constexpr int64_t kDay = 86400;

Activity Buy(absl::string_view user, absl::string_view item,
             absl::string_view category, int day, double price) {
  return {std::string(user),
          std::string(item),
          std::string(category),
          kT + day * kDay,
          ActivityKind::kPurchase,
          1,
          price};
}

Activity View(absl::string_view user, absl::string_view item,
              absl::string_view category, int day) {
  return {std::string(user),
          std::string(item),
          std::string(category),
          kT + day * kDay,
          ActivityKind::kView,
          0,
          0};
}

const UserIntel& Find(const IntelResult& result, absl::string_view id) {
  for (const UserIntel& u : result.users) {
    if (u.user_id == id) return u;
  }
  ADD_FAILURE() << "no user " << id;
  return result.users[0];
}

// u1 buys coffee A on days 0, 10, 20; u2 on days 0 and 30 (the second at a
// discount); u3 buys tea B on day 5 and views coffee on day 25. As of day 30.
IntelBuilder SmallShop() {
  IntelBuilder b;
  b.Add(Buy("u1", "A", "coffee", 0, 10));
  b.Add(Buy("u1", "A", "coffee", 10, 10));
  b.Add(Buy("u1", "A", "coffee", 20, 10));
  b.Add(Buy("u2", "A", "coffee", 0, 10));
  b.Add(Buy("u2", "A", "coffee", 30, 8));
  b.Add(Buy("u3", "B", "tea", 5, 4));
  b.Add(View("u3", "A", "coffee", 25));
  return b;
}

IntelligenceConfig SmallConfig() {
  IntelligenceConfig c;
  c.tags.push_back({.name = "coffee_regular",
                    .category = "coffee",
                    .min_purchases = 3,
                    .within_days = 60});
  c.tags.push_back({.name = "coffee_fan",
                    .max_days_since_purchase = 15,
                    .all_of = {"coffee_regular"}});
  c.tags.push_back({.name = "bargain_hunter", .min_discount_share = 0.5});
  c.growth_order_weight = 1;
  c.growth_tiers = {{"silver", 0}, {"gold", 25}};
  return c;
}

TEST(IntelBuilderTest, CyclesOnAHandComputedShop) {
  IntelBuilder b = SmallShop();
  RECSYS_ASSERT_OK_AND_ASSIGN(IntelResult r, b.Build(SmallConfig()));
  EXPECT_EQ(r.as_of_unix, kT + 30 * kDay);
  ASSERT_EQ(r.users.size(), 3u);
  // Order intervals: u1 {10, 10}, u2 {30}: prior = median {10, 10, 30} = 10.
  // u1: (20 + 2 * 10) / 4 = 10, next = day 20 + 10.
  const UserIntel& u1 = Find(r, "u1");
  EXPECT_DOUBLE_EQ(u1.cycle_days, 10);
  EXPECT_EQ(u1.next_purchase_unix, kT + 30 * kDay);
  // u2: (30 + 20) / 3 = 16.67 days after day 30.
  const UserIntel& u2 = Find(r, "u2");
  EXPECT_NEAR(u2.cycle_days, 50.0 / 3, 1e-9);
  EXPECT_EQ(u2.next_purchase_unix,
            kT + 30 * kDay + std::llround(50.0 / 3 * kDay));
  // u3: no interval of its own: the prior, after day 5.
  const UserIntel& u3 = Find(r, "u3");
  EXPECT_DOUBLE_EQ(u3.cycle_days, 10);
  EXPECT_EQ(u3.next_purchase_unix, kT + 15 * kDay);
  // Item A's intervals {10, 10, 30}: prior 10. u1's A is due on day 30.
  ASSERT_EQ(u1.due_items.size(), 1u);
  EXPECT_EQ(u1.due_items[0].item_id, "A");
  EXPECT_EQ(u1.due_items[0].due_unix, kT + 30 * kDay);
  ASSERT_EQ(u2.due_items.size(), 1u);
  EXPECT_NEAR(u2.due_items[0].cycle_days, 50.0 / 3, 1e-9);
  // B has no intervals: the global item prior (10) makes it due on day 15,
  // overdue by more than a cycle at day 30: left out.
  EXPECT_TRUE(u3.due_items.empty());
}

TEST(IntelBuilderTest, OnUserReceivesTheSameRecordsInsteadOfTheList) {
  IntelBuilder b = SmallShop();
  RECSYS_ASSERT_OK_AND_ASSIGN(IntelResult kept, b.Build(SmallConfig()));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string want, IntelToTsv(kept.users));
  std::string got(IntelTsvHeader());
  ComputeOptions options;
  options.on_user = [&got](UserIntel&& u) { ASSERT_TRUE(AppendIntelTsvLine(u, &got).ok()); };
  RECSYS_ASSERT_OK_AND_ASSIGN(IntelResult streamed, b.Build(SmallConfig(), options));
  EXPECT_TRUE(streamed.users.empty());
  EXPECT_EQ(got, want);
  EXPECT_EQ(streamed.as_of_unix, kept.as_of_unix);
  EXPECT_EQ(streamed.intent.fitted, kept.intent.fitted);
}

TEST(IntelBuilderTest, AffinitiesPriceGrowthAndTags) {
  IntelBuilder b = SmallShop();
  RECSYS_ASSERT_OK_AND_ASSIGN(IntelResult r, b.Build(SmallConfig()));
  const UserIntel& u1 = Find(r, "u1");
  const UserIntel& u2 = Find(r, "u2");
  const UserIntel& u3 = Find(r, "u3");
  // u3: tea bought 25 days before as_of (weight 2^(-25/90)), coffee viewed
  // 5 days before (0.1 * 2^(-5/90)).
  const double tea = std::exp2(-25.0 / 90), coffee = 0.1 * std::exp2(-5.0 / 90);
  ASSERT_EQ(u3.affinities.size(), 2u);
  EXPECT_EQ(u3.affinities[0].first, "tea");
  EXPECT_NEAR(u3.affinities[0].second, tea / (tea + coffee), 1e-12);
  EXPECT_NEAR(u3.affinities[1].second, coffee / (tea + coffee), 1e-12);
  // Item A's median price is 10 (10, 10, 10, 10, 8), the only coffee item:
  // level 1. u2 paid 8 <= 0.9 * 10 once of twice.
  EXPECT_DOUBLE_EQ(u2.relative_price_level, 1);
  EXPECT_DOUBLE_EQ(u2.discount_share, 0.5);
  EXPECT_DOUBLE_EQ(u1.discount_share, 0);
  // Growth: spend + 1 per order. u1 30 + 3 = 33 (gold); u2 18 + 2 = 20.
  EXPECT_DOUBLE_EQ(u1.growth_value, 33);
  EXPECT_EQ(u1.growth_tier, "gold");
  EXPECT_DOUBLE_EQ(u2.growth_value, 20);
  EXPECT_EQ(u2.growth_tier, "silver");
  // Tags: rules (with a reference) and learned ones, sorted.
  EXPECT_THAT(u1.tags,
              ElementsAre("coffee_fan", "coffee_regular", "likes:coffee"));
  EXPECT_THAT(u2.tags, ElementsAre("bargain_hunter", "likes:coffee"));
  EXPECT_THAT(u3.tags, ElementsAre("likes:tea"));
  // Too little history for the intent model (every user bought again).
  EXPECT_FALSE(r.intent.fitted);
  EXPECT_EQ(u1.purchase_intent, -1);
  EXPECT_EQ(u1.churn_risk, 0);
  EXPECT_EQ(r.categories, (std::vector<std::string>{"coffee", "tea"}));
}

TEST(IntelBuilderTest, RefusesATagOfAnUnknownCategory) {
  IntelBuilder b = SmallShop();
  IntelligenceConfig c = SmallConfig();
  c.tags[0].category = "cofee";
  EXPECT_EQ(b.Build(c).status().message(),
            "tag[0].category: unknown category 'cofee'");
}

TEST(IntelBuilderTest, AsOfIgnoresLaterActivity) {
  IntelBuilder b = SmallShop();
  RECSYS_ASSERT_OK_AND_ASSIGN(
      IntelResult r, b.Build(SmallConfig(), {.as_of_unix = kT + 12 * kDay}));
  // u3 had no activity by day 12... it bought on day 5: present; u1 had 2
  // orders (days 0, 10); the coffee view on day 25 does not count.
  const UserIntel& u3 = Find(r, "u3");
  ASSERT_EQ(u3.affinities.size(), 1u);
  EXPECT_EQ(u3.affinities[0].first, "tea");
  EXPECT_DOUBLE_EQ(Find(r, "u1").growth_value, 22);
}

// Users buy in a week with probability q in {0.05, 0.2, 0.5, 0.9}, every
// week of a year (seeded). The chance of an order within the 30-day horizon
// is 1 - (1 - q)^(30/7); the calibrated intent of each group must be close
// to it, and the model must rank the groups.
TEST(IntelBuilderTest, IntentIsCalibratedOnASimulatedShop) {
  const double q[] = {0.05, 0.2, 0.5, 0.9};
  Rng rng(42);
  IntelBuilder b;
  for (int u = 0; u < 2000; ++u) {
    const std::string id = absl::StrCat("g", u % 4, "_", u);
    for (int week = 0; week < 52; ++week) {
      if (rng.Bernoulli(q[u % 4])) {
        b.Add(Buy(id, "A", "coffee",
                  week * 7 + static_cast<int>(rng.UniformModulo(7)), 10));
      }
    }
  }
  RECSYS_ASSERT_OK_AND_ASSIGN(IntelResult r,
                              b.Build({}, {.as_of_unix = kT + 364 * kDay}));
  ASSERT_TRUE(r.intent.fitted);
  EXPECT_GT(r.intent.calibration_users, 250);
  EXPECT_GT(r.intent.calibration_auc, 0.75);
  EXPECT_LT(r.intent.calibration_ece, 0.08);
  double mean[4] = {0, 0, 0, 0};
  int n[4] = {0, 0, 0, 0};
  for (const UserIntel& u : r.users) {
    const int g = u.user_id[1] - '0';
    ASSERT_GE(u.purchase_intent, 0);
    ASSERT_LE(u.purchase_intent, 1);
    mean[g] += u.purchase_intent;
    ++n[g];
  }
  for (int g = 0; g < 4; ++g) {
    mean[g] /= n[g];
    const double truth = 1 - std::pow(1 - q[g], 30.0 / 7);
    EXPECT_NEAR(mean[g], truth, 0.12) << "group " << g;
    if (g > 0) {
      EXPECT_GT(mean[g], mean[g - 1]);
    }
  }
}

// A shop where customers stop for good (hazard 3% a week) and buy in a
// week with probability 0.9 or 0.3 while active, so a long gap means a lost
// customer. Group "x": weekly buyers who stop on day 329, 5 days before
// t0 = as_of - 30: their intent was high a horizon ago and has fallen, and
// their churn risk (value percentile x relative fall of intent) must stand
// out against that of weekly buyers still buying.
TEST(IntelBuilderTest, ChurnRiskIsPastValueTimesFallOfIntent) {
  Rng rng(7);
  IntelBuilder b;
  for (int u = 0; u < 1600; ++u) {
    const bool stopper = u % 8 == 0;
    const bool weekly = u % 2 == 0;
    const std::string id =
        absl::StrCat(stopper ? "x" : (weekly ? "w" : "s"), u);
    int last_week = 52;
    if (stopper) {
      last_week = 47;
    } else {
      for (int week = 0; week < 52; ++week) {
        if (rng.Bernoulli(0.03)) {
          last_week = week;
          break;
        }
      }
    }
    for (int week = 0; week <= last_week && week < 52; ++week) {
      if (stopper || rng.Bernoulli(weekly ? 0.9 : 0.3)) {
        b.Add(Buy(id, "A", "coffee", week * 7, 20));
      }
    }
  }
  RECSYS_ASSERT_OK_AND_ASSIGN(IntelResult r,
                              b.Build({}, {.as_of_unix = kT + 364 * kDay}));
  ASSERT_TRUE(r.intent.fitted);
  EXPECT_GT(r.intent.calibration_auc, 0.8);
  double stopped = 0, buying = 0;
  int n_stopped = 0, n_buying = 0;
  for (const UserIntel& u : r.users) {
    ASSERT_GE(u.churn_risk, 0);
    ASSERT_LE(u.churn_risk, 1);
    if (u.user_id[0] == 'x') {
      stopped += u.churn_risk;
      ++n_stopped;
    } else if (u.user_id[0] == 'w' && u.next_purchase_unix >= kT + 350 * kDay) {
      buying += u.churn_risk;  // weekly buyers with an order in the last days
      ++n_buying;
    }
  }
  ASSERT_EQ(n_stopped, 200);
  ASSERT_GT(n_buying, 100);
  stopped /= n_stopped;
  buying /= n_buying;
  EXPECT_GT(stopped, 0.2);
  EXPECT_GT(stopped, 3 * buying);
}

}  // namespace
}  // namespace recsys::intelligence
