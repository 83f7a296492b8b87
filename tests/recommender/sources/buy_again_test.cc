#include "recommender/sources/buy_again.h"

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
class BuyAgainSourceTest : public testing::UnitTest {};

TEST_F(BuyAgainSourceTest, BuyAgainListsPurchasesByCount) {
  // ua2 bought a2 three times and a3 once.
  const ProductRequest request = Request("ua2", 5);
  auto ctx = Context(request);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list, BuyAgainSource().Generate(*ctx));
  EXPECT_THAT(Ids(list), ElementsAre("a2", "a3"));
  EXPECT_EQ(list[0].score, 3.0f);
  EXPECT_EQ(list[1].score, 1.0f);
  for (const Candidate& c : list) {
    EXPECT_EQ(c.code, ReasonCode::kBuyAgain);
    ASSERT_NE(c.purchase, nullptr);
    EXPECT_EQ(c.purchase->item, c.row);
  }
  EXPECT_TRUE(BuyAgainSource().repurchase());
}

TEST_F(BuyAgainSourceTest, BuyAgainWaitsForTheRepurchaseWindow) {
  ProductRequest request = Request("ua2", 5);
  // The purchases are from 2023; 10000 days have not passed in 2025.
  auto ctx = Context(request,
                     Plan(R"pb(rules { repurchasable { category: "alpha" min_days: 10000 } })pb"));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list, BuyAgainSource().Generate(*ctx));
  EXPECT_TRUE(list.empty());
  auto due =
      Context(request, Plan(R"pb(rules { repurchasable { category: "alpha" min_days: 100 } })pb"));
  RECSYS_ASSERT_OK_AND_ASSIGN(list, BuyAgainSource().Generate(*due));
  EXPECT_THAT(Ids(list), ElementsAre("a2", "a3"));
}

TEST_F(BuyAgainSourceTest, ItemsDueNowByTheirCycleComeFirst) {
  // ua2 bought a2 three times and a3 once: by count a2 leads.
  const ProductRequest request = Request("ua2", 5);
  auto ctx = Context(request);
  const int64_t now = ctx->now_unix;
  // a3 is due by the user's cycle, a2 is not yet.
  ctx->cycles[Row("a3")] = {now - 86400, 30};
  ctx->cycles[Row("a2")] = {now + 86400, 30};
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list, BuyAgainSource().Generate(*ctx));
  EXPECT_THAT(Ids(list), ElementsAre("a3", "a2"));
  EXPECT_EQ(list[0].score, 1.0f);  // still the purchase count
  // Both due: the earliest due first.
  ctx->cycles[Row("a2")] = {now - 2 * 86400, 30};
  RECSYS_ASSERT_OK_AND_ASSIGN(list, BuyAgainSource().Generate(*ctx));
  EXPECT_THAT(Ids(list), ElementsAre("a2", "a3"));
  // Due exactly now counts as due.
  ctx->cycles[Row("a3")] = {now, 30};
  ctx->cycles[Row("a2")] = {now + 1, 30};
  RECSYS_ASSERT_OK_AND_ASSIGN(list, BuyAgainSource().Generate(*ctx));
  EXPECT_THAT(Ids(list), ElementsAre("a3", "a2"));
  // An item without a known cycle comes before one known not to be due.
  ctx->cycles.erase(Row("a3"));
  RECSYS_ASSERT_OK_AND_ASSIGN(list, BuyAgainSource().Generate(*ctx));
  EXPECT_THAT(Ids(list), ElementsAre("a3", "a2"));
}

TEST_F(BuyAgainSourceTest, BuyAgainHonoursRequestExclusions) {
  ProductRequest request = Request("ua2", 5);
  request.filters.exclude_item_ids = {"a2"};
  auto ctx = Context(request);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list, BuyAgainSource().Generate(*ctx));
  EXPECT_THAT(Ids(list), ElementsAre("a3"));
}

}  // namespace
}  // namespace recsys::recommender
