#include "model/model_store.h"

#include <chrono>
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

// The planted model with default ranker weights fit on EASE neighbours
// (lambda 2).
ModelData PlantedModelWithEaseRanker() {
  ModelData data = testing::MakePlantedModel();
  RankerWeights weights = DefaultRankerWeights();
  weights.neighbors = NeighborKind::kEase;
  weights.ease_lambda = 2;
  *data.manifest.mutable_ranker() = RankerWeightsToConfig(weights);
  return data;
}

// A model whose ranker was fit with EASE neighbours is served with them:
// the bundle computes the same statistics as the trainer's tuner.
TEST(ModelBundleTest, RankerStatisticsFollowTheManifestsNeighbourKind) {
  const std::string root = recsys::testing::MakeUniqueDir("bundle_ease");
  ModelData data = PlantedModelWithEaseRanker();
  PublishOptions options;
  options.version = "1";
  RECSYS_ASSERT_OK(PublishModel(root, data, options));
  Publish(root, "2");  // the same model with default (cosine) weights
  RECSYS_ASSERT_OK_AND_ASSIGN(auto ease, ModelBundle::Load(root + "/1"));
  RECSYS_ASSERT_OK_AND_ASSIGN(auto cosine, ModelBundle::Load(root + "/2"));
  EXPECT_EQ(ease->ranker_weights().neighbors, NeighborKind::kEase);
  EXPECT_EQ(ease->ranker_weights().ease_lambda, 2);
  RankerStatsOptions ease_options;
  ease_options.neighbor_kind = NeighborKind::kEase;
  ease_options.ease_lambda = 2;
  const RankerItemStats expected =
      ComputeRankerItemStats(data.items.size(), data.history_indptr, data.history, ease_options);
  ASSERT_FALSE(expected.neighbors.items.empty());
  EXPECT_EQ(ease->ranker_item_stats().neighbors.indptr, expected.neighbors.indptr);
  EXPECT_EQ(ease->ranker_item_stats().neighbors.items, expected.neighbors.items);
  EXPECT_EQ(ease->ranker_item_stats().neighbors.sims, expected.neighbors.sims);
  EXPECT_NE(cosine->ranker_item_stats().neighbors.sims, expected.neighbors.sims);
}

// A model that stores its ranker's neighbours is served with those (not
// with neighbours computed again from the history); the other item
// statistics still come from the history.
TEST(ModelBundleTest, StoredRankerNeighboursAreServedAsStored) {
  const std::string root = recsys::testing::MakeUniqueDir("bundle_stored_neighbors");
  ModelData data = PlantedModelWithEaseRanker();
  const int32_t num_items = static_cast<int32_t>(data.items.size());
  // Each item's one neighbour is the next row: not what EASE gives.
  ItemNeighbors& stored = data.ranker_neighbors;
  for (int32_t i = 0; i <= num_items; ++i) stored.indptr.push_back(i);
  for (int32_t i = 0; i < num_items; ++i) {
    stored.items.push_back((i + 1) % num_items);
    stored.sims.push_back(0.5f);
  }
  PublishOptions options;
  options.version = "1";
  RECSYS_ASSERT_OK(PublishModel(root, data, options));
  RECSYS_ASSERT_OK_AND_ASSIGN(auto bundle, ModelBundle::Load(root + "/1"));
  EXPECT_EQ(bundle->ranker_item_stats().neighbors.indptr, stored.indptr);
  EXPECT_EQ(bundle->ranker_item_stats().neighbors.items, stored.items);
  EXPECT_EQ(bundle->ranker_item_stats().neighbors.sims, stored.sims);
  RankerStatsOptions ease_options;
  ease_options.neighbor_kind = NeighborKind::kEase;
  ease_options.ease_lambda = 2;
  const RankerItemStats computed =
      ComputeRankerItemStats(num_items, data.history_indptr, data.history, ease_options);
  EXPECT_NE(computed.neighbors.items, stored.items);
  EXPECT_EQ(bundle->ranker_item_stats().popularity, computed.popularity);
  EXPECT_EQ(bundle->ranker_item_stats().popular_order, computed.popular_order);
  EXPECT_EQ(bundle->ranker_item_stats().trending_order, computed.trending_order);
}

// The title neighbours come from items.tsv's titles, computed at load.
TEST(ModelBundleTest, TitleNeighboursComeFromTheCatalogTitles) {
  const std::string root = recsys::testing::MakeUniqueDir("bundle_titles");
  ModelData data = testing::MakePlantedModel();
  const char* kColours[] = {"red", "blue", "green", "white", "black"};
  for (size_t i = 0; i < data.items.size(); ++i) {
    data.items[i].title = absl::StrCat(kColours[i % 5], i % 2 == 0 ? " lantern" : " cushion");
  }
  PublishOptions options;
  options.version = "1";
  RECSYS_ASSERT_OK(PublishModel(root, data, options));
  RECSYS_ASSERT_OK_AND_ASSIGN(auto bundle, ModelBundle::Load(root + "/1"));
  const ItemNeighbors expected = TitleNeighbors(data.items);
  ASSERT_FALSE(expected.items.empty());
  EXPECT_EQ(bundle->ranker_item_stats().title_neighbors.indptr, expected.indptr);
  EXPECT_EQ(bundle->ranker_item_stats().title_neighbors.items, expected.items);
  EXPECT_EQ(bundle->ranker_item_stats().title_neighbors.sims, expected.sims);
  // The planted titles ("Item a0", ...) share only "item", in every title.
  Publish(root, "2");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto plain, ModelBundle::Load(root + "/2"));
  EXPECT_TRUE(plain->ranker_item_stats().title_neighbors.indptr.empty());
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
  // Reload() serves the newest valid version: still 1.
  RECSYS_ASSERT_OK_AND_ASSIGN(SwapResult result, store->Reload());
  EXPECT_FALSE(result.changed);
  EXPECT_EQ(result.version, "1");
  EXPECT_EQ(store->Current()->version(), "1");
  // Named, the broken version is FailedPrecondition with the reason.
  auto named = store->Reload("2");
  EXPECT_TRUE(absl::IsFailedPrecondition(named.status())) << named.status();
  EXPECT_NE(named.status().message().find("user_vectors.f32"), std::string::npos)
      << named.status();
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

// A model large enough that its inner-product index is more than 4 KB:
// 300 users and 300 items of dim 8 with pseudo-random vectors.
ModelData MakeWideModel() {
  ModelData d;
  d.dim = 8;
  d.manifest.mutable_params()->set_factors(d.dim);
  uint64_t x = 12345;
  auto next = [&x] {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<float>((x >> 40) % 2000) / 1000.0f - 1.0f;
  };
  for (int i = 0; i < 300; ++i) {
    ItemMeta it;
    it.item_id = absl::StrCat("i", i);
    it.category = absl::StrCat("c", i % 5);
    it.price = 1 + i % 7;
    it.buyers = 300 - i;
    it.purchases = 2 * it.buyers;
    d.items.push_back(it);
    for (int k = 0; k < d.dim; ++k) d.item_factors.push_back(next());
  }
  for (int u = 0; u < 300; ++u) {
    d.user_ids.push_back(absl::StrCat("u", u));
    for (int k = 0; k < d.dim; ++k) d.user_factors.push_back(next());
  }
  return d;
}

void PublishWide(const std::string& root, const std::string& version) {
  PublishOptions options;
  options.version = version;
  options.index_spec = "Flat";
  ASSERT_TRUE(PublishModel(root, MakeWideModel(), options).ok());
}

// Overwrites `n` bytes at `offset` of `path` with `bytes`, keeping its size.
void OverwriteInPlace(const std::string& path, int64_t offset, const std::string& bytes) {
  const auto size = fs::file_size(path);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(offset);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  ASSERT_EQ(fs::file_size(path), size);
}

// The tester's corruption: 4 KB of 0xFF inside items_ip.faiss and garbage
// (finite) floats inside item_vectors.f32, both keeping their size.
void CorruptLikeTheTester(const std::string& dir, bool index, bool vectors) {
  if (index) {
    ASSERT_GT(fs::file_size(dir + "/items_ip.faiss"), 4096u + 512u);
    OverwriteInPlace(dir + "/items_ip.faiss", 256, std::string(4096, '\xFF'));
  }
  if (vectors) {
    std::string garbage;
    for (int i = 0; i < 64; ++i) {
      const float v = 1000.0f + 37.0f * i;
      garbage.append(reinterpret_cast<const char*>(&v), sizeof(v));
    }
    OverwriteInPlace(dir + "/item_vectors.f32", 128, garbage);
  }
}

// Moves every file's mtime forward, as a rewrite by a later publish would.
void Touch(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    fs::last_write_time(e.path(), fs::last_write_time(e.path()) + std::chrono::seconds(5));
  }
}

std::string ReasonOf(const ModelStore& store, const std::string& version) {
  for (const RejectedVersion& r : store.RejectedVersions()) {
    if (r.version == version) return r.reason;
  }
  return "";
}

TEST(ModelStoreTest, CorruptedNewestIsRejectedNamingTheFileAndNeverServed) {
  const std::string root = recsys::testing::MakeUniqueDir("store_corrupt");
  PublishWide(root, "1");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto store, ModelStore::Create(Options(root)));
  PublishWide(root, "2");
  const std::string good_copy = recsys::testing::MakeUniqueDir("store_corrupt_good");
  fs::copy(root + "/2", good_copy, fs::copy_options::recursive);
  CorruptLikeTheTester(root + "/2", /*index=*/true, /*vectors=*/true);

  // The poller rejects it, naming the file; 1 is still served.
  EXPECT_FALSE(store->PollOnce());
  EXPECT_EQ(store->Current()->version(), "1");
  ASSERT_EQ(store->RejectedVersions().size(), 1u);
  const std::string reason = ReasonOf(*store, "2");
  EXPECT_NE(reason.find("item_vectors.f32: checksum mismatch"), std::string::npos) << reason;
  const absl::Time rejected_at = store->RejectedVersions()[0].rejected_at;

  // Reload() with no version serves the newest valid one: 1.
  RECSYS_ASSERT_OK_AND_ASSIGN(SwapResult r, store->Reload());
  EXPECT_FALSE(r.changed);
  EXPECT_EQ(r.version, "1");
  // After an operator reload and a rollback-and-reload, the poller neither
  // switches to 2 nor loads it again (its files did not change).
  RECSYS_ASSERT_OK(store->Reload("1").status());
  EXPECT_FALSE(store->PollOnce());
  EXPECT_FALSE(store->PollOnce());
  EXPECT_EQ(store->Current()->version(), "1");
  ASSERT_EQ(store->RejectedVersions().size(), 1u);
  EXPECT_EQ(store->RejectedVersions()[0].rejected_at, rejected_at);

  // Rewritten correctly (the good bytes back, newer mtimes): retried, served.
  for (const auto& e : fs::directory_iterator(good_copy)) {
    fs::copy_file(e.path(), root + "/2/" + e.path().filename().string(),
                  fs::copy_options::overwrite_existing);
  }
  Touch(root + "/2");
  EXPECT_TRUE(store->PollOnce());
  EXPECT_EQ(store->Current()->version(), "2");
  EXPECT_TRUE(store->RejectedVersions().empty());
}

TEST(ModelStoreTest, IndexCorruptionAloneIsRejectedNamingTheIndex) {
  const std::string root = recsys::testing::MakeUniqueDir("store_corrupt_index");
  PublishWide(root, "1");
  PublishWide(root, "2");
  CorruptLikeTheTester(root + "/2", /*index=*/true, /*vectors=*/false);
  RECSYS_ASSERT_OK_AND_ASSIGN(auto store, ModelStore::Create(Options(root)));
  EXPECT_EQ(store->Current()->version(), "1");
  const std::string reason = ReasonOf(*store, "2");
  EXPECT_NE(reason.find("items_ip.faiss: checksum mismatch"), std::string::npos) << reason;
  // Republished in place (removed, published again): retried and served.
  fs::remove_all(root + "/2");
  PublishWide(root, "2");
  Touch(root + "/2");
  EXPECT_TRUE(store->PollOnce());
  EXPECT_EQ(store->Current()->version(), "2");
}

TEST(ModelStoreTest, BrokenNewestDoesNotStopThePoller) {
  const std::string root = recsys::testing::MakeUniqueDir("store_broken_newest");
  PublishWide(root, "1");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto store, ModelStore::Create(Options(root)));
  // A valid 2 below a broken 3: 2 is picked up.
  PublishWide(root, "2");
  PublishWide(root, "3");
  CorruptLikeTheTester(root + "/3", true, true);
  EXPECT_TRUE(store->PollOnce());
  EXPECT_EQ(store->Current()->version(), "2");
  EXPECT_FALSE(ReasonOf(*store, "3").empty());
  // A later 4 after the broken 3 is picked up too.
  PublishWide(root, "4");
  EXPECT_TRUE(store->PollOnce());
  EXPECT_EQ(store->Current()->version(), "4");
  // Rolled back to 2, then Reload(): newest valid is 4, never 3.
  RECSYS_ASSERT_OK(store->Rollback().status());
  EXPECT_FALSE(store->PollOnce());
  RECSYS_ASSERT_OK_AND_ASSIGN(SwapResult r, store->Reload());
  EXPECT_EQ(r.version, "4");
}

TEST(ModelStoreTest, ReloadWithNoVersionSkipsABrokenNewestAndRollbackToIt) {
  const std::string root = recsys::testing::MakeUniqueDir("store_reload_newest_valid");
  PublishWide(root, "1");
  PublishWide(root, "2");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto store, ModelStore::Create(Options(root)));
  RECSYS_ASSERT_OK(store->Rollback().status());
  EXPECT_EQ(store->Current()->version(), "1");
  PublishWide(root, "3");
  CorruptLikeTheTester(root + "/3", true, false);
  // Newest valid is 2, not the broken 3 and not FailedPrecondition.
  RECSYS_ASSERT_OK_AND_ASSIGN(SwapResult r, store->Reload());
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(r.version, "2");
  EXPECT_FALSE(store->pinned());
  EXPECT_FALSE(store->PollOnce());
  EXPECT_EQ(store->Current()->version(), "2");
  EXPECT_NE(ReasonOf(*store, "3").find("items_ip.faiss"), std::string::npos);
  // A rejected version removed from the root is no longer listed.
  fs::remove_all(root + "/3");
  EXPECT_FALSE(store->PollOnce());
  EXPECT_TRUE(store->RejectedVersions().empty());
}

TEST(ModelStoreTest, HoldsVariantVersionsBesideTheServedOne) {
  const std::string root = recsys::testing::MakeUniqueDir("variant_versions");
  for (const char* v : {"1", "2", "3", "4"}) Publish(root, v);
  Corrupt(root, "2");
  ModelStoreOptions options = Options(root);
  options.max_variant_versions = 2;
  RECSYS_ASSERT_OK_AND_ASSIGN(auto store, ModelStore::Create(options));
  ASSERT_EQ(store->Current()->version(), "4");

  // "4" is the served bundle (shared, not loaded again), "1" is loaded,
  // "2" is broken, "9" absent, "3" over the bound of two, "x" no version.
  std::vector<VariantVersion> held =
      store->SetVariantVersions({{"4", {"e/a"}},
                                 {"2", {"e/b"}},
                                 {"1", {"f/a"}},
                                 {"9", {"f/b"}},
                                 {"3", {"g/a"}},
                                 {"1", {"g/b"}},
                                 {"x", {"h/a"}}});
  ASSERT_EQ(held.size(), 6u);
  EXPECT_EQ(held[0].version, "4");
  EXPECT_EQ(held[0].bundle, store->Current());
  EXPECT_TRUE(held[0].status.ok());
  EXPECT_EQ(held[1].version, "2");
  EXPECT_EQ(held[1].bundle, nullptr);
  EXPECT_TRUE(absl::IsFailedPrecondition(held[1].status)) << held[1].status;
  EXPECT_NE(held[1].status.message().find("user_vectors"),
            absl::string_view::npos)
      << held[1].status;
  EXPECT_EQ(held[2].version, "1");
  ASSERT_NE(held[2].bundle, nullptr);
  EXPECT_EQ(held[2].bundle->version(), "1");
  EXPECT_EQ(held[2].used_by, (std::vector<std::string>{"f/a", "g/b"}));
  EXPECT_TRUE(absl::IsNotFound(held[3].status)) << held[3].status;
  EXPECT_TRUE(absl::IsResourceExhausted(held[4].status)) << held[4].status;
  EXPECT_EQ(held[4].bundle, nullptr);
  EXPECT_TRUE(absl::IsInvalidArgument(held[5].status)) << held[5].status;
  // The served model did not change; the set is reported.
  EXPECT_EQ(store->Current()->version(), "4");
  EXPECT_EQ(store->VariantVersions().size(), 6u);

  // A new set shares what is held and drops the rest; a bundle someone
  // still holds stays valid after it is dropped.
  std::shared_ptr<const ModelBundle> in_use = held[2].bundle;
  held = store->SetVariantVersions({{"3", {"g/a"}}});
  ASSERT_EQ(held.size(), 1u);
  ASSERT_NE(held[0].bundle, nullptr);
  EXPECT_EQ(held[0].bundle->version(), "3");
  EXPECT_EQ(in_use->version(), "1");
  EXPECT_EQ(in_use->num_items(), 20);
  EXPECT_EQ(in_use.use_count(), 1);  // only the test holds it now
  // A swap of the served model leaves the variant versions alone.
  RECSYS_ASSERT_OK_AND_ASSIGN(SwapResult r, store->Reload("1"));
  EXPECT_TRUE(r.changed);
  ASSERT_EQ(store->VariantVersions().size(), 1u);
  EXPECT_EQ(store->VariantVersions()[0].bundle->version(), "3");
  EXPECT_TRUE(store->SetVariantVersions({}).empty());
  EXPECT_TRUE(store->VariantVersions().empty());
}

TEST(ModelStoreTest, NoVariantVersionsWithABoundOfZero) {
  const std::string root =
      recsys::testing::MakeUniqueDir("variant_versions_zero");
  Publish(root, "1");
  Publish(root, "2");
  ModelStoreOptions options = Options(root);
  options.max_variant_versions = 0;
  RECSYS_ASSERT_OK_AND_ASSIGN(auto store, ModelStore::Create(options));
  std::vector<VariantVersion> held =
      store->SetVariantVersions({{"1", {"e/a"}}});
  ASSERT_EQ(held.size(), 1u);
  EXPECT_TRUE(absl::IsResourceExhausted(held[0].status));
}

}  // namespace
}  // namespace recsys::model
