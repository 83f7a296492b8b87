// Helpers shared by the feature_store tests: event builders, lookups, and a
// redis-server shared by the whole test executable.
#ifndef RECSYS_TESTS_FEATURE_STORE_TEST_UTIL_H_
#define RECSYS_TESTS_FEATURE_STORE_TEST_UTIL_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "feature_store/feature_store.h"
#include "redis/client.h"
#include "tests/testing/redis_cluster.h"
#include "tests/testing/redis_server.h"

namespace recsys::feature_store::test {

// A fixed whole-second base time, so stored times compare exactly.
inline absl::Time T(int64_t seconds) {
  return absl::FromUnixSeconds(1'700'000'000 + seconds);
}

inline Event MakeEvent(EventType type, std::string user, std::string item,
                       absl::Time time) {
  Event event;
  event.type = type;
  event.user_id = std::move(user);
  event.item_id = std::move(item);
  event.time = time;
  return event;
}

inline Event Purchase(std::string user, std::string item, absl::Time time) {
  return MakeEvent(EventType::kPurchase, std::move(user), std::move(item),
                   time);
}

inline Event View(std::string user, std::string item, absl::Time time) {
  return MakeEvent(EventType::kView, std::move(user), std::move(item), time);
}

inline Event Impression(std::string user, std::string item, absl::Time time) {
  return MakeEvent(EventType::kImpression, std::move(user), std::move(item),
                   time);
}

// The purchase record of `item_id`, if any.
inline std::optional<PurchaseRecord> FindPurchase(const UserFeatures& user,
                                                  absl::string_view item_id) {
  for (const PurchaseRecord& p : user.purchases) {
    if (p.item_id == item_id) return p;
  }
  return std::nullopt;
}

// Purchases sorted by item id (stores return them in no particular order).
inline std::vector<PurchaseRecord> SortedPurchases(const UserFeatures& user) {
  std::vector<PurchaseRecord> sorted = user.purchases;
  std::sort(sorted.begin(), sorted.end(),
            [](const PurchaseRecord& a, const PurchaseRecord& b) {
              return a.item_id < b.item_id;
            });
  return sorted;
}

inline std::vector<std::string> ItemIds(
    const std::vector<ActivityRecord>& records) {
  std::vector<std::string> ids;
  for (const ActivityRecord& r : records) ids.push_back(r.item_id);
  return ids;
}

// A key prefix no other test in this process uses, so tests sharing one
// redis-server never see each other's keys.
inline std::string UniqueKeyPrefix() {
  static std::atomic<int> next{0};
  return absl::StrCat("t", next.fetch_add(1), ":");
}

// The redis-server shared by the whole test executable
// (tests/testing/redis_server.h). Tests that stop or pause Redis start their
// own instead.
inline absl::StatusOr<recsys::testing::RedisServer*> SharedRedisServer() {
  return recsys::testing::SharedRedisServer();
}

// One client (pool) on SharedRedisServer() for the whole test executable,
// with generous timeouts (the box running the tests may be busy); stores
// borrow it, as the server's stores share one pool.
inline absl::StatusOr<redis::Client*> SharedRedisClient() {
  static absl::StatusOr<std::unique_ptr<redis::Client>> client =
      []() -> absl::StatusOr<std::unique_ptr<redis::Client>> {
    absl::StatusOr<recsys::testing::RedisServer*> server = SharedRedisServer();
    if (!server.ok()) return server.status();
    redis::Options options;
    options.host = (*server)->host();
    options.port = (*server)->port();
    options.connect_timeout = absl::Seconds(5);
    options.default_timeout = absl::Seconds(10);
    return redis::Client::Create(options);
  }();
  if (!client.ok()) return client.status();
  return client->get();
}

// One client on the shared Redis Cluster (tests/testing/redis_cluster.h)
// for the whole test executable: the contract suites' cluster backend.
inline absl::StatusOr<redis::Client*> SharedRedisClusterClient() {
  static absl::StatusOr<std::unique_ptr<redis::Client>> client =
      []() -> absl::StatusOr<std::unique_ptr<redis::Client>> {
    absl::StatusOr<recsys::testing::RedisCluster*> cluster =
        recsys::testing::SharedRedisCluster();
    if (!cluster.ok()) return cluster.status();
    absl::StatusOr<redis::Options> options =
        redis::ParseAddress((*cluster)->url());
    if (!options.ok()) return options.status();
    options->connect_timeout = absl::Seconds(5);
    options->default_timeout = absl::Seconds(10);
    return redis::Client::Create(*options);
  }();
  if (!client.ok()) return client.status();
  return client->get();
}

}  // namespace recsys::feature_store::test

#endif  // RECSYS_TESTS_FEATURE_STORE_TEST_UTIL_H_
