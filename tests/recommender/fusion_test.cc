#include "recommender/fusion.h"

#include <vector>

#include "gtest/gtest.h"

namespace recsys::recommender {
namespace {

Candidate C(int32_t row, ReasonCode code = ReasonCode::kPersonalized) {
  return Candidate{row, 0.0f, code};
}

TEST(FusionTest, WeightedReciprocalRankSummedInSourceOrder) {
  CandidateLists lists;
  lists[Source::kPersonalized].candidates = {C(5), C(7), C(9)};
  lists[Source::kTrending].candidates = {C(7, ReasonCode::kTrending), C(3, ReasonCode::kTrending)};
  std::vector<FusedCandidate> fused =
      FuseRanks({{Source::kPersonalized, 1.0f}, {Source::kTrending, 0.5f}}, lists);
  ASSERT_EQ(fused.size(), 4u);  // order of first appearance
  EXPECT_EQ(fused[0].row, 5);
  EXPECT_EQ(fused[1].row, 7);
  EXPECT_EQ(fused[2].row, 9);
  EXPECT_EQ(fused[3].row, 3);
  EXPECT_EQ(fused[0].score, 1.0f);
  EXPECT_EQ(fused[1].score, 1.0f / 2.0f + 0.5f / 1.0f);
  EXPECT_EQ(fused[2].score, 1.0f / 3.0f);
  EXPECT_EQ(fused[3].score, 0.5f / 2.0f);
  // Row 7 is explained by its larger contribution (the first on a tie).
  EXPECT_EQ(fused[1].why, &lists[Source::kPersonalized].candidates[1]);
  EXPECT_EQ(fused[3].why->code, ReasonCode::kTrending);
  for (const FusedCandidate& f : fused) EXPECT_FALSE(f.from_repurchase);
}

TEST(FusionTest, RepurchaseSourcesMarkTheirItems) {
  CandidateLists lists;
  lists[Source::kPersonalized].candidates = {C(1), C(2)};
  lists[Source::kBuyAgain].candidates = {C(2, ReasonCode::kBuyAgain)};
  lists[Source::kBuyAgain].repurchase = true;
  std::vector<FusedCandidate> fused =
      FuseRanks({{Source::kPersonalized, 1.0f}, {Source::kBuyAgain, 0.2f}}, lists);
  ASSERT_EQ(fused.size(), 2u);
  EXPECT_FALSE(fused[0].from_repurchase);
  EXPECT_TRUE(fused[1].from_repurchase);
  EXPECT_EQ(fused[1].why->code, ReasonCode::kPersonalized);  // 0.5 > 0.2
}

TEST(FusionTest, MissingListsCountAsEmpty) {
  EXPECT_TRUE(FuseRanks({{Source::kTrending, 1.0f}}, CandidateLists()).empty());
}

TEST(FusionTest, OrderIsByScoreThenRow) {
  std::vector<FusedCandidate> fused = {
      {9, 0.5f, 0.5f, nullptr, false},
      {4, 0.5f, 0.5f, nullptr, false},
      {7, 0.9f, 0.9f, nullptr, false},
  };
  EXPECT_EQ(FusedOrder(fused), (std::vector<size_t>{2, 1, 0}));
}

}  // namespace
}  // namespace recsys::recommender
