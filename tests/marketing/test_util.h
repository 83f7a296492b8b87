// Helpers shared by the marketing tests.
//
// Thread safety: SharedRedisServer must first be called from the main test
// thread (the server is killed when the thread that started it exits).
#ifndef RECSYS_TESTS_MARKETING_TEST_UTIL_H_
#define RECSYS_TESTS_MARKETING_TEST_UTIL_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "redis/client.h"
#include "tests/testing/redis_cluster.h"
#include "tests/testing/redis_server.h"

namespace recsys::marketing::test {

// A key prefix no other test in this process uses.
inline std::string UniqueKeyPrefix() {
  static std::atomic<int> next{0};
  return absl::StrCat("mt", next.fetch_add(1), ":");
}

// The redis-server shared by the whole test executable
// (tests/testing/redis_server.h). Tests that stop or pause Redis start their
// own instead.
inline absl::StatusOr<recsys::testing::RedisServer*> SharedRedisServer() {
  return recsys::testing::SharedRedisServer();
}

// Client options for `server` with generous timeouts (the machine running
// the tests may be busy).
inline redis::Options OptionsFor(const recsys::testing::RedisServer& server) {
  redis::Options options;
  options.host = server.host();
  options.port = server.port();
  options.connect_timeout = absl::Seconds(5);
  options.default_timeout = absl::Seconds(20);
  return options;
}

// One client (pool) on SharedRedisServer() for the whole test executable;
// stores borrow it, as the server's stores share one pool. Give each store
// a UniqueKeyPrefix().
inline absl::StatusOr<redis::Client*> SharedRedisClient() {
  static absl::StatusOr<std::unique_ptr<redis::Client>> client =
      []() -> absl::StatusOr<std::unique_ptr<redis::Client>> {
    absl::StatusOr<recsys::testing::RedisServer*> server = SharedRedisServer();
    if (!server.ok()) return server.status();
    return redis::Client::Create(OptionsFor(**server));
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
    options->default_timeout = absl::Seconds(20);
    return redis::Client::Create(*options);
  }();
  if (!client.ok()) return client.status();
  return client->get();
}

}  // namespace recsys::marketing::test

#endif  // RECSYS_TESTS_MARKETING_TEST_UTIL_H_
