#include "recommender/rules/campaign_pins.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recommender/request_context.h"
#include "recommender/rules/rule.h"
#include "recommender/rules/rule_set.h"
#include "recommender/slot_fill.h"
#include "tests/recommender/unit_fixture.h"

namespace recsys::recommender {
namespace {

using feature_store::EventType;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class CampaignPinsTest : public testing::RuleTest {};

TEST_F(CampaignPinsTest, PinsActiveFestivalItemsUpToTheirShare) {
  const ProductRequest request = Request("ua0", 4);  // 2025-02-10
  auto ctx = Context(request, Plan(R"pb(
                       slots {
                         name: "feed"
                         sources { source: SOURCE_TRENDING weight: 1 }
                       }
                       festivals {
                         name: "valentines"
                         start_date: "2025-02-07"
                         end_date: "2025-02-14"
                         pinned_items: "a0"
                         pinned_items: "unknown"
                         pinned_items: "b3"
                         pinned_items: "b4"
                         pinned_items: "b5"
                         pinned_share: 0.5
                       }
                       festivals {
                         name: "later"
                         start_date: "2025-03-01"
                         end_date: "2025-03-02"
                         pinned_items: "b6"
                         pinned_share: 1
                       }
                     )pb"));
  Fetch(ctx.get());
  const std::unique_ptr<const RuleSet> rules = NewDefaultRuleSet();
  FillProgress progress;
  SlotFill fill(*ctx, *rules, 0, &progress);
  PinCampaignItems(*ctx, &fill);
  // a0 is bought, "unknown" is not in the model; the quota is 4 * 0.5.
  ASSERT_EQ(fill.size(), 2);
  EXPECT_THAT(Ids(fill.answer().items), ElementsAre("b3", "b4"));
  const ScoredItem& first = fill.answer().items[0];
  EXPECT_EQ(first.score, 1.0f);
  EXPECT_EQ(first.reason.code, ReasonCode::kCampaign);
  EXPECT_EQ(first.reason.text, "featured for valentines");
  EXPECT_THAT(first.reason.applied_rules, ElementsAre("festival:valentines"));
  EXPECT_TRUE(progress.chosen.contains(Row("b3")));
}

}  // namespace
}  // namespace recsys::recommender
