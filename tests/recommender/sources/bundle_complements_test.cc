#include "recommender/sources/bundle_complements.h"

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
class BundleComplementsSourceTest : public testing::UnitTest {};

TEST_F(BundleComplementsSourceTest, BundleComplementsOfPurchasesKeepTheBestAnchor) {
  // ua0 bought a0 and a1: b0 is a complement of both (0.95 with a1).
  const ProductRequest request = Request("ua0", 3);
  auto ctx = Context(request);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list,
                              BundleComplementsSource().Generate(*ctx));
  EXPECT_THAT(Ids(list), ElementsAre("b0", "a5", "b3"));
  EXPECT_EQ(list[0].anchor, Row("a1"));
  EXPECT_EQ(list[0].score, 0.95f);
  EXPECT_EQ(list[1].anchor, Row("a0"));
  for (const Candidate& c : list) EXPECT_EQ(c.code, ReasonCode::kBundleComplement);
}

TEST_F(BundleComplementsSourceTest, BundleComplementsSkipFilteredItems) {
  ProductRequest request = Request("ua0", 3);
  request.filters.exclude_item_ids = {"b0"};
  auto ctx = Context(request);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Candidate> list,
                              BundleComplementsSource().Generate(*ctx));
  EXPECT_THAT(Ids(list), ElementsAre("a5", "b3"));
}

}  // namespace
}  // namespace recsys::recommender
