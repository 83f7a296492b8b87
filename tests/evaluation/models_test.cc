#include "evaluation/models.h"

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "training/interactions.h"

namespace recsys::evaluation {
namespace {

using ::testing::ElementsAre;
using training::InteractionBuilder;
using training::InteractionData;
using training::PurchaseRow;

constexpr int64_t kDay = 86400;

void Add(InteractionBuilder* b, const std::string& user,
         const std::string& item, int64_t ts, double quantity = 1) {
  PurchaseRow row;
  row.user_id = user;
  row.item_id = item;
  row.timestamp_unix = ts;
  row.quantity = quantity;
  b->Add(row);
}

// Items a(0), b(1), c(2), d(3).
//   u0: a, b          u1: a, b          u2: a, c
//   u3: a             u4: d x3 (old), c (recent), b x3 (recent)
InteractionData TinyData() {
  InteractionBuilder b;
  const int64_t t = 1000 * kDay;
  Add(&b, "u0", "a", t);
  Add(&b, "u0", "b", t + 1);
  Add(&b, "u1", "a", t + 2);
  Add(&b, "u1", "b", t + 3);
  Add(&b, "u2", "a", t + 4);
  Add(&b, "u2", "c", t + 5);
  Add(&b, "u3", "a", t + 6);
  for (int k = 0; k < 3; ++k) Add(&b, "u4", "d", t - 400 * kDay + k);
  Add(&b, "u4", "c", t + 7);
  for (int k = 0; k < 3; ++k) Add(&b, "u4", "b", t + 10 + k);
  return b.Build();
}

TEST(TopKTest, OrdersByScoreThenRowAndSkips) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> s = {
      0.5f, 2.0f, -inf, 0.5f, 1.0f, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_THAT(TopK(s, 10), ElementsAre(1, 4, 0, 3));
  EXPECT_THAT(TopK(s, 2), ElementsAre(1, 4));
  EXPECT_THAT(TopK(s, 3, {0, 4}), ElementsAre(1, 3));
}

TEST(ModelsTest, PopularityByBuyers) {
  const InteractionData data = TinyData();
  auto model = NewPopularityModel(&data);
  // Buyers: a 4, b 3, c 2, d 1.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<int32_t> all,
                              model->Recommend(0, 4, false));
  EXPECT_THAT(all, ElementsAre(0, 1, 2, 3));
  // u0 bought a and b.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<int32_t> fresh,
                              model->Recommend(0, 4, true));
  EXPECT_THAT(fresh, ElementsAre(2, 3));
  // Trending over the last 30 days: d (bought 400 days ago) is dropped.
  auto recent = NewPopularityModel(&data, 30);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<int32_t> r,
                              recent->Recommend(0, 4, false));
  EXPECT_THAT(r, ElementsAre(0, 1, 2));
}

TEST(ModelsTest, BuyAgainByCountThenRecency) {
  const InteractionData data = TinyData();
  auto model = NewBuyAgainModel(&data);
  // u4: b x3 (recent), d x3 (old), c x1.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<int32_t> list,
                              model->Recommend(4, 10, false));
  EXPECT_THAT(list, ElementsAre(1, 3, 2));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<int32_t> none,
                              model->Recommend(4, 10, true));
  EXPECT_TRUE(none.empty());
}

TEST(ModelsTest, ItemKnnCosineOfCoPurchases) {
  const InteractionData data = TinyData();
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Model> model,
                              NewItemKnnModel(&data, {.neighbors = 10}));
  // Columns: a {u0..u3}, b {u0,u1,u4}, c {u2,u4}, d {u4}.
  // u3 = {a}: score(b) = 2/sqrt(4*3), score(c) = 1/sqrt(4*2), d never
  // co-bought with a.
  std::vector<float> s(4);
  RECSYS_ASSERT_OK(
      model->ScoreItems(3, {1, 2, 3}, absl::MakeSpan(s.data(), 3)));
  EXPECT_FLOAT_EQ(s[0], 2.0f / std::sqrt(12.0f));
  EXPECT_FLOAT_EQ(s[1], 1.0f / std::sqrt(8.0f));
  EXPECT_EQ(s[2], -std::numeric_limits<float>::infinity());
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<int32_t> list,
                              model->Recommend(3, 5, true));
  EXPECT_THAT(list, ElementsAre(1, 2));
  // One neighbour per item: a keeps only b.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Model> one,
                              NewItemKnnModel(&data, {.neighbors = 1}));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<int32_t> top,
                              one->Recommend(3, 5, true));
  EXPECT_THAT(top, ElementsAre(1));
}

TEST(ModelsTest, IalsAndEaseRankUnboughtItems) {
  const InteractionData data = TinyData();
  IalsSpec spec;
  spec.als.factors = 4;
  spec.als.iterations = 5;
  spec.als.threads = 1;
  for (float nu : {0.0f, 1.0f}) {
    spec.reg_exponent = nu;
    RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Model> ials,
                                NewIalsModel(&data, spec));
    ASSERT_NE(IalsFactors(*ials), nullptr);
    EXPECT_EQ(IalsFactors(*ials)->factors, 4);
    RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<int32_t> list,
                                ials->Recommend(3, 2, true));
    EXPECT_EQ(list.size(), 2u);
    for (int32_t i : list) EXPECT_NE(i, 0);
  }
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Model> ease,
                              NewEaseModel(&data, {.lambda = 1.0}));
  std::vector<float> s(4);
  RECSYS_ASSERT_OK(ease->ScoreAll(3, absl::MakeSpan(s)));
  EXPECT_EQ(s[0], 0.0f);  // zero diagonal: a never scores itself
  EXPECT_GT(s[1], s[3]);  // b is co-bought with a, d is not
  EXPECT_FALSE(NewEaseModel(&data, {.lambda = 0}).ok());
}

TEST(ModelsTest, IalsSpecTextRoundTrips) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      IalsSpec spec,
      ParseIalsSpec("factors=8,iterations=3,reg=2.5,nu=1,alpha=3,"
                    "scaling=linear,signal=binary,decay=30,solver=cholesky",
                    IalsSpec()));
  EXPECT_EQ(spec.als.factors, 8);
  EXPECT_EQ(spec.als.iterations, 3);
  EXPECT_FLOAT_EQ(spec.als.regularization, 2.5f);
  EXPECT_FLOAT_EQ(spec.reg_exponent, 1.0f);
  EXPECT_FLOAT_EQ(spec.confidence.alpha, 3.0f);
  EXPECT_EQ(spec.confidence.scaling, training::ConfidenceScaling::kLinear);
  EXPECT_EQ(spec.confidence.signal, training::ConfidenceSignal::kBinary);
  EXPECT_FLOAT_EQ(spec.confidence.decay_half_life_days, 30.0f);
  EXPECT_EQ(spec.als.solver, training::AlsSolver::kCholesky);
  RECSYS_ASSERT_OK_AND_ASSIGN(IalsSpec again,
                              ParseIalsSpec(FormatIalsSpec(spec), IalsSpec()));
  EXPECT_EQ(FormatIalsSpec(again), FormatIalsSpec(spec));
  EXPECT_FALSE(ParseIalsSpec("colour=blue", IalsSpec()).ok());
  EXPECT_FALSE(ParseIalsSpec("factors=x", IalsSpec()).ok());
  EXPECT_FALSE(ParseIalsSpec("factors=0", IalsSpec()).ok());
}

TEST(ModelsTest, ModelsFromSpecText) {
  const InteractionData data = TinyData();
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Model> pop,
                              TrainModelFromSpec("popularity", &data, 1));
  EXPECT_EQ(pop->name(), "popularity");
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Model> knn,
      TrainModelFromSpec("item_knn[neighbors=5,shrink=1]", &data, 1));
  EXPECT_EQ(knn->name(), "item_knn");
  // A blend with all weight on popularity ranks like popularity.
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Model> blend,
      TrainModelFromSpec("popularity*1 + item_knn[neighbors=5]*0", &data, 1));
  EXPECT_EQ(blend->name(), "blend");
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<int32_t> a,
                              blend->Recommend(2, 4, false));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<int32_t> b,
                              pop->Recommend(2, 4, false));
  EXPECT_EQ(a, b);
  // Items last sold more than 30 days before the latest event are dropped.
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Model> active,
      TrainModelFromSpec("popularity@active_days=30", &data, 1));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<int32_t> act,
                              active->Recommend(2, 4, false));
  EXPECT_THAT(act, ElementsAre(0, 1, 2));
  for (const char* bad :
       {"nope", "ials[bad=1]", "popularity[days=x]", "ease[lambda=1",
        "buy_again[x=1]", "popularity*x+ease", "popularity@soon"}) {
    EXPECT_EQ(TrainModelFromSpec(bad, &data, 1).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

}  // namespace
}  // namespace recsys::evaluation
