#include "recommender/sources/blended.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/recommender/unit_fixture.h"

namespace recsys::recommender {
namespace {

using feature_store::EventType;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;
class BlendedSourceTest : public testing::UnitTest {};

TEST_F(BlendedSourceTest, BlendedMayBringBackPurchasesWithTheirHistory) {
  const ProductRequest request = Request("ua2", 5);
  auto ctx = Context(request);
  const BlendedSource source(/*ranker_candidates=*/50);
  EXPECT_TRUE(source.repurchase());
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list, source.Generate(*ctx));
  ASSERT_FALSE(list.empty());
  EXPECT_LE(static_cast<int>(list.size()), ctx->fetch_k);
  for (const Candidate& c : list) {
    if (c.code == ReasonCode::kBuyAgain) {
      ASSERT_NE(c.purchase, nullptr) << Id(c.row);
      EXPECT_EQ(c.purchase->item, c.row);
      EXPECT_TRUE(Id(c.row) == "a2" || Id(c.row) == "a3") << Id(c.row);
    } else {
      EXPECT_EQ(c.code, ReasonCode::kPersonalized);
      EXPECT_EQ(c.purchase, nullptr);
    }
  }
}

TEST_F(BlendedSourceTest, BlendedKeepsPurchasesThatAreNotDueAway) {
  // Only beta is repurchasable: the user's alpha purchases never return.
  const ProductRequest request = Request("ua2", 5);
  auto ctx =
      Context(request, Plan(R"pb(rules { repurchasable { category: "beta" min_days: 1 } })pb"));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list, BlendedSource(50).Generate(*ctx));
  EXPECT_THAT(Ids(list), Not(Contains("a2")));
  EXPECT_THAT(Ids(list), Not(Contains("a3")));
}

TEST_F(BlendedSourceTest, BlendedIsEmptyForAUserWithoutSignal) {
  const ProductRequest request = Request("stranger", 5);
  auto ctx = Context(request);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list, BlendedSource(50).Generate(*ctx));
  EXPECT_TRUE(list.empty());
}

TEST_F(BlendedSourceTest, TheValidationGuardsBaselineFillsBlendedSlots) {
  model::ModelData data = model::testing::MakePlantedModel();
  model::RankerWeights weights = model::DefaultRankerWeights();
  weights.serve_all = model::RankerServe::kBuyAgain;
  *data.manifest.mutable_ranker() = model::RankerWeightsToConfig(weights);
  const std::string root = recsys::testing::MakeUniqueDir("blended_guard");
  RECSYS_ASSERT_OK(model::PublishModel(root, data, {.version = "1"}).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(bundle_, model::ModelBundle::Load(root + "/1"));
  const ProductRequest request = Request("ua2", 5);
  auto ctx = Context(request);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list, BlendedSource(50).Generate(*ctx));
  // Buy-again: the user's purchases and nothing else.
  ASSERT_FALSE(list.empty());
  for (const Candidate& c : list) {
    EXPECT_EQ(c.code, ReasonCode::kBuyAgain);
    EXPECT_TRUE(Id(c.row) == "a2" || Id(c.row) == "a3") << Id(c.row);
  }

  weights.serve_all = model::RankerServe::kPopularity;
  *data.manifest.mutable_ranker() = model::RankerWeightsToConfig(weights);
  RECSYS_ASSERT_OK(model::PublishModel(root, data, {.version = "2"}).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(bundle_, model::ModelBundle::Load(root + "/2"));
  auto popular_ctx = Context(request);
  RECSYS_ASSERT_OK_AND_ASSIGN(list, BlendedSource(50).Generate(*popular_ctx));
  ASSERT_FALSE(list.empty());
  // The model's popularity order, bought items allowed.
  const std::vector<int32_t>& order = bundle_->ranker_item_stats().popular_order;
  size_t at = 0;
  for (const Candidate& c : list) {
    while (at < order.size() && order[at] != c.row) ++at;
    ASSERT_LT(at, order.size()) << "out of popularity order: " << Id(c.row);
    if (c.code != ReasonCode::kBuyAgain) {
      EXPECT_EQ(c.code, ReasonCode::kPopular);
    }
  }
}

// SOURCE_BLENDED_NEW ranks as the evaluation's new-items setting: without
// the user's purchases, with the discovery weights, or with the baseline
// the guard chose for new items.
TEST_F(BlendedSourceTest, TheNewItemsSourceUsesTheDiscoveryWeightsAndGuard) {
  model::ModelData data = model::testing::MakePlantedModel();
  model::RankerWeights weights = model::DefaultRankerWeights();
  // Discovery by popularity alone (the planted history's: a1..a4 and b1..b4
  // have two buyers each, the others one).
  weights.has_discovery = true;
  weights.discovery[model::kFeatPopularity] = 5.0f;
  *data.manifest.mutable_ranker() = model::RankerWeightsToConfig(weights);
  const std::string root = recsys::testing::MakeUniqueDir("blended_new");
  RECSYS_ASSERT_OK(model::PublishModel(root, data, {.version = "1"}).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(bundle_, model::ModelBundle::Load(root + "/1"));
  const ProductRequest request = Request("ua2", 5);
  auto ctx = Context(request);
  const BlendedSource source(/*ranker_candidates=*/50, /*new_items=*/true);
  EXPECT_FALSE(source.repurchase());
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list, source.Generate(*ctx));
  ASSERT_FALSE(list.empty());
  // Exactly the ranker's list without bought items.
  model::RankerUser user;
  user.vector = ctx->query;
  user.history = ctx->history;
  model::RankOptions rank;
  rank.k = ctx->fetch_k;
  rank.now_unix = ctx->now_unix;
  rank.vector_candidates = std::max(50, ctx->fetch_k);
  rank.include_bought = false;
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<model::RankedItem> expected,
                              model::RankItems(bundle_->ranker_model(), user, rank));
  ASSERT_EQ(list.size(), expected.size());
  for (size_t i = 0; i < list.size(); ++i) EXPECT_EQ(list[i].row, expected[i].item) << i;
  // The discovery weights rank by popularity: the first is the most bought
  // item ua2 did not buy (a1, two buyers, first by row).
  EXPECT_EQ(Id(list[0].row), "a1");
  for (const Candidate& c : list) {
    EXPECT_EQ(c.code, ReasonCode::kPersonalized);
    EXPECT_NE(Id(c.row), "a2");
    EXPECT_NE(Id(c.row), "a3");
  }
  // The blended source of the same model follows the main weights: ua2's
  // purchases come back first.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> blended, BlendedSource(50).Generate(*ctx));
  ASSERT_FALSE(blended.empty());
  EXPECT_EQ(blended[0].code, ReasonCode::kBuyAgain);

  // The guard's new-items baseline: popularity, without bought items.
  weights.serve_new = model::RankerServe::kPopularity;
  *data.manifest.mutable_ranker() = model::RankerWeightsToConfig(weights);
  RECSYS_ASSERT_OK(model::PublishModel(root, data, {.version = "2"}).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(bundle_, model::ModelBundle::Load(root + "/2"));
  auto popular_ctx = Context(request);
  RECSYS_ASSERT_OK_AND_ASSIGN(list, source.Generate(*popular_ctx));
  ASSERT_FALSE(list.empty());
  EXPECT_THAT(Ids(list), Not(Contains("a2")));
  for (const Candidate& c : list) EXPECT_EQ(c.code, ReasonCode::kPopular);
}

}  // namespace
}  // namespace recsys::recommender
