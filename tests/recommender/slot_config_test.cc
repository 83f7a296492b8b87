#include "recommender/slot_config.h"

#include <string>

#include "absl/algorithm/container.h"
#include "gtest/gtest.h"
#include "intelligence/config.h"
#include "tests/testing/status_matchers.h"

namespace recsys::recommender {
namespace {

absl::Time At(const char* text, const char* tz = "UTC") {
  absl::TimeZone zone;
  EXPECT_TRUE(absl::LoadTimeZone(tz, &zone));
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime("%Y-%m-%d %H:%M", text, zone, &t, &err)) << err;
  return t;
}

void ExpectInvalid(absl::string_view text, absl::string_view field) {
  auto plan = SlotPlan::Parse(text);
  ASSERT_FALSE(plan.ok()) << text;
  EXPECT_TRUE(absl::IsInvalidArgument(plan.status())) << plan.status();
  EXPECT_NE(plan.status().message().find(field), absl::string_view::npos)
      << plan.status() << " should name " << field;
}

TEST(SlotConfigTest, ShippedConfigIsValid) {
  RECSYS_ASSERT_OK_AND_ASSIGN(auto plan, SlotPlan::Load(RECSYS_SLOTS_CONFIG));
  const SlotRule* hero = plan->Find("homepage_hero");
  ASSERT_NE(hero, nullptr);
  EXPECT_EQ(hero->max_per_category, 1);
  ASSERT_EQ(hero->sources.size(), 2u);
  EXPECT_EQ(hero->sources[0].first, Source::kPersonalized);
  EXPECT_EQ(plan->Find("nope"), nullptr);
  EXPECT_EQ(plan->rules().repurchasable_min_days.at("grocery"), 7);
  EXPECT_FLOAT_EQ(plan->rules().slow_mover_multiplier, 0.5f);
  // Early access names growth tiers of the shipped intelligence config.
  RECSYS_ASSERT_OK_AND_ASSIGN(intelligence::IntelligenceConfig intel,
                              intelligence::LoadIntelligenceConfig(RECSYS_INTELLIGENCE_CONFIG));
  ASSERT_FALSE(plan->rules().early_access_days.empty());
  for (const auto& [tier, days] : plan->rules().early_access_days) {
    EXPECT_TRUE(absl::c_any_of(intel.growth_tiers,
                               [&](const intelligence::GrowthTier& g) { return g.name == tier; }))
        << tier;
  }
}

TEST(SlotConfigTest, DaypartsSwitchWithTheHourInTheTimezone) {
  RECSYS_ASSERT_OK_AND_ASSIGN(auto plan, SlotPlan::Parse(R"pb(
    timezone: "Europe/London"
    slots { name: "hero" sources { source: SOURCE_TRENDING weight: 1 } }
    dayparts { name: "morning" start_hour: 6 end_hour: 10 slots: "hero"
               boosts { category: "coffee" multiplier: 2 } }
    dayparts { name: "night" start_hour: 22 end_hour: 2
               boosts { category: "snacks" multiplier: 1.5 } }
  )pb"));
  auto names = [&](absl::string_view slot, absl::Time t) {
    std::vector<std::string> out;
    for (const TimeRule* r : plan->ActiveRules(slot, t)) out.push_back(r->name);
    return out;
  };
  // 07:30 in London in summer is 06:30 UTC.
  EXPECT_EQ(names("hero", At("2025-07-01 06:30")), std::vector<std::string>{"morning"});
  EXPECT_TRUE(names("feed", At("2025-07-01 06:30")).empty());  // morning is hero-only
  EXPECT_TRUE(names("hero", At("2025-07-01 12:00")).empty());
  // Wraps past midnight.
  EXPECT_EQ(names("feed", At("2025-07-01 23:30", "Europe/London")), std::vector<std::string>{"night"});
  EXPECT_EQ(names("feed", At("2025-07-02 01:30", "Europe/London")), std::vector<std::string>{"night"});
  EXPECT_TRUE(names("feed", At("2025-07-02 02:30", "Europe/London")).empty());
}

TEST(SlotConfigTest, FestivalsCoverWholeDays) {
  RECSYS_ASSERT_OK_AND_ASSIGN(auto plan, SlotPlan::Parse(R"pb(
    festivals { name: "valentines" start_date: "2025-02-07" end_date: "2025-02-14"
                boosts { category: "gifts" multiplier: 2 }
                pinned_items: "box1" pinned_share: 0.25 }
  )pb"));
  EXPECT_TRUE(plan->ActiveRules("any", At("2025-02-06 23:59")).empty());
  ASSERT_EQ(plan->ActiveRules("any", At("2025-02-07 00:00")).size(), 1u);
  const TimeRule* v = plan->ActiveRules("any", At("2025-02-14 23:59"))[0];
  EXPECT_EQ(v->name, "valentines");
  EXPECT_FLOAT_EQ(v->boosts.at("gifts"), 2.0f);
  EXPECT_FLOAT_EQ(v->pinned_share, 0.25f);
  EXPECT_TRUE(plan->ActiveRules("any", At("2025-02-15 00:00")).empty());
}

TEST(SlotConfigTest, BadConfigsNameTheField) {
  ExpectInvalid(R"pb(slots { name: "" sources { source: SOURCE_TRENDING weight: 1 } })pb",
                "slots[0].name");
  ExpectInvalid(R"pb(slots { name: "a" })pb", "slots[0].sources");
  ExpectInvalid(R"pb(slots { name: "a" sources { source: SOURCE_TRENDING weight: 0 } })pb",
                "slots[0].sources[0].weight");
  ExpectInvalid(R"pb(slots { name: "a" sources { weight: 1 } })pb", "slots[0].sources[0].source");
  ExpectInvalid(R"pb(slots { name: "a" sources { source: SOURCE_TRENDING weight: 1 } }
                     slots { name: "a" sources { source: SOURCE_TRENDING weight: 1 } })pb",
                "slots[1].name");
  ExpectInvalid(R"pb(slots { name: "a" sources { source: SOURCE_TRENDING weight: 1 }
                             max_per_category: -1 })pb",
                "slots[0].max_per_category");
  ExpectInvalid(R"pb(dayparts { start_hour: 25 end_hour: 3 })pb", "dayparts[0].start_hour");
  ExpectInvalid(R"pb(dayparts { start_hour: 5 end_hour: 5 })pb", "dayparts[0].end_hour");
  ExpectInvalid(R"pb(dayparts { start_hour: 5 end_hour: 9 boosts { category: "x" multiplier: -1 } })pb",
                "dayparts[0].boosts[0].multiplier");
  ExpectInvalid(R"pb(festivals { start_date: "2025-13-01" end_date: "2025-12-02" })pb",
                "festivals[0].start_date");
  ExpectInvalid(R"pb(festivals { start_date: "2025-02-10" end_date: "2025-02-01" })pb",
                "festivals[0].end_date");
  ExpectInvalid(R"pb(festivals { start_date: "2025-02-01" end_date: "2025-02-02" pinned_share: 0.5 })pb",
                "festivals[0].pinned_items");
  ExpectInvalid(R"pb(rules { repurchasable { category: "x" min_days: -2 } })pb",
                "rules.repurchasable[0].min_days");
  ExpectInvalid(R"pb(rules { low_stock_multiplier: 3 })pb", "rules.low_stock_multiplier");
  ExpectInvalid(R"pb(timezone: "Mars/Olympus")pb", "timezone");
  ExpectInvalid(R"pb(slots { name: "a" sources { source: SOURCE_TRENDING weight: 1 }
                             trial_share: 1.5 })pb",
                "slots[0].trial_share");
  ExpectInvalid(R"pb(slots { name: "a" sources { source: SOURCE_TRENDING weight: 1 }
                             margin_weight: 1.5 })pb",
                "slots[0].margin_weight: must be in [0, 1], got 1.5");
  ExpectInvalid(R"pb(slots { name: "a" sources { source: SOURCE_TRENDING weight: 1 }
                             reserve_roles { role: "hero" positions: 1 } })pb",
                "slots[0].reserve_roles[0].role: unknown role 'hero'");
  ExpectInvalid(R"pb(slots { name: "a" sources { source: SOURCE_TRENDING weight: 1 }
                             reserve_roles { role: "profit" positions: 0 } })pb",
                "slots[0].reserve_roles[0].positions");
  ExpectInvalid(R"pb(slots { name: "a" sources { source: SOURCE_TRENDING weight: 1 }
                             reserve_roles { role: "profit" positions: 1 }
                             reserve_roles { role: "profit" positions: 2 } })pb",
                "slots[0].reserve_roles[1].role: role 'profit' reserved twice");
  ExpectInvalid(R"pb(rules { trial_days: -1 })pb", "rules.trial_days");
  ExpectInvalid(R"pb(rules { trial_graduation_purchases: -1 })pb",
                "rules.trial_graduation_purchases");
  ExpectInvalid(R"pb(rules { early_access { growth_tiers: "vip" days: 0 } })pb",
                "rules.early_access[0].days: must be in [1, 90], got 0");
  ExpectInvalid(R"pb(rules { early_access { growth_tiers: "vip" days: 91 } })pb",
                "rules.early_access[0].days");
  ExpectInvalid(R"pb(rules { early_access { days: 3 } })pb",
                "rules.early_access[0].growth_tiers: must not be empty");
  ExpectInvalid(R"pb(rules {
                       early_access { growth_tiers: "vip" days: 3 }
                       early_access { growth_tiers: "gold" growth_tiers: "top tier" days: 1 }
                     })pb",
                "rules.early_access[1].growth_tiers[1]");
  // Syntax errors give the position.
  ExpectInvalid("slots { name: \"a\"\n  sources { sorce: 1 } }", "line 2");
  EXPECT_TRUE(absl::IsNotFound(SlotPlan::Load("/nonexistent/slots.textproto").status()));
}

TEST(SlotConfigTest, EarlyAccessByGrowthTierKeepsTheLongestGrant) {
  RECSYS_ASSERT_OK_AND_ASSIGN(auto plan, SlotPlan::Parse(R"pb(
    rules {
      early_access { growth_tiers: "platinum" growth_tiers: "gold" days: 2 }
      early_access { growth_tiers: "platinum" days: 5 }
    }
  )pb"));
  EXPECT_EQ(plan->rules().early_access_days,
            (absl::flat_hash_map<std::string, int>{{"platinum", 5}, {"gold", 2}}));
  RECSYS_ASSERT_OK_AND_ASSIGN(auto none, SlotPlan::Parse(""));
  EXPECT_TRUE(none->rules().early_access_days.empty());
}

}  // namespace
}  // namespace recsys::recommender
