#include "recommender/rules/repurchase_window.h"

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

class RepurchaseWindowTest : public testing::RuleTest {};

TEST_F(RepurchaseWindowTest, BoughtItemsReturnOnlyWhenDue) {
  // ua2 bought a2 and a3 in 2023; the request is in 2025.
  const ProductRequest request = Request("ua2", 5);
  auto ctx =
      Context(request, Plan(R"pb(rules { repurchasable { category: "alpha" min_days: 100 } })pb"));
  EXPECT_TRUE(ctx->not_due.empty());
  const RepurchaseWindowFilter filter;
  const SlotState slot = Slot(*ctx);
  EXPECT_TRUE(filter.Allows(*ctx, slot, {Row("a2"), "a2", "alpha", /*may_be_bought=*/true}));
  EXPECT_FALSE(filter.Allows(*ctx, slot, {Row("a2"), "a2", "alpha", /*may_be_bought=*/false}));
  EXPECT_TRUE(filter.Allows(*ctx, slot, {Row("a5"), "a5", "alpha", false}));
  EXPECT_TRUE(filter.Allows(*ctx, slot, {-1, "new", "alpha", false}));

  auto early = Context(
      request, Plan(R"pb(rules { repurchasable { category: "alpha" min_days: 10000 } })pb"));
  EXPECT_EQ(early->not_due, (absl::flat_hash_set<int32_t>{Row("a2"), Row("a3")}));
  EXPECT_FALSE(filter.Allows(*early, Slot(*early), {Row("a2"), "a2", "alpha", true}));
}

TEST_F(RepurchaseWindowTest, NotDueRowsByCategory) {
  const int64_t day = 86400;
  const model::HistoryEntry alpha{Row("a2"), 1, 1000 * day};
  const model::HistoryEntry beta{Row("b2"), 1, 1000 * day};
  absl::flat_hash_map<int32_t, const model::HistoryEntry*> history = {{alpha.item, &alpha},
                                                                      {beta.item, &beta}};
  absl::flat_hash_set<int32_t> bought = {alpha.item, beta.item, Row("b5")};
  Rules rules;
  // No repurchase rules: everything may return.
  EXPECT_TRUE(NotDueRows(*bundle_, rules, history, bought, 1001 * day).empty());
  rules.repurchasable_min_days = {{"alpha", 7}};
  // beta is not repurchasable; b5 has no purchase entry (may return).
  EXPECT_EQ(NotDueRows(*bundle_, rules, history, bought, 1006 * day),
            (absl::flat_hash_set<int32_t>{alpha.item, beta.item}));
  EXPECT_EQ(NotDueRows(*bundle_, rules, history, bought, 1007 * day),
            (absl::flat_hash_set<int32_t>{beta.item}));
}

}  // namespace
}  // namespace recsys::recommender
