#include "intelligence/live_tags.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "intelligence/compute.h"
#include "tests/testing/status_matchers.h"

namespace recsys::intelligence {
namespace {

using ::testing::ElementsAre;

constexpr int64_t kT = 1700000000;
constexpr int64_t kDay = 86400;

TEST(IsLiveRuleTest, CategoryCountsAndTiersOnly) {
  EXPECT_TRUE(IsLiveRule({.name = "a",
                          .category = "sports",
                          .min_purchases = 3,
                          .within_days = 180}));
  EXPECT_TRUE(
      IsLiveRule({.name = "a", .category = "sports", .min_spend = 100}));
  EXPECT_TRUE(IsLiveRule({.name = "a", .category = "sports", .min_views = 5}));
  EXPECT_TRUE(IsLiveRule({.name = "a",
                          .category = "sports",
                          .min_purchases = 1,
                          .min_spend = 10,
                          .min_views = 2,
                          .growth_tiers = {"gold"}}));
  // No category, or no counted condition.
  EXPECT_FALSE(
      IsLiveRule({.name = "a", .within_days = 365, .min_spend = 1500}));
  EXPECT_FALSE(IsLiveRule({.name = "a", .category = "sports"}));
  EXPECT_FALSE(IsLiveRule({.name = "a", .growth_tiers = {"gold"}}));
  // Any condition an event cannot count.
  const TagRule base = {.name = "a", .category = "sports", .min_purchases = 2};
  TagRule r = base;
  r.max_days_since_purchase = 14;
  EXPECT_FALSE(IsLiveRule(r));
  r = base;
  r.min_days_since_purchase = 30;
  EXPECT_FALSE(IsLiveRule(r));
  r = base;
  r.min_affinity = 0.2;
  EXPECT_FALSE(IsLiveRule(r));
  r = base;
  r.min_discount_share = 0.3;
  EXPECT_FALSE(IsLiveRule(r));
  r = base;
  r.min_purchase_intent = 0.5;
  EXPECT_FALSE(IsLiveRule(r));
  r = base;
  r.min_churn_risk = 0.3;
  EXPECT_FALSE(IsLiveRule(r));
  r = base;
  r.all_of = {"b"};
  EXPECT_FALSE(IsLiveRule(r));
}

TEST(IsLiveRuleTest, TheShippedConfig) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      IntelligenceConfig config,
      LoadIntelligenceConfig(RECSYS_DEPLOY_DIR "/intelligence.textproto"));
  std::vector<std::string> live;
  for (const TagRule& rule : config.tags) {
    if (IsLiveRule(rule)) live.push_back(rule.name);
  }
  EXPECT_THAT(live, ElementsAre("fitness_enthusiast", "new_parent"));
}

UserIntel Record() {
  UserIntel u;
  u.user_id = "u1";
  u.as_of_unix = kT;
  u.tags = {"a", "z"};
  u.live = {{.tag = "fitness",
             .category = "sports",
             .min_purchases = 3,
             .purchases = 1},
            {.tag = "gear",
             .category = "sports",
             .min_spend = 100,
             .min_views = 2,
             .spend = 60},
            {.tag = "baby", .category = "baby", .min_purchases = 1}};
  return u;
}

LiveEvent Buy(absl::string_view category, double spend, int64_t t) {
  return {.user_id = "u1",
          .category = std::string(category),
          .purchase = true,
          .spend = spend,
          .time_unix = t};
}

LiveEvent View(absl::string_view category, int64_t t) {
  return {.user_id = "u1", .category = std::string(category), .time_unix = t};
}

TEST(ApplyLiveEventTest, CountsTowardTheRulesOfTheCategory) {
  UserIntel u = Record();
  EXPECT_TRUE(ApplyLiveEvent(Buy("sports", 30, kT + 10), &u).empty());
  ASSERT_EQ(u.live.size(), 3u);
  EXPECT_EQ(u.live[0].purchases, 2);
  EXPECT_EQ(u.live[1].purchases, 1);
  EXPECT_EQ(u.live[1].spend, 90);
  EXPECT_EQ(u.live[2].purchases, 0);  // another category
  // The third purchase reaches fitness; gear still needs views.
  EXPECT_THAT(ApplyLiveEvent(Buy("sports", 20, kT + 20), &u),
              ElementsAre("fitness"));
  EXPECT_THAT(u.tags, ElementsAre("a", "fitness", "z"));
  ASSERT_EQ(u.live.size(), 2u);
  EXPECT_EQ(u.live[0].tag, "gear");
  EXPECT_EQ(u.live[0].spend, 110);
  EXPECT_TRUE(ApplyLiveEvent(View("sports", kT + 30), &u).empty());
  EXPECT_THAT(ApplyLiveEvent(View("sports", kT + 40), &u), ElementsAre("gear"));
  EXPECT_THAT(u.tags, ElementsAre("a", "fitness", "gear", "z"));
  ASSERT_EQ(u.live.size(), 1u);
  EXPECT_EQ(u.live[0].tag, "baby");
}

TEST(ApplyLiveEventTest, EventsOfTheRecordsTimeOrWithoutCategoryChangeNothing) {
  UserIntel u = Record();
  EXPECT_TRUE(ApplyLiveEvent(Buy("baby", 5, kT), &u).empty());  // at as_of
  EXPECT_TRUE(ApplyLiveEvent(Buy("", 5, kT + 1), &u).empty());
  EXPECT_TRUE(ApplyLiveEvent(Buy("garden", 5, kT + 1), &u).empty());
  EXPECT_EQ(u.live.size(), 3u);
  EXPECT_EQ(u.live[2].purchases, 0);
  EXPECT_THAT(u.tags, ElementsAre("a", "z"));
  EXPECT_THAT(ApplyLiveEvent(Buy("baby", 5, kT + 1), &u), ElementsAre("baby"));
}

TEST(LiveProgressTest, TrainingKeepsTheCountsOfTheLiveRulesNotYetReached) {
  // u1 buys sports on days 0, 10, 20 (10 each); u2 on days 0 and 30 and
  // views sports on day 25; u3 only views garden. As of day 30.
  IntelBuilder b;
  auto buy = [&](const char* user, int day, double price) {
    b.Add({user, "S", "sports", kT + day * kDay, ActivityKind::kPurchase, 1,
           price});
  };
  buy("u1", 0, 10);
  buy("u1", 10, 10);
  buy("u1", 20, 10);
  buy("u2", 0, 10);
  buy("u2", 30, 10);
  b.Add({"u2", "S", "sports", kT + 25 * kDay, ActivityKind::kCart, 0, 0});
  b.Add({"u3", "G", "garden", kT + 30 * kDay, ActivityKind::kView, 0, 0});
  IntelligenceConfig c;
  c.tags.push_back(
      {.name = "regular", .category = "sports", .min_purchases = 3});
  c.tags.push_back({.name = "recent",
                    .category = "sports",
                    .min_purchases = 2,
                    .within_days = 15});
  c.tags.push_back({.name = "browser",
                    .category = "sports",
                    .min_spend = 50,
                    .min_views = 1});
  c.tags.push_back({.name = "gold_sports",
                    .category = "sports",
                    .min_purchases = 1,
                    .growth_tiers = {"gold"}});
  c.tags.push_back({.name = "lapsed",
                    .category = "sports",
                    .min_purchases = 1,
                    .min_days_since_purchase = 60});
  c.growth_tiers = {{"silver", 0}, {"gold", 25}};
  RECSYS_ASSERT_OK_AND_ASSIGN(IntelResult r, b.Build(c));
  ASSERT_EQ(r.users.size(), 3u);
  const UserIntel& u1 = r.users[0];
  const UserIntel& u2 = r.users[1];
  const UserIntel& u3 = r.users[2];
  // u1 (spend 30, gold): regular and gold_sports reached; recent counts
  // day 20 only; browser has the spend of every order, no view.
  EXPECT_THAT(u1.tags, ElementsAre("gold_sports", "likes:sports", "regular"));
  ASSERT_EQ(u1.live.size(), 2u);
  EXPECT_EQ(u1.live[0].tag, "recent");
  EXPECT_EQ(u1.live[0].purchases, 1);
  EXPECT_EQ(u1.live[0].spend, 10);
  EXPECT_EQ(u1.live[0].min_purchases, 2);
  EXPECT_EQ(u1.live[1].tag, "browser");
  EXPECT_EQ(u1.live[1].spend, 30);
  EXPECT_EQ(u1.live[1].views, 0);
  EXPECT_EQ(u1.live[1].min_spend, 50);
  EXPECT_EQ(u1.live[1].min_views, 1);
  // u2 (spend 20, silver): one order within 15 days; the cart counts as a
  // view for browser; gold_sports is out of reach (tier), lapsed is not
  // live.
  EXPECT_THAT(u2.tags, ElementsAre("likes:sports"));
  ASSERT_EQ(u2.live.size(), 3u);
  EXPECT_EQ(u2.live[0].tag, "regular");
  EXPECT_EQ(u2.live[0].purchases, 2);
  EXPECT_EQ(u2.live[1].tag, "recent");
  EXPECT_EQ(u2.live[1].purchases, 1);
  EXPECT_EQ(u2.live[2].tag, "browser");
  EXPECT_EQ(u2.live[2].spend, 20);
  EXPECT_EQ(u2.live[2].views, 1);
  // u3 has no sports activity: every live rule from zero.
  EXPECT_EQ(u3.live.size(), 3u);
  for (const LiveProgress& p : u3.live) {
    EXPECT_EQ(p.purchases + p.views, 0) << p.tag;
    EXPECT_EQ(p.spend, 0) << p.tag;
  }
}

}  // namespace
}  // namespace recsys::intelligence
