#include "bench/synth_model.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/model_format.h"
#include "tests/model/test_model.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"
#include "training/datagen.h"

namespace recsys::bench {
namespace {

SynthOptions Small() {
  SynthOptions o;
  o.users = 500;
  o.items = 2000;
  o.dim = 16;
  o.threads = 2;
  return o;
}

double Cosine(const float* a, const float* b, int dim) {
  double dot = 0, na = 0, nb = 0;
  for (int j = 0; j < dim; ++j) {
    dot += a[j] * b[j];
    na += a[j] * a[j];
    nb += b[j] * b[j];
  }
  return dot / std::sqrt(na * nb);
}

TEST(SynthModelTest, ShapesIdsCatalogAndHistory) {
  const SynthOptions o = Small();
  RECSYS_ASSERT_OK_AND_ASSIGN(model::ModelData d, SynthesizeModel(o));
  EXPECT_EQ(d.dim, 16);
  ASSERT_EQ(d.user_ids.size(), 500u);
  ASSERT_EQ(d.items.size(), 2000u);
  EXPECT_EQ(d.user_factors.size(), 500u * 16);
  EXPECT_EQ(d.item_factors.size(), 2000u * 16);
  EXPECT_EQ(d.user_ids[0], "u0000000");
  EXPECT_EQ(d.user_ids[499], "u0000499");
  EXPECT_EQ(d.items[0].item_id, "i000000");
  EXPECT_EQ(d.items[1999].item_id, "i001999");
  for (float x : d.user_factors) ASSERT_TRUE(std::isfinite(x));
  for (float x : d.item_factors) ASSERT_TRUE(std::isfinite(x));
  const auto& categories = training::ShopCategories();
  int top_buyers = 0;
  for (const auto& it : d.items) {
    EXPECT_NE(std::find(categories.begin(), categories.end(), it.category), categories.end());
    EXPECT_GT(it.price, 0);
    EXPECT_GE(it.buyers, 1);
    EXPECT_GE(it.purchases, it.buyers);
    top_buyers = std::max(top_buyers, it.buyers);
  }
  EXPECT_EQ(top_buyers, 5);  // users / 100 for the most popular item

  ASSERT_EQ(d.history_indptr.size(), 501u);
  EXPECT_EQ(d.history_indptr.front(), 0);
  EXPECT_EQ(d.history_indptr.back(), static_cast<int64_t>(d.history.size()));
  const int64_t until = o.last_event_unix;
  for (size_t u = 0; u < 500; ++u) {
    const int64_t n = d.history_indptr[u + 1] - d.history_indptr[u];
    EXPECT_GE(n, 1);
    EXPECT_LE(n, 20);
    std::set<int32_t> items;
    for (int64_t e = d.history_indptr[u]; e < d.history_indptr[u + 1]; ++e) {
      const auto& h = d.history[e];
      EXPECT_TRUE(items.insert(h.item).second) << "user " << u << " item " << h.item;
      EXPECT_GE(h.count, 1);
      EXPECT_LE(h.count, 3);
      EXPECT_LE(h.last_unix, until);
      EXPECT_GT(h.last_unix, until - 365 * 86400);
    }
  }
  // Mean purchases near history_mean (3).
  EXPECT_NEAR(static_cast<double>(d.history.size()) / 500, 3.0, 0.4);
  EXPECT_EQ(d.manifest.data().last_event_unix(), until);
  EXPECT_EQ(d.manifest.params().factors(), 16);
}

TEST(SynthModelTest, DeterministicWhateverTheThreads) {
  SynthOptions o = Small();
  RECSYS_ASSERT_OK_AND_ASSIGN(model::ModelData a, SynthesizeModel(o));
  o.threads = 3;
  RECSYS_ASSERT_OK_AND_ASSIGN(model::ModelData b, SynthesizeModel(o));
  EXPECT_EQ(a.user_factors, b.user_factors);
  EXPECT_EQ(a.item_factors, b.item_factors);
  EXPECT_EQ(a.history_indptr, b.history_indptr);
  ASSERT_EQ(a.history.size(), b.history.size());
  for (size_t i = 0; i < a.history.size(); ++i) {
    EXPECT_EQ(a.history[i].item, b.history[i].item);
    EXPECT_EQ(a.history[i].last_unix, b.history[i].last_unix);
  }
  o.seed = 2;
  RECSYS_ASSERT_OK_AND_ASSIGN(model::ModelData c, SynthesizeModel(o));
  EXPECT_NE(a.item_factors, c.item_factors);
}

TEST(SynthModelTest, ItemsAreClustered) {
  // 2000 items around 5 centers: an item's nearest neighbours mostly share
  // its center, hence its category.
  RECSYS_ASSERT_OK_AND_ASSIGN(model::ModelData d, SynthesizeModel(Small()));
  const int dim = d.dim;
  int same = 0, total = 0;
  for (int i = 0; i < 50; ++i) {
    std::vector<std::pair<double, int>> sims;
    for (int j = 0; j < 2000; ++j) {
      if (j == i) continue;
      sims.push_back({Cosine(&d.item_factors[i * dim], &d.item_factors[j * dim], dim), j});
    }
    std::partial_sort(sims.begin(), sims.begin() + 10, sims.end(), std::greater<>());
    for (int n = 0; n < 10; ++n) {
      ++total;
      same += d.items[sims[n].second].category == d.items[i].category;
    }
  }
  EXPECT_GT(same, total * 9 / 10);
}

TEST(SynthModelTest, PublishesAsAServableModel) {
  const std::string root = recsys::testing::MakeUniqueDir("synth_model");
  RECSYS_ASSERT_OK_AND_ASSIGN(model::ModelData d, SynthesizeModel(Small()));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string dir, model::PublishModel(root, d));
  RECSYS_ASSERT_OK_AND_ASSIGN(model::ModelData back, model::ReadModelData(dir));
  EXPECT_EQ(back.user_ids, d.user_ids);
  EXPECT_EQ(back.manifest.index().spec(), "Flat");
}

TEST(SynthModelTest, BadOptionsNameTheField) {
  for (const auto& [mutate, field] :
       std::vector<std::pair<void (*)(SynthOptions*), std::string>>{
           {[](SynthOptions* o) { o->users = 0; }, "users"},
           {[](SynthOptions* o) { o->items = 0; }, "items"},
           {[](SynthOptions* o) { o->dim = 0; }, "dim"},
           {[](SynthOptions* o) { o->history_mean = 0.5; }, "history_mean"},
           {[](SynthOptions* o) { o->max_user_centers = 0; }, "max_user_centers"},
       }) {
    SynthOptions o = Small();
    mutate(&o);
    auto st = SynthesizeModel(o).status();
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << field;
    EXPECT_NE(st.message().find(field), absl::string_view::npos) << st;
  }
}

}  // namespace
}  // namespace recsys::bench
