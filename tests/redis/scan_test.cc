// redis::EscapeGlob and redis::ScanNode on a real redis-server: a prefix
// holding glob characters matches literally, every key is seen, and an
// error of the callback stops the walk and is returned.
#include "redis/scan.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "redis/client.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"

namespace recsys::redis {
namespace {

using ::testing::ElementsAre;

TEST(EscapeGlobTest, EscapesEveryGlobCharacter) {
  EXPECT_EQ(EscapeGlob("rs:"), "rs:");
  EXPECT_EQ(EscapeGlob("a*b?c[d]e\\f"), "a\\*b\\?c\\[d\\]e\\\\f");
  EXPECT_EQ(EscapeGlob(std::string("{u}\0:", 5)), std::string("{u}\0:", 5));
}

TEST(ScanNodeTest, APrefixWithGlobCharactersMatchesLiterally) {
  RECSYS_ASSERT_OK_AND_ASSIGN(testing::RedisServer * server,
                              testing::SharedRedisServer());
  Options options;
  options.host = server->host();
  options.port = server->port();
  options.default_timeout = absl::Seconds(10);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client,
                              Client::Create(options));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  std::vector<Command> sets;
  for (int i = 0; i < 250; ++i) {
    sets.push_back({"SET", absl::StrCat("sc*[1]:", i), "1"});
  }
  sets.push_back({"SET", "sc*[2]:x", "1"});  // the glob would match it
  sets.push_back({"SET", "scX1:y", "1"});    // and this one
  RECSYS_ASSERT_OK(client->Execute(sets, deadline).status());

  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<std::string> nodes,
                              client->DataNodes(deadline));
  ASSERT_THAT(nodes, ElementsAre(client->address()));
  std::vector<std::string> seen;
  int batches = 0;
  RECSYS_ASSERT_OK(ScanNode(*client, nodes[0], EscapeGlob("sc*[1]:") + "*", 10,
                            absl::Seconds(10), [&](std::vector<std::string> keys) {
                              ++batches;
                              seen.insert(seen.end(), keys.begin(), keys.end());
                              return absl::OkStatus();
                            }));
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  EXPECT_EQ(seen.size(), 250u);
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](const std::string& k) {
    return k.rfind("sc*[1]:", 0) == 0;
  }));
  EXPECT_GT(batches, 1);

  int calls = 0;
  const absl::Status stopped =
      ScanNode(*client, nodes[0], EscapeGlob("sc*[1]:") + "*", 10,
               absl::Seconds(10), [&](std::vector<std::string>) {
                 ++calls;
                 return absl::AbortedError("enough");
               });
  EXPECT_EQ(stopped.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(calls, 1);
}

// The timeout bounds each SCAN call, not the walk: a walk whose batches
// take longer in all than the timeout (here the caller's work between
// them) still ends, so a keyspace of any size can be walked.
TEST(ScanNodeTest, TheTimeoutBoundsEachCallNotTheWholeWalk) {
  RECSYS_ASSERT_OK_AND_ASSIGN(testing::RedisServer * server,
                              testing::SharedRedisServer());
  Options options;
  options.host = server->host();
  options.port = server->port();
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client,
                              Client::Create(options));
  std::vector<Command> sets;
  for (int i = 0; i < 40; ++i) {
    sets.push_back({"SET", absl::StrCat("slow:", i), "1"});
  }
  RECSYS_ASSERT_OK(
      client->Execute(sets, absl::Now() + absl::Seconds(10)).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::vector<std::string> nodes,
      client->DataNodes(absl::Now() + absl::Seconds(10)));
  const absl::Duration call_timeout = absl::Seconds(1);
  const absl::Time start = absl::Now();
  int batches = 0;
  RECSYS_ASSERT_OK(ScanNode(*client, nodes[0], "slow:*", 10, call_timeout,
                            [&](std::vector<std::string>) {
                              if (++batches <= 3) {
                                absl::SleepFor(absl::Milliseconds(400));
                              }
                              return absl::OkStatus();
                            }));
  EXPECT_GE(batches, 3);
  EXPECT_GT(absl::Now() - start, call_timeout);
}

}  // namespace
}  // namespace recsys::redis
