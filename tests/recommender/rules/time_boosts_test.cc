#include "recommender/rules/time_boosts.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recommender/request_context.h"
#include "recommender/rules/rule.h"
#include "tests/recommender/unit_fixture.h"

namespace recsys::recommender {
namespace {

using feature_store::EventType;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class TimeBoostRuleTest : public testing::RuleTest {};

TEST_F(TimeBoostRuleTest, BoostsTheCategoriesOfActiveRulesInOrder) {
  const ProductRequest request = Request("ua0", 3);  // 2025-02-10 12:00 UTC
  auto ctx = Context(request, Plan(R"pb(
                       slots {
                         name: "feed"
                         sources { source: SOURCE_PERSONALIZED weight: 1 }
                       }
                       dayparts {
                         name: "noon"
                         start_hour: 11
                         end_hour: 14
                         boosts { category: "alpha" multiplier: 2 }
                       }
                       dayparts {
                         name: "night"
                         start_hour: 22
                         end_hour: 2
                         boosts { category: "alpha" multiplier: 5 }
                       }
                       festivals {
                         name: "valentines"
                         start_date: "2025-02-07"
                         end_date: "2025-02-14"
                         boosts { category: "alpha" multiplier: 1.5 }
                         boosts { category: "beta" multiplier: 3 }
                       }
                     )pb"));
  const SlotState slot = Slot(*ctx);
  ASSERT_EQ(slot.active->size(), 2u);
  std::vector<std::string> applied;
  EXPECT_FLOAT_EQ(TimeBoostRule().Apply(*ctx, slot, Row("a3"), 1.0f, &applied), 3.0f);
  EXPECT_THAT(applied, ElementsAre("daypart:noon", "festival:valentines"));
  applied.clear();
  EXPECT_FLOAT_EQ(TimeBoostRule().Apply(*ctx, slot, Row("b3"), 0.5f, &applied), 1.5f);
  EXPECT_THAT(applied, ElementsAre("festival:valentines"));
}

TEST_F(TimeBoostRuleTest, NoPlanNoBoost) {
  const ProductRequest request = Request("ua0", 3);
  auto ctx = Context(request);
  std::vector<std::string> applied;
  EXPECT_EQ(TimeBoostRule().Apply(*ctx, Slot(*ctx), Row("a3"), 0.25f, &applied), 0.25f);
  EXPECT_THAT(applied, IsEmpty());
}

}  // namespace
}  // namespace recsys::recommender
