#include "training/bundles.h"

#include <cmath>

#include "gtest/gtest.h"

namespace recsys::training {
namespace {

TEST(BundlesTest, ComplementsByCoPurchaseWithoutSubstitutes) {
  // Items 0 and 2 share category "a" (substitutes); 1 is "b", 3 is "c".
  const std::vector<std::string> categories = {"a", "b", "a", "c"};
  const std::vector<std::vector<int32_t>> baskets = {
      {0, 1, 2}, {0, 1}, {1, 0, 0}, {2, 3}, {0, 3}, {0, 2}};
  ComplementOptions options;
  options.min_support = 2;
  auto out = ComputeComplements(baskets, categories, options);
  ASSERT_EQ(out.size(), 4u);
  // (0, 1): 3 shared baskets; item 0 in 5 baskets, item 1 in 3.
  ASSERT_EQ(out[0].size(), 1u);
  EXPECT_EQ(out[0][0].first, 1);
  EXPECT_NEAR(out[0][0].second, 3 / std::sqrt(15.0), 1e-6);
  ASSERT_EQ(out[1].size(), 1u);
  EXPECT_EQ(out[1][0].first, 0);
  // (0, 2) share 2 baskets but are substitutes; (2, 3) and (0, 3) are rare.
  EXPECT_TRUE(out[2].empty());
  EXPECT_TRUE(out[3].empty());
  options.exclude_same_category = false;
  out = ComputeComplements(baskets, categories, options);
  ASSERT_EQ(out[2].size(), 1u);
  EXPECT_EQ(out[2][0].first, 0);
}

TEST(BundlesTest, BasketsAreCappedAndListsTruncated) {
  std::vector<std::string> categories(50, "");
  std::vector<int32_t> big;
  for (int i = 0; i < 50; ++i) big.push_back(i);
  const std::vector<std::vector<int32_t>> baskets = {big, big};
  ComplementOptions options;
  options.max_basket = 10;
  options.per_item = 3;
  auto out = ComputeComplements(baskets, categories, options);
  EXPECT_EQ(out[0].size(), 3u);
  EXPECT_TRUE(out[20].empty());  // beyond the basket cap
}

}  // namespace
}  // namespace recsys::training
