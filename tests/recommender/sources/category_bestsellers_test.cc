#include "recommender/sources/category_bestsellers.h"

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
class CategoryBestsellersSourceTest : public testing::UnitTest {};

TEST_F(CategoryBestsellersSourceTest, CategoryBestsellersOfTheUsersCategory) {
  const ProductRequest request = Request("ua0", 2);
  auto ctx = Context(request);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list,
                              CategoryBestsellersSource().Generate(*ctx));
  EXPECT_THAT(Ids(list), ElementsAre("a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9"));
  EXPECT_EQ(list[0].score, 8.0f);  // buyers
  for (const Candidate& c : list) EXPECT_EQ(c.code, ReasonCode::kCategoryBestseller);
}

TEST_F(CategoryBestsellersSourceTest, CategoryBestsellersMixTheTopCategoriesByBuyers) {
  // Two views of beta items add beta with less weight than alpha's purchases.
  Record("ua0", "b1", EventType::kView);
  const ProductRequest request = Request("ua0", 2);
  auto ctx = Context(request);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list,
                              CategoryBestsellersSource().Generate(*ctx));
  // per category: fetch_k / 2 + 1 = 8; beta items (more buyers) first.
  ASSERT_EQ(list.size(), 16u);
  EXPECT_EQ(Id(list[0].row), "b0");
  EXPECT_EQ(Id(list[8].row), "a2");
}

}  // namespace
}  // namespace recsys::recommender
