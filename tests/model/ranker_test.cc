#include "model/ranker.h"

#include <cmath>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "model/ease.h"
#include "tests/model/test_model.h"
#include "tests/testing/status_matchers.h"

namespace recsys::model {
namespace {

// Four items in 2-d: 0 and 1 along x, 2 and 3 along y.
class RankerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    factors_ = {1.0f, 0.0f, 0.9f, 0.1f, 0.0f, 1.0f, 0.1f, 0.8f};
    auto index = VectorIndex::Create(2, "Flat", Metric::kInnerProduct);
    ASSERT_TRUE(index.ok());
    index_ = *std::move(index);
    RECSYS_ASSERT_OK(index_->Add(factors_));
    // History of two users: user 0 bought item 2 three times, item 3 once;
    // user 1 bought item 2 once.
    indptr_ = {0, 2, 3};
    history_ = {{2, 3, 1000}, {3, 1, 1000}, {2, 1, 1000}};
    stats_ = ComputeRankerItemStats(4, indptr_, history_);
    weights_ = DefaultRankerWeights();
    model_.index = index_.get();
    model_.item_factors = factors_;
    model_.dim = 2;
    model_.item_stats = &stats_;
    model_.weights = &weights_;
  }

  // Ranks `user` (k 4, now 1000, one vector candidate) with the default
  // weights, where `item` must not appear, then with `feature` weighted 10,
  // where it must come first; returns its candidate entry.
  RankerCandidate JoinsOnlyWithWeight(const RankerUser& user, bool include_bought,
                                      RankerFeature feature, int32_t item) {
    RankOptions options;
    options.k = 4;
    options.now_unix = 1000;
    options.vector_candidates = 1;
    options.include_bought = include_bought;
    weights_ = DefaultRankerWeights();  // as older models: no such weight
    auto ranked = RankItems(model_, user, options);
    EXPECT_TRUE(ranked.ok()) << ranked.status();
    for (const auto& r : *ranked) EXPECT_NE(r.item, item);
    weights_.w[feature] = 10.0f;
    ranked = RankItems(model_, user, options);
    EXPECT_TRUE(ranked.ok() && !ranked->empty() && (*ranked)[0].item == item);
    auto candidates = CollectRankerCandidates(model_, user, options);
    EXPECT_TRUE(candidates.ok()) << candidates.status();
    for (const RankerCandidate& c : *candidates) {
      if (c.item == item) return c;
    }
    ADD_FAILURE() << "item " << item << " is not a candidate";
    return RankerCandidate();
  }

  std::vector<float> factors_;
  std::unique_ptr<VectorIndex> index_;
  std::vector<int64_t> indptr_;
  std::vector<HistoryEntry> history_;
  RankerItemStats stats_;
  RankerWeights weights_;
  RankerModel model_;
};

TEST_F(RankerTest, ItemStats) {
  EXPECT_FLOAT_EQ(stats_.repeat_rate[2], 0.5f);  // 1 of 2 buyers re-bought
  EXPECT_FLOAT_EQ(stats_.repeat_rate[3], 0.0f);
  EXPECT_FLOAT_EQ(stats_.repeat_rate[0], 0.0f);
  EXPECT_FLOAT_EQ(stats_.popularity[2], 1.0f);
  EXPECT_NEAR(stats_.popularity[3], std::log(2.0) / std::log(3.0), 1e-6);
  EXPECT_FLOAT_EQ(stats_.popularity[0], 0.0f);
}

TEST_F(RankerTest, FeaturesByHand) {
  const HistoryEntry entry{2, 3, 0};
  const std::vector<HistoryEntry> user_history = {entry, {3, 1, 0}};
  const RankerUserStats us = ComputeRankerUserStats(user_history);
  EXPECT_FLOAT_EQ(us.repeat_ratio, 2.0f / 4.0f);
  EXPECT_NEAR(us.log_history, std::log(3.0), 1e-6);
  float f[kNumRankerFeatures];
  const int64_t now = 15 * 86400;  // 15 days after the purchase
  RankerFeatures(model_, us, 2, 0.7f, 1, &entry, now, f);
  EXPECT_FLOAT_EQ(f[kFeatVectorScore], 0.7f);
  EXPECT_NEAR(f[kFeatVectorRank], 1.0 / std::log2(3.0), 1e-6);
  EXPECT_FLOAT_EQ(f[kFeatBought], 1.0f);
  EXPECT_NEAR(f[kFeatLogCount], std::log(4.0), 1e-6);
  EXPECT_NEAR(f[kFeatRecency], std::exp(-0.5), 1e-6);
  EXPECT_FLOAT_EQ(f[kFeatBoughtXUserRepeat], 0.5f);
  EXPECT_FLOAT_EQ(f[kFeatBoughtXItemRepeat], 0.5f);
  EXPECT_FLOAT_EQ(f[kFeatItemRepeat], 0.5f);
  RankerFeatures(model_, us, 0, 0.2f, -1, nullptr, now, f);
  EXPECT_FLOAT_EQ(f[kFeatVectorRank], 0.0f);
  EXPECT_FLOAT_EQ(f[kFeatBought], 0.0f);
  EXPECT_FLOAT_EQ(f[kFeatRecency], 0.0f);
  EXPECT_FLOAT_EQ(f[kFeatBoughtXItemRepeat], 0.0f);
}

TEST_F(RankerTest, WeightsDecideBetweenRepurchaseAndDiscovery) {
  const std::vector<float> x_user = {1.0f, 0.0f};  // vector points at items 0, 1
  const std::vector<HistoryEntry> user_history = {{2, 5, 1000}};
  RankerUser user{x_user, user_history};
  RankOptions options;
  options.k = 4;
  options.now_unix = 1000;

  weights_ = RankerWeights();
  weights_.w[kFeatVectorScore] = 1.0f;
  RECSYS_ASSERT_OK_AND_ASSIGN(auto ranked, RankItems(model_, user, options));
  ASSERT_EQ(ranked.size(), 4u);
  EXPECT_EQ(ranked[0].item, 0);
  EXPECT_FALSE(ranked[0].bought);

  weights_.w[kFeatBought] = 5.0f;
  RECSYS_ASSERT_OK_AND_ASSIGN(ranked, RankItems(model_, user, options));
  EXPECT_EQ(ranked[0].item, 2);
  EXPECT_TRUE(ranked[0].bought);

  options.include_bought = false;
  RECSYS_ASSERT_OK_AND_ASSIGN(ranked, RankItems(model_, user, options));
  for (const auto& r : ranked) EXPECT_NE(r.item, 2);
}

TEST_F(RankerTest, HistoryOnlyUserAndBadArguments) {
  const std::vector<HistoryEntry> user_history = {{3, 2, 1000}, {1, 1, 10}};
  RankerUser user{{}, user_history};
  RankOptions options;
  options.k = 5;
  options.now_unix = 2000;
  RECSYS_ASSERT_OK_AND_ASSIGN(auto ranked, RankItems(model_, user, options));
  ASSERT_EQ(ranked.size(), 2u);  // only the history is a candidate
  EXPECT_EQ(ranked[0].item, 3);  // more purchases, more recent
  options.k = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(RankItems(model_, user, options).status()));
  options.k = 3;
  const std::vector<float> wrong = {1.0f, 2.0f, 3.0f};
  RankerUser bad{wrong, user_history};
  EXPECT_TRUE(absl::IsInvalidArgument(RankItems(model_, bad, options).status()));
}

TEST_F(RankerTest, NeighboursTrendingAndPopularOrder) {
  // Buyers: item 2 {0, 1}, item 3 {0}: cosine(2, 3) = 1 / sqrt(2 * 1).
  ASSERT_EQ(stats_.neighbors.indptr.size(), 5u);
  ASSERT_EQ(stats_.neighbors.indptr[3] - stats_.neighbors.indptr[2], 1);
  EXPECT_EQ(stats_.neighbors.items[stats_.neighbors.indptr[2]], 3);
  EXPECT_NEAR(stats_.neighbors.sims[stats_.neighbors.indptr[2]], 1 / std::sqrt(2.0), 1e-6);
  EXPECT_EQ(stats_.neighbors.indptr[1], stats_.neighbors.indptr[0]);  // item 0: nobody
  ASSERT_EQ(stats_.popular_order.size(), 4u);
  EXPECT_EQ(stats_.popular_order[0], 2);
  EXPECT_EQ(stats_.popular_order[1], 3);
  // Every purchase is recent (the latest is at 1000).
  EXPECT_EQ(stats_.trending_order, (std::vector<int32_t>{2, 3}));
  EXPECT_FLOAT_EQ(stats_.trending[2], 1.0f);
  EXPECT_FLOAT_EQ(stats_.trending[0], 0.0f);
  // Over the work bound: no neighbours, the rest unchanged.
  RankerStatsOptions bounded;
  bounded.max_neighbor_work = 1;
  const RankerItemStats small = ComputeRankerItemStats(4, indptr_, history_, bounded);
  EXPECT_TRUE(small.neighbors.indptr.empty());
  EXPECT_EQ(small.popular_order, stats_.popular_order);
}

TEST(EaseWeightsTest, TwoItemsByHand) {
  // G + λI = [[2+1, 1], [1, 1+1]]: P = G⁻¹ ∝ [[2, -1], [-1, 3]], so
  // B_01 = -P_01 / P_11 = 1/3 and B_10 = -P_10 / P_00 = 1/2.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<float> b, EaseWeights(2, {2, 1, 1, 1}, 1.0));
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0], 0.0f);
  EXPECT_EQ(b[3], 0.0f);
  EXPECT_NEAR(b[1], 1.0 / 3.0, 1e-6);
  EXPECT_NEAR(b[2], 1.0 / 2.0, 1e-6);
  EXPECT_EQ(EaseWeights(2, {2, 1, 1}, 1.0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EaseWeights(2, {2, 1, 1, 1}, 0.0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EaseWeights(0, {}, 1.0).status().code(), absl::StatusCode::kInvalidArgument);
  // Not positive definite: the factorisation fails with an error.
  EXPECT_EQ(EaseWeights(2, {-5, 0, 0, -5}, 1.0).status().code(), absl::StatusCode::kInternal);
}

TEST_F(RankerTest, EaseNeighboursByHand) {
  // Gram over items 2 and 3 (users {2, 3} and {2}): [[2, 1], [1, 1]]; with
  // λ = 1 as in EaseWeightsTest, item 2's neighbour 3 weighs B_23 = 1/3 and
  // item 3's neighbour 2 weighs B_32 = 1/2. Items 0 and 1: nobody bought
  // them, no neighbour.
  RankerStatsOptions options;
  options.neighbor_kind = NeighborKind::kEase;
  options.ease_lambda = 1;
  const RankerItemStats ease = ComputeRankerItemStats(4, indptr_, history_, options);
  ASSERT_EQ(ease.neighbors.indptr, (std::vector<int64_t>{0, 0, 0, 1, 2}));
  EXPECT_EQ(ease.neighbors.items, (std::vector<int32_t>{3, 2}));
  EXPECT_NEAR(ease.neighbors.sims[0], 1.0 / 3.0, 1e-6);
  EXPECT_NEAR(ease.neighbors.sims[1], 1.0 / 2.0, 1e-6);
  // Everything but the neighbours is as with cosine neighbours.
  EXPECT_EQ(ease.popular_order, stats_.popular_order);
  EXPECT_EQ(ease.repeat_rate, stats_.repeat_rate);
  // The weights name the kind; the statistics options follow them.
  RankerWeights w = DefaultRankerWeights();
  EXPECT_EQ(RankerStatsOptionsFor(w).neighbor_kind, NeighborKind::kCosine);
  w.neighbors = NeighborKind::kEase;
  w.ease_lambda = 1;
  EXPECT_EQ(RankerStatsOptionsFor(w).neighbor_kind, NeighborKind::kEase);
  EXPECT_EQ(RankerStatsOptionsFor(w).ease_lambda, 1.0);
}

TEST_F(RankerTest, NeighbourCandidatesOnlyWithNeighbourWeights) {
  // The user bought item 2 only; the vector's single candidate is item 0;
  // item 3 is 2's neighbour.
  const std::vector<float> x_user = {1.0f, 0.0f};
  const std::vector<HistoryEntry> user_history = {{2, 1, 1000}};
  const RankerCandidate c = JoinsOnlyWithWeight({x_user, user_history},
                                                /*include_bought=*/true, kFeatKnnScore, 3);
  EXPECT_EQ(c.sources & kSourceNeighbors, kSourceNeighbors);
  EXPECT_FLOAT_EQ(c.knn_score, 1.0f);
  EXPECT_EQ(c.knn_rank, 0);
}

// Neighbour sums by hand, the same on every call whatever was ranked
// before on the thread (another user, a smaller catalog) and on other
// threads at the same time.
TEST(RankerNeighbourSumsTest, ByHandOnEveryCallAndThread) {
  // Six items; the user bought 0 and 1. Neighbours of 0: 2 (0.5), 3 (0.25);
  // of 1: 2 (0.25), 4 (1.0). Sums: 4 1.0, 2 0.75, 3 0.25.
  auto make = [](int32_t num_items, ItemNeighbors neighbors) {
    RankerItemStats stats;
    stats.repeat_rate.assign(num_items, 0.0f);
    stats.popularity.assign(num_items, 0.0f);
    stats.trending.assign(num_items, 0.0f);
    stats.neighbors = std::move(neighbors);
    return stats;
  };
  const RankerItemStats six =
      make(6, ItemNeighbors{{0, 2, 4, 4, 4, 4, 4}, {2, 3, 4, 2}, {0.5f, 0.25f, 1.0f, 0.25f}});
  // Four items, where 0's neighbour is 3 (0.125) and 1 has none.
  const RankerItemStats four = make(4, ItemNeighbors{{0, 1, 1, 1, 1}, {3}, {0.125f}});
  RankerWeights weights;
  weights.w[kFeatKnnScore] = 1.0f;
  auto model_of = [&weights](const RankerItemStats& stats) {
    return MakeRankerModel(nullptr, {}, 0, &stats, &weights);
  };
  RankOptions options;
  options.vector_candidates = 0;
  options.popular_candidates = 0;
  options.include_bought = false;
  const std::vector<HistoryEntry> bought = {{0, 1, 1000}, {1, 1, 1000}};
  auto check_six = [&]() {
    auto candidates = CollectRankerCandidates(model_of(six), {{}, bought}, options);
    ASSERT_TRUE(candidates.ok()) << candidates.status();
    ASSERT_EQ(candidates->size(), 3u);
    const int32_t items[] = {4, 2, 3};
    const float scores[] = {1.0f, 0.75f, 0.25f};
    for (int r = 0; r < 3; ++r) {
      EXPECT_EQ((*candidates)[r].item, items[r]);
      EXPECT_FLOAT_EQ((*candidates)[r].knn_score, scores[r]);
      EXPECT_EQ((*candidates)[r].knn_rank, r);
    }
    auto ranked = RankItems(model_of(six), {{}, bought}, options);
    ASSERT_TRUE(ranked.ok());
    ASSERT_EQ(ranked->size(), 3u);
    EXPECT_EQ((*ranked)[0].item, 4);
    EXPECT_EQ((*ranked)[2].item, 3);
  };
  check_six();
  // Another user on the smaller catalog, then the first again.
  auto small = CollectRankerCandidates(model_of(four), {{}, bought}, options);
  ASSERT_TRUE(small.ok());
  ASSERT_EQ(small->size(), 1u);
  EXPECT_EQ((*small)[0].item, 3);
  EXPECT_FLOAT_EQ((*small)[0].knn_score, 1.0f);
  check_six();
  // A user whose purchases have no neighbours: no candidate.
  auto none = CollectRankerCandidates(model_of(six), {{}, std::vector<HistoryEntry>{{5, 1, 1000}}},
                                      options);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&]() {
      for (int i = 0; i < 200; ++i) check_six();
    });
  }
  for (std::thread& t : threads) t.join();
}

TEST_F(RankerTest, TitleCandidatesOnlyWithTitleWeights) {
  // Titles: item 1 resembles item 2 (both "jumbo bag"); items 0 and 3 share
  // nothing. The user bought item 2; the vector's single candidate is 0.
  std::vector<ItemMeta> items(4);
  items[0].title = "paper lantern";
  items[1].title = "JUMBO BAG red";
  items[2].title = "jumbo bag pink";
  items[3].title = "clock";
  AddRankerContentStats(items, {}, &stats_);
  ASSERT_EQ(stats_.title_neighbors.indptr.size(), 5u);
  EXPECT_EQ(stats_.title_neighbors.items, (std::vector<int32_t>{2, 1}));
  const ItemNeighbors direct = TitleNeighbors(items);
  EXPECT_EQ(stats_.title_neighbors.indptr, direct.indptr);
  EXPECT_EQ(stats_.title_neighbors.sims, direct.sims);
  const std::vector<float> x_user = {1.0f, 0.0f};
  const std::vector<HistoryEntry> user_history = {{2, 1, 1000}};
  const RankerCandidate c = JoinsOnlyWithWeight({x_user, user_history},
                                                /*include_bought=*/false, kFeatTitleScore, 1);
  EXPECT_EQ(c.sources & kSourceTitle, kSourceTitle);
  EXPECT_FLOAT_EQ(c.title_score, 1.0f);
  EXPECT_EQ(c.title_rank, 0);
  float f[kNumRankerFeatures];
  RankerFeatures(model_, ComputeRankerUserStats(user_history), c, 1000, f);
  EXPECT_FLOAT_EQ(f[kFeatTitleScore], 1.0f);
  EXPECT_FLOAT_EQ(f[kFeatTitleRank], 1.0f);
  // A shorter catalog leaves the other rows without title neighbours.
  AddRankerContentStats(absl::MakeSpan(items).subspan(0, 3), {}, &stats_);
  EXPECT_EQ(stats_.title_neighbors.indptr, (std::vector<int64_t>{0, 0, 1, 2, 2}));
}

TEST_F(RankerTest, TheGuardServesTheWinningBaseline) {
  const std::vector<float> x_user = {1.0f, 0.0f};
  const std::vector<HistoryEntry> user_history = {{3, 1, 900}, {2, 5, 800}};
  RankerUser user{x_user, user_history};
  RankOptions options;
  options.k = 3;
  options.now_unix = 1000;
  weights_.serve_all = RankerServe::kBuyAgain;
  weights_.serve_new = RankerServe::kPopularity;
  RECSYS_ASSERT_OK_AND_ASSIGN(auto ranked, RankItems(model_, user, options));
  // Buy-again: the history by purchases, nothing else.
  ASSERT_EQ(ranked.size(), 2u);
  EXPECT_EQ(ranked[0].item, 2);
  EXPECT_EQ(ranked[1].item, 3);
  EXPECT_TRUE(ranked[0].bought);
  // Without bought items: popularity, bought items left out.
  options.include_bought = false;
  RECSYS_ASSERT_OK_AND_ASSIGN(ranked, RankItems(model_, user, options));
  ASSERT_EQ(ranked.size(), 2u);
  EXPECT_EQ(ranked[0].item, stats_.popular_order[2]);
  EXPECT_FALSE(ranked[0].bought);
  // Popularity with bought items.
  weights_.serve_all = RankerServe::kPopularity;
  options.include_bought = true;
  RECSYS_ASSERT_OK_AND_ASSIGN(ranked, RankItems(model_, user, options));
  ASSERT_EQ(ranked.size(), 3u);
  EXPECT_EQ(ranked[0].item, 2);
  EXPECT_TRUE(ranked[0].bought);
}

TEST_F(RankerTest, TheGuardCanServeTheFusionOfVectorAndNeighbours) {
  // Vector (1, 0) orders 0, 1, 3, 2; item 3's only neighbour is 2.
  const std::vector<float> x_user = {1.0f, 0.0f};
  const std::vector<HistoryEntry> user_history = {{3, 1, 900}};
  RankerUser user{x_user, user_history};
  RankOptions options;
  options.k = 2;
  options.now_unix = 1000;
  options.include_bought = false;
  weights_.serve_new = RankerServe::kVector;
  RECSYS_ASSERT_OK_AND_ASSIGN(auto ranked, RankItems(model_, user, options));
  ASSERT_EQ(ranked.size(), 2u);
  EXPECT_EQ(ranked[0].item, 0);
  EXPECT_EQ(ranked[1].item, 1);
  weights_.serve_new = RankerServe::kNeighbors;
  RECSYS_ASSERT_OK_AND_ASSIGN(ranked, RankItems(model_, user, options));
  ASSERT_EQ(ranked.size(), 1u);
  EXPECT_EQ(ranked[0].item, 2);
  // Fused: 2 is third by vector and first by neighbours, 1/63 + 1/61;
  // 0 is first by vector only, 1/61.
  weights_.serve_new = RankerServe::kFusion;
  RECSYS_ASSERT_OK_AND_ASSIGN(ranked, RankItems(model_, user, options));
  ASSERT_EQ(ranked.size(), 2u);
  EXPECT_EQ(ranked[0].item, 2);
  EXPECT_NEAR(ranked[0].score, 1.0 / 63 + 1.0 / 61, 1e-6);
  EXPECT_EQ(ranked[1].item, 0);
  EXPECT_NEAR(ranked[1].score, 1.0 / 61, 1e-6);
  EXPECT_FALSE(ranked[0].bought);
  // With bought items, 3 (third by vector) joins the vector list and 2 is
  // fourth there: 1/64 + 1/61.
  weights_.serve_all = RankerServe::kFusion;
  options.include_bought = true;
  options.k = 4;
  RECSYS_ASSERT_OK_AND_ASSIGN(ranked, RankItems(model_, user, options));
  ASSERT_EQ(ranked.size(), 4u);
  EXPECT_EQ(ranked[0].item, 2);
  EXPECT_EQ(ranked[1].item, 0);
  EXPECT_EQ(ranked[2].item, 1);
  EXPECT_EQ(ranked[3].item, 3);
  EXPECT_TRUE(ranked[3].bought);
  EXPECT_EQ(RankerServeName(RankerServe::kFusion), "fusion");
  EXPECT_EQ(RankerServeFromName("fusion"), RankerServe::kFusion);
}

TEST_F(RankerTest, DiscoveryWeightsRankWithoutBoughtItems) {
  const std::vector<float> x_user = {1.0f, 0.0f};  // points at items 0, 1
  const std::vector<HistoryEntry> user_history = {{2, 1, 1000}};
  RankerUser user{x_user, user_history};
  RankOptions options;
  options.k = 1;
  options.now_unix = 1000;
  options.include_bought = false;
  weights_ = RankerWeights();
  weights_.w[kFeatVectorScore] = 1.0f;
  RECSYS_ASSERT_OK_AND_ASSIGN(auto ranked, RankItems(model_, user, options));
  EXPECT_EQ(ranked[0].item, 0);
  weights_.discovery[kFeatVectorScore] = -1.0f;
  weights_.has_discovery = true;
  RECSYS_ASSERT_OK_AND_ASSIGN(ranked, RankItems(model_, user, options));
  EXPECT_NE(ranked[0].item, 0);
  options.include_bought = true;  // the main weights again
  RECSYS_ASSERT_OK_AND_ASSIGN(ranked, RankItems(model_, user, options));
  EXPECT_EQ(ranked[0].item, 0);
}

TEST(RankerWeightsTest, GuardAndDiscoveryRoundTrip) {
  RankerWeights w = DefaultRankerWeights();
  w.discovery[kFeatKnnScore] = 0.25f;
  w.has_discovery = true;
  w.serve_all = RankerServe::kBuyAgain;
  w.serve_new = RankerServe::kPopularity;
  w.guard.set_k(20);
  w.guard.set_ranker_all(0.3);
  const recsys::v1::RankerConfig config = RankerWeightsToConfig(w);
  EXPECT_EQ(config.serve_all(), "buy_again");
  EXPECT_EQ(config.serve_new(), "popularity");
  RankerWeights back = RankerWeightsFromConfig(config);
  EXPECT_TRUE(back.has_discovery);
  EXPECT_EQ(back.discovery, w.discovery);
  EXPECT_EQ(back.serve_all, RankerServe::kBuyAgain);
  EXPECT_EQ(back.serve_new, RankerServe::kPopularity);
  EXPECT_DOUBLE_EQ(back.guard.ranker_all(), 0.3);
  // A config of an older model: the ranker serves both settings, one
  // weight vector, no neighbour or trending weight.
  recsys::v1::RankerConfig old;
  (*old.mutable_weights())["vector_score"] = 1.0f;
  RankerWeights from_old = RankerWeightsFromConfig(old);
  EXPECT_FALSE(from_old.has_discovery);
  EXPECT_EQ(from_old.serve_all, RankerServe::kRanker);
  EXPECT_EQ(from_old.serve_new, RankerServe::kRanker);
  EXPECT_EQ(from_old.w[kFeatKnnScore], 0.0f);
  EXPECT_EQ(RankerServeFromName("something new"), RankerServe::kRanker);
  EXPECT_EQ(from_old.neighbors, NeighborKind::kCosine);
  EXPECT_TRUE(config.neighbors().empty());
  // The neighbour kind and EASE's lambda.
  w.neighbors = NeighborKind::kEase;
  w.ease_lambda = 250;
  const recsys::v1::RankerConfig with_ease = RankerWeightsToConfig(w);
  EXPECT_EQ(with_ease.neighbors(), "ease");
  back = RankerWeightsFromConfig(with_ease);
  EXPECT_EQ(back.neighbors, NeighborKind::kEase);
  EXPECT_EQ(back.ease_lambda, 250);
}

TEST(RankerWeightsTest, ConfigRoundTripAndDefaults) {
  RankerWeights w = DefaultRankerWeights();
  w.w[kFeatRecency] = 3.5f;
  w.origin = "test";
  RankerWeights back = RankerWeightsFromConfig(RankerWeightsToConfig(w));
  EXPECT_EQ(back.w, w.w);
  EXPECT_EQ(back.origin, "test");
  EXPECT_EQ(RankerWeightsFromConfig(recsys::v1::RankerConfig()).origin, "default");
  EXPECT_NE(RankerWeightsToJson(w).find("\"recency\""), std::string::npos);
}

}  // namespace
}  // namespace recsys::model
