#include "recommender/sources/similar_to_recent.h"

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
class SimilarToRecentSourceTest : public testing::UnitTest {};

TEST_F(SimilarToRecentSourceTest, SimilarToRecentFollowsPurchasesWithoutActivity) {
  const ProductRequest request = Request("ua0", 3);
  auto ctx = Context(request);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list, SimilarToRecentSource().Generate(*ctx));
  ASSERT_FALSE(list.empty());
  EXPECT_LE(static_cast<int>(list.size()), ctx->fetch_k);
  EXPECT_THAT(Ids(list), Not(Contains("a0")));
  EXPECT_THAT(Ids(list), Not(Contains("a1")));
  EXPECT_EQ(bundle_->item(list[0].row).category, "alpha");
  for (const Candidate& c : list) {
    EXPECT_EQ(c.code, ReasonCode::kSimilarToItem);
    EXPECT_TRUE(c.anchor == Row("a0") || c.anchor == Row("a1")) << Id(c.anchor);
    EXPECT_TRUE(c.anchor_bought);
  }
  for (size_t i = 1; i < list.size(); ++i) EXPECT_GE(list[i - 1].score, list[i].score);
}

TEST_F(SimilarToRecentSourceTest, SimilarToRecentAnchorsOnAViewedItem) {
  Record("ua0", "b5", EventType::kView);
  const ProductRequest request = Request("ua0", 3);
  auto ctx = Context(request);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list, SimilarToRecentSource().Generate(*ctx));
  bool beta_from_view = false;
  for (const Candidate& c : list) {
    EXPECT_NE(Id(c.row), "b5");  // never the anchor itself
    if (c.anchor == Row("b5")) {
      EXPECT_FALSE(c.anchor_bought);
      beta_from_view = beta_from_view || bundle_->item(c.row).category == "beta";
    }
  }
  EXPECT_TRUE(beta_from_view);
}

}  // namespace
}  // namespace recsys::recommender
