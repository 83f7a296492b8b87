#include "marketing/redis_client.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/marketing/test_util.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"

namespace recsys::marketing {
namespace {

using internal::RedisClient;
using internal::RedisCommand;
using internal::RedisValue;
using recsys::testing::RedisServer;
using ::testing::HasSubstr;

constexpr absl::Time kDeadline = absl::InfiniteFuture();

TEST(RedisClientOptionsTest, Validation) {
  RECSYS_EXPECT_OK(ValidateRedisClientOptions({}));
  auto error = [](RedisClientOptions o) {
    return std::string(ValidateRedisClientOptions(o).message());
  };
  EXPECT_EQ(error({.host = ""}), "host: empty");
  EXPECT_EQ(error({.port = 70000}), "port: must be in 1..65535, got 70000");
  EXPECT_EQ(error({.db = -1}), "db: must be >= 0, got -1");
  EXPECT_EQ(error({.pool_size = 0}), "pool_size: must be >= 1, got 0");
  EXPECT_EQ(error({.connect_timeout = absl::ZeroDuration()}),
            "connect_timeout: must be positive");
  EXPECT_EQ(error({.default_timeout = -absl::Seconds(1)}),
            "default_timeout: must be positive");
  EXPECT_EQ(error({.reconnect_backoff = -absl::Seconds(1)}),
            "reconnect_backoff: must be >= 0");
  EXPECT_EQ(error({.bulk_batch = 0}), "bulk_batch: must be >= 1, got 0");
  EXPECT_EQ(RedisClient::Create({.port = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RedisValueTest, Conversions) {
  RedisValue v;
  EXPECT_TRUE(v.is_nil());
  EXPECT_EQ(v.AsText(), std::nullopt);
  v.type = RedisValue::Type::kString;
  v.text = "42";
  EXPECT_EQ(v.AsInt(), 42);
  v.text = "4x";
  EXPECT_EQ(v.AsInt(), std::nullopt);
  EXPECT_EQ(v.AsText(), "4x");
  v.type = RedisValue::Type::kInteger;
  v.integer = -7;
  EXPECT_EQ(v.AsInt(), -7);
  EXPECT_EQ(v.AsText(), "-7");
  v.type = RedisValue::Type::kError;
  EXPECT_TRUE(v.is_error());
  EXPECT_EQ(v.AsInt(), std::nullopt);
}

TEST(RedisClientTest, PipelinedRepliesOfEveryType) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  RedisClientOptions options = test::OptionsFor(*server);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisClient> client,
                              RedisClient::Create(options));
  const std::string key = options.key_prefix + "k";
  const std::string binary("a\0b", 3);
  const RedisCommand commands[] = {{"SET", key, binary},
                                   {"GET", key},
                                   {"GET", key + "missing"},
                                   {"INCR", key + "n"},
                                   {"LPUSH", key + "l", "x", "y"},
                                   {"LRANGE", key + "l", "0", "-1"},
                                   {"INCR", key}};
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<RedisValue> r,
                              client->RoundTrip(commands, kDeadline));
  ASSERT_EQ(r.size(), 7u);
  EXPECT_EQ(r[0].type, RedisValue::Type::kStatus);
  EXPECT_EQ(r[0].text, "OK");
  EXPECT_EQ(r[1].type, RedisValue::Type::kString);
  EXPECT_EQ(r[1].text, binary);
  EXPECT_TRUE(r[2].is_nil());
  EXPECT_EQ(r[3].AsInt(), 1);
  EXPECT_EQ(r[4].integer, 2);
  ASSERT_EQ(r[5].type, RedisValue::Type::kArray);
  ASSERT_EQ(r[5].elements.size(), 2u);
  EXPECT_EQ(r[5].elements[0].text, "y");
  EXPECT_TRUE(
      r[6].is_error());  // INCR of a non-integer: an error reply, not a failure

  // Execute turns the error reply into Internal naming the command.
  const absl::StatusOr<std::vector<RedisValue>> failed =
      client->Execute(commands, kDeadline);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("INCR failed"));
  const RedisCommand transaction[] = {
      {"MULTI"}, {"SET", key, "1"}, {"LPUSH", key, "x"}, {"EXEC"}};
  EXPECT_THAT(
      std::string(client->Execute(transaction, kDeadline).status().message()),
      HasSubstr("command in transaction failed"));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<RedisValue> none,
                              client->RoundTrip({}, kDeadline));
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(client->address(), absl::StrCat("127.0.0.1:", server->port()));
}

TEST(RedisClientTest, SelectsTheDatabase) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  RedisClientOptions options = test::OptionsFor(*server);
  options.db = 3;
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisClient> client,
                              RedisClient::Create(options));
  const RedisCommand commands[] = {{"SET", options.key_prefix + "db", "3"}};
  RECSYS_ASSERT_OK(client->Execute(commands, kDeadline).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::string in_db0,
      server->Command({"EXISTS", options.key_prefix + "db"}));
  EXPECT_EQ(in_db0, "0");
}

TEST(RedisClientTest, ConcurrentCallsShareTheBoundedPool) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  RedisClientOptions options = test::OptionsFor(*server);
  options.pool_size = 2;
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisClient> client,
                              RedisClient::Create(options));
  const std::string key = options.key_prefix + "counter";
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        const RedisCommand commands[] = {{"INCR", key}};
        EXPECT_TRUE(client->Execute(commands, kDeadline).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string value, server->Command({"GET", key}));
  EXPECT_EQ(value, "400");
}

TEST(RedisClientTest, DeadRedisAndPassedDeadlines) {
  RECSYS_ASSERT_OK_AND_ASSIGN(int port, recsys::testing::PickUnusedPort());
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisClient> client,
                              RedisClient::Create({.port = port}));
  const RedisCommand commands[] = {{"PING"}};
  const absl::Status first = client->RoundTrip(commands, kDeadline).status();
  EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable) << first;
  // Within the backoff: fails fast, still Unavailable.
  const absl::Status second = client->RoundTrip(commands, kDeadline).status();
  EXPECT_EQ(second.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.message()), HasSubstr("reconnect backoff"));
  EXPECT_EQ(client->RoundTrip(commands, absl::Now() - absl::Seconds(1))
                .status()
                .code(),
            absl::StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace recsys::marketing
