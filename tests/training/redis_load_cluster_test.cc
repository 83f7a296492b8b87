// The generation switch (training/redis_load.h) on a real 3-master Redis
// Cluster (tests/testing/redis_cluster.h): every script runs on one slot,
// the load's bulk keys spread over every master, readers see the new
// generation after the flip, the prune removes the old generation's keys
// from every master, and rollback points the readers back.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "feature_store/redis_feature_store.h"
#include "gtest/gtest.h"
#include "marketing/segment_store.h"
#include "marketing/segments.h"
#include "model/model_format.h"
#include "redis/client.h"
#include "redis/generation.h"
#include "tests/model/test_model.h"
#include "tests/testing/redis_cluster.h"
#include "tests/testing/status_matchers.h"
#include "training/redis_load.h"

namespace recsys::training {
namespace {

constexpr absl::Time kNoDeadline = absl::InfiniteFuture();

// The planted model as version `v`: item titles and user ua0's first
// purchase count carry v.
model::ModelData ModelVersion(int v) {
  model::ModelData data = model::testing::MakePlantedModel();
  data.manifest.set_version(absl::StrCat("2026010100000", v));
  for (model::ItemMeta& item : data.items) {
    item.title = absl::StrCat(item.item_id, " v", v);
  }
  data.history[0].count = 10 * v;
  std::vector<marketing::UserSegment> segments;
  for (const std::string& user : data.user_ids) {
    marketing::UserSegment s;
    s.user_id = user;
    s.frequency = v;
    segments.push_back(s);
  }
  data.segments_tsv = *marketing::SegmentsToTsv(segments);
  return data;
}

class RedisLoadClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<recsys::testing::RedisCluster*> cluster =
        recsys::testing::SharedRedisCluster();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *cluster;
    absl::StatusOr<redis::Options> options =
        redis::ParseAddress(cluster_->url());
    ASSERT_TRUE(options.ok()) << options.status();
    options->connect_timeout = absl::Seconds(5);
    options->default_timeout = absl::Seconds(10);
    client_ = redis::Client::Create(*options)->release();
  }

  void SetUp() override {
    ASSERT_NE(client_, nullptr);
    static std::atomic<int> next{0};
    prefix_ = absl::StrCat("cg", next.fetch_add(1), ":");
    feature_store::RedisFeatureStoreOptions store_options;
    store_options.key_prefix = prefix_;
    store_options.generation_refresh = absl::ZeroDuration();  // every read
    store_ = *feature_store::NewRedisFeatureStore(client_, store_options);
    marketing::RedisSegmentStoreOptions segment_options;
    segment_options.key_prefix = prefix_;
    segment_options.generation_refresh = absl::ZeroDuration();
    segments_ = *marketing::NewRedisSegmentStore(client_, segment_options);
  }

  RedisLoadOptions LoadOptions() const {
    RedisLoadOptions options;
    options.key_prefix = prefix_;
    return options;
  }

  // The keys matching `pattern` on each master, one count per master.
  static std::vector<int> KeysPerMaster(const std::string& pattern) {
    std::vector<int> counts;
    absl::StatusOr<std::vector<recsys::testing::ClusterNodeInfo>> nodes =
        cluster_->Nodes();
    EXPECT_TRUE(nodes.ok()) << nodes.status();
    if (!nodes.ok()) return counts;
    for (const recsys::testing::ClusterNodeInfo& node : *nodes) {
      if (!node.master || node.failed) continue;
      recsys::testing::RedisServer* server = cluster_->NodeAt(node.address);
      EXPECT_NE(server, nullptr) << node.address;
      if (server == nullptr) continue;
      absl::StatusOr<std::string> keys = server->Command({"KEYS", pattern});
      EXPECT_TRUE(keys.ok()) << keys.status();
      const std::string text = keys.ok() ? *keys : "";
      counts.push_back(text.empty() ? 0
                                    : 1 + static_cast<int>(std::count(
                                              text.begin(), text.end(), '\n')));
    }
    return counts;
  }

  // ua0's first purchase count / 10 and item a0's title suffix, "v<n>"
  // when they agree.
  std::string SeenVersion() const {
    absl::StatusOr<feature_store::UserFeatures> user =
        store_->GetUser("ua0", kNoDeadline);
    EXPECT_TRUE(user.ok()) << user.status();
    int from_user = -1;
    if (user.ok()) {
      for (const feature_store::PurchaseRecord& p : user->purchases) {
        if (p.item_id == "a0") from_user = p.count / 10;
      }
    }
    const std::string ids[] = {"a0"};
    auto items = store_->GetItems(ids, kNoDeadline);
    EXPECT_TRUE(items.ok()) << items.status();
    int from_item = -1;
    if (items.ok() && (*items)[0].has_value()) {
      from_item = (*items)[0]->title.back() - '0';
    }
    absl::StatusOr<marketing::UserSegment> segment =
        segments_->GetSegment("ub1", kNoDeadline);
    const int from_segment = segment.ok() ? segment->frequency : -1;
    if (from_user != from_item || from_item != from_segment) {
      return absl::StrCat("mixed ", from_user, "/", from_item, "/",
                          from_segment);
    }
    return absl::StrCat("v", from_user);
  }

  static recsys::testing::RedisCluster* cluster_;
  static redis::Client* client_;
  std::string prefix_;
  std::unique_ptr<feature_store::FeatureStore> store_;
  std::unique_ptr<marketing::SegmentStore> segments_;
};

recsys::testing::RedisCluster* RedisLoadClusterTest::cluster_ = nullptr;
redis::Client* RedisLoadClusterTest::client_ = nullptr;

TEST_F(RedisLoadClusterTest, LoadFlipPruneAndRollbackAcrossEveryMaster) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      RedisLoadResult first,
      LoadRedisGeneration(ModelVersion(1), client_, LoadOptions()));
  EXPECT_EQ(first.generation, 1);
  EXPECT_EQ(first.users, 10);
  EXPECT_EQ(first.items, 20);
  EXPECT_EQ(first.segments, 10);
  EXPECT_EQ(SeenVersion(), "v1");
  // The generation's keys are spread over all three masters, so its count
  // (verify) and its prune must visit each.
  const std::vector<int> g1 = KeysPerMaster(prefix_ + "g1:*");
  ASSERT_EQ(g1.size(), 3u);
  for (int n : g1) EXPECT_GT(n, 0);

  // A purchase recorded between the loads stays counted after the flip.
  feature_store::Event purchase;
  purchase.type = feature_store::EventType::kPurchase;
  purchase.user_id = "ua0";
  purchase.item_id = "a0";
  purchase.time = absl::FromUnixSeconds(1800000000);
  purchase.event_id = "cluster-purchase-1";
  RECSYS_ASSERT_OK(store_->RecordEvents({&purchase, 1}, kNoDeadline).status());

  std::vector<std::string> seen;
  RedisLoadOptions options = LoadOptions();
  options.keep_generations = 1;  // the prune removes generation 1
  options.on_step = [&](absl::string_view step) {
    seen.push_back(absl::StrCat(step, "=", SeenVersion()));
    return absl::OkStatus();
  };
  RECSYS_ASSERT_OK_AND_ASSIGN(
      RedisLoadResult second,
      LoadRedisGeneration(ModelVersion(2), client_, options));
  EXPECT_EQ(second.generation, 2);
  EXPECT_EQ(seen,
            std::vector<std::string>({"begin=v1", "features=v1", "segments=v1",
                                      "verify=v1", "flip=v2", "prune=v2"}));
  // The purchase (after generation 2's cutoff) adds to the exported count.
  RECSYS_ASSERT_OK_AND_ASSIGN(feature_store::UserFeatures ua0,
                              store_->GetUser("ua0", kNoDeadline));
  int a0 = 0;
  for (const feature_store::PurchaseRecord& p : ua0.purchases) {
    if (p.item_id == "a0") a0 = p.count;
  }
  EXPECT_EQ(a0, 21);
  // Generation 1 is gone from every master, generation 2 is on every one.
  EXPECT_EQ(KeysPerMaster(prefix_ + "g1:*"), std::vector<int>({0, 0, 0}));
  for (int n : KeysPerMaster(prefix_ + "g2:*")) EXPECT_GT(n, 0);
  EXPECT_EQ(KeysPerMaster(prefix_ + "{gen}:meta:1"),
            std::vector<int>({0, 0, 0}));
  EXPECT_GT(second.pruned_keys, 0);

  // Rollback needs a previous generation: load v3 keeping two, then go back
  // to generation 2.
  options = LoadOptions();
  RECSYS_ASSERT_OK_AND_ASSIGN(
      RedisLoadResult third,
      LoadRedisGeneration(ModelVersion(3), client_, options));
  EXPECT_EQ(third.generation, 3);
  EXPECT_EQ(SeenVersion(), "v3");
  RECSYS_ASSERT_OK_AND_ASSIGN(int64_t live,
                              RollbackRedisGeneration(client_, prefix_));
  EXPECT_EQ(live, 2);
  EXPECT_EQ(SeenVersion(), "v2");
  const redis::Command marker = {"HGET", prefix_ + "loaded", "model_version"};
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::vector<redis::Value> version,
      client_->Execute({&marker, 1}, absl::Now() + absl::Seconds(10)));
  EXPECT_EQ(version[0].text, ModelVersion(2).manifest.version());
}

TEST_F(RedisLoadClusterTest,
       AReaderWithAnOldPointerReadsThePreviousGenerationWhole) {
  RECSYS_ASSERT_OK(
      LoadRedisGeneration(ModelVersion(1), client_, LoadOptions()).status());
  // A store that keeps a resolved pointer for an hour: after a flip it
  // still reads the previous generation, complete (kept until the next
  // load's prune), never a mix.
  feature_store::RedisFeatureStoreOptions cached_options;
  cached_options.key_prefix = prefix_;
  cached_options.generation_refresh = absl::Hours(1);
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<feature_store::FeatureStore> cached,
      feature_store::NewRedisFeatureStore(client_, cached_options));
  const std::string ids[] = {"a0"};
  RECSYS_ASSERT_OK_AND_ASSIGN(auto before, cached->GetItems(ids, kNoDeadline));
  ASSERT_TRUE(before[0].has_value());
  EXPECT_EQ(before[0]->title, "a0 v1");
  RECSYS_ASSERT_OK(
      LoadRedisGeneration(ModelVersion(2), client_, LoadOptions()).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(auto stale, cached->GetItems(ids, kNoDeadline));
  ASSERT_TRUE(stale[0].has_value());
  EXPECT_EQ(stale[0]->title, "a0 v1");
  RECSYS_ASSERT_OK_AND_ASSIGN(feature_store::UserFeatures user,
                              cached->GetUser("ua0", kNoDeadline));
  int a0 = 0;
  for (const feature_store::PurchaseRecord& p : user.purchases) {
    if (p.item_id == "a0") a0 = p.count;
  }
  EXPECT_EQ(a0, 10);
  // A store that checks on every read sees generation 2 at once.
  EXPECT_EQ(SeenVersion(), "v2");
}

}  // namespace
}  // namespace recsys::training
