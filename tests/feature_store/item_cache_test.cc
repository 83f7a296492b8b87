// Tests of item_cache.h: what is read once, when changes made elsewhere are
// seen, degradation while the store is down, and two replicas sharing a real
// redis-server. The whole FeatureStore contract is also run against the cache
// (feature_store_test.cc, CachedRedis).
#include "feature_store/item_cache.h"

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "feature_store/faulty_feature_store.h"
#include "feature_store/in_memory_feature_store.h"
#include "feature_store/redis_feature_store.h"
#include "gtest/gtest.h"
#include "tests/feature_store/test_util.h"
#include "tests/testing/status_matchers.h"

namespace recsys::feature_store {
namespace {

constexpr absl::Time kNoDeadline = absl::InfiniteFuture();

// Forwards to a borrowed store and counts the calls the cache should save.
class CountingStore final : public FeatureStore {
 public:
  explicit CountingStore(FeatureStore* base) : base_(base) {}

  std::atomic<int> item_reads{0};      // GetItems calls
  std::atomic<int> items_read{0};      // ids asked for
  std::atomic<int> change_reads{0};    // GetItemChanges calls
  // Runs inside GetItems, after the base store answered.
  std::function<void()> after_read;

  std::string Describe() const override { return base_->Describe(); }
  absl::StatusOr<UserFeatures> GetUser(absl::string_view user_id,
                                       absl::Time deadline) const override {
    return base_->GetUser(user_id, deadline);
  }
  absl::StatusOr<std::vector<std::optional<ItemFeatures>>> GetItems(
      absl::Span<const std::string> item_ids, absl::Time deadline) const override {
    auto* self = const_cast<CountingStore*>(this);
    self->item_reads.fetch_add(1);
    self->items_read.fetch_add(static_cast<int>(item_ids.size()));
    auto result = base_->GetItems(item_ids, deadline);
    if (after_read) after_read();
    return result;
  }
  absl::StatusOr<RecordOutcome> RecordEvents(absl::Span<const Event> events,
                                             absl::Time deadline) override {
    return base_->RecordEvents(events, deadline);
  }
  absl::Status PutUsers(absl::Span<const UserFeatures> users) override {
    return base_->PutUsers(users);
  }
  absl::Status PutItems(absl::Span<const ItemFeatures> items) override {
    return base_->PutItems(items);
  }
  absl::StatusOr<std::vector<ListedItem>> GetListedItems(int limit,
                                                         absl::Time deadline) const override {
    return base_->GetListedItems(limit, deadline);
  }
  absl::StatusOr<std::vector<TrialCounts>> GetTrialCounts(
      absl::Span<const std::string> item_ids, absl::Time deadline) const override {
    return base_->GetTrialCounts(item_ids, deadline);
  }
  absl::StatusOr<ItemChanges> GetItemChanges(int64_t since,
                                             absl::Time deadline) const override {
    const_cast<CountingStore*>(this)->change_reads.fetch_add(1);
    return base_->GetItemChanges(since, deadline);
  }
  absl::Status Ping(absl::Time deadline) const override { return base_->Ping(deadline); }

 private:
  FeatureStore* const base_;
};

ItemFeatures Item(std::string id, int64_t stock) {
  return {.item_id = std::move(id), .category = "shoes", .price = 10, .title = "A shoe",
          .stock = stock};
}

// Stock of each id as the store answers (-2: unknown item).
std::vector<int64_t> Stocks(const FeatureStore& store, std::vector<std::string> ids) {
  absl::StatusOr<std::vector<std::optional<ItemFeatures>>> items =
      store.GetItems(ids, kNoDeadline);
  EXPECT_TRUE(items.ok()) << items.status();
  std::vector<int64_t> stocks;
  if (!items.ok()) return stocks;
  for (const auto& item : *items) stocks.push_back(item.has_value() ? item->stock : -2);
  return stocks;
}

class ItemCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ItemFeatures items[] = {Item("a", 5), Item("b", 7)};
    RECSYS_ASSERT_OK(memory_.PutItems(items));
  }

  // A cache over counting_ (borrowed through an owning forwarder).
  std::unique_ptr<ItemCachingFeatureStore> MakeCache(absl::Duration max_staleness,
                                                     size_t max_items = 1000) {
    auto cache = NewItemCachingFeatureStore(std::make_unique<CountingStore>(&counting_),
                                            {.max_staleness = max_staleness,
                                             .max_items = max_items});
    EXPECT_TRUE(cache.ok()) << cache.status();
    return cache.ok() ? *std::move(cache) : nullptr;
  }

  InMemoryFeatureStore memory_;
  CountingStore counting_{&memory_};
};

TEST_F(ItemCacheTest, ReadsEachItemOnce) {
  auto cache = MakeCache(absl::InfiniteDuration());
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(Stocks(*cache, {"a", "b", "zz"}), (std::vector<int64_t>{5, 7, -2}));
  EXPECT_EQ(counting_.items_read.load(), 3);
  // Unknown items are remembered too.
  EXPECT_EQ(Stocks(*cache, {"zz", "b", "a", "a"}), (std::vector<int64_t>{-2, 7, 5, 5}));
  EXPECT_EQ(counting_.items_read.load(), 3);
  EXPECT_EQ(counting_.item_reads.load(), 1);
  const ItemCacheStats stats = cache->stats();
  EXPECT_EQ(stats.items, 3);
  EXPECT_EQ(stats.misses, 3);
  EXPECT_EQ(stats.hits, 4);
  EXPECT_EQ(stats.catalog_version, 1);
  // The other fields come back whole.
  RECSYS_ASSERT_OK_AND_ASSIGN(auto items, cache->GetItems({"a"}, kNoDeadline));
  ASSERT_TRUE(items[0].has_value());
  EXPECT_EQ(items[0]->item_id, "a");
  EXPECT_EQ(items[0]->category, "shoes");
  EXPECT_EQ(items[0]->title, "A shoe");
  EXPECT_EQ(items[0]->price, 10);
}

TEST_F(ItemCacheTest, WritesThroughTheCacheAreSeenAtOnce) {
  auto cache = MakeCache(absl::InfiniteDuration());
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(Stocks(*cache, {"a", "zz"}), (std::vector<int64_t>{5, -2}));
  const ItemFeatures update[] = {Item("a", 0), Item("zz", 3)};
  RECSYS_ASSERT_OK(cache->PutItems(update));
  EXPECT_EQ(Stocks(*cache, {"a", "zz", "b"}), (std::vector<int64_t>{0, 3, 7}));
  EXPECT_EQ(cache->stats().invalidated, 2);
}

TEST_F(ItemCacheTest, WritesElsewhereAreSeenAfterTheFeedIsRead) {
  // Two replicas over one store; `lazy` reads the feed once only.
  auto fresh = MakeCache(absl::ZeroDuration());
  auto lazy = MakeCache(absl::Hours(24));
  ASSERT_NE(fresh, nullptr);
  ASSERT_NE(lazy, nullptr);
  EXPECT_EQ(Stocks(*fresh, {"a", "b"}), (std::vector<int64_t>{5, 7}));
  EXPECT_EQ(Stocks(*lazy, {"a", "b"}), (std::vector<int64_t>{5, 7}));
  const ItemFeatures update[] = {Item("a", 0)};
  RECSYS_ASSERT_OK(memory_.PutItems(update));  // another process
  EXPECT_EQ(Stocks(*fresh, {"a", "b"}), (std::vector<int64_t>{0, 7}));
  EXPECT_EQ(Stocks(*lazy, {"a", "b"}), (std::vector<int64_t>{5, 7}));  // within staleness
  EXPECT_EQ(fresh->stats().invalidated, 1);
  EXPECT_EQ(lazy->stats().refreshes, 1);
}

TEST_F(ItemCacheTest, UncachedReadsSeeWritesElsewhereAtOnce) {
  auto cache = MakeCache(absl::Hours(24));
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(Stocks(*cache, {"a"}), (std::vector<int64_t>{5}));
  const ItemFeatures update[] = {Item("a", 0)};
  RECSYS_ASSERT_OK(memory_.PutItems(update));  // another process
  EXPECT_EQ(Stocks(*cache, {"a"}), (std::vector<int64_t>{5}));
  RECSYS_ASSERT_OK_AND_ASSIGN(auto fresh, cache->GetItemsUncached({"a", "zz"}, kNoDeadline));
  ASSERT_EQ(fresh.size(), 2u);
  ASSERT_TRUE(fresh[0].has_value());
  EXPECT_EQ(fresh[0]->stock, 0);
  EXPECT_FALSE(fresh[1].has_value());
}

TEST_F(ItemCacheTest, ReadsTheFeedAtMostOncePerStaleness) {
  auto cache = MakeCache(absl::Hours(24));
  ASSERT_NE(cache, nullptr);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(Stocks(*cache, {"a"}), (std::vector<int64_t>{5}));
  EXPECT_EQ(counting_.change_reads.load(), 1);
  EXPECT_EQ(counting_.item_reads.load(), 1);
}

TEST_F(ItemCacheTest, AReadOverlappingAChangeIsNotKept) {
  auto cache = MakeCache(absl::InfiniteDuration());
  ASSERT_NE(cache, nullptr);
  // While the cache's read of "a" is on its way back, "a" changes through
  // the cache. What the read brought must not be kept.
  bool once = true;
  counting_.after_read = [&] {
    if (!once) return;
    once = false;
    const ItemFeatures update[] = {Item("a", 0)};
    ASSERT_TRUE(cache->PutItems(update).ok());
  };
  EXPECT_EQ(Stocks(*cache, {"a"}), (std::vector<int64_t>{5}));  // the read's own answer
  counting_.after_read = nullptr;
  EXPECT_EQ(Stocks(*cache, {"a"}), (std::vector<int64_t>{0}));
}

TEST_F(ItemCacheTest, StoreDownServesWhatIsCached) {
  FaultyFeatureStore faulty(&memory_);
  auto made = NewItemCachingFeatureStore(std::make_unique<CountingStore>(&faulty),
                                         {.max_staleness = absl::ZeroDuration()});
  RECSYS_ASSERT_OK(made.status());
  std::unique_ptr<ItemCachingFeatureStore> cache = *std::move(made);
  EXPECT_EQ(Stocks(*cache, {"a"}), (std::vector<int64_t>{5}));
  faulty.set_failing(true);
  EXPECT_EQ(Stocks(*cache, {"a"}), (std::vector<int64_t>{5}));
  absl::Status status = cache->GetItems({"b"}, kNoDeadline).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_GE(cache->stats().refresh_failures, 2);
  faulty.set_failing(false);
  EXPECT_EQ(Stocks(*cache, {"a", "b"}), (std::vector<int64_t>{5, 7}));
}

TEST_F(ItemCacheTest, NothingIsKeptUntilAVersionIsKnown) {
  FaultyFeatureStore faulty(&memory_);
  CountingStore counting(&faulty);
  auto made = NewItemCachingFeatureStore(std::make_unique<CountingStore>(&counting),
                                         {.max_staleness = absl::ZeroDuration()});
  RECSYS_ASSERT_OK(made.status());
  std::unique_ptr<ItemCachingFeatureStore> cache = *std::move(made);
  // The feed cannot be read but items can: read through, keep nothing.
  int calls = 0;
  counting.after_read = [&] { ++calls; };
  faulty.set_failing(true);
  EXPECT_FALSE(cache->GetItems({"a"}, kNoDeadline).ok());
  faulty.set_failing(false);
  EXPECT_EQ(Stocks(*cache, {"a"}), (std::vector<int64_t>{5}));
  EXPECT_EQ(cache->stats().catalog_version, 1);
  EXPECT_EQ(cache->stats().items, 1);
}

TEST_F(ItemCacheTest, KeepsAtMostMaxItems) {
  auto cache = MakeCache(absl::InfiniteDuration(), /*max_items=*/2);
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(Stocks(*cache, {"a", "b", "zz"}), (std::vector<int64_t>{5, 7, -2}));
  EXPECT_EQ(cache->stats().items, 2);
  EXPECT_EQ(Stocks(*cache, {"a", "b", "zz"}), (std::vector<int64_t>{5, 7, -2}));
}

TEST_F(ItemCacheTest, RejectsBadOptionsNamingTheField) {
  auto negative = NewItemCachingFeatureStore(std::make_unique<InMemoryFeatureStore>(),
                                             {.max_staleness = absl::Seconds(-1)});
  EXPECT_EQ(negative.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(negative.status().message().find("max_staleness"), absl::string_view::npos);
  auto zero = NewItemCachingFeatureStore(std::make_unique<InMemoryFeatureStore>(),
                                         {.max_items = 0});
  EXPECT_EQ(zero.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(zero.status().message().find("max_items"), absl::string_view::npos);
  auto null = NewItemCachingFeatureStore(nullptr, {});
  EXPECT_EQ(null.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ItemCacheTest, InvalidIdsAreRejectedAsByTheStore) {
  auto cache = MakeCache(absl::InfiniteDuration());
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(cache->GetItems({""}, kNoDeadline).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Two server replicas over one real redis-server.
class ItemCacheRedisTest : public ::testing::Test {
 protected:
  std::unique_ptr<ItemCachingFeatureStore> Replica(absl::Duration max_staleness) {
    absl::StatusOr<recsys::testing::RedisServer*> server = test::SharedRedisServer();
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return nullptr;
    server_ = *server;
    // Each replica has a pool of its own, as separate processes would.
    redis::Options redis_options;
    redis_options.host = server_->host();
    redis_options.port = server_->port();
    redis_options.default_timeout = absl::Seconds(10);
    auto client = redis::Client::Create(redis_options);
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return nullptr;
    clients_.push_back(*std::move(client));
    RedisFeatureStoreOptions options;
    options.key_prefix = prefix_;
    auto redis = NewRedisFeatureStore(clients_.back().get(), options);
    EXPECT_TRUE(redis.ok()) << redis.status();
    if (!redis.ok()) return nullptr;
    auto cache = NewItemCachingFeatureStore(*std::move(redis), {.max_staleness = max_staleness});
    EXPECT_TRUE(cache.ok()) << cache.status();
    return cache.ok() ? *std::move(cache) : nullptr;
  }

  const std::string prefix_ = test::UniqueKeyPrefix();
  recsys::testing::RedisServer* server_ = nullptr;
  // The replicas' pools; they outlive the replicas, which are locals of the
  // test bodies.
  std::vector<std::unique_ptr<redis::Client>> clients_;
};

TEST_F(ItemCacheRedisTest, AnUpdateOnOneReplicaReachesTheOther) {
  auto a = Replica(absl::ZeroDuration());
  auto b = Replica(absl::ZeroDuration());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const ItemFeatures items[] = {Item("sku-1", 4), Item("sku-2", 9)};
  RECSYS_ASSERT_OK(a->PutItems(items));
  EXPECT_EQ(Stocks(*b, {"sku-1", "sku-2", "sku-3"}), (std::vector<int64_t>{4, 9, -2}));
  const ItemFeatures update[] = {Item("sku-1", 0), Item("sku-3", 1)};
  RECSYS_ASSERT_OK(a->PutItems(update));
  EXPECT_EQ(Stocks(*b, {"sku-1", "sku-2", "sku-3"}), (std::vector<int64_t>{0, 9, 1}));
  EXPECT_EQ(b->stats().invalidated, 2);
  EXPECT_EQ(b->stats().misses, 5);
}

TEST_F(ItemCacheRedisTest, AFlushedRedisEmptiesTheCache) {
  auto cache = Replica(absl::ZeroDuration());
  ASSERT_NE(cache, nullptr);
  const ItemFeatures items[] = {Item("sku-1", 4), Item("sku-2", 9)};
  RECSYS_ASSERT_OK(cache->PutItems(items));
  RECSYS_ASSERT_OK(cache->PutItems(items));
  EXPECT_EQ(Stocks(*cache, {"sku-1", "sku-2"}), (std::vector<int64_t>{4, 9}));
  EXPECT_EQ(cache->stats().catalog_version, 2);
  // The catalog is lost and rewritten by another process: version 1 < 2.
  for (const char* key : {"{catalog}:version", "{catalog}:changes", "i:{sku-1}", "i:{sku-2}"}) {
    RECSYS_ASSERT_OK(server_->Command({"DEL", prefix_ + key}).status());
  }
  auto other = Replica(absl::ZeroDuration());
  ASSERT_NE(other, nullptr);
  const ItemFeatures rewritten[] = {Item("sku-1", 1)};
  RECSYS_ASSERT_OK(other->PutItems(rewritten));
  EXPECT_EQ(Stocks(*cache, {"sku-1", "sku-2"}), (std::vector<int64_t>{1, -2}));
  EXPECT_EQ(cache->stats().catalog_version, 1);
}

}  // namespace
}  // namespace recsys::feature_store
