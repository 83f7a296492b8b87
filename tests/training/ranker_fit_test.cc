#include "training/ranker_fit.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace recsys::training {
namespace {

using model::HistoryEntry;
using model::RankerModel;
using model::VectorIndex;

// 20 items on a circle (2-d), 60 users each with 3 bought items.
class RankerFitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < kItems; ++i) {
      const double a = 2 * 3.14159265 * i / kItems;
      factors_.push_back(static_cast<float>(std::cos(a)));
      factors_.push_back(static_cast<float>(std::sin(a)));
    }
    auto index = VectorIndex::Create(2, "Flat", model::Metric::kInnerProduct);
    ASSERT_TRUE(index.ok());
    index_ = *std::move(index);
    RECSYS_ASSERT_OK(index_->Add(factors_));
    indptr_.push_back(0);
    for (int u = 0; u < kUsers; ++u) {
      // The user's vector points at item (u % kItems); they bought three
      // items far from it.
      const int home = u % kItems;
      users_.push_back(factors_[2 * home]);
      users_.push_back(factors_[2 * home + 1]);
      for (int j = 0; j < 3; ++j) {
        history_.push_back({(home + 7 + j) % kItems, 1 + (u + j) % 3, kNow - 86400 * (1 + j)});
      }
      indptr_.push_back(static_cast<int64_t>(history_.size()));
    }
    stats_ = model::ComputeRankerItemStats(kItems, indptr_, history_);
    model_.index = index_.get();
    model_.item_factors = factors_;
    model_.dim = 2;
    model_.item_stats = &stats_;
  }

  static constexpr int kItems = 20;
  static constexpr int kUsers = 60;
  static constexpr int64_t kNow = 1700000000;
  std::vector<float> factors_, users_;
  std::unique_ptr<VectorIndex> index_;
  std::vector<int64_t> indptr_;
  std::vector<HistoryEntry> history_;
  model::RankerItemStats stats_;
  RankerModel model_;
};

TEST_F(RankerFitTest, LearnsRepurchaseWhenTheWindowRepeatsHistory) {
  std::vector<std::vector<int32_t>> window(kUsers);
  for (int u = 0; u < kUsers; ++u) window[u] = {history_[3 * u].item};  // re-buys
  RankerFitOptions options;
  options.vector_candidates = 5;
  RECSYS_ASSERT_OK_AND_ASSIGN(RankerFitResult fit,
                              FitRanker(model_, users_, indptr_, history_, window, kNow, options));
  EXPECT_EQ(fit.users, kUsers);
  EXPECT_EQ(fit.positives, kUsers);
  EXPECT_DOUBLE_EQ(fit.candidate_recall, 1.0);
  // With the fitted weights, the re-bought item ranks first.
  model_.weights = &fit.weights;
  int first = 0;
  for (int u = 0; u < kUsers; ++u) {
    model::RankerUser user;
    user.vector = absl::MakeSpan(users_).subspan(2 * u, 2);
    user.history = absl::MakeSpan(history_).subspan(3 * u, 3);
    model::RankOptions rank;
    rank.k = 1;
    rank.now_unix = kNow;
    rank.vector_candidates = 5;
    RECSYS_ASSERT_OK_AND_ASSIGN(auto ranked, model::RankItems(model_, user, rank));
    first += ranked[0].item == window[u][0];
  }
  EXPECT_GE(first, kUsers * 9 / 10);
}

TEST_F(RankerFitTest, LearnsDiscoveryWhenTheWindowFollowsTheVector) {
  std::vector<std::vector<int32_t>> window(kUsers);
  for (int u = 0; u < kUsers; ++u) window[u] = {u % kItems};  // the vector's top item
  RankerFitOptions options;
  options.vector_candidates = 5;
  RECSYS_ASSERT_OK_AND_ASSIGN(RankerFitResult fit,
                              FitRanker(model_, users_, indptr_, history_, window, kNow, options));
  const auto& w = fit.weights.w;
  EXPECT_GT(w[model::kFeatVectorScore] + w[model::kFeatVectorRank], 0.0f);
  EXPECT_LT(w[model::kFeatBought], 0.0f);
}

TEST_F(RankerFitTest, DiscoveryL2ShrinksOnlyTheDiscoveryWeights) {
  std::vector<std::vector<int32_t>> window(kUsers);
  for (int u = 0; u < kUsers; ++u) window[u] = {u % kItems};
  RankerFitOptions options;
  options.vector_candidates = 5;
  options.discovery = true;
  RECSYS_ASSERT_OK_AND_ASSIGN(
      RankerFitResult plain,
      FitRanker(model_, users_, indptr_, history_, window, kNow, options));
  options.discovery_l2 = options.l2 * 100;
  RECSYS_ASSERT_OK_AND_ASSIGN(
      RankerFitResult shrunk,
      FitRanker(model_, users_, indptr_, history_, window, kNow, options));
  ASSERT_TRUE(plain.weights.has_discovery);
  ASSERT_TRUE(shrunk.weights.has_discovery);
  double norm_plain = 0, norm_shrunk = 0;
  for (int f = 0; f < model::kNumRankerFeatures; ++f) {
    EXPECT_FLOAT_EQ(plain.weights.w[f], shrunk.weights.w[f]) << f;
    norm_plain += plain.weights.discovery[f] * plain.weights.discovery[f];
    norm_shrunk += shrunk.weights.discovery[f] * shrunk.weights.discovery[f];
  }
  EXPECT_GT(norm_plain, 0);
  EXPECT_LT(norm_shrunk, norm_plain);
}

// Each item's only title neighbour is the item opposite it on the circle;
// each user's window purchase is the title neighbour of their first bought
// item, which neither the vector (5 candidates), the history nor the item
// neighbours propose. Only the content set learns from the title features.
TEST_F(RankerFitTest, TitleNeighboursCountOnlyInTheContentSet) {
  model::ItemNeighbors& titles = stats_.title_neighbors;
  for (int i = 0; i <= kItems; ++i) titles.indptr.push_back(i);
  for (int i = 0; i < kItems; ++i) {
    titles.items.push_back((i + kItems / 2) % kItems);
    titles.sims.push_back(0.9f);
  }
  std::vector<std::vector<int32_t>> window(kUsers);
  for (int u = 0; u < kUsers; ++u) {
    window[u] = {(history_[3 * u].item + kItems / 2) % kItems};
  }
  RankerFitOptions options;
  options.vector_candidates = 5;
  options.discovery = true;
  RECSYS_ASSERT_OK_AND_ASSIGN(
      RankerExamples examples,
      BuildRankerExamples(model_, users_, indptr_, history_, window, kNow, options));
  options.feature_set = RankerFeatureSet::kNeighbors;
  EXPECT_TRUE(absl::IsFailedPrecondition(FitRankerWeights(examples, options).status()));
  // Every item is a popular candidate here, so the window purchases are
  // among these candidates, but the title features stay out.
  options.feature_set = RankerFeatureSet::kNeighborsTrending;
  RECSYS_ASSERT_OK_AND_ASSIGN(RankerFitResult without, FitRankerWeights(examples, options));
  EXPECT_EQ(without.weights.discovery[model::kFeatTitleScore], 0.0f);
  EXPECT_EQ(without.weights.discovery[model::kFeatTitleRank], 0.0f);
  EXPECT_EQ(without.weights.w[model::kFeatTitleScore], 0.0f);
  options.feature_set = RankerFeatureSet::kContent;
  RECSYS_ASSERT_OK_AND_ASSIGN(RankerFitResult fit, FitRankerWeights(examples, options));
  EXPECT_GT(fit.weights.discovery[model::kFeatTitleScore] +
                fit.weights.discovery[model::kFeatTitleRank],
            0.0f);
  EXPECT_EQ(RankerFeatureSetName(RankerFeatureSet::kContent), "neighbors+trending+content");
}

// Examples over several of the fit's blocks: a deterministic pseudo-random
// feature mix, labels from a known score, some bought candidates.
RankerExamples ManyExamples(int rows) {
  RankerExamples examples;
  uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<float>((state >> 33) % 10000) / 10000.0f;
  };
  for (int i = 0; i < rows; ++i) {
    float score = 0;
    for (int f = 0; f < model::kNumRankerFeatures; ++f) {
      const float v = next();
      examples.x.push_back(f == model::kFeatBought ? (v < 0.3f ? 1.0f : 0.0f)
                                                   : v);
      score += (f % 3 == 0 ? 1.0f : -0.5f) * examples.x.back();
    }
    examples.x.push_back(1.0f);
    examples.y.push_back(score + next() > 1.2f ? 1 : 0);
    examples.sources.push_back(model::kSourceVector);
  }
  examples.users = rows / 10;
  examples.window_items = rows / 5;
  return examples;
}

TEST(FitRankerWeightsTest, TheWeightsDoNotDependOnTheThreadCount) {
  const RankerExamples examples = ManyExamples(30000);  // several blocks
  RankerFitOptions options;
  options.discovery = true;
  options.threads = 1;
  RECSYS_ASSERT_OK_AND_ASSIGN(RankerFitResult one,
                              FitRankerWeights(examples, options));
  options.threads = 3;
  RECSYS_ASSERT_OK_AND_ASSIGN(RankerFitResult three,
                              FitRankerWeights(examples, options));
  ASSERT_TRUE(one.weights.has_discovery);
  double norm = 0;
  for (int f = 0; f < model::kNumRankerFeatures; ++f) {
    EXPECT_EQ(one.weights.w[f], three.weights.w[f]) << f;
    EXPECT_EQ(one.weights.discovery[f], three.weights.discovery[f]) << f;
    norm += one.weights.w[f] * one.weights.w[f];
  }
  EXPECT_EQ(one.log_loss, three.log_loss);
  EXPECT_GT(norm, 0);
}

TEST(FitRankerWeightsTest, WithoutMainWeightsOnlyTheDiscoveryWeightsAreFit) {
  const RankerExamples examples = ManyExamples(5000);
  RankerFitOptions options;
  options.discovery = true;
  options.discovery_l2 = options.l2 * 10;
  RECSYS_ASSERT_OK_AND_ASSIGN(RankerFitResult both,
                              FitRankerWeights(examples, options));
  options.main_weights = false;
  RECSYS_ASSERT_OK_AND_ASSIGN(RankerFitResult discovery_only,
                              FitRankerWeights(examples, options));
  ASSERT_TRUE(discovery_only.weights.has_discovery);
  for (int f = 0; f < model::kNumRankerFeatures; ++f) {
    EXPECT_EQ(discovery_only.weights.w[f], 0.0f) << f;
    EXPECT_EQ(discovery_only.weights.discovery[f], both.weights.discovery[f])
        << f;
  }
}

TEST_F(RankerFitTest, NoWindowPurchasesIsAnError) {
  std::vector<std::vector<int32_t>> window(kUsers);
  RankerFitOptions options;
  EXPECT_TRUE(absl::IsFailedPrecondition(
      FitRanker(model_, users_, indptr_, history_, window, kNow, options).status()));
  // The only window purchase (item 10, opposite user 0's vector and not in
  // their history) is not among their single candidate: nothing to learn.
  options.vector_candidates = 1;
  window[0] = {10};
  EXPECT_TRUE(absl::IsFailedPrecondition(
      FitRanker(model_, users_, indptr_, history_, window, kNow, options).status()));
}

}  // namespace
}  // namespace recsys::training
