#include "recommender/sources/trending.h"

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
class TrendingSourceTest : public testing::UnitTest {};

TEST_F(TrendingSourceTest, TrendingFollowsThePopularListByBuyers) {
  const ProductRequest request = Request("ua0", 1);
  auto ctx = Context(request);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list, TrendingSource().Generate(*ctx));
  ASSERT_EQ(static_cast<int>(list.size()), ctx->fetch_k);  // 12 of 18 allowed items
  EXPECT_EQ(Id(list[0].row), "b0");
  EXPECT_EQ(list[0].score, 100.0f);
  EXPECT_EQ(list[0].code, ReasonCode::kTrending);
  EXPECT_EQ(Id(list[10].row), "a2");  // a0, a1 bought
}

TEST_F(TrendingSourceTest, TrendingObeysTheRequestFilters) {
  ProductRequest request = Request("ua0", 5);
  request.filters.categories = {"alpha"};
  auto ctx = Context(request);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list, TrendingSource().Generate(*ctx));
  EXPECT_THAT(Ids(list), ElementsAre("a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9"));
}

}  // namespace
}  // namespace recsys::recommender
