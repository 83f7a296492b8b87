// The generation switch of the Redis refresh (training/redis_load.h) on a
// real redis-server: readers see only the old generation until the flip and
// only the new one after it; a load stopped at any step leaves the live
// generation untouched and a rerun ends as one clean run; purchases recorded
// during a load survive the flip; old generations are removed; rollback; a
// Redis in the layout before generations keeps serving and migrates.
#include "training/redis_load.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "feature_store/item_cache.h"
#include "feature_store/redis_feature_store.h"
#include "gtest/gtest.h"
#include "marketing/segment_store.h"
#include "marketing/segments.h"
#include "metrics/metrics.h"
#include "model/model_format.h"
#include "redis/client.h"
#include "redis/generation.h"
#include "tests/model/test_model.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"

namespace recsys::training {
namespace {

constexpr absl::Time kNoDeadline = absl::InfiniteFuture();

// The planted model as version `v`: every title, user ua0's first purchase
// count and each segment record's frequency carry v, so a reader can tell
// the versions apart.
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

std::string NextPrefix() {
  static std::atomic<int> next{0};
  return absl::StrCat("gen", next.fetch_add(1), ":");
}

class RedisLoadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<recsys::testing::RedisServer*> server =
        recsys::testing::SharedRedisServer();
    ASSERT_TRUE(server.ok()) << server.status();
    redis::Options options;
    options.host = (*server)->host();
    options.port = (*server)->port();
    options.connect_timeout = absl::Seconds(5);
    options.default_timeout = absl::Seconds(10);
    client_ = redis::Client::Create(options)->release();
  }

  void SetUp() override {
    prefix_ = NextPrefix();
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

  static std::vector<redis::Value> Redis(const redis::Command& command) {
    absl::StatusOr<std::vector<redis::Value>> r =
        client_->Execute({&command, 1}, absl::Now() + absl::Seconds(10));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<redis::Value>(1);
  }

  // Every key under `prefix`, without it, sorted.
  static std::vector<std::string> Keys(const std::string& prefix) {
    std::vector<std::string> keys;
    const std::vector<redis::Value> reply = Redis({"KEYS", prefix + "*"});
    for (const redis::Value& v : reply[0].elements) {
      keys.push_back(v.text.substr(prefix.size()));
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  // The pointer's fields that do not depend on the wall clock.
  static std::map<std::string, std::string> Pointer(const std::string& prefix) {
    std::map<std::string, std::string> out;
    const std::vector<redis::Value> r = Redis({"HGETALL", prefix + "{gen}"});
    for (size_t i = 0; i + 1 < r[0].elements.size(); i += 2) {
      if (r[0].elements[i].text == "flipped_unix") continue;
      out[r[0].elements[i].text] = r[0].elements[i + 1].text;
    }
    return out;
  }

  // What the readers see, reduced to the version it came from: ua0's first
  // purchase count / 10, item a0's title suffix, ub1's segment frequency.
  // "mixed" when they disagree.
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
      const std::string& title = (*items)[0]->title;
      from_item = title.back() - '0';
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

  static redis::Client* client_;
  std::string prefix_;
  std::unique_ptr<feature_store::FeatureStore> store_;
  std::unique_ptr<marketing::SegmentStore> segments_;
};

redis::Client* RedisLoadTest::client_ = nullptr;

TEST_F(RedisLoadTest, ReadersSeeTheOldGenerationUntilTheFlipAndTheNewAfter) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      RedisLoadResult first,
      LoadRedisGeneration(ModelVersion(1), client_, LoadOptions()));
  EXPECT_EQ(first.generation, 1);
  EXPECT_EQ(first.users, 10);
  EXPECT_EQ(first.items, 20);
  EXPECT_EQ(first.segments, 10);
  EXPECT_EQ(SeenVersion(), "v1");
  // Every key of the generation was written by this load, and counted.
  EXPECT_EQ(first.keys_written,
            static_cast<int64_t>(Keys(prefix_ + "g1:").size()));
  EXPECT_GT(first.keys_written, 10 + 20 + 10);
  EXPECT_GE(first.write_seconds, 0.0);

  std::vector<std::string> seen;
  std::vector<std::string> lines;
  RedisLoadOptions options = LoadOptions();
  options.on_step = [&](absl::string_view step) {
    seen.push_back(absl::StrCat(step, "=", SeenVersion()));
    return absl::OkStatus();
  };
  options.log = [&](absl::string_view line) { lines.emplace_back(line); };
  RECSYS_ASSERT_OK_AND_ASSIGN(
      RedisLoadResult second,
      LoadRedisGeneration(ModelVersion(2), client_, options));
  EXPECT_EQ(second.generation, 2);
  EXPECT_EQ(seen,
            std::vector<std::string>({"begin=v1", "features=v1", "segments=v1",
                                      "verify=v1", "flip=v2", "prune=v2"}));
  // The log gives the bulk rate: the keys written and the time it took.
  EXPECT_TRUE(std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
    return absl::StartsWith(l, absl::StrCat("redis: wrote ", second.keys_written,
                                            " keys in "));
  })) << absl::StrJoin(lines, "\n");
  EXPECT_EQ(Pointer(prefix_)["history"], "2,1");
  EXPECT_EQ(Redis({"HGET", prefix_ + "loaded", "model_version"})[0].text,
            ModelVersion(2).manifest.version());
}

TEST_F(RedisLoadTest,
       ALoadStoppedAtAnyStepLeavesTheLiveDataAndARerunEndsAsOneCleanRun) {
  // The reference: v1 then v2, clean.
  const std::string ref = prefix_;
  RECSYS_ASSERT_OK(
      LoadRedisGeneration(ModelVersion(1), client_, LoadOptions()).status());
  RECSYS_ASSERT_OK(
      LoadRedisGeneration(ModelVersion(2), client_, LoadOptions()).status());
  const std::vector<std::string> ref_keys = Keys(ref);
  const std::map<std::string, std::string> ref_pointer = Pointer(ref);

  for (const char* stop_at : kRedisLoadSteps) {
    SCOPED_TRACE(stop_at);
    SetUp();  // a fresh prefix and readers
    RECSYS_ASSERT_OK(
        LoadRedisGeneration(ModelVersion(1), client_, LoadOptions()).status());
    RedisLoadOptions options = LoadOptions();
    options.on_step = [&](absl::string_view step) {
      return step == stop_at ? absl::AbortedError("stopped") : absl::OkStatus();
    };
    EXPECT_EQ(
        LoadRedisGeneration(ModelVersion(2), client_, options).status().code(),
        absl::StatusCode::kAborted);
    const bool flipped =
        std::string(stop_at) == "flip" || std::string(stop_at) == "prune";
    EXPECT_EQ(SeenVersion(), flipped ? "v2" : "v1");

    RECSYS_ASSERT_OK_AND_ASSIGN(
        RedisLoadResult rerun,
        LoadRedisGeneration(ModelVersion(2), client_, LoadOptions()));
    EXPECT_EQ(rerun.generation, 2);
    EXPECT_EQ(rerun.already_live, flipped);
    EXPECT_EQ(SeenVersion(), "v2");
    EXPECT_EQ(Keys(prefix_), ref_keys);
    EXPECT_EQ(Pointer(prefix_), ref_pointer);
  }
}

TEST_F(RedisLoadTest, PurchasesRecordedDuringALoadSurviveTheFlip) {
  model::ModelData v1 = ModelVersion(1);
  RECSYS_ASSERT_OK(LoadRedisGeneration(v1, client_, LoadOptions()).status());
  // A purchase exported with v2 (at or before its newest exported purchase)
  // was also recorded live before the load: counted once after the flip.
  model::ModelData v2 = ModelVersion(2);
  const int64_t cutoff = 1700000104;  // v2's newest exported purchase
  feature_store::Event exported;
  exported.type = feature_store::EventType::kPurchase;
  exported.user_id = "ub0";
  exported.item_id = "b0";
  exported.time = absl::FromUnixSeconds(cutoff - 50);
  exported.event_id = "exported-1";
  RECSYS_ASSERT_OK(store_->RecordEvents({&exported, 1}, kNoDeadline).status());
  v2.history[10].count += 1;  // ub0's b0, as the export counts it

  // Purchases acknowledged while v2 loads (after its cutoff).
  const absl::Time now = absl::Now();
  RedisLoadOptions options = LoadOptions();
  int recorded = 0;
  options.on_step = [&](absl::string_view step) {
    if (step == "features" || step == "verify") {
      feature_store::Event e;
      e.type = feature_store::EventType::kPurchase;
      e.user_id = "ua0";
      e.item_id = step == "features" ? "a0" : "b9";
      e.time = now;
      e.event_id = absl::StrCat("during-", step);
      absl::StatusOr<feature_store::RecordOutcome> outcome =
          store_->RecordEvents({&e, 1}, kNoDeadline);
      if (!outcome.ok()) return outcome.status();
      recorded += outcome->applied;
    }
    return absl::OkStatus();
  };
  RECSYS_ASSERT_OK(LoadRedisGeneration(v2, client_, options).status());
  ASSERT_EQ(recorded, 2);

  RECSYS_ASSERT_OK_AND_ASSIGN(feature_store::UserFeatures ua0,
                              store_->GetUser("ua0", kNoDeadline));
  std::map<std::string, feature_store::PurchaseRecord> bought;
  for (const auto& p : ua0.purchases) bought[p.item_id] = p;
  ASSERT_EQ(bought.size(), 3u);
  EXPECT_EQ(bought["a0"].count, 20 + 1);  // v2's export + the one recorded
  EXPECT_EQ(bought["a0"].last_purchase,
            absl::FromUnixSeconds(absl::ToUnixSeconds(now)));
  EXPECT_EQ(bought["a1"].count, 1);
  EXPECT_EQ(bought["b9"].count, 1);

  RECSYS_ASSERT_OK_AND_ASSIGN(feature_store::UserFeatures ub0,
                              store_->GetUser("ub0", kNoDeadline));
  for (const auto& p : ub0.purchases) {
    if (p.item_id == "b0") {
      EXPECT_EQ(p.count, 2);  // 1 exported + 1, not 3
    }
  }
}

TEST_F(RedisLoadTest, OldGenerationsAreRemovedAndRollbackReturnsToThePrevious) {
  for (int v = 1; v <= 3; ++v) {
    RECSYS_ASSERT_OK(
        LoadRedisGeneration(ModelVersion(v), client_, LoadOptions()).status());
  }
  EXPECT_TRUE(Keys(prefix_ + "g1:").empty());
  EXPECT_FALSE(Keys(prefix_ + "g2:").empty());
  EXPECT_FALSE(Keys(prefix_ + "g3:").empty());
  EXPECT_EQ(Pointer(prefix_)["history"], "3,2");
  EXPECT_EQ(SeenVersion(), "v3");

  RECSYS_ASSERT_OK_AND_ASSIGN(int64_t live,
                              RollbackRedisGeneration(client_, prefix_));
  EXPECT_EQ(live, 2);
  EXPECT_EQ(SeenVersion(), "v2");
  EXPECT_EQ(Redis({"HGET", prefix_ + "loaded", "model_version"})[0].text,
            ModelVersion(2).manifest.version());
  // Only one generation left in the history: nothing to go back to.
  EXPECT_EQ(RollbackRedisGeneration(client_, prefix_).status().code(),
            absl::StatusCode::kFailedPrecondition);

  // The next load takes a new number and removes the rolled-back one.
  RECSYS_ASSERT_OK_AND_ASSIGN(
      RedisLoadResult next,
      LoadRedisGeneration(ModelVersion(4), client_, LoadOptions()));
  EXPECT_EQ(next.generation, 4);
  EXPECT_GT(next.pruned_keys, 0);
  EXPECT_TRUE(Keys(prefix_ + "g3:").empty());
  EXPECT_EQ(Pointer(prefix_)["history"], "4,2");
  EXPECT_EQ(SeenVersion(), "v4");
}

TEST_F(RedisLoadTest, TheLayoutBeforeGenerationsServesAndMigrates) {
  // What the loader before generations wrote: bulk keys right under the
  // prefix, then the load marker.
  RECSYS_ASSERT_OK(model::LoadIntoFeatureStore(ModelVersion(1), store_.get()));
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::vector<marketing::UserSegment> records,
      marketing::ParseSegmentsTsv(ModelVersion(1).segments_tsv));
  RECSYS_ASSERT_OK(segments_->PutSegments(records));
  ASSERT_FALSE(Keys(prefix_ + "u:{ua0}:pc").empty());
  EXPECT_EQ(SeenVersion(), "v1");
  // Live records (Admin.UpdateItems) stay under the prefix.
  feature_store::ItemFeatures stocked;
  stocked.item_id = "a0";
  stocked.title = "a0 v1";
  stocked.stock = 7;
  RECSYS_ASSERT_OK(store_->PutItems({&stocked, 1}));

  RECSYS_ASSERT_OK_AND_ASSIGN(
      RedisLoadResult first,
      LoadRedisGeneration(ModelVersion(2), client_, LoadOptions()));
  EXPECT_EQ(first.generation, 1);
  EXPECT_EQ(Pointer(prefix_)["history"], "1,0");
  EXPECT_EQ(SeenVersion(), "v2");
  const std::string ids[] = {"a0"};
  RECSYS_ASSERT_OK_AND_ASSIGN(auto items, store_->GetItems(ids, kNoDeadline));
  ASSERT_TRUE(items[0].has_value());
  EXPECT_EQ(items[0]->stock, 7);  // the live record's stock survives the load

  // Back to the old layout, then forward again.
  RECSYS_ASSERT_OK_AND_ASSIGN(int64_t live,
                              RollbackRedisGeneration(client_, prefix_));
  EXPECT_EQ(live, 0);
  EXPECT_EQ(SeenVersion(), "v1");
  RECSYS_ASSERT_OK(
      LoadRedisGeneration(ModelVersion(3), client_, LoadOptions()).status());
  EXPECT_EQ(Pointer(prefix_)["history"], "2,0");
  EXPECT_FALSE(Keys(prefix_ + "u:{ua0}:pc").empty());  // still a rollback target
  RECSYS_ASSERT_OK(
      LoadRedisGeneration(ModelVersion(4), client_, LoadOptions()).status());
  EXPECT_EQ(Pointer(prefix_)["history"], "3,2");
  // Generation 0's bulk keys are gone; its live records are not.
  EXPECT_TRUE(Keys(prefix_ + "u:{ua0}:pc").empty());
  EXPECT_TRUE(Keys(prefix_ + "u:ub1:seg").empty());
  EXPECT_FALSE(Keys(prefix_ + "i:{a0}").empty());
  EXPECT_EQ(SeenVersion(), "v4");
}

TEST_F(RedisLoadTest, TheItemCacheDropsEverythingWhenTheGenerationChanges) {
  RECSYS_ASSERT_OK(
      LoadRedisGeneration(ModelVersion(1), client_, LoadOptions()).status());
  feature_store::ItemCacheOptions cache_options;
  cache_options.max_staleness = absl::ZeroDuration();
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<feature_store::ItemCachingFeatureStore> cache,
      feature_store::NewItemCachingFeatureStore(store_.get(), cache_options));
  const std::string ids[] = {"a0"};
  RECSYS_ASSERT_OK_AND_ASSIGN(auto before, cache->GetItems(ids, kNoDeadline));
  ASSERT_TRUE(before[0].has_value());
  EXPECT_EQ(before[0]->title, "a0 v1");
  RECSYS_ASSERT_OK(
      LoadRedisGeneration(ModelVersion(2), client_, LoadOptions()).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(auto after, cache->GetItems(ids, kNoDeadline));
  ASSERT_TRUE(after[0].has_value());
  EXPECT_EQ(after[0]->title, "a0 v2");
}

// Round trips of `registry`'s Redis client so far.
uint64_t RoundTrips(const metrics::Registry& registry) {
  uint64_t n = 0;
  for (const metrics::FamilySnapshot& family : registry.Collect()) {
    if (family.name != "recsys_redis_call_duration_seconds") continue;
    for (const metrics::Sample& sample : family.samples) n += sample.histogram.count;
  }
  return n;
}

TEST_F(RedisLoadTest, AReadIsOneRoundTripButTheFirstAfterAFlip) {
  RECSYS_ASSERT_OK(LoadRedisGeneration(ModelVersion(1), client_, LoadOptions()).status());
  metrics::Registry registry;
  redis::Options options = client_->options();
  options.metrics = &registry;
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<redis::Client> counted,
                              redis::Client::Create(options));
  feature_store::RedisFeatureStoreOptions store_options;
  store_options.key_prefix = prefix_;
  store_options.generation_refresh = absl::ZeroDuration();  // check every read
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<feature_store::FeatureStore> store,
                              feature_store::NewRedisFeatureStore(counted.get(), store_options));
  const std::string ids[] = {"a0", "b3"};
  // The process's first read learns the generation (the cache starts at
  // generation 0): read again, as after a flip.
  const uint64_t start = RoundTrips(registry);
  RECSYS_ASSERT_OK(store->GetUser("ua1", kNoDeadline).status());
  EXPECT_EQ(RoundTrips(registry) - start, 2u);
  // Then one round trip per read, the pointer checked inside it.
  for (int i = 0; i < 3; ++i) {
    const uint64_t before = RoundTrips(registry);
    RECSYS_ASSERT_OK(store->GetUser("ua0", kNoDeadline).status());
    RECSYS_ASSERT_OK(store->GetItems(ids, kNoDeadline).status());
    EXPECT_EQ(RoundTrips(registry) - before, 2u) << i;
  }
  RECSYS_ASSERT_OK(LoadRedisGeneration(ModelVersion(2), client_, LoadOptions()).status());
  uint64_t before = RoundTrips(registry);
  RECSYS_ASSERT_OK_AND_ASSIGN(feature_store::UserFeatures user,
                              store->GetUser("ua0", kNoDeadline));
  EXPECT_EQ(RoundTrips(registry) - before, 2u);  // the pointer moved: read again
  before = RoundTrips(registry);
  RECSYS_ASSERT_OK(store->GetItems(ids, kNoDeadline).status());
  EXPECT_EQ(RoundTrips(registry) - before, 1u);
  bool found = false;
  for (const auto& p : user.purchases) found |= p.item_id == "a0" && p.count == 20;
  EXPECT_TRUE(found);
}

TEST_F(RedisLoadTest, BadOptionsAreRefused) {
  RedisLoadOptions options = LoadOptions();
  options.keep_generations = 0;
  EXPECT_EQ(
      LoadRedisGeneration(ModelVersion(1), client_, options).status().code(),
      absl::StatusCode::kInvalidArgument);
  options = LoadOptions();
  options.call_timeout = absl::ZeroDuration();
  const absl::Status no_timeout =
      LoadRedisGeneration(ModelVersion(1), client_, options).status();
  EXPECT_EQ(no_timeout.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(no_timeout.message(), "call_timeout: must be > 0"))
      << no_timeout;
  model::ModelData unversioned = ModelVersion(1);
  unversioned.manifest.clear_version();
  EXPECT_EQ(
      LoadRedisGeneration(unversioned, client_, LoadOptions()).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Keys(prefix_).empty());
}

}  // namespace
}  // namespace recsys::training
