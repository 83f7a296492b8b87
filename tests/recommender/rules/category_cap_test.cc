#include "recommender/rules/category_cap.h"

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

class CategoryCapFilterTest : public testing::RuleTest {};

TEST_F(CategoryCapFilterTest, CapsItemsPerCategoryAndExcludesCategories) {
  const ProductRequest request = Request("ua0", 5);
  auto ctx = Context(request, Plan(R"pb(
                       slots {
                         name: "feed"
                         sources { source: SOURCE_TRENDING weight: 1 }
                         max_per_category: 2
                         exclude_categories: "gamma"
                       }
                     )pb"));
  SlotState slot = Slot(*ctx);
  const CategoryCapFilter filter;
  EXPECT_TRUE(filter.Allows(*ctx, slot, {Row("a2"), "a2", "alpha"}));
  slot.per_category["alpha"] = 2;
  EXPECT_FALSE(filter.Allows(*ctx, slot, {Row("a2"), "a2", "alpha"}));
  EXPECT_TRUE(filter.Allows(*ctx, slot, {Row("b2"), "b2", "beta"}));
  EXPECT_FALSE(filter.Allows(*ctx, slot, {-1, "new1", "gamma"}));
  slot.per_category[""] = 7;
  EXPECT_TRUE(filter.Allows(*ctx, slot, {-1, "new2", ""}));  // no category: no cap
}

}  // namespace
}  // namespace recsys::recommender
