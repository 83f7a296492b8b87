#include "recommender/rules/slow_mover.h"

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

class SlowMoverRuleTest : public testing::RuleTest {};

TEST_F(SlowMoverRuleTest, PenalizesFlaggedItemsWhenConfigured) {
  SetStock("b0", 50, /*slow_mover=*/true);
  SetStock("b1", 50, /*slow_mover=*/false);
  const ProductRequest request = Request("ua0", 5);
  auto ctx = Context(request, Plan(R"pb(rules { slow_mover_multiplier: 0.25 })pb"));
  Fetch(ctx.get());
  std::vector<std::string> applied;
  EXPECT_EQ(SlowMoverRule().Apply(*ctx, Slot(*ctx), Row("b0"), 2.0f, &applied), 0.5f);
  EXPECT_EQ(SlowMoverRule().Apply(*ctx, Slot(*ctx), Row("b1"), 2.0f, &applied), 2.0f);
  EXPECT_THAT(applied, ElementsAre("slow_mover"));
  // Without a multiplier below 1 the flag changes nothing.
  auto plain = Context(request);
  Fetch(plain.get());
  applied.clear();
  EXPECT_EQ(SlowMoverRule().Apply(*plain, Slot(*plain), Row("b0"), 2.0f, &applied), 2.0f);
  EXPECT_THAT(applied, IsEmpty());
}

}  // namespace
}  // namespace recsys::recommender
