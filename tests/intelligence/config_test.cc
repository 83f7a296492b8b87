#include "intelligence/config.h"

#include <string>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace recsys::intelligence {
namespace {

std::string Error(absl::string_view text) {
  auto config = ParseIntelligenceConfig(text);
  EXPECT_FALSE(config.ok()) << text;
  return std::string(config.status().message());
}

TEST(IntelligenceConfigTest, ParsesRulesAndDefaults) {
  RECSYS_ASSERT_OK_AND_ASSIGN(IntelligenceConfig config,
                              ParseIntelligenceConfig(R"pb(
                                tag {
                                  name: "fitness_enthusiast"
                                  min_purchases: 3
                                  category: "sports"
                                  within_days: 180
                                }
                                tag {
                                  name: "loyal_fan"
                                  all_of: "fitness_enthusiast"
                                  growth_tiers: "gold"
                                }
                                growth_tier { name: "silver" min_value: 0 }
                                growth_tier { name: "gold" min_value: 500 }
                              )pb"));
  ASSERT_EQ(config.tags.size(), 2u);
  EXPECT_EQ(config.tags[0].category, "sports");
  EXPECT_EQ(config.tags[0].min_purchases, 3);
  EXPECT_EQ(config.tags[0].within_days, 180);
  EXPECT_EQ(config.learned_tag_min_affinity, 0.3);
  EXPECT_EQ(config.intent_horizon_days, 30);
  EXPECT_EQ(config.cycle_prior_strength, 2);
  // References come first in evaluation order.
  EXPECT_EQ(TagEvaluationOrder(config), (std::vector<int>{0, 1}));
}

TEST(IntelligenceConfigTest, NamesTheBadField) {
  EXPECT_EQ(Error(R"pb(tag { name: "x" category: "sports" })pb"),
            "tag[0]: empty rule for tag 'x' (set at least one condition)");
  EXPECT_EQ(Error(R"pb(tag { name: "a" all_of: "b" }
                       tag { name: "b" all_of: "a" })pb"),
            "tag[1].all_of[0]: cycle in tag references: a -> b -> a");
  EXPECT_EQ(Error(R"pb(tag { name: "a" all_of: "a" })pb"),
            "tag[0].all_of[0]: cycle in tag references: a -> a");
  EXPECT_EQ(Error(R"pb(tag { name: "a" all_of: "nope" })pb"),
            "tag[0].all_of[0]: unknown tag 'nope'");
  EXPECT_EQ(Error(R"pb(tag { name: "a" min_purchases: 1 }
                       tag { name: "a" min_purchases: 2 })pb"),
            "tag[1].name: duplicate tag 'a' (also tag[0])");
  EXPECT_EQ(Error(R"pb(tag { name: "Big Spender" min_spend: 100 })pb"),
            "tag[0].name: must be 1-64 of [a-z0-9_:-], got 'Big Spender'");
  EXPECT_EQ(Error(R"pb(tag { name: "a" min_affinity: 0.5 })pb"),
            "tag[0].min_affinity: needs a category");
  EXPECT_EQ(Error(R"pb(tag { name: "a" min_purchase_intent: 1.5 })pb"),
            "tag[0].min_purchase_intent: must be in [0, 1], got 1.5");
  EXPECT_EQ(Error(R"pb(tag { name: "a" growth_tiers: "gold" })pb"),
            "tag[0].growth_tiers[0]: unknown growth tier 'gold'");
  EXPECT_EQ(Error(R"pb(growth_tier { name: "gold" min_value: 500 }
                       growth_tier { name: "silver" min_value: 100 })pb"),
            "growth_tier[1].min_value: must be greater than "
            "growth_tier[0].min_value (500), "
            "got 100");
  EXPECT_EQ(Error(R"pb(intent_horizon_days: 400)pb"),
            "intent_horizon_days: must be in [1, 365], got 400");
  EXPECT_EQ(Error("tag { nme: \"x\" }"),
            "line 1, column 10: Message type \"recsys.v1.TagRule\" has no "
            "field named \"nme\".");
}

TEST(IntelligenceConfigTest, UnknownCategoryOnceTheDataIsKnown) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      IntelligenceConfig config,
      ParseIntelligenceConfig(
          R"pb(tag { name: "fit" category: "sprots" min_purchases: 1 })pb"));
  const absl::flat_hash_set<std::string> categories = {"sports", "garden"};
  EXPECT_EQ(ValidateIntelligenceConfig(config, &categories).message(),
            "tag[0].category: unknown category 'sprots'");
  config.tags[0].category = "sports";
  RECSYS_EXPECT_OK(ValidateIntelligenceConfig(config, &categories));
}

TEST(IntelligenceConfigTest, TheDeployedFileIsValid) {
  RECSYS_EXPECT_OK(
      LoadIntelligenceConfig(RECSYS_DEPLOY_DIR "/intelligence.textproto")
          .status());
}

}  // namespace
}  // namespace recsys::intelligence
