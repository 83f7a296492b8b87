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
#include "marketing/redis_client.h"
#include "tests/testing/redis_server.h"

namespace recsys::marketing::test {

// A key prefix no other test in this process uses.
inline std::string UniqueKeyPrefix() {
  static std::atomic<int> next{0};
  return absl::StrCat("mt", next.fetch_add(1), ":");
}

// One redis-server for the whole test executable, started on first use and
// stopped at exit. Tests that stop Redis start their own instead.
inline absl::StatusOr<recsys::testing::RedisServer*> SharedRedisServer() {
  static absl::StatusOr<std::unique_ptr<recsys::testing::RedisServer>> server =
      recsys::testing::RedisServer::Start();
  if (!server.ok()) return server.status();
  return server->get();
}

// Options for `server` with a fresh key prefix and generous timeouts (the
// machine running the tests may be busy).
inline RedisClientOptions OptionsFor(
    const recsys::testing::RedisServer& server) {
  RedisClientOptions options;
  options.host = server.host();
  options.port = server.port();
  options.key_prefix = UniqueKeyPrefix();
  options.connect_timeout = absl::Seconds(5);
  options.default_timeout = absl::Seconds(20);
  return options;
}

}  // namespace recsys::marketing::test

#endif  // RECSYS_TESTS_MARKETING_TEST_UTIL_H_
