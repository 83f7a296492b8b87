#include "recommender/rules/stock.h"

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

class StockFilterTest : public testing::RuleTest {};

TEST_F(StockFilterTest, NeverShowsOutOfStockOrUncheckedItems) {
  SetStock("b0", 0);
  SetStock("b1", 4);
  // k = 1: the popular prefix is fetch_k (12) + 2 purchases = b0..b9, a0..a3.
  const ProductRequest request = Request("ua0", 1);
  auto ctx = Context(request);
  Fetch(ctx.get());
  ASSERT_EQ(ctx->features.popular_prefix(), 14u);
  const SlotState slot = Slot(*ctx);
  const StockFilter filter;
  EXPECT_EQ(filter.name(), "stock");
  EXPECT_FALSE(filter.Allows(*ctx, slot, {Row("b0"), "b0", "beta"}));
  EXPECT_TRUE(filter.Allows(*ctx, slot, {Row("b1"), "b1", "beta"}));
  EXPECT_TRUE(filter.Allows(*ctx, slot, {Row("b2"), "b2", "beta"}));    // stock unknown
  EXPECT_FALSE(filter.Allows(*ctx, slot, {Row("a5"), "a5", "alpha"}));  // past the prefix
  EXPECT_FALSE(filter.Allows(*ctx, slot, {-1, "new1", "alpha"}));       // never read
}

TEST_F(StockFilterTest, EverythingPassesWhenTheStoreDoesNotAnswer) {
  SetStock("b0", 0);
  const ProductRequest request = Request("ua0", 1);
  auto ctx = Context(request);
  store_.set_failing(true);
  Fetch(ctx.get());
  EXPECT_FALSE(ctx->features.known());
  EXPECT_TRUE(meta_.degraded);
  EXPECT_TRUE(StockFilter().Allows(*ctx, Slot(*ctx), {Row("b0"), "b0", "beta"}));
  EXPECT_TRUE(StockFilter().Allows(*ctx, Slot(*ctx), {Row("a9"), "a9", "alpha"}));
}

}  // namespace
}  // namespace recsys::recommender
