// redis::BulkWriter on a real redis-server: every batch lands, each lane's
// batches in the order sent, and the first failed batch is the writer's
// error.
#include "redis/bulk_writer.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "redis/client.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"

namespace recsys::redis {
namespace {

using recsys::testing::RedisServer;
using recsys::testing::SharedRedisServer;
using ::testing::HasSubstr;

std::unique_ptr<Client> MustCreate(const RedisServer& server) {
  Options options;
  options.host = server.host();
  options.port = server.port();
  options.connect_timeout = absl::Seconds(5);
  options.default_timeout = absl::Seconds(20);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

class BulkWriterTest : public ::testing::TestWithParam<int> {};

// 60 batches on GetParam() lanes, batch b on lane b % lanes: each appends b
// to its lane's list and sets one key per lane. Every lane's list holds its
// batches in order, and each lane's key the value of its last batch.
TEST_P(BulkWriterTest, EveryBatchLandsAndEachLaneKeepsItsOrder) {
  const int lanes = GetParam();
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, SharedRedisServer());
  std::unique_ptr<Client> client = MustCreate(*server);
  ASSERT_NE(client, nullptr);
  const std::string prefix = absl::StrCat("bw", lanes, ":");
  RECSYS_ASSERT_OK(client->Execute(
      {{"DEL", prefix + "l0", prefix + "l1", prefix + "l2", prefix + "k0",
        prefix + "k1", prefix + "k2"}},
      absl::InfiniteFuture()));
  constexpr int kBatches = 60;
  {
    BulkWriter writer(client.get(), lanes);
    ASSERT_EQ(writer.lanes(), lanes);
    for (int b = 0; b < kBatches; ++b) {
      const int lane = b % lanes;
      std::vector<Command> batch;
      for (int i = 0; i < 50; ++i) {
        batch.push_back({"INCR", absl::StrCat(prefix, "n")});
      }
      batch.push_back({"RPUSH", absl::StrCat(prefix, "l", lane), absl::StrCat(b)});
      batch.push_back({"SET", absl::StrCat(prefix, "k", lane), absl::StrCat(b)});
      RECSYS_ASSERT_OK(writer.Send(lane, std::move(batch)));
    }
    RECSYS_ASSERT_OK(writer.Finish());
  }
  for (int lane = 0; lane < lanes; ++lane) {
    RECSYS_ASSERT_OK_AND_ASSIGN(
        std::vector<Value> replies,
        client->Execute({{"LRANGE", absl::StrCat(prefix, "l", lane), "0", "-1"},
                         {"GET", absl::StrCat(prefix, "k", lane)}},
                        absl::InfiniteFuture()));
    std::vector<std::string> got;
    for (const Value& element : replies[0].elements) got.push_back(element.text);
    std::vector<std::string> want;
    int last = -1;
    for (int b = lane; b < kBatches; b += lanes) {
      want.push_back(absl::StrCat(b));
      last = b;
    }
    EXPECT_EQ(got, want) << "lane " << lane;
    EXPECT_EQ(replies[1].text, absl::StrCat(last)) << "lane " << lane;
  }
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::vector<Value> count,
      client->Execute({{"GETDEL", prefix + "n"}}, absl::InfiniteFuture()));
  EXPECT_EQ(count[0].text, absl::StrCat(kBatches * 50));
}

// A batch answered with an error reply fails the writer: Finish reports it
// (Internal naming the command), and a later Send returns it without
// sending its batch.
TEST_P(BulkWriterTest, TheFirstFailedBatchIsTheWritersError) {
  const int lanes = GetParam();
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, SharedRedisServer());
  std::unique_ptr<Client> client = MustCreate(*server);
  ASSERT_NE(client, nullptr);
  const std::string prefix = absl::StrCat("bwe", lanes, ":");
  RECSYS_ASSERT_OK(client->Execute({{"SET", prefix + "text", "x"},
                                    {"DEL", prefix + "after"}},
                                   absl::InfiniteFuture()));
  BulkWriter writer(client.get(), lanes);
  // One lane sends on the calling thread: Send reports the error itself.
  const absl::Status sent = writer.Send(0, {{"INCR", prefix + "text"}});
  if (lanes == 1) {
    EXPECT_EQ(sent.code(), absl::StatusCode::kInternal) << sent;
  } else {
    RECSYS_ASSERT_OK(sent);
  }
  const absl::Status finished = writer.Finish();
  EXPECT_EQ(finished.code(), absl::StatusCode::kInternal) << finished;
  EXPECT_THAT(std::string(finished.message()), HasSubstr("INCR"));
  EXPECT_EQ(writer.Send(lanes - 1, {{"SET", prefix + "after", "1"}}).code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(writer.Finish().code(), absl::StatusCode::kInternal);
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::vector<Value> after,
      client->Execute({{"EXISTS", prefix + "after"}}, absl::InfiniteFuture()));
  EXPECT_EQ(after[0].integer, 0);
}

INSTANTIATE_TEST_SUITE_P(Lanes, BulkWriterTest, ::testing::Values(1, 3));

}  // namespace
}  // namespace recsys::redis
