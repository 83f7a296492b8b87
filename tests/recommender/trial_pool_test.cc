#include "recommender/trial_pool.h"

#include <cmath>
#include <memory>
#include <string>

#include "feature_store/faulty_feature_store.h"
#include "feature_store/in_memory_feature_store.h"
#include "gtest/gtest.h"
#include "model/model_store.h"
#include "tests/model/test_model.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"

namespace recsys::recommender {
namespace {

using feature_store::ItemFeatures;

class TrialPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string root = recsys::testing::MakeUniqueDir("trial_pool");
    model::PublishOptions publish;
    publish.version = "1";
    ASSERT_TRUE(model::PublishModel(root, model::testing::MakePlantedModel(), publish).ok());
    RECSYS_ASSERT_OK_AND_ASSIGN(bundle_, model::ModelBundle::Load(root + "/1"));
  }

  void List(const std::string& id, const std::string& category,
            int64_t listed) {
    ItemFeatures f;
    f.item_id = id;
    f.category = category;
    f.listed = absl::FromUnixSeconds(listed);
    RECSYS_ASSERT_OK(store_.PutItems({f}));
  }

  std::shared_ptr<const model::ModelBundle> bundle_;
  feature_store::InMemoryFeatureStore store_;
};

TEST_F(TrialPoolTest, CategoryMeanPointsAlongTheCategoryWithItsItemsNorm) {
  std::vector<float> alpha = CategoryMeanVector(*bundle_, "alpha");
  ASSERT_EQ(alpha.size(), 4u);
  EXPECT_GT(alpha[0], 0.5f);
  EXPECT_LT(std::abs(alpha[1]), 0.1f);
  double norm = 0, item_norms = 0;
  for (float x : alpha) norm += x * x;
  for (int32_t row : bundle_->category_popular("alpha")) {
    double sq = 0;
    for (float x : bundle_->item_vector(row)) sq += x * x;
    item_norms += std::sqrt(sq);
  }
  EXPECT_NEAR(std::sqrt(norm), item_norms / 10, 1e-4);
  EXPECT_TRUE(CategoryMeanVector(*bundle_, "unknown").empty());
}

TEST_F(TrialPoolTest, SnapshotResolvesModelAndNewItems) {
  List("a3", "alpha", 1000);
  List("new", "beta", 2000);
  List("odd", "", 1500);
  RECSYS_ASSERT_OK_AND_ASSIGN(
      auto snapshot,
      BuildTrialSnapshot(*bundle_, store_, 10, absl::InfiniteFuture()));
  ASSERT_EQ(snapshot->items().size(), 3u);
  EXPECT_EQ(snapshot->items()[0].item_id, "new");
  const TrialItem* known = snapshot->Find("a3");
  ASSERT_NE(known, nullptr);
  EXPECT_EQ(known->row, bundle_->ItemRow("a3"));
  EXPECT_EQ(known->vector_source, TrialVectorSource::kModel);
  const TrialItem* fresh = snapshot->Find("new");
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(fresh->row, -1);
  EXPECT_EQ(fresh->vector_source, TrialVectorSource::kCategoryMean);
  EXPECT_EQ(fresh->vector, CategoryMeanVector(*bundle_, "beta"));
  EXPECT_EQ(snapshot->Find("odd")->vector_source, TrialVectorSource::kNone);
  EXPECT_EQ(snapshot->Find("missing"), nullptr);
}

TEST_F(TrialPoolTest, WindowIsHalfOpen) {
  TrialItem item;
  item.listed = absl::FromUnixSeconds(86400);
  EXPECT_FALSE(InTrialWindow(item, absl::FromUnixSeconds(86399), 15));
  EXPECT_TRUE(InTrialWindow(item, absl::FromUnixSeconds(86400), 15));
  EXPECT_TRUE(InTrialWindow(item, absl::FromUnixSeconds(86400 * 16 - 1), 15));
  EXPECT_FALSE(InTrialWindow(item, absl::FromUnixSeconds(86400 * 16), 15));
  item.listed = absl::InfinitePast();
  EXPECT_FALSE(InTrialWindow(item, absl::FromUnixSeconds(86400), 15));
}

TEST_F(TrialPoolTest, EarlyAccessOpensTheWindowDaysBeforeTheListing) {
  TrialItem item;
  item.listed = absl::FromUnixSeconds(10 * 86400);
  EXPECT_FALSE(InTrialWindowWithEarlyAccess(item, absl::FromUnixSeconds(7 * 86400 - 1), 15, 3));
  EXPECT_TRUE(InTrialWindowWithEarlyAccess(item, absl::FromUnixSeconds(7 * 86400), 15, 3));
  EXPECT_FALSE(InTrialWindow(item, absl::FromUnixSeconds(7 * 86400), 15));
  // The end of the window does not move.
  EXPECT_TRUE(InTrialWindowWithEarlyAccess(item, absl::FromUnixSeconds(25 * 86400 - 1), 15, 3));
  EXPECT_FALSE(InTrialWindowWithEarlyAccess(item, absl::FromUnixSeconds(25 * 86400), 15, 3));
  // 0 days is the plain window.
  EXPECT_FALSE(InTrialWindowWithEarlyAccess(item, absl::FromUnixSeconds(10 * 86400 - 1), 15, 0));
  item.listed = absl::InfinitePast();
  EXPECT_FALSE(InTrialWindowWithEarlyAccess(item, absl::FromUnixSeconds(86400), 15, 3));
}

TEST_F(TrialPoolTest, CachesRefreshesAndSurvivesStoreFailures) {
  feature_store::FaultyFeatureStore faulty(&store_);
  TrialPoolOptions options;
  options.refresh = absl::Hours(1);
  TrialPool cached(&faulty, options);
  List("first", "alpha", 1000);
  EXPECT_EQ(cached.Get(*bundle_, absl::InfiniteFuture())->items().size(), 1u);
  List("second", "alpha", 2000);
  // Fresh enough: the cached snapshot is served.
  EXPECT_EQ(cached.Get(*bundle_, absl::InfiniteFuture())->items().size(), 1u);

  options.refresh = absl::ZeroDuration();
  options.retry_after_failure = absl::ZeroDuration();
  TrialPool pool(&faulty, options);
  EXPECT_EQ(pool.Get(*bundle_, absl::InfiniteFuture())->items().size(), 2u);
  faulty.set_failing(true);
  // The store is down: the last snapshot of the model keeps serving.
  EXPECT_EQ(pool.Get(*bundle_, absl::InfiniteFuture())->items().size(), 2u);
  // A pool that never read the store serves an empty one.
  TrialPool never(&faulty, options);
  auto empty = never.Get(*bundle_, absl::InfiniteFuture());
  ASSERT_NE(empty, nullptr);
  EXPECT_TRUE(empty->items().empty());
  faulty.set_failing(false);
  List("third", "beta", 3000);
  EXPECT_EQ(pool.Get(*bundle_, absl::InfiniteFuture())->items().size(), 3u);
}

}  // namespace
}  // namespace recsys::recommender
