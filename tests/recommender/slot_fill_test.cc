#include "recommender/slot_fill.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recommender/candidate_source.h"
#include "recommender/rules/rule_set.h"
#include "recommender/trial_picks.h"
#include "tests/recommender/unit_fixture.h"

namespace recsys::recommender {
namespace {

using ::testing::ElementsAre;

class SlotFillTest : public testing::UnitTest {
 protected:
  // Candidate lists, trial picks and features of `ctx`, then its slots.
  std::vector<SlotAnswer> Fill(RequestContext* ctx, CandidateLists* lists) {
    auto generated = NewDefaultSourceRegistry(options_)->Generate(*ctx);
    EXPECT_TRUE(generated.ok()) << generated.status();
    *lists = *std::move(generated);
    FetchItemFeatures(*lists, store_, absl::InfiniteFuture(), ctx, &meta_);
    return FillSlots(*ctx, *lists, *rules_);
  }

  std::unique_ptr<const RuleSet> rules_ = NewDefaultRuleSet();
};

TEST_F(SlotFillTest, NoItemRepeatsAcrossSlots) {
  ProductRequest request = Request("ua0", 4, "first");
  request.slots.push_back({"second", 4});
  request.slots.push_back({"third", 4});
  auto ctx = Context(request, Plan(R"pb(
                       slots {
                         name: "first"
                         sources { source: SOURCE_PERSONALIZED weight: 1 }
                       }
                       slots {
                         name: "second"
                         sources { source: SOURCE_PERSONALIZED weight: 1 }
                         sources { source: SOURCE_TRENDING weight: 1 }
                       }
                       slots {
                         name: "third"
                         sources { source: SOURCE_TRENDING weight: 1 }
                       }
                     )pb"));
  CandidateLists lists;
  std::vector<SlotAnswer> slots = Fill(ctx.get(), &lists);
  ASSERT_EQ(slots.size(), 3u);
  std::set<std::string> seen;
  for (const SlotAnswer& slot : slots) {
    EXPECT_EQ(slot.items.size(), 4u) << slot.name;
    for (const ScoredItem& item : slot.items) {
      EXPECT_TRUE(seen.insert(item.item_id).second) << item.item_id << " repeated";
      EXPECT_NE(item.item_id, "a0");  // bought
      EXPECT_NE(item.item_id, "a1");
    }
  }
  EXPECT_THAT(Ids(slots[0].items), ElementsAre("a2", "a3", "a4", "a5"));
  EXPECT_EQ(slots[0].name, "first");
}

TEST_F(SlotFillTest, PopularItemsFillWhatTheSourcesLeave) {
  // A user without any signal: no candidates at all.
  const ProductRequest request = Request("stranger", 3);
  auto ctx = Context(request);
  CandidateLists lists;
  std::vector<SlotAnswer> slots = Fill(ctx.get(), &lists);
  ASSERT_EQ(slots.size(), 1u);
  EXPECT_THAT(Ids(slots[0].items), ElementsAre("b0", "b1", "b2"));
  EXPECT_EQ(slots[0].items[0].reason.code, ReasonCode::kPopular);
  EXPECT_EQ(slots[0].items[0].reason.text, "popular in beta");
  EXPECT_EQ(slots[0].items[0].score, 1.0f);
  EXPECT_FLOAT_EQ(slots[0].items[1].score, 99.0f / 100.0f);
}

TEST_F(SlotFillTest, PopularFillSkipsOutOfStockAndScoresBelowTheSources) {
  SetStock("b0", 0);
  const ProductRequest request = Request("ua0", 3);
  auto ctx = Context(request, Plan(R"pb(
                       slots {
                         name: "feed"
                         sources { source: SOURCE_BUNDLE_COMPLEMENTS weight: 1 }
                       }
                     )pb"));
  CandidateLists lists;
  std::vector<SlotAnswer> slots = Fill(ctx.get(), &lists);
  // Complements: b0 (out of stock), a5, b3 -> a5, b3 (scores 1/2, 1/3);
  // then the popular fill from b1, scored at most the last score.
  ASSERT_EQ(slots[0].items.size(), 3u);
  EXPECT_THAT(Ids(slots[0].items), ElementsAre("a5", "b3", "b1"));
  EXPECT_EQ(slots[0].items[2].reason.code, ReasonCode::kPopular);
  EXPECT_LE(slots[0].items[2].score, slots[0].items[1].score);
}

TEST_F(SlotFillTest, TrialItemsArePlacedInTheSlot) {
  const ProductRequest request = Request("ua0", 5);
  auto ctx = Context(request, Plan(R"pb(
                       slots {
                         name: "feed"
                         sources { source: SOURCE_PERSONALIZED weight: 1 }
                         trial_share: 0.4
                       }
                     )pb"));
  TrialItem t;
  t.item_id = "new1";
  t.category = "gamma";
  t.listed = request.now - absl::Hours(30);
  TrialSnapshot snapshot("1", request.now, {t});
  ctx->trial_items = RankTrialItems(*ctx, snapshot);
  ASSERT_EQ(ctx->trial_items.size(), 1u);
  CandidateLists lists;
  std::vector<SlotAnswer> slots = Fill(ctx.get(), &lists);
  ASSERT_EQ(slots[0].items.size(), 5u);
  // Quota 2 (0.4 * 5), one trial item: 4 regular items, the trial item at
  // position 0 + 1 * 5 / 2 = 2.
  EXPECT_THAT(Ids(slots[0].items), ElementsAre("a2", "a3", "new1", "a4", "a5"));
  EXPECT_EQ(slots[0].items[2].reason.code, ReasonCode::kTrialPool);
  EXPECT_EQ(slots[0].items[2].score, slots[0].items[3].score);
}

}  // namespace
}  // namespace recsys::recommender
