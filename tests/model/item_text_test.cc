#include "model/item_text.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace recsys::model {
namespace {

using ::testing::ElementsAre;

std::vector<ItemMeta> Titled(const std::vector<std::string>& titles) {
  std::vector<ItemMeta> items(titles.size());
  for (size_t i = 0; i < titles.size(); ++i) items[i].title = titles[i];
  return items;
}

TEST(TitleWordsTest, LettersOnlyLowercasedAndLongEnough) {
  EXPECT_THAT(TitleWords("JUMBO BAG Red RETROSPOT"),
              ElementsAre("jumbo", "bag", "red", "retrospot"));
  // Digits and punctuation separate words; "t" and "pc" are too short.
  EXPECT_THAT(TitleWords("T-LIGHT holder, 12pc"), ElementsAre("light", "holder"));
  EXPECT_THAT(TitleWords("T-LIGHT holder, 12pc", 2), ElementsAre("light", "holder", "pc"));
  // UTF-8 letters belong to words (only ASCII is lowercased).
  EXPECT_THAT(TitleWords("Caf\xc3\xa9 Cr\xc3\xa8me"), ElementsAre("caf\xc3\xa9", "cr\xc3\xa8me"));
  EXPECT_TRUE(TitleWords("").empty());
  EXPECT_TRUE(TitleWords("12 x 3").empty());
}

// Five titled items and one without a title. Document frequencies: red 3,
// bag 2, lamp 2; box and blue are in one title each, so dropped.
const std::vector<std::string> kTitles = {"Red bag", "red box", "BLUE BAG",
                                          "red lamp", "", "lamp"};

TEST(TitleNeighborsTest, TfIdfCosineByHand) {
  TitleNeighborOptions options;
  options.max_token_share = 1.0;
  const ItemNeighbors n = TitleNeighbors(Titled(kTitles), options);
  ASSERT_EQ(n.indptr.size(), kTitles.size() + 1);
  const double red = std::log(6.0 / 4.0) + 1;  // idf, 5 titled items
  const double bag = std::log(6.0 / 3.0) + 1;  // bag and lamp alike
  const double norm = std::sqrt(red * red + bag * bag);
  // Item 0 (red, bag): item 2 shares bag, item 1 red, item 3 red.
  EXPECT_THAT(std::vector<int32_t>(n.items.begin() + n.indptr[0], n.items.begin() + n.indptr[1]),
              ElementsAre(2, 1, 3));
  EXPECT_NEAR(n.sims[n.indptr[0]], bag / norm, 1e-6);
  EXPECT_NEAR(n.sims[n.indptr[0] + 1], red / norm, 1e-6);
  EXPECT_NEAR(n.sims[n.indptr[0] + 2], red * red / (norm * norm), 1e-6);
  // Item 1 (red only): items 0 and 3 alike, ties by row.
  EXPECT_THAT(std::vector<int32_t>(n.items.begin() + n.indptr[1], n.items.begin() + n.indptr[2]),
              ElementsAre(0, 3));
  EXPECT_NEAR(n.sims[n.indptr[1]], red / norm, 1e-6);
  // The untitled item has none; item 5 (lamp) has item 3.
  EXPECT_EQ(n.indptr[4], n.indptr[5]);
  EXPECT_THAT(std::vector<int32_t>(n.items.begin() + n.indptr[5], n.items.begin() + n.indptr[6]),
              ElementsAre(3));
  EXPECT_NEAR(n.sims[n.indptr[5]], bag / norm, 1e-6);
}

TEST(TitleNeighborsTest, CommonWordsKeepAndWorkBounds) {
  // A cap of 2 titles drops red (3): item 1 then has no kept word.
  TitleNeighborOptions options;
  options.max_token_share = 0.4;  // 2 of 5
  options.min_token_cap = 0;
  ItemNeighbors n = TitleNeighbors(Titled(kTitles), options);
  ASSERT_EQ(n.indptr.size(), kTitles.size() + 1);
  EXPECT_THAT(std::vector<int32_t>(n.items.begin() + n.indptr[0], n.items.begin() + n.indptr[1]),
              ElementsAre(2));
  EXPECT_FLOAT_EQ(n.sims[n.indptr[0]], 1.0f);
  EXPECT_EQ(n.indptr[1], n.indptr[2]);
  // The floor keeps red in so small a catalog.
  options.min_token_cap = 3;
  n = TitleNeighbors(Titled(kTitles), options);
  EXPECT_EQ(n.indptr[2] - n.indptr[1], 2);
  // At most `neighbors` per item, the best ones.
  options.neighbors = 1;
  n = TitleNeighbors(Titled(kTitles), options);
  EXPECT_THAT(std::vector<int32_t>(n.items.begin() + n.indptr[0], n.items.begin() + n.indptr[1]),
              ElementsAre(2));
  // Past the work bound (red 9 + bag 4 + lamp 4 = 17), or without any
  // neighbour to keep: nothing.
  options.max_work = 16;
  EXPECT_TRUE(TitleNeighbors(Titled(kTitles), options).indptr.empty());
  options.max_work = 17;
  EXPECT_FALSE(TitleNeighbors(Titled(kTitles), options).indptr.empty());
  options.neighbors = 0;
  EXPECT_TRUE(TitleNeighbors(Titled(kTitles), options).indptr.empty());
  EXPECT_TRUE(TitleNeighbors(Titled({"one", "two"}), {}).indptr.empty());
}

}  // namespace
}  // namespace recsys::model
