#include "recommender/rules/rotation.h"

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

class RotationRuleTest : public testing::RuleTest {};

TEST_F(RotationRuleTest, PenalizesTheMostRecentImpressions) {
  // Most recent first: b2, then b1, then b0.
  Record("ua0", "b0", EventType::kImpression, absl::FromUnixSeconds(1600000000));
  Record("ua0", "b1", EventType::kImpression, absl::FromUnixSeconds(1600000001));
  Record("ua0", "b2", EventType::kImpression, absl::FromUnixSeconds(1600000002));
  const ProductRequest request = Request("ua0", 5);
  auto ctx =
      Context(request, Plan(R"pb(rules { rotation_impressions: 2 rotation_multiplier: 0.5 })pb"));
  EXPECT_EQ(ctx->rotated, (absl::flat_hash_set<int32_t>{Row("b1"), Row("b2")}));
  EXPECT_EQ(ctx->rotated_ids.size(), 2u);
  std::vector<std::string> applied;
  EXPECT_EQ(RotationRule().Apply(*ctx, Slot(*ctx), Row("b2"), 1.0f, &applied), 0.5f);
  EXPECT_EQ(RotationRule().Apply(*ctx, Slot(*ctx), Row("b0"), 1.0f, &applied), 1.0f);
  EXPECT_THAT(applied, ElementsAre("rotation"));
}

TEST_F(RotationRuleTest, NothingRotatesWithoutTheRule) {
  Record("ua0", "b0", EventType::kImpression);
  const ProductRequest request = Request("ua0", 5);
  auto ctx = Context(request);
  EXPECT_TRUE(ctx->rotated.empty());
  EXPECT_TRUE(ctx->rotated_ids.empty());
}

}  // namespace
}  // namespace recsys::recommender
