// Tests of feature_store.h: the event-type names and the behavioural contract
// every FeatureStore implementation must meet. The contract suite is a typed
// test run against the in-memory store and against the Redis store on a real
// redis-server and on a real three-master Redis Cluster (ctest label
// `cluster`).
#include "feature_store/feature_store.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "feature_store/in_memory_feature_store.h"
#include "feature_store/item_cache.h"
#include "feature_store/redis_feature_store.h"
#include "gtest/gtest.h"
#include "tests/feature_store/test_util.h"
#include "tests/testing/status_matchers.h"

namespace recsys::feature_store {
namespace {

using test::FindPurchase;
using test::Impression;
using test::ItemIds;
using test::MakeEvent;
using test::Purchase;
using test::SortedPurchases;
using test::T;
using test::View;

constexpr absl::Time kNoDeadline = absl::InfiniteFuture();

TEST(EventTypeNameTest, RoundTripsEveryType) {
  for (EventType type :
       {EventType::kView, EventType::kAddToCart, EventType::kPurchase,
        EventType::kImpression, EventType::kClick, EventType::kCouponIssued,
        EventType::kCouponRedeemed}) {
    const absl::string_view name = EventTypeName(type);
    EXPECT_NE(name, "unknown");
    EXPECT_EQ(name.find('|'), absl::string_view::npos) << name;
    EXPECT_EQ(EventTypeFromName(name), type) << name;
  }
}

TEST(EventTypeNameTest, StableNames) {
  // Stored in Redis list entries: changing one breaks existing data.
  EXPECT_EQ(EventTypeName(EventType::kView), "view");
  EXPECT_EQ(EventTypeName(EventType::kAddToCart), "add_to_cart");
  EXPECT_EQ(EventTypeName(EventType::kPurchase), "purchase");
  EXPECT_EQ(EventTypeName(EventType::kImpression), "impression");
  EXPECT_EQ(EventTypeName(EventType::kClick), "click");
}

TEST(EventTypeNameTest, UnknownValues) {
  EXPECT_EQ(EventTypeName(static_cast<EventType>(99)), "unknown");
  EXPECT_EQ(EventTypeFromName("unknown"), std::nullopt);
  EXPECT_EQ(EventTypeFromName(""), std::nullopt);
  EXPECT_EQ(EventTypeFromName("VIEW"), std::nullopt);
}

// ---------------------------------------------------------------------------
// Contract suite.

struct Limits {
  int recent = 100;
  int impressions = 200;
};

struct InMemoryBackend {
  static constexpr char kName[] = "InMemory";
  static absl::StatusOr<std::unique_ptr<FeatureStore>> Make(
      const Limits& limits) {
    return std::make_unique<InMemoryFeatureStore>(InMemoryOptions{
        .recent_limit = limits.recent, .impression_limit = limits.impressions});
  }
};

struct RedisBackend {
  static constexpr char kName[] = "Redis";
  static absl::StatusOr<std::unique_ptr<FeatureStore>> Make(
      const Limits& limits) {
    // Every store borrows the one shared client (pool).
    absl::StatusOr<redis::Client*> client = test::SharedRedisClient();
    if (!client.ok()) return client.status();
    RedisFeatureStoreOptions options;
    options.key_prefix = test::UniqueKeyPrefix();
    options.recent_limit = limits.recent;
    options.impression_limit = limits.impressions;
    return NewRedisFeatureStore(*client, options);
  }
};

// The Redis store on a three-master Redis Cluster: every key family must
// keep a request's keys and each script's keys in one slot.
struct RedisClusterBackend {
  static constexpr char kName[] = "RedisCluster";
  static absl::StatusOr<std::unique_ptr<FeatureStore>> Make(
      const Limits& limits) {
    absl::StatusOr<redis::Client*> client = test::SharedRedisClusterClient();
    if (!client.ok()) return client.status();
    RedisFeatureStoreOptions options;
    options.key_prefix = test::UniqueKeyPrefix();
    options.recent_limit = limits.recent;
    options.impression_limit = limits.impressions;
    return NewRedisFeatureStore(*client, options);
  }
};

// The Redis store behind the item cache, reading the change feed on every
// call: the cache must keep the whole contract.
struct CachedRedisBackend {
  static constexpr char kName[] = "CachedRedis";
  static absl::StatusOr<std::unique_ptr<FeatureStore>> Make(
      const Limits& limits) {
    absl::StatusOr<std::unique_ptr<FeatureStore>> redis = RedisBackend::Make(limits);
    if (!redis.ok()) return redis.status();
    absl::StatusOr<std::unique_ptr<ItemCachingFeatureStore>> cached =
        NewItemCachingFeatureStore(*std::move(redis), {.max_staleness = absl::ZeroDuration()});
    if (!cached.ok()) return cached.status();
    return std::unique_ptr<FeatureStore>(*std::move(cached));
  }
};

class BackendNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};

template <typename Backend>
class FeatureStoreContractTest : public ::testing::Test {
 protected:
  // A store with the given list limits; fails the test on error.
  std::unique_ptr<FeatureStore> MakeStore(const Limits& limits = {}) {
    absl::StatusOr<std::unique_ptr<FeatureStore>> store = Backend::Make(limits);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return nullptr;
    return *std::move(store);
  }
};

using Backends = ::testing::Types<InMemoryBackend, RedisBackend, CachedRedisBackend,
                                  RedisClusterBackend>;
TYPED_TEST_SUITE(FeatureStoreContractTest, Backends, BackendNames);

TYPED_TEST(FeatureStoreContractTest, PingIsOk) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  RECSYS_EXPECT_OK(store->Ping(kNoDeadline));
  EXPECT_FALSE(store->Describe().empty());
}

TYPED_TEST(FeatureStoreContractTest, UnknownUserIsNotFound) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<UserFeatures> user = store->GetUser("nobody", kNoDeadline);
  EXPECT_EQ(user.status().code(), absl::StatusCode::kNotFound) << user.status();
}

TYPED_TEST(FeatureStoreContractTest, PurchaseShowsCountAndLastTime) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  const Event events[] = {Purchase("alice", "sku-1", T(10))};
  RECSYS_ASSERT_OK(store->RecordEvents(events, kNoDeadline));

  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user,
                              store->GetUser("alice", kNoDeadline));
  EXPECT_EQ(user.user_id, "alice");
  ASSERT_EQ(user.purchases.size(), 1u);
  EXPECT_EQ(user.purchases[0].item_id, "sku-1");
  EXPECT_EQ(user.purchases[0].count, 1);
  EXPECT_EQ(user.purchases[0].last_purchase, T(10));
  // A purchase is recent activity too.
  ASSERT_EQ(user.recent.size(), 1u);
  EXPECT_EQ(user.recent[0].item_id, "sku-1");
  EXPECT_EQ(user.recent[0].type, EventType::kPurchase);
  EXPECT_EQ(user.recent[0].time, T(10));
  EXPECT_TRUE(user.impressions.empty());
}

TYPED_TEST(FeatureStoreContractTest, RepeatedPurchasesIncrement) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  // Within one batch and across batches.
  const Event first[] = {Purchase("bob", "a", T(1)), Purchase("bob", "a", T(2)),
                         Purchase("bob", "b", T(3))};
  RECSYS_ASSERT_OK(store->RecordEvents(first, kNoDeadline));
  const Event second[] = {Purchase("bob", "a", T(4))};
  RECSYS_ASSERT_OK(store->RecordEvents(second, kNoDeadline));

  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user,
                              store->GetUser("bob", kNoDeadline));
  std::vector<PurchaseRecord> purchases = SortedPurchases(user);
  ASSERT_EQ(purchases.size(), 2u);
  EXPECT_EQ(purchases[0].item_id, "a");
  EXPECT_EQ(purchases[0].count, 3);
  EXPECT_EQ(purchases[0].last_purchase, T(4));
  EXPECT_EQ(purchases[1].item_id, "b");
  EXPECT_EQ(purchases[1].count, 1);
  EXPECT_EQ(purchases[1].last_purchase, T(3));
}

TYPED_TEST(FeatureStoreContractTest, OlderPurchaseDoesNotMoveLastPurchaseBack) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  const Event newer[] = {Purchase("carol", "a", T(100))};
  RECSYS_ASSERT_OK(store->RecordEvents(newer, kNoDeadline));
  const Event older[] = {Purchase("carol", "a", T(50))};
  RECSYS_ASSERT_OK(store->RecordEvents(older, kNoDeadline));

  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user,
                              store->GetUser("carol", kNoDeadline));
  std::optional<PurchaseRecord> a = FindPurchase(user, "a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->count, 2);
  EXPECT_EQ(a->last_purchase, T(100));
}

TYPED_TEST(FeatureStoreContractTest, TimesAreKeptToTheSecond) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  const Event events[] = {
      Purchase("dan", "a", T(7) + absl::Milliseconds(900)),
      View("dan", "b", T(8) + absl::Milliseconds(1)),
  };
  RECSYS_ASSERT_OK(store->RecordEvents(events, kNoDeadline));
  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user,
                              store->GetUser("dan", kNoDeadline));
  ASSERT_EQ(user.purchases.size(), 1u);
  EXPECT_EQ(user.purchases[0].last_purchase, T(7));
  ASSERT_EQ(user.recent.size(), 2u);
  EXPECT_EQ(user.recent[0].time, T(8));
  EXPECT_EQ(user.recent[1].time, T(7));
}

TYPED_TEST(FeatureStoreContractTest, RecentActivityNewestFirstAndTrimmed) {
  std::unique_ptr<FeatureStore> store = this->MakeStore({.recent = 3});
  ASSERT_NE(store, nullptr);
  const Event first[] = {View("erin", "v1", T(1)), View("erin", "v2", T(2))};
  RECSYS_ASSERT_OK(store->RecordEvents(first, kNoDeadline));
  const Event second[] = {
      MakeEvent(EventType::kAddToCart, "erin", "c3", T(3)),
      MakeEvent(EventType::kClick, "erin", "k4", T(4)),
      View("erin", "v5", T(5)),
  };
  RECSYS_ASSERT_OK(store->RecordEvents(second, kNoDeadline));

  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user,
                              store->GetUser("erin", kNoDeadline));
  EXPECT_EQ(ItemIds(user.recent), (std::vector<std::string>{"v5", "k4", "c3"}));
  ASSERT_EQ(user.recent.size(), 3u);
  EXPECT_EQ(user.recent[0].type, EventType::kView);
  EXPECT_EQ(user.recent[0].time, T(5));
  EXPECT_EQ(user.recent[1].type, EventType::kClick);
  EXPECT_EQ(user.recent[2].type, EventType::kAddToCart);
  // Views, carts and clicks are not purchases.
  EXPECT_TRUE(user.purchases.empty());
  EXPECT_TRUE(user.impressions.empty());
}

TYPED_TEST(FeatureStoreContractTest, ImpressionsAreSeparateAndTrimmed) {
  std::unique_ptr<FeatureStore> store =
      this->MakeStore({.recent = 10, .impressions = 2});
  ASSERT_NE(store, nullptr);
  const Event events[] = {
      Impression("fay", "i1", T(1)),
      View("fay", "v1", T(2)),
      Impression("fay", "i2", T(3)),
      Impression("fay", "i3", T(4)),
  };
  RECSYS_ASSERT_OK(store->RecordEvents(events, kNoDeadline));

  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user,
                              store->GetUser("fay", kNoDeadline));
  EXPECT_EQ(ItemIds(user.impressions), (std::vector<std::string>{"i3", "i2"}));
  ASSERT_EQ(user.impressions.size(), 2u);
  EXPECT_EQ(user.impressions[0].type, EventType::kImpression);
  EXPECT_EQ(user.impressions[0].time, T(4));
  EXPECT_EQ(ItemIds(user.recent), (std::vector<std::string>{"v1"}));
}

TYPED_TEST(FeatureStoreContractTest, UserWithOnlyImpressionsIsFound) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  const Event events[] = {Impression("gus", "i1", T(1))};
  RECSYS_ASSERT_OK(store->RecordEvents(events, kNoDeadline));
  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user,
                              store->GetUser("gus", kNoDeadline));
  EXPECT_TRUE(user.purchases.empty());
  EXPECT_TRUE(user.recent.empty());
  EXPECT_EQ(user.impressions.size(), 1u);
}

TYPED_TEST(FeatureStoreContractTest, UsersAreIndependent) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  const Event events[] = {Purchase("u1", "a", T(1)), Purchase("u2", "b", T(2)),
                          View("u2", "c", T(3))};
  RECSYS_ASSERT_OK(store->RecordEvents(events, kNoDeadline));
  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures u1,
                              store->GetUser("u1", kNoDeadline));
  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures u2,
                              store->GetUser("u2", kNoDeadline));
  EXPECT_EQ(u1.purchases.size(), 1u);
  EXPECT_EQ(ItemIds(u1.recent), (std::vector<std::string>{"a"}));
  EXPECT_EQ(u2.purchases.size(), 1u);
  EXPECT_EQ(ItemIds(u2.recent), (std::vector<std::string>{"c", "b"}));
}

TYPED_TEST(FeatureStoreContractTest, IdsMayContainAnyBytes) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  const std::string user_id("we|ird:u\0ser \xff", 14);
  const std::string item_id("it|em:\0x\n", 9);
  const Event events[] = {Purchase(user_id, item_id, T(1)),
                          Impression(user_id, item_id, T(2))};
  RECSYS_ASSERT_OK(store->RecordEvents(events, kNoDeadline));
  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user,
                              store->GetUser(user_id, kNoDeadline));
  EXPECT_EQ(user.user_id, user_id);
  ASSERT_EQ(user.purchases.size(), 1u);
  EXPECT_EQ(user.purchases[0].item_id, item_id);
  ASSERT_EQ(user.recent.size(), 1u);
  EXPECT_EQ(user.recent[0].item_id, item_id);
  ASSERT_EQ(user.impressions.size(), 1u);
  EXPECT_EQ(user.impressions[0].item_id, item_id);
  // A prefix of the id is another user.
  EXPECT_EQ(store->GetUser("we", kNoDeadline).status().code(),
            absl::StatusCode::kNotFound);
}

TYPED_TEST(FeatureStoreContractTest, PutUsersReplacesHistoryButKeepsRecent) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  // An earlier bulk load, then activity. (A purchase recorded through
  // RecordEvents may outlive a bulk load: the Redis store keeps it in its
  // journal until a generation's export holds it, tests/training.)
  const UserFeatures earlier[] = {
      {.user_id = "hal",
       .purchases = {{.item_id = "old", .count = 1, .last_purchase = T(1)}}}};
  RECSYS_ASSERT_OK(store->PutUsers(earlier));
  const Event events[] = {View("hal", "old", T(1)), View("hal", "seen", T(2))};
  RECSYS_ASSERT_OK(store->RecordEvents(events, kNoDeadline));

  const UserFeatures users[] = {
      {.user_id = "hal",
       .purchases = {{.item_id = "x", .count = 3, .last_purchase = T(30)},
                     {.item_id = "y", .count = 1}}},
      {.user_id = "ivy",
       .purchases = {{.item_id = "z", .count = 2, .last_purchase = T(5)}}},
  };
  RECSYS_ASSERT_OK(store->PutUsers(users));

  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures hal,
                              store->GetUser("hal", kNoDeadline));
  std::vector<PurchaseRecord> purchases = SortedPurchases(hal);
  ASSERT_EQ(purchases.size(), 2u);
  EXPECT_EQ(purchases[0].item_id, "x");
  EXPECT_EQ(purchases[0].count, 3);
  EXPECT_EQ(purchases[0].last_purchase, T(30));
  EXPECT_EQ(purchases[1].item_id, "y");
  EXPECT_EQ(purchases[1].count, 1);
  EXPECT_EQ(purchases[1].last_purchase, absl::InfinitePast());
  EXPECT_EQ(ItemIds(hal.recent), (std::vector<std::string>{"seen", "old"}));

  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures ivy,
                              store->GetUser("ivy", kNoDeadline));
  ASSERT_EQ(ivy.purchases.size(), 1u);
  EXPECT_EQ(ivy.purchases[0].count, 2);
  EXPECT_TRUE(ivy.recent.empty());

  // Events after a bulk load build on the loaded history.
  const Event more[] = {Purchase("hal", "x", T(20))};
  RECSYS_ASSERT_OK(store->RecordEvents(more, kNoDeadline));
  RECSYS_ASSERT_OK_AND_ASSIGN(hal, store->GetUser("hal", kNoDeadline));
  std::optional<PurchaseRecord> x = FindPurchase(hal, "x");
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(x->count, 4);
  EXPECT_EQ(x->last_purchase, T(30));
}

TYPED_TEST(FeatureStoreContractTest, PutUsersWithoutPurchasesClearsHistory) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  const UserFeatures loaded[] = {
      {.user_id = "jo", .purchases = {{.item_id = "a", .count = 1}}}};
  RECSYS_ASSERT_OK(store->PutUsers(loaded));
  RECSYS_ASSERT_OK(store->GetUser("jo", kNoDeadline).status());

  const UserFeatures cleared[] = {{.user_id = "jo"}};
  RECSYS_ASSERT_OK(store->PutUsers(cleared));
  EXPECT_EQ(store->GetUser("jo", kNoDeadline).status().code(),
            absl::StatusCode::kNotFound);
}

TYPED_TEST(FeatureStoreContractTest, PutUsersRepeatedItemKeepsLastValues) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  const UserFeatures users[] = {
      {.user_id = "kim",
       .purchases = {{.item_id = "a", .count = 1, .last_purchase = T(1)},
                     {.item_id = "a", .count = 5, .last_purchase = T(2)}}}};
  RECSYS_ASSERT_OK(store->PutUsers(users));
  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures kim,
                              store->GetUser("kim", kNoDeadline));
  ASSERT_EQ(kim.purchases.size(), 1u);
  EXPECT_EQ(kim.purchases[0].count, 5);
  EXPECT_EQ(kim.purchases[0].last_purchase, T(2));
}

TYPED_TEST(FeatureStoreContractTest, PutUsersRejectsInvalidUsers) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  const UserFeatures users[] = {
      {.user_id = "ok", .purchases = {{.item_id = "a", .count = 1}}},
      {.user_id = "bad", .purchases = {{.item_id = "b", .count = 0}}},
  };
  absl::Status status = store->PutUsers(users);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("users[1].purchases[0].count"),
            absl::string_view::npos)
      << status;
  // Validated before anything is written.
  EXPECT_EQ(store->GetUser("ok", kNoDeadline).status().code(),
            absl::StatusCode::kNotFound);

  const UserFeatures no_id[] = {{.user_id = ""}};
  status = store->PutUsers(no_id);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("users[0].user_id"), absl::string_view::npos)
      << status;
}

TYPED_TEST(FeatureStoreContractTest, ItemChangesFollowPutItems) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  RECSYS_ASSERT_OK_AND_ASSIGN(
      ItemChanges latest, store->GetItemChanges(FeatureStore::kLatestCatalogVersion, kNoDeadline));
  EXPECT_EQ(latest.version, 0);
  EXPECT_TRUE(latest.item_ids.empty());
  RECSYS_ASSERT_OK_AND_ASSIGN(ItemChanges none, store->GetItemChanges(0, kNoDeadline));
  EXPECT_EQ(none.version, 0);
  EXPECT_TRUE(none.item_ids.empty());
  EXPECT_FALSE(none.reset);

  const ItemFeatures first[] = {{.item_id = "a", .category = "c", .stock = 1},
                                {.item_id = "b", .category = "c", .stock = 2}};
  RECSYS_ASSERT_OK(store->PutItems(first));
  RECSYS_ASSERT_OK_AND_ASSIGN(ItemChanges one, store->GetItemChanges(0, kNoDeadline));
  EXPECT_GT(one.version, 0);
  std::vector<std::string> ids = one.item_ids;
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b"}));

  const ItemFeatures second[] = {{.item_id = "b", .category = "c", .stock = 0}};
  RECSYS_ASSERT_OK(store->PutItems(second));
  RECSYS_ASSERT_OK_AND_ASSIGN(ItemChanges two, store->GetItemChanges(one.version, kNoDeadline));
  EXPECT_GT(two.version, one.version);
  EXPECT_EQ(two.item_ids, (std::vector<std::string>{"b"}));
  // From the start, each item once.
  RECSYS_ASSERT_OK_AND_ASSIGN(ItemChanges all, store->GetItemChanges(0, kNoDeadline));
  EXPECT_EQ(all.version, two.version);
  EXPECT_EQ(all.item_ids.size(), 2u);
  RECSYS_ASSERT_OK_AND_ASSIGN(ItemChanges after, store->GetItemChanges(two.version, kNoDeadline));
  EXPECT_EQ(after.version, two.version);
  EXPECT_TRUE(after.item_ids.empty());
  RECSYS_ASSERT_OK_AND_ASSIGN(
      latest, store->GetItemChanges(FeatureStore::kLatestCatalogVersion, kNoDeadline));
  EXPECT_EQ(latest.version, two.version);
  EXPECT_TRUE(latest.item_ids.empty());
  // Events do not touch the catalog.
  const Event events[] = {Purchase("alice", "a", T(10))};
  RECSYS_ASSERT_OK(store->RecordEvents(events, kNoDeadline));
  RECSYS_ASSERT_OK_AND_ASSIGN(after, store->GetItemChanges(two.version, kNoDeadline));
  EXPECT_TRUE(after.item_ids.empty());
}

TYPED_TEST(FeatureStoreContractTest, ItemChangesReportAVersionThatWentBack) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  const ItemFeatures items[] = {{.item_id = "a", .category = "c"}};
  RECSYS_ASSERT_OK(store->PutItems(items));
  RECSYS_ASSERT_OK_AND_ASSIGN(ItemChanges changes, store->GetItemChanges(1000, kNoDeadline));
  EXPECT_TRUE(changes.reset);
  EXPECT_TRUE(changes.item_ids.empty());
  EXPECT_EQ(changes.version, 1);
}

TYPED_TEST(FeatureStoreContractTest, ItemChangesRejectABadVersion) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  absl::Status status = store->GetItemChanges(-2, kNoDeadline).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("since"), absl::string_view::npos) << status;
}

TYPED_TEST(FeatureStoreContractTest, PutItemsAndGetItems) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  const ItemFeatures items[] = {
      {.item_id = "sku-1",
       .category = "shoes",
       .price = 19.99,
       .title = "Red | shoe",
       .stock = 7,
       .slow_mover = true},
      {.item_id = "sku-2", .category = "hats", .price = 0.1},
  };
  RECSYS_ASSERT_OK(store->PutItems(items));

  const std::string ids[] = {"sku-2", "missing", "sku-1"};
  RECSYS_ASSERT_OK_AND_ASSIGN(auto got, store->GetItems(ids, kNoDeadline));
  ASSERT_EQ(got.size(), 3u);
  ASSERT_TRUE(got[0].has_value());
  EXPECT_EQ(got[0]->item_id, "sku-2");
  EXPECT_EQ(got[0]->category, "hats");
  EXPECT_EQ(got[0]->price, 0.1);  // Exact: prices round-trip.
  EXPECT_EQ(got[0]->title, "");
  EXPECT_EQ(got[0]->stock, -1);
  EXPECT_FALSE(got[1].has_value());
  ASSERT_TRUE(got[2].has_value());
  EXPECT_EQ(got[2]->item_id, "sku-1");
  EXPECT_EQ(got[2]->category, "shoes");
  EXPECT_EQ(got[2]->price, 19.99);
  EXPECT_EQ(got[2]->title, "Red | shoe");
  EXPECT_EQ(got[2]->stock, 7);
  EXPECT_TRUE(got[2]->slow_mover);
  EXPECT_FALSE(got[0]->slow_mover);

  // Upsert.
  const ItemFeatures update[] = {
      {.item_id = "sku-1", .category = "boots", .price = 25, .stock = 0}};
  RECSYS_ASSERT_OK(store->PutItems(update));
  const std::string one[] = {"sku-1"};
  RECSYS_ASSERT_OK_AND_ASSIGN(got, store->GetItems(one, kNoDeadline));
  ASSERT_TRUE(got[0].has_value());
  EXPECT_EQ(got[0]->category, "boots");
  EXPECT_EQ(got[0]->price, 25);
  EXPECT_EQ(got[0]->title, "");
  EXPECT_EQ(got[0]->stock, 0);
  EXPECT_FALSE(got[0]->slow_mover);
}

TYPED_TEST(FeatureStoreContractTest, EmptyBatches) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  RECSYS_EXPECT_OK(store->RecordEvents({}, kNoDeadline));
  RECSYS_EXPECT_OK(store->PutUsers({}));
  RECSYS_EXPECT_OK(store->PutItems({}));
  RECSYS_ASSERT_OK_AND_ASSIGN(auto items, store->GetItems({}, kNoDeadline));
  EXPECT_TRUE(items.empty());
}

TYPED_TEST(FeatureStoreContractTest, EmptyIdsAreInvalidArguments) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->GetUser("", kNoDeadline).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::string ids[] = {"a", ""};
  absl::Status status = store->GetItems(ids, kNoDeadline).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("item_ids[1]"), absl::string_view::npos);
  const ItemFeatures items[] = {{.item_id = ""}};
  status = store->PutItems(items);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("items[0].item_id"), absl::string_view::npos);
}

TYPED_TEST(FeatureStoreContractTest, InvalidEventsRejectedAndNothingWritten) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  {
    const Event events[] = {Purchase("lee", "a", T(1)),
                            Purchase("", "a", T(2))};
    absl::Status status = store->RecordEvents(events, kNoDeadline).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_NE(status.message().find("events[1].user_id"),
              absl::string_view::npos)
        << status;
  }
  {
    const Event events[] = {View("lee", "a", T(1)), View("lee", "b", T(2)),
                            Impression("lee", "", T(3))};
    absl::Status status = store->RecordEvents(events, kNoDeadline).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_NE(status.message().find("events[2].item_id"),
              absl::string_view::npos)
        << status;
  }
  {
    const Event events[] = {View("lee", "a", absl::InfiniteFuture())};
    absl::Status status = store->RecordEvents(events, kNoDeadline).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_NE(status.message().find("events[0].time"), absl::string_view::npos)
        << status;
  }
  {
    const Event events[] = {
        MakeEvent(static_cast<EventType>(42), "lee", "a", T(1))};
    absl::Status status = store->RecordEvents(events, kNoDeadline).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_NE(status.message().find("events[0].type"), absl::string_view::npos)
        << status;
  }
  EXPECT_EQ(store->GetUser("lee", kNoDeadline).status().code(),
            absl::StatusCode::kNotFound);
}

TYPED_TEST(FeatureStoreContractTest, CouponEventsAreUnimplemented) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  for (EventType type :
       {EventType::kCouponIssued, EventType::kCouponRedeemed}) {
    Event coupon = MakeEvent(type, "max", "", T(2));
    coupon.coupon_id = "WELCOME10";
    const Event events[] = {Purchase("max", "a", T(1)), coupon};
    absl::Status status = store->RecordEvents(events, kNoDeadline).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented) << status;
    EXPECT_NE(status.message().find("events[1]"), absl::string_view::npos)
        << status;
  }
  EXPECT_EQ(store->GetUser("max", kNoDeadline).status().code(),
            absl::StatusCode::kNotFound);
}

TYPED_TEST(FeatureStoreContractTest, ListingIndexNewestFirstAndKeptOnUpdate) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  const ItemFeatures items[] = {
      {.item_id = "old", .category = "tea", .listed = T(100)},
      {.item_id = "new", .category = "tea", .listed = T(300)},
      {.item_id = "mid", .category = "tea", .listed = T(200) + absl::Milliseconds(700)},
      {.item_id = "unlisted", .category = "tea"}};
  RECSYS_ASSERT_OK(store->PutItems(items));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<ListedItem> listed,
                              store->GetListedItems(10, kNoDeadline));
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0].item_id, "new");
  EXPECT_EQ(listed[0].listed, T(300));
  EXPECT_EQ(listed[1].item_id, "mid");
  EXPECT_EQ(listed[1].listed, T(200));  // whole seconds
  EXPECT_EQ(listed[2].item_id, "old");
  RECSYS_ASSERT_OK_AND_ASSIGN(listed, store->GetListedItems(2, kNoDeadline));
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[1].item_id, "mid");

  // An update without a listing time keeps the recorded one.
  const ItemFeatures update[] = {{.item_id = "new", .category = "tea", .stock = 0}};
  RECSYS_ASSERT_OK(store->PutItems(update));
  const std::string ids[] = {"new", "unlisted"};
  RECSYS_ASSERT_OK_AND_ASSIGN(auto features, store->GetItems(ids, kNoDeadline));
  ASSERT_TRUE(features[0].has_value());
  EXPECT_EQ(features[0]->listed, T(300));
  EXPECT_EQ(features[0]->stock, 0);
  ASSERT_TRUE(features[1].has_value());
  EXPECT_EQ(features[1]->listed, absl::InfinitePast());
  EXPECT_EQ(store->GetListedItems(0, kNoDeadline).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TYPED_TEST(FeatureStoreContractTest, TrialCountersCountFlaggedEventsOnly) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  std::vector<Event> events = {Impression("ann", "new", T(1)),
                               Impression("bob", "new", T(2)),
                               MakeEvent(EventType::kClick, "ann", "new", T(3)),
                               Purchase("ann", "new", T(4)),
                               Impression("ann", "other", T(5)),
                               View("ann", "new", T(6))};
  for (Event& e : events) e.count_for_trial = true;
  events.push_back(Impression("cid", "new", T(7)));  // not flagged
  RECSYS_ASSERT_OK(store->RecordEvents(events, kNoDeadline));
  const std::string ids[] = {"new", "other", "never"};
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<TrialCounts> counts,
                              store->GetTrialCounts(ids, kNoDeadline));
  ASSERT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts[0].impressions, 2);
  EXPECT_EQ(counts[0].clicks, 1);
  EXPECT_EQ(counts[0].purchases, 1);
  EXPECT_EQ(counts[1].impressions, 1);
  EXPECT_EQ(counts[1].clicks + counts[1].purchases, 0);
  EXPECT_EQ(counts[2].impressions + counts[2].clicks + counts[2].purchases, 0);
  // The events are stored as usual too.
  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures ann, store->GetUser("ann", kNoDeadline));
  EXPECT_EQ(ann.impressions.size(), 2u);
  EXPECT_EQ(ann.purchases.size(), 1u);
}

// ---------------------------------------------------------------------------
// Events count once (EventDedupKey, RecordOutcome).

TEST(EventDedupKeyTest, GivenIdWinsElseEveryContentFieldCounts) {
  Event base = Purchase("u", "sku", T(100));
  base.slot = "feed";
  base.price = 9.5;
  base.quantity = 2;
  const std::string key = EventDedupKey(base);
  EXPECT_EQ(key.substr(0, 2), "h:");
  EXPECT_EQ(key.size(), 2u + 32u);
  EXPECT_EQ(EventDedupKey(base), key);  // deterministic
  Event same = base;
  same.count_for_trial = true;  // set by the server, not content
  EXPECT_EQ(EventDedupKey(same), key);
  same.time = T(100) + absl::Milliseconds(900);  // same second
  EXPECT_EQ(EventDedupKey(same), key);

  std::vector<Event> changed(9, base);
  changed[0].type = EventType::kView;
  changed[1].user_id = "v";
  changed[2].item_id = "sku2";
  changed[3].coupon_id = "c";
  changed[4].time = T(101);
  changed[5].slot = "hero";
  changed[6].quantity = 3;
  changed[7].price = 9.25;
  // Fields cannot run into each other: "u"+"sku" differs from "us"+"ku".
  changed[8].user_id = "us";
  changed[8].item_id = "ku";
  for (size_t i = 0; i < changed.size(); ++i) {
    EXPECT_NE(EventDedupKey(changed[i]), key) << i;
  }
  Event given = base;
  given.event_id = "evt-42";
  EXPECT_EQ(EventDedupKey(given), "id:evt-42");
  given.item_id = "other";  // the id alone decides
  EXPECT_EQ(EventDedupKey(given), "id:evt-42");
}

TYPED_TEST(FeatureStoreContractTest, ReplayedBatchCountsOnce) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  Event trial = Impression("dora", "new", T(5));
  trial.count_for_trial = true;
  Event bought = Purchase("dora", "a", T(6));
  bought.count_for_trial = true;
  const Event batch[] = {View("dora", "a", T(4)), trial, bought};
  RECSYS_ASSERT_OK_AND_ASSIGN(RecordOutcome first, store->RecordEvents(batch, kNoDeadline));
  EXPECT_EQ(first.applied, 3);
  EXPECT_TRUE(first.duplicates.empty());
  RECSYS_ASSERT_OK_AND_ASSIGN(RecordOutcome again, store->RecordEvents(batch, kNoDeadline));
  EXPECT_EQ(again.applied, 0);
  EXPECT_EQ(again.duplicates, (std::vector<int>{0, 1, 2}));

  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user, store->GetUser("dora", kNoDeadline));
  ASSERT_EQ(user.purchases.size(), 1u);
  EXPECT_EQ(user.purchases[0].count, 1);
  EXPECT_EQ(user.recent.size(), 2u);
  EXPECT_EQ(user.impressions.size(), 1u);
  const std::string items[] = {"new", "a"};
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<TrialCounts> counts,
                              store->GetTrialCounts(items, kNoDeadline));
  EXPECT_EQ(counts[0].impressions, 1);
  EXPECT_EQ(counts[1].purchases, 1);
}

TYPED_TEST(FeatureStoreContractTest, SameContentIsOneEventUnlessIdsDiffer) {
  std::unique_ptr<FeatureStore> store = this->MakeStore();
  ASSERT_NE(store, nullptr);
  // Two identical purchases in the same second without ids: one event.
  const Event twins[] = {Purchase("eve", "a", T(7)), Purchase("eve", "a", T(7))};
  RECSYS_ASSERT_OK_AND_ASSIGN(RecordOutcome outcome, store->RecordEvents(twins, kNoDeadline));
  EXPECT_EQ(outcome.applied, 1);
  EXPECT_EQ(outcome.duplicates, (std::vector<int>{1}));
  // With ids, both count; replaying either id changes nothing.
  Event one = Purchase("eve", "b", T(7));
  one.event_id = "order-1/line-1";
  Event two = one;
  two.event_id = "order-1/line-2";
  const Event distinct[] = {one, two};
  RECSYS_ASSERT_OK_AND_ASSIGN(outcome, store->RecordEvents(distinct, kNoDeadline));
  EXPECT_EQ(outcome.applied, 2);
  const Event replay[] = {two};
  RECSYS_ASSERT_OK_AND_ASSIGN(outcome, store->RecordEvents(replay, kNoDeadline));
  EXPECT_EQ(outcome.applied, 0);
  EXPECT_EQ(outcome.duplicates, (std::vector<int>{0}));

  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user, store->GetUser("eve", kNoDeadline));
  EXPECT_EQ(FindPurchase(user, "a")->count, 1);
  EXPECT_EQ(FindPurchase(user, "b")->count, 2);
  EXPECT_EQ(user.recent.size(), 3u);
}

}  // namespace
}  // namespace recsys::feature_store
