#include "model/model_store.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "tests/model/test_model.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"

namespace recsys::model {
namespace {

namespace fs = std::filesystem;

void Publish(const std::string& root, const std::string& version) {
  PublishOptions options;
  options.version = version;
  ASSERT_TRUE(PublishModel(root, testing::MakePlantedModel(), options).ok());
}

void Corrupt(const std::string& root, const std::string& version) {
  fs::resize_file(root + "/" + version + "/user_vectors.f32", 10);
}

ModelStoreOptions Options(const std::string& root) {
  ModelStoreOptions o;
  o.root = root;
  o.poll_interval = absl::ZeroDuration();
  return o;
}

TEST(ModelBundleTest, LoadsIdsVectorsAndPopularity) {
  const std::string root = recsys::testing::MakeUniqueDir("bundle");
  Publish(root, "1");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto bundle, ModelBundle::Load(root + "/1"));
  EXPECT_EQ(bundle->version(), "1");
  EXPECT_EQ(bundle->num_items(), 20);
  EXPECT_EQ(bundle->num_users(), 10);
  EXPECT_EQ(bundle->ItemRow("b0"), 10);
  EXPECT_EQ(bundle->ItemRow("zzz"), -1);
  EXPECT_EQ(bundle->UserRow("ub1"), 6);
  EXPECT_EQ(bundle->popular().front(), bundle->ItemRow("b0"));
  EXPECT_EQ(bundle->history(bundle->UserRow("ua2")).size(), 2u);
  EXPECT_EQ(bundle->item_gram().size(), 16u);
  EXPECT_EQ(bundle->ip_index().size(), 20);
}

TEST(ModelBundleTest, ItemSquaredNormsMatchTheVectors) {
  const std::string root = recsys::testing::MakeUniqueDir("bundle_norms");
  Publish(root, "1");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto bundle, ModelBundle::Load(root + "/1"));
  for (int32_t row = 0; row < bundle->num_items(); ++row) {
    double sum = 0;
    for (float x : bundle->item_vector(row)) sum += static_cast<double>(x) * x;
    EXPECT_EQ(bundle->item_squared_norm(row), sum) << "row " << row;
  }
}

TEST(ModelStoreTest, ServesNewestValidVersionAndSkipsBrokenOnes) {
  const std::string root = recsys::testing::MakeUniqueDir("store_newest");
  Publish(root, "10");
  Publish(root, "20");
  Corrupt(root, "20");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto store, ModelStore::Create(Options(root)));
  EXPECT_EQ(store->Current()->version(), "10");
}

TEST(ModelStoreTest, NoValidModelIsAnError) {
  const std::string root = recsys::testing::MakeUniqueDir("store_none");
  EXPECT_TRUE(absl::IsNotFound(ModelStore::Create(Options(root)).status()));
  Publish(root, "1");
  Corrupt(root, "1");
  EXPECT_TRUE(absl::IsFailedPrecondition(ModelStore::Create(Options(root)).status()));
}

TEST(ModelStoreTest, BrokenModelNeverReplacesTheServedOne) {
  const std::string root = recsys::testing::MakeUniqueDir("store_broken");
  Publish(root, "1");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto store, ModelStore::Create(Options(root)));
  Publish(root, "2");
  Corrupt(root, "2");
  auto result = store->Reload();
  EXPECT_TRUE(absl::IsFailedPrecondition(result.status())) << result.status();
  EXPECT_EQ(store->Current()->version(), "1");
  // The poller does not retry a version that failed.
  EXPECT_FALSE(store->PollOnce());
  EXPECT_EQ(store->Current()->version(), "1");
  // A good newer version is picked up.
  Publish(root, "3");
  EXPECT_TRUE(store->PollOnce());
  EXPECT_EQ(store->Current()->version(), "3");
}

TEST(ModelStoreTest, ReloadNamedVersionAndRollbackPins) {
  const std::string root = recsys::testing::MakeUniqueDir("store_rollback");
  Publish(root, "1");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto store, ModelStore::Create(Options(root)));
  EXPECT_TRUE(absl::IsFailedPrecondition(store->Rollback().status()));
  Publish(root, "2");
  RECSYS_ASSERT_OK_AND_ASSIGN(SwapResult r, store->Reload());
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(r.previous_version, "1");
  EXPECT_EQ(store->Current()->version(), "2");

  // A request that pinned version 2 keeps it across a rollback.
  std::shared_ptr<const ModelBundle> pinned = store->Current();
  RECSYS_ASSERT_OK_AND_ASSIGN(r, store->Rollback());
  EXPECT_EQ(r.version, "1");
  EXPECT_TRUE(store->pinned());
  EXPECT_EQ(store->Current()->version(), "1");
  EXPECT_EQ(pinned->version(), "2");
  // While pinned the poller does not move forward.
  EXPECT_FALSE(store->PollOnce());
  EXPECT_EQ(store->Current()->version(), "1");
  // Reload unpins.
  RECSYS_ASSERT_OK_AND_ASSIGN(r, store->Reload("2"));
  EXPECT_FALSE(store->pinned());
  EXPECT_EQ(store->Current()->version(), "2");
  EXPECT_TRUE(absl::IsNotFound(store->Reload("77").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store->Reload("abc").status()));
}

TEST(ModelStoreTest, RollbackFromDiskWhenNothingHeld) {
  const std::string root = recsys::testing::MakeUniqueDir("store_rollback_disk");
  Publish(root, "1");
  Publish(root, "2");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto store, ModelStore::Create(Options(root)));
  EXPECT_EQ(store->Current()->version(), "2");
  RECSYS_ASSERT_OK_AND_ASSIGN(SwapResult r, store->Rollback());
  EXPECT_EQ(r.version, "1");
}

}  // namespace
}  // namespace recsys::model
