#include "recommender/trial_picks.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recommender/rules/rule_set.h"
#include "recommender/slot_fill.h"
#include "tests/recommender/unit_fixture.h"

namespace recsys::recommender {
namespace {

using ::testing::ElementsAre;

class TrialPicksTest : public testing::UnitTest {
 protected:
  // A listed item `id` in category `category` with vector `v` (row: the
  // model's, -1 for a new item), listed `days_ago` before the request.
  TrialItem Item(const std::string& id, const std::string& category, std::vector<float> v,
                 int days_ago, const ProductRequest& request) {
    TrialItem t;
    t.item_id = id;
    t.category = category;
    t.row = Row(id);
    t.vector = std::move(v);
    t.listed = request.now - absl::Hours(24) * days_ago - absl::Hours(1);
    t.price = 2.5;
    return t;
  }
};

TEST(TrialQuotaTest, FloorPlusTheFractionDrawnPerRequest) {
  EXPECT_EQ(TrialQuota(0.1f, 10, 0.99, 10), 1);
  EXPECT_EQ(TrialQuota(0.25f, 10, 0.49, 10), 3);  // 2.5: the draw adds one
  EXPECT_EQ(TrialQuota(0.25f, 10, 0.51, 10), 2);
  EXPECT_EQ(TrialQuota(0.5f, 10, 0.0, 3), 3);  // bounded by the room left
  EXPECT_EQ(TrialQuota(0.0f, 10, 0.0, 10), 0);
}

TEST_F(TrialPicksTest, RanksEligibleItemsByAffinityAndSkipsTheRest) {
  ProductRequest request = Request("ua0", 5);
  request.filters.exclude_item_ids = {"excluded"};
  auto ctx = Context(request);  // ua0's vector points along axis 0
  TrialSnapshot snapshot("1", request.now,
                         {Item("new_beta", "beta", {0, 1, 0, 0}, 1, request),
                          Item("new_alpha", "alpha", {1, 0, 0, 0}, 2, request),
                          Item("excluded", "alpha", {1, 0, 0, 0}, 2, request),
                          Item("a0", "alpha", {1, 0, 0, 0}, 2, request),  // bought
                          Item("too_old", "alpha", {1, 0, 0, 0}, 30, request)});
  std::vector<const TrialItem*> ranked = RankTrialItems(*ctx, snapshot);
  std::vector<std::string> ids;
  for (const TrialItem* t : ranked) ids.push_back(t->item_id);
  EXPECT_THAT(ids, ElementsAre("new_alpha", "new_beta"));
}

TEST_F(TrialPicksTest, RecentlyShownItemsRankLast) {
  Record("ua0", "new_alpha", feature_store::EventType::kImpression);
  const ProductRequest request = Request("ua0", 5);
  auto ctx =
      Context(request, Plan(R"pb(rules { rotation_impressions: 5 rotation_multiplier: 0.5 })pb"));
  TrialSnapshot snapshot("1", request.now,
                         {Item("new_beta", "beta", {0, 1, 0, 0}, 1, request),
                          Item("new_alpha", "alpha", {1, 0, 0, 0}, 2, request)});
  std::vector<const TrialItem*> ranked = RankTrialItems(*ctx, snapshot);
  ASSERT_EQ(ranked.size(), 2u);
  EXPECT_EQ(ranked[0]->item_id, "new_beta");
}

TEST_F(TrialPicksTest, PlacesItemsEvenlyAfterThePinnedOnes) {
  const ProductRequest request = Request("ua0", 5);
  auto ctx = Context(request);
  const TrialItem t = Item("new1", "alpha", {}, 3, request);
  std::vector<ScoredItem> items(4);
  for (int i = 0; i < 4; ++i) {
    items[i].item_id = absl::StrCat("x", i);
    items[i].score = 1.0f - 0.1f * i;
  }
  // One pinned item, one trial item: region 4, position 1 + 4 / 2 = 3.
  PlaceTrialItems(*ctx, {&t}, 1, &items);
  EXPECT_THAT(Ids(items), ElementsAre("x0", "x1", "x2", "new1", "x3"));
  EXPECT_FLOAT_EQ(items[3].score, 0.7f);  // the score of the position taken
  EXPECT_EQ(items[3].reason.code, ReasonCode::kTrialPool);
  EXPECT_EQ(items[3].reason.text, "new in alpha, listed 3 days ago (15-day trial)");
  EXPECT_THAT(items[3].reason.applied_rules, ElementsAre("trial_pool"));
  EXPECT_EQ(items[3].price, 2.5);
}

TEST_F(TrialPicksTest, TakesTheQuotaOfItemsTheSlotMayShow) {
  ProductRequest request = Request("ua0", 10, "feed");
  auto ctx = Context(request, Plan(R"pb(
                       slots {
                         name: "feed"
                         sources { source: SOURCE_TRENDING weight: 1 }
                         trial_share: 0.2
                       }
                     )pb"));
  TrialSnapshot snapshot("1", request.now,
                         {Item("new1", "alpha", {1, 0, 0, 0}, 1, request),
                          Item("new2", "alpha", {0.5, 0, 0, 0}, 1, request),
                          Item("new3", "alpha", {0.2, 0, 0, 0}, 1, request)});
  ctx->trial_items = RankTrialItems(*ctx, snapshot);
  // new2 is out of stock; new1 and new3 are unknown to the store (stock
  // unknown: shown).
  feature_store::ItemFeatures out;
  out.item_id = "new2";
  out.stock = 0;
  RECSYS_ASSERT_OK(memory_.PutItems({out}));
  FetchItemFeatures({}, store_, absl::InfiniteFuture(), ctx.get(), &meta_);
  const std::unique_ptr<const RuleSet> rules = NewDefaultRuleSet();
  FillProgress progress;
  SlotFill fill(*ctx, *rules, 0, &progress);
  std::vector<const TrialItem*> taken = TakeTrialItems(*ctx, &fill);
  // 0.2 * 10 = 2 exactly; new2 is skipped.
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0]->item_id, "new1");
  EXPECT_EQ(taken[1]->item_id, "new3");
  EXPECT_TRUE(progress.chosen_new.contains("new1"));
  EXPECT_EQ(fill.state().per_category.at("alpha"), 2);
  EXPECT_EQ(fill.size(), 0);  // placed later
}

}  // namespace
}  // namespace recsys::recommender
