#include "recommender/rules/low_stock.h"

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

class LowStockRuleTest : public testing::RuleTest {};

TEST_F(LowStockRuleTest, PenalizesItemsAtOrBelowTheThreshold) {
  SetStock("b0", 3);
  SetStock("b1", 5);
  SetStock("b2", 6);
  SetStock("b3", 0);  // out of stock: the stock filter's business
  const ProductRequest request = Request("ua0", 5);
  auto ctx =
      Context(request, Plan(R"pb(rules { low_stock_threshold: 5 low_stock_multiplier: 0.5 })pb"));
  Fetch(ctx.get());
  const SlotState slot = Slot(*ctx);
  const LowStockRule rule;
  std::vector<std::string> applied;
  EXPECT_EQ(rule.Apply(*ctx, slot, Row("b0"), 1.0f, &applied), 0.5f);
  EXPECT_EQ(rule.Apply(*ctx, slot, Row("b1"), 1.0f, &applied), 0.5f);
  EXPECT_THAT(applied, ElementsAre("low_stock", "low_stock"));
  applied.clear();
  EXPECT_EQ(rule.Apply(*ctx, slot, Row("b2"), 1.0f, &applied), 1.0f);
  EXPECT_EQ(rule.Apply(*ctx, slot, Row("b3"), 1.0f, &applied), 1.0f);
  EXPECT_EQ(rule.Apply(*ctx, slot, Row("b4"), 1.0f, &applied), 1.0f);  // stock unknown
  EXPECT_THAT(applied, IsEmpty());
}

}  // namespace
}  // namespace recsys::recommender
