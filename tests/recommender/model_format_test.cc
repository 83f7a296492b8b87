#include "recommender/model_format.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "tests/recommender/test_model.h"
#include "tests/testing/status_matchers.h"

namespace recsys::recommender {
namespace {

namespace fs = std::filesystem;

TEST(ModelFormatTest, PublishAndReadRoundTrip) {
  const std::string root = testing::FreshDir("model_format");
  ModelData data = testing::MakePlantedModel();
  data.manifest.mutable_data()->set_rows_read(123);
  data.complements.resize(data.items.size());
  data.complements[3] = {{12, 0.75f}, {15, 0.5f}};
  PublishOptions options;
  options.version = "100";
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string dir, PublishModel(root, data, options));
  EXPECT_EQ(dir, root + "/100");
  // Nothing temporary is left behind.
  for (const auto& e : fs::directory_iterator(root)) {
    EXPECT_NE(e.path().filename().string()[0], '.') << e.path();
  }
  RECSYS_ASSERT_OK_AND_ASSIGN(ModelData back, ReadModelData(dir));
  EXPECT_EQ(back.manifest.version(), "100");
  EXPECT_EQ(back.manifest.num_users(), 10);
  EXPECT_EQ(back.manifest.num_items(), 20);
  EXPECT_EQ(back.manifest.format_version(), kModelFormatVersion);
  EXPECT_EQ(back.manifest.data().rows_read(), 123);
  EXPECT_EQ(back.user_ids, data.user_ids);
  ASSERT_EQ(back.items.size(), data.items.size());
  EXPECT_EQ(back.items[3].item_id, "a3");
  EXPECT_EQ(back.items[3].category, "alpha");
  EXPECT_DOUBLE_EQ(back.items[3].price, 4.0);
  EXPECT_EQ(back.items[3].title, "Item a3");
  EXPECT_EQ(back.user_factors, data.user_factors);
  EXPECT_EQ(back.item_factors, data.item_factors);
  EXPECT_EQ(back.history_indptr, data.history_indptr);
  ASSERT_EQ(back.history.size(), data.history.size());
  EXPECT_EQ(back.history[1].item, data.history[1].item);
  EXPECT_EQ(back.history[1].last_unix, data.history[1].last_unix);
  ASSERT_EQ(back.complements.size(), data.items.size());
  EXPECT_EQ(back.complements[3], data.complements[3]);
  EXPECT_TRUE(back.complements[4].empty());
  // No segments given: no file.
  EXPECT_TRUE(back.segments_tsv.empty());
  EXPECT_FALSE(fs::exists(dir + "/segments.tsv"));
  EXPECT_FALSE(back.manifest.files().contains("segments.tsv"));
}

TEST(ModelFormatTest, OptionalSegmentsFile) {
  const std::string root = testing::FreshDir("model_format_segments");
  ModelData data = testing::MakePlantedModel();
  data.segments_tsv = "user_id\tsegment\nua0\tcore\n";
  PublishOptions options;
  options.version = "7";
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string dir, PublishModel(root, data, options));
  RECSYS_ASSERT_OK_AND_ASSIGN(ModelData back, ReadModelData(dir));
  EXPECT_EQ(back.segments_tsv, data.segments_tsv);
  EXPECT_EQ(back.manifest.files().at("segments.tsv"),
            static_cast<int64_t>(data.segments_tsv.size()));
  // Its size is checked like every other file's.
  std::ofstream(dir + "/segments.tsv", std::ios::app) << "ub0\tnew\n";
  EXPECT_EQ(ReadModelData(dir).status().code(), absl::StatusCode::kDataLoss);
}

TEST(ModelFormatTest, VersionsListedNewestFirstAndAutoVersionIncreases) {
  const std::string root = testing::FreshDir("model_versions");
  ModelData data = testing::MakePlantedModel();
  PublishOptions options;
  options.version = "5";
  RECSYS_ASSERT_OK(PublishModel(root, data, options).status());
  options.version = "40";
  RECSYS_ASSERT_OK(PublishModel(root, data, options).status());
  fs::create_directories(root + "/.tmp-99");
  fs::create_directories(root + "/notaversion");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto versions, ListModelVersions(root));
  EXPECT_EQ(versions, (std::vector<std::string>{"40", "5"}));
  // Publishing the same version twice is refused.
  EXPECT_TRUE(absl::IsAlreadyExists(PublishModel(root, data, options).status()));
  // An automatic version sorts after everything present.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string dir, PublishModel(root, data));
  RECSYS_ASSERT_OK_AND_ASSIGN(versions, ListModelVersions(root));
  EXPECT_EQ(root + "/" + versions.front(), dir);
  EXPECT_TRUE(absl::IsNotFound(ListModelVersions(root + "/missing").status()));
}

TEST(ModelFormatTest, InconsistentDataIsRejectedWithTheFieldNamed) {
  const std::string root = testing::FreshDir("model_bad");
  ModelData data = testing::MakePlantedModel();
  data.item_factors.pop_back();
  auto st = PublishModel(root, data).status();
  EXPECT_TRUE(absl::IsInvalidArgument(st));
  EXPECT_NE(st.message().find("item_factors"), absl::string_view::npos) << st;

  data = testing::MakePlantedModel();
  data.user_factors[3] = std::numeric_limits<float>::quiet_NaN();
  st = PublishModel(root, data).status();
  EXPECT_NE(st.message().find("user_factors"), absl::string_view::npos) << st;

  data = testing::MakePlantedModel();
  data.items[1].item_id = data.items[0].item_id;
  st = PublishModel(root, data).status();
  EXPECT_NE(st.message().find("duplicate"), absl::string_view::npos) << st;
  // Nothing was published.
  RECSYS_ASSERT_OK_AND_ASSIGN(auto versions, ListModelVersions(root));
  EXPECT_TRUE(versions.empty());
}

TEST(ModelFormatTest, CorruptFilesAreDetected) {
  const std::string root = testing::FreshDir("model_corrupt");
  PublishOptions options;
  options.version = "1";
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string dir,
                              PublishModel(root, testing::MakePlantedModel(), options));
  // Truncate the item vectors.
  fs::resize_file(dir + "/item_vectors.f32", 40);
  auto st = ReadModelData(dir).status();
  EXPECT_TRUE(absl::IsDataLoss(st)) << st;
  EXPECT_NE(st.message().find("item_vectors.f32"), absl::string_view::npos) << st;

  options.version = "2";
  RECSYS_ASSERT_OK_AND_ASSIGN(dir, PublishModel(root, testing::MakePlantedModel(), options));
  std::ofstream(dir + "/manifest.json") << "{ not json";
  EXPECT_TRUE(absl::IsDataLoss(ReadModelData(dir).status()));
}

}  // namespace
}  // namespace recsys::recommender
