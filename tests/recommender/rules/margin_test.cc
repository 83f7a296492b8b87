#include "recommender/rules/margin.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recommender/candidate_source.h"
#include "recommender/rules/rule_set.h"
#include "recommender/slot_fill.h"
#include "tests/recommender/unit_fixture.h"

namespace recsys::recommender {
namespace {

using ::testing::ElementsAre;

constexpr char kTrendingSlot[] = R"pb(
  slots {
    name: "feed"
    sources { source: SOURCE_TRENDING weight: 1 } %s
  }
)pb";

class MarginTest : public testing::UnitTest {
 protected:
  // Stores model item `id` with a unit cost (and role).
  void SetCost(const std::string& id, double cost,
               const std::string& role = "") {
    feature_store::ItemFeatures f;
    const model::ItemMeta& item = bundle_->item(Row(id));
    f.item_id = id;
    f.category = item.category;
    f.price = item.price;
    f.title = item.title;
    f.cost = cost;
    f.role = role;
    RECSYS_ASSERT_OK(memory_.PutItems({f}));
  }

  std::vector<SlotAnswer> Fill(const std::string& slot_fields, int k) {
    request_ = Request("ua0", k);
    ctx_ = Context(request_, Plan(absl::StrFormat(kTrendingSlot, slot_fields)));
    auto generated = NewDefaultSourceRegistry(options_)->Generate(*ctx_);
    EXPECT_TRUE(generated.ok()) << generated.status();
    lists_ = *std::move(generated);
    FetchItemFeatures(lists_, store_, absl::InfiniteFuture(), ctx_.get(),
                      &meta_);
    return FillSlots(*ctx_, lists_, *rules_);
  }

  ProductRequest request_;
  std::unique_ptr<RequestContext> ctx_;
  CandidateLists lists_;
  std::unique_ptr<const RuleSet> rules_ = NewDefaultRuleSet();
};

TEST_F(MarginTest, MarginWeightChangesTheOrderAsComputedByHand) {
  // Trending for ua0: b0, b1, b2, b3, ... at fused scores 1, 1/2, 1/3, 1/4
  // (reciprocal rank). Prices are 1 + i: b0 1, b1 2, b2 3, b3 4.
  SetCost("b0", 0.9);  // margin 0.1
  SetCost("b1", 1.9);  // margin 0.1
  SetCost("b2", 0);    // margin 3
  SetCost("b3", 2);    // margin 2
  // b4.. have no cost: margin 0.
  std::vector<SlotAnswer> plain = Fill("", 3);
  EXPECT_THAT(Ids(plain[0].items), ElementsAre("b0", "b1", "b2"));

  // w = 0.5. r = 1, .5, 1/3, .25, .2; e = r * margin = .1, .05, 1, .5, 0;
  // e / max(e) = .1, .05, 1, .5, 0; score = .5 r + .5 e/max(e):
  //   b0 .55, b1 .275, b2 .6667, b3 .375, b4 .1
  std::vector<SlotAnswer> weighed = Fill("margin_weight: 0.5", 4);
  ASSERT_EQ(weighed[0].items.size(), 4u);
  EXPECT_THAT(Ids(weighed[0].items), ElementsAre("b2", "b0", "b3", "b1"));
  EXPECT_FLOAT_EQ(weighed[0].items[0].score, 0.5f / 3 + 0.5f);
  EXPECT_FLOAT_EQ(weighed[0].items[1].score, 0.55f);
  EXPECT_FLOAT_EQ(weighed[0].items[2].score, 0.375f);
  EXPECT_FLOAT_EQ(weighed[0].items[3].score, 0.275f);
  EXPECT_THAT(weighed[0].items[0].reason.applied_rules,
              ::testing::Contains("margin"));

  // w = 1: expected margin alone: b2 1, b3 .5, b0 .1, b1 .05.
  std::vector<SlotAnswer> margin_only = Fill("margin_weight: 1", 4);
  EXPECT_THAT(Ids(margin_only[0].items), ElementsAre("b2", "b3", "b0", "b1"));
}

TEST_F(MarginTest, ItemMarginNeedsAKnownCost) {
  SetCost("b2", 1.25);
  Fill("margin_weight: 0.5", 3);
  EXPECT_DOUBLE_EQ(ItemMargin(*ctx_, Row("b2")), 3 - 1.25);
  EXPECT_EQ(ItemMargin(*ctx_, Row("b1")), 0);  // no cost
  SetCost("b1", 5);                            // above the price of 2
  Fill("margin_weight: 0.5", 3);
  EXPECT_EQ(ItemMargin(*ctx_, Row("b1")), 0);
}

}  // namespace
}  // namespace recsys::recommender
