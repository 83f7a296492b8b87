#include "recommender/sources/personalized.h"

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
class PersonalizedSourceTest : public testing::UnitTest {};

TEST_F(PersonalizedSourceTest, PersonalizedProposesTheUsersGroupMinusPurchases) {
  const ProductRequest request = Request("ua0", 3);
  auto ctx = Context(request);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list, PersonalizedSource().Generate(*ctx));
  ASSERT_FALSE(list.empty());
  EXPECT_LE(static_cast<int>(list.size()), ctx->fetch_k);
  EXPECT_EQ(Id(list[0].row), "a2");  // nearest alpha item not bought
  for (const Candidate& c : list) EXPECT_EQ(c.code, ReasonCode::kPersonalized);
  EXPECT_THAT(Ids(list), Not(Contains("a0")));
  EXPECT_THAT(Ids(list), Not(Contains("a1")));
  for (size_t i = 1; i < list.size(); ++i) EXPECT_GE(list[i - 1].score, list[i].score);
}

TEST_F(PersonalizedSourceTest, PersonalizedIsEmptyWithoutAQueryVector) {
  const ProductRequest request = Request("stranger", 3);
  auto ctx = Context(request);
  ASSERT_TRUE(ctx->query.empty());
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list, PersonalizedSource().Generate(*ctx));
  EXPECT_TRUE(list.empty());
  EXPECT_FALSE(PersonalizedSource().repurchase());
}

}  // namespace
}  // namespace recsys::recommender
