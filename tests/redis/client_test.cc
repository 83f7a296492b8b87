// Tests of redis::Client against a real redis-server: options and address
// parsing, replies, deadlines, the connect backoff and the stall breaker,
// stale pooled connections after a restart, scripts after SCRIPT FLUSH or a
// restart, the pool bound, concurrent use, and AUTH (requirepass and an ACL
// user; refused AUTH; re-authentication after a restart).
#include "redis/client.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"

namespace recsys::redis {
namespace {

using recsys::testing::RedisServer;
using recsys::testing::SharedRedisServer;
using ::testing::HasSubstr;

constexpr absl::Time kDeadline = absl::InfiniteFuture();

// A key prefix no other test in this process uses.
std::string UniqueKeyPrefix() {
  static std::atomic<int> next{0};
  return absl::StrCat("rt", next.fetch_add(1), ":");
}

// Options for `server` with generous timeouts (the machine running the
// tests may be busy).
Options OptionsFor(const RedisServer& server) {
  Options options;
  options.host = server.host();
  options.port = server.port();
  options.connect_timeout = absl::Seconds(5);
  options.default_timeout = absl::Seconds(20);
  return options;
}

std::unique_ptr<Client> MustCreate(const Options& options) {
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

// connected_clients of INFO clients (the asking connection included).
int64_t ConnectedClients(const RedisServer& server) {
  absl::StatusOr<std::string> info = server.Command({"INFO", "clients"});
  EXPECT_TRUE(info.ok()) << info.status();
  int64_t connected = -1;
  for (absl::string_view line : absl::StrSplit(info.value_or(""), '\n')) {
    if (absl::ConsumePrefix(&line, "connected_clients:")) {
      EXPECT_TRUE(
          absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &connected))
          << line;
    }
  }
  return connected;
}

// Lines of CLIENT LIST (one per connection, the asking one included).
int64_t ClientListSize(const RedisServer& server) {
  absl::StatusOr<std::string> list = server.Command({"CLIENT", "LIST"});
  EXPECT_TRUE(list.ok()) << list.status();
  int64_t n = 0;
  for (absl::string_view line : absl::StrSplit(list.value_or(""), '\n')) {
    if (absl::StartsWith(line, "id=")) ++n;
  }
  return n;
}

// ---------------------------------------------------------------------------
// Options and addresses.

TEST(OptionsTest, Validation) {
  RECSYS_EXPECT_OK(ValidateOptions({}));
  auto error = [](Options o) {
    return std::string(ValidateOptions(o).message());
  };
  EXPECT_EQ(error({.host = ""}), "host: empty");
  EXPECT_EQ(error({.port = 0}), "port: must be in 1..65535, got 0");
  EXPECT_EQ(error({.port = 70000}), "port: must be in 1..65535, got 70000");
  EXPECT_EQ(error({.db = -1}), "db: must be >= 0, got -1");
  EXPECT_EQ(error({.pool_size = 0}), "pool_size: must be >= 1, got 0");
  EXPECT_EQ(error({.connect_timeout = absl::ZeroDuration()}),
            "connect_timeout: must be positive");
  EXPECT_EQ(error({.default_timeout = -absl::Seconds(1)}),
            "default_timeout: must be positive");
  EXPECT_EQ(error({.default_timeout = absl::ZeroDuration()}),
            "default_timeout: must be positive");
  EXPECT_EQ(error({.reconnect_backoff = -absl::Seconds(1)}),
            "reconnect_backoff: must be >= 0");
  EXPECT_EQ(error({.stall_trip = -1}), "stall_trip: must be >= 0, got -1");
  EXPECT_EQ(error({.user = "app"}),
            "user: 'app' is set but the password is empty");
  for (const Options& bad :
       {Options{.host = ""}, Options{.port = 0}, Options{.port = 70000},
        Options{.db = -1}, Options{.pool_size = 0},
        Options{.default_timeout = absl::ZeroDuration()},
        Options{.stall_trip = -1}}) {
    EXPECT_EQ(Client::Create(bad).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(OptionsTest, DefaultsAreTheDocumentedOnes) {
  const Options options;
  EXPECT_EQ(options.host, "127.0.0.1");
  EXPECT_EQ(options.port, 6379);
  EXPECT_EQ(options.db, 0);
  EXPECT_EQ(options.pool_size, 8);
  EXPECT_EQ(options.connect_timeout, absl::Milliseconds(200));
  EXPECT_EQ(options.default_timeout, absl::Seconds(2));
  EXPECT_EQ(options.reconnect_backoff, absl::Milliseconds(500));
  EXPECT_EQ(options.stall_trip, 3);
}

TEST(ParseAddressTest, HostAndPort) {
  RECSYS_ASSERT_OK_AND_ASSIGN(Options options,
                              ParseAddress("redis.internal:6380"));
  EXPECT_EQ(options.host, "redis.internal");
  EXPECT_EQ(options.port, 6380);
  // The other fields keep their defaults.
  EXPECT_EQ(options.pool_size, Options().pool_size);
  EXPECT_EQ(options.db, Options().db);
}

TEST(ParseAddressTest, HostOnlyUsesDefaultPort) {
  RECSYS_ASSERT_OK_AND_ASSIGN(Options options, ParseAddress("10.0.0.5"));
  EXPECT_EQ(options.host, "10.0.0.5");
  EXPECT_EQ(options.port, 6379);
}

TEST(ParseAddressTest, BracketedIpv6) {
  RECSYS_ASSERT_OK_AND_ASSIGN(Options options, ParseAddress("[::1]:7000"));
  EXPECT_EQ(options.host, "::1");
  EXPECT_EQ(options.port, 7000);
  RECSYS_ASSERT_OK_AND_ASSIGN(options, ParseAddress("[::1]"));
  EXPECT_EQ(options.port, 6379);
}

TEST(ParseAddressTest, RejectsMalformedAddresses) {
  for (absl::string_view bad :
       {"", ":6379", "host:", "host:abc", "host:0", "host:65536", "host:-1",
        "::1:6379", "[::1", "[::1]x", "[]:6379"}) {
    absl::StatusOr<Options> options = ParseAddress(bad);
    EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument)
        << "'" << bad << "' gave " << options.status();
  }
  absl::Status status = ParseAddress("host:abc").status();
  EXPECT_NE(status.message().find("'abc'"), absl::string_view::npos) << status;
}

TEST(ParseAddressTest, RedisUrlIsOneRedis) {
  RECSYS_ASSERT_OK_AND_ASSIGN(Options options,
                              ParseAddress("redis://app@10.0.0.5:6380"));
  EXPECT_EQ(options.topology, Topology::kSingle);
  EXPECT_EQ(options.host, "10.0.0.5");
  EXPECT_EQ(options.port, 6380);
  EXPECT_EQ(options.user, "app");
  EXPECT_EQ(FormatAddress(options), "10.0.0.5:6380");
}

TEST(ParseAddressTest, ListsAndClusterUrlsAreClusters) {
  for (absl::string_view text :
       {"10.0.0.1:7000,10.0.0.2:7001", "redis://10.0.0.1:7000,10.0.0.2:7001",
        "redis-cluster://10.0.0.1:7000,10.0.0.2:7001"}) {
    RECSYS_ASSERT_OK_AND_ASSIGN(Options options, ParseAddress(text));
    EXPECT_EQ(options.topology, Topology::kCluster) << text;
    ASSERT_EQ(options.nodes.size(), 2u) << text;
    EXPECT_EQ(options.nodes[0].host, "10.0.0.1");
    EXPECT_EQ(options.nodes[1].port, 7001);
    EXPECT_EQ(FormatAddress(options),
              "redis-cluster://10.0.0.1:7000,10.0.0.2:7001");
    RECSYS_EXPECT_OK(ValidateOptions(options));
  }
  // One seed is enough with the explicit scheme.
  RECSYS_ASSERT_OK_AND_ASSIGN(Options one,
                              ParseAddress("redis-cluster://app@[::1]:7000"));
  EXPECT_EQ(one.topology, Topology::kCluster);
  EXPECT_EQ(one.user, "app");
  ASSERT_EQ(one.nodes.size(), 1u);
  EXPECT_EQ(one.nodes[0].host, "::1");
  // A cluster has only database 0.
  one.db = 1;
  EXPECT_EQ(ValidateOptions(one).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseAddressTest, SentinelUrlNamesTheMaster) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      Options options,
      ParseAddress("redis-sentinel://10.0.0.1:26379,10.0.0.2:26379/shop"));
  EXPECT_EQ(options.topology, Topology::kSentinel);
  EXPECT_EQ(options.sentinel_master, "shop");
  ASSERT_EQ(options.nodes.size(), 2u);
  EXPECT_EQ(options.nodes[1].host, "10.0.0.2");
  EXPECT_EQ(FormatAddress(options),
            "redis-sentinel://10.0.0.1:26379,10.0.0.2:26379/shop");
  RECSYS_EXPECT_OK(ValidateOptions(options));
  EXPECT_EQ(ParseAddress("redis-sentinel://10.0.0.1:26379").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseAddress("redis-sentinel://10.0.0.1:26379/").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseAddressTest, PasswordInTheUrlIsRefusedWithoutRepeatingIt) {
  for (absl::string_view text :
       {"redis://app:s3cret@10.0.0.5:6380", "redis://:s3cret@10.0.0.5",
        "redis-cluster://app:s3cret@10.0.0.1:7000,10.0.0.2:7001"}) {
    absl::Status status = ParseAddress(text).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(status.message(), HasSubstr("--redis_password_file"));
    EXPECT_THAT(std::string(status.message()),
                ::testing::Not(HasSubstr("s3cret")));
  }
  for (absl::string_view bad :
       {"http://host:6379", "redis://", "redis://@host:1", "a:1,,b:2",
        "redis-cluster://", "a:1,b:0"}) {
    EXPECT_EQ(ParseAddress(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

// ---------------------------------------------------------------------------
// Replies.

TEST(ValueTest, Conversions) {
  Value v;
  EXPECT_TRUE(v.is_nil());
  EXPECT_EQ(v.AsText(), std::nullopt);
  v.type = Value::Type::kString;
  v.text = "42";
  EXPECT_TRUE(v.is_string());
  EXPECT_EQ(v.AsInt(), 42);
  v.text = "4x";
  EXPECT_EQ(v.AsInt(), std::nullopt);
  EXPECT_EQ(v.AsText(), "4x");
  v.type = Value::Type::kInteger;
  v.integer = -7;
  EXPECT_EQ(v.AsInt(), -7);
  EXPECT_EQ(v.AsText(), "-7");
  v.type = Value::Type::kError;
  EXPECT_TRUE(v.is_error());
  EXPECT_EQ(v.AsInt(), std::nullopt);
}

// Commands are encoded straight into the connection's output buffer: every
// argument must reach Redis byte for byte, whatever its length (0, one to
// several decimal digits, a large value) or content, and whatever the
// number of arguments; a pipeline of several MB grows the buffer once.
TEST(ClientTest, EveryArgumentArrivesAsSent) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, SharedRedisServer());
  std::unique_ptr<Client> client = MustCreate(OptionsFor(*server));
  ASSERT_NE(client, nullptr);
  const std::string key = UniqueKeyPrefix() + "args";
  Command push = {"RPUSH", key};
  std::vector<std::string> values = {"",
                                     "x",
                                     std::string("\r\n\0$*", 6),
                                     std::string(9, 'a'),
                                     std::string(10, 'b'),
                                     std::string(99, 'c'),
                                     std::string(100, 'd'),
                                     std::string(1 << 20, 'e')};
  for (int i = 0; i < 120; ++i) values.push_back(absl::StrCat("v", i));
  push.insert(push.end(), values.begin(), values.end());
  std::vector<Command> commands = {push, {"LRANGE", key, "0", "-1"}};
  for (int i = 0; i < 20000; ++i) {
    commands.push_back(
        {"SET", absl::StrCat(key, ":", i), std::string(100, 'f')});
  }
  commands.push_back({"GET", absl::StrCat(key, ":", 19999)});
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Value> replies,
                              client->Execute(commands, kDeadline));
  ASSERT_EQ(replies.size(), commands.size());
  EXPECT_EQ(replies[0].integer, static_cast<int64_t>(values.size()));
  ASSERT_EQ(replies[1].elements.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(replies[1].elements[i].text, values[i]) << i;
  }
  EXPECT_EQ(replies.back().text, std::string(100, 'f'));
}

TEST(ClientTest, PipelinedRepliesOfEveryType) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, SharedRedisServer());
  std::unique_ptr<Client> client = MustCreate(OptionsFor(*server));
  ASSERT_NE(client, nullptr);
  const std::string key = UniqueKeyPrefix() + "k";
  const std::string binary("a\0b", 3);
  const Command commands[] = {{"SET", key, binary},
                              {"GET", key},
                              {"GET", key + "missing"},
                              {"INCR", key + "n"},
                              {"LPUSH", key + "l", "x", "y"},
                              {"LRANGE", key + "l", "0", "-1"},
                              {"INCR", key}};
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Value> r,
                              client->RoundTrip(commands, kDeadline));
  ASSERT_EQ(r.size(), 7u);
  EXPECT_EQ(r[0].type, Value::Type::kStatus);
  EXPECT_EQ(r[0].text, "OK");
  EXPECT_EQ(r[1].type, Value::Type::kString);
  EXPECT_EQ(r[1].text, binary);
  EXPECT_TRUE(r[2].is_nil());
  EXPECT_EQ(r[3].AsInt(), 1);
  EXPECT_EQ(r[4].integer, 2);
  ASSERT_EQ(r[5].type, Value::Type::kArray);
  ASSERT_EQ(r[5].elements.size(), 2u);
  EXPECT_EQ(r[5].elements[0].text, "y");
  // INCR of a non-integer: an error reply, not a failure.
  EXPECT_TRUE(r[6].is_error());

  // Execute turns the error reply into Internal naming the command.
  const absl::StatusOr<std::vector<Value>> failed =
      client->Execute(commands, kDeadline);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("INCR failed"));
  const Command transaction[] = {
      {"MULTI"}, {"SET", key, "1"}, {"LPUSH", key, "x"}, {"EXEC"}};
  EXPECT_THAT(
      std::string(client->Execute(transaction, kDeadline).status().message()),
      HasSubstr("command in transaction failed"));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Value> none,
                              client->RoundTrip({}, kDeadline));
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(client->address(), absl::StrCat("127.0.0.1:", server->port()));
  EXPECT_EQ(client->Describe(),
            absl::StrCat("redis 127.0.0.1:", server->port(), " db 0"));
}

TEST(ClientTest, SelectsTheDatabase) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, SharedRedisServer());
  Options options = OptionsFor(*server);
  options.db = 3;
  std::unique_ptr<Client> client = MustCreate(options);
  ASSERT_NE(client, nullptr);
  const std::string key = UniqueKeyPrefix() + "db";
  const Command commands[] = {{"SET", key, "3"}};
  RECSYS_ASSERT_OK(client->Execute(commands, kDeadline).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string in_db0,
                              server->Command({"EXISTS", key}));
  EXPECT_EQ(in_db0, "0");
  EXPECT_EQ(client->Describe(),
            absl::StrCat("redis 127.0.0.1:", server->port(), " db 3"));
}

TEST(ClientTest, PingAndStats) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, SharedRedisServer());
  Options options = OptionsFor(*server);
  options.pool_size = 3;
  std::unique_ptr<Client> client = MustCreate(options);
  ASSERT_NE(client, nullptr);
  Stats stats = client->GetStats();
  EXPECT_EQ(stats.address, client->address());
  EXPECT_EQ(stats.pool_size, 3);
  EXPECT_EQ(stats.open_connections, 0);  // Create does not connect.
  RECSYS_ASSERT_OK(client->Ping(kDeadline));
  stats = client->GetStats();
  EXPECT_EQ(stats.open_connections, 1);
  EXPECT_EQ(stats.idle_connections, 1);
  EXPECT_FALSE(stats.failing_fast);
  EXPECT_THAT(stats.ToString(),
              HasSubstr(absl::StrCat("redis ", client->address(),
                                     " db 0: 1/3 connections (1 idle)")));
}

// ---------------------------------------------------------------------------
// Deadlines, a dead Redis, a hung Redis.

TEST(ClientTest, PassedDeadlineIsDeadlineExceeded) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, SharedRedisServer());
  std::unique_ptr<Client> client = MustCreate(OptionsFor(*server));
  ASSERT_NE(client, nullptr);
  const absl::Time past = absl::Now() - absl::Seconds(1);
  const Command commands[] = {{"PING"}};
  EXPECT_EQ(client->RoundTrip(commands, past).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(client->Ping(past).code(), absl::StatusCode::kDeadlineExceeded);
  RECSYS_EXPECT_OK(client->Ping(kDeadline));
}

TEST(ClientTest, UnansweredCallIsDeadlineExceededAndItsConnectionDropped) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              RedisServer::Start());
  Options options = OptionsFor(*server);
  options.pool_size = 1;
  std::unique_ptr<Client> client = MustCreate(options);
  ASSERT_NE(client, nullptr);
  RECSYS_ASSERT_OK(client->Ping(kDeadline));
  RECSYS_ASSERT_OK(server->Suspend());
  const Command incr[] = {{"INCR", "n"}};
  const absl::Status status =
      client->RoundTrip(incr, absl::Now() + absl::Milliseconds(100)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  RECSYS_ASSERT_OK(server->Resume());
  // The timed-out connection (its reply still in flight) was dropped: the
  // next call reads its own reply, not the INCR's integer. (Whether the INCR
  // was applied is unknown, as for any write that timed out.)
  const Command get[] = {{"GET", "n"}};
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::vector<Value> r, client->RoundTrip(get, kDeadline, CallKind::kRead));
  EXPECT_NE(r[0].type, Value::Type::kInteger);
}

TEST(ClientTest, DeadRedisFailsFastAfterTheFirstFailedConnect) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<recsys::testing::RefusingPort> dead,
                              recsys::testing::RefusingPort::Open());
  const int port = dead->port();
  std::unique_ptr<Client> client =
      MustCreate({.port = port, .reconnect_backoff = absl::Minutes(10)});
  ASSERT_NE(client, nullptr);
  const Command commands[] = {{"PING"}};
  const absl::Status first = client->RoundTrip(commands, kDeadline).status();
  EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable) << first;
  // Within the backoff: fails fast, without touching the network. The
  // bound is loose: it only catches a client that pays a connect per call.
  const absl::Time start = absl::Now();
  for (int i = 0; i < 100; ++i) {
    const absl::Status status =
        client->RoundTrip(commands, kDeadline, CallKind::kRead).status();
    ASSERT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("reconnect backoff"));
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(client->Ping(kDeadline).code(), absl::StatusCode::kUnavailable);
  const Stats stats = client->GetStats();
  EXPECT_TRUE(stats.failing_fast);
  EXPECT_GT(stats.fail_fast_remaining, absl::Minutes(9));
  EXPECT_THAT(stats.fail_fast_reason, HasSubstr("connect to redis"));
  EXPECT_EQ(stats.open_connections, 0);
  // A passed deadline is still DeadlineExceeded.
  EXPECT_EQ(client->RoundTrip(commands, absl::Now() - absl::Seconds(1))
                .status()
                .code(),
            absl::StatusCode::kDeadlineExceeded);
}

// A hung Redis (SIGSTOP: connections are accepted, nothing is answered)
// trips the breaker after stall_trip unanswered calls; calls then fail fast
// for reconnect_backoff, and the client recovers once Redis answers again.
TEST(ClientTest, StallBreakerTripsOnAHungRedisAndRecovers) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              RedisServer::Start());
  Options options = OptionsFor(*server);
  options.stall_trip = 3;
  options.reconnect_backoff = absl::Seconds(1);
  std::unique_ptr<Client> client = MustCreate(options);
  ASSERT_NE(client, nullptr);
  RECSYS_ASSERT_OK(client->Ping(kDeadline));
  RECSYS_ASSERT_OK(server->Suspend());
  for (int i = 0; i < 3; ++i) {
    const absl::Status status =
        client->Ping(absl::Now() + absl::Milliseconds(50));
    EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded)
        << i << ": " << status;
  }
  Stats stats = client->GetStats();
  EXPECT_TRUE(stats.failing_fast);
  EXPECT_EQ(stats.stall_trips, 1);
  EXPECT_THAT(stats.fail_fast_reason, HasSubstr("3 calls in a row unanswered"));
  // Open: every caller fails fast, even with a long deadline.
  const absl::Time start = absl::Now();
  for (int i = 0; i < 20; ++i) {
    const absl::Status status = client->Ping(absl::Now() + absl::Seconds(30));
    ASSERT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("unanswered"));
  }
  // Loose on purpose (a shared box may pause a test): a call that went to the
  // hung Redis would wait out its 30 s deadline.
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));

  RECSYS_ASSERT_OK(server->Resume());
  // After the backoff, calls reach Redis again.
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  absl::Status status = absl::UnknownError("not polled");
  while (absl::Now() < give_up) {
    status = client->Ping(absl::Now() + absl::Seconds(5));
    if (status.ok()) break;
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
    absl::SleepFor(absl::Milliseconds(50));
  }
  RECSYS_ASSERT_OK(status);
  stats = client->GetStats();
  EXPECT_FALSE(stats.failing_fast);
  EXPECT_EQ(stats.stalled_in_a_row, 0);
}

TEST(ClientTest, AnAnswerBetweenStallsKeepsTheBreakerClosed) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              RedisServer::Start());
  Options options = OptionsFor(*server);
  options.stall_trip = 3;
  options.reconnect_backoff = absl::Minutes(10);
  std::unique_ptr<Client> client = MustCreate(options);
  ASSERT_NE(client, nullptr);
  for (int round = 0; round < 3; ++round) {
    // Two stalls, then an answer: never three in a row.
    RECSYS_ASSERT_OK(server->Suspend());
    for (int i = 0; i < 2; ++i) {
      const absl::Status status =
          client->Ping(absl::Now() + absl::Milliseconds(30));
      EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
    }
    RECSYS_ASSERT_OK(server->Resume());
    RECSYS_ASSERT_OK(client->Ping(absl::Now() + absl::Seconds(30)))
        << "round " << round;
  }
  EXPECT_EQ(client->GetStats().stall_trips, 0);
}

// ---------------------------------------------------------------------------
// Stale pooled connections (Redis restarted).

TEST(ClientTest, ReadOnAStaleConnectionIsRetriedAfterRestart) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              RedisServer::Start());
  std::unique_ptr<Client> client = MustCreate(OptionsFor(*server));
  ASSERT_NE(client, nullptr);
  const Command set[] = {{"SET", "k", "v"}};
  RECSYS_ASSERT_OK(client->Execute(set, kDeadline).status());
  ASSERT_EQ(client->GetStats().idle_connections, 1);

  RECSYS_ASSERT_OK(server->Restart());

  // The pooled connection is dead; the read is re-sent on a new one and the
  // caller sees the (empty) restarted Redis, not an error.
  const Command get[] = {{"GET", "k"}, {"DBSIZE"}};
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::vector<Value> r, client->RoundTrip(get, kDeadline, CallKind::kRead));
  EXPECT_TRUE(r[0].is_nil());
  EXPECT_EQ(r[1].AsInt(), 0);
  EXPECT_EQ(client->GetStats().stale_retries, 1);
  // Ping is a read too.
  RECSYS_ASSERT_OK(server->Restart());
  RECSYS_EXPECT_OK(client->Ping(kDeadline));
  EXPECT_EQ(client->GetStats().stale_retries, 2);
}

TEST(ClientTest, WriteOnAStaleConnectionReportsTheFailure) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              RedisServer::Start());
  Options options = OptionsFor(*server);
  options.pool_size = 2;
  std::unique_ptr<Client> client = MustCreate(options);
  ASSERT_NE(client, nullptr);
  // Two pooled connections.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&client] {
      for (int i = 0; i < 50; ++i) client->Ping(kDeadline).IgnoreError();
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_GE(client->GetStats().idle_connections, 1);

  RECSYS_ASSERT_OK(server->Restart());

  // A write is never re-sent: the caller learns it may not have happened.
  const Command set[] = {{"SET", "k", "v"}};
  const absl::Status status = client->Execute(set, kDeadline).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_EQ(client->GetStats().stale_retries, 0);
  // The other idle connections, as old, were closed with it: the next write
  // gets a fresh connection and succeeds.
  EXPECT_EQ(client->GetStats().idle_connections, 0);
  RECSYS_ASSERT_OK(client->Execute(set, kDeadline).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string value, server->Command({"GET", "k"}));
  EXPECT_EQ(value, "v");
}

// ---------------------------------------------------------------------------
// Scripts.

TEST(ClientTest, ScriptRunsBySha) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, SharedRedisServer());
  std::unique_ptr<Client> client = MustCreate(OptionsFor(*server));
  ASSERT_NE(client, nullptr);
  const Script script("return {KEYS[1], ARGV[1], ARGV[2]}");
  RECSYS_ASSERT_OK_AND_ASSIGN(
      Command command,
      client->ScriptCommand(script, {"k"}, {"a", "b"}, kDeadline));
  ASSERT_EQ(command.size(), 6u);
  EXPECT_EQ(command[0], "EVALSHA");
  EXPECT_EQ(command[1].size(), 40u);  // the SHA-1 Redis returned, in hex
  EXPECT_EQ(command[2], "1");
  RECSYS_ASSERT_OK_AND_ASSIGN(
      Value reply, client->Eval(script, {"k"}, {"a", "b"}, kDeadline));
  ASSERT_EQ(reply.type, Value::Type::kArray);
  ASSERT_EQ(reply.elements.size(), 3u);
  EXPECT_EQ(reply.elements[2].text, "b");
  // A Lua error is an error reply; a script that does not compile is
  // refused by SCRIPT LOAD.
  const Script failing("return redis.error_reply('nope')");
  RECSYS_ASSERT_OK_AND_ASSIGN(reply, client->Eval(failing, {}, {}, kDeadline));
  EXPECT_TRUE(reply.is_error());
  const Script broken("this is not lua");
  EXPECT_EQ(client->Eval(broken, {}, {}, kDeadline).status().code(),
            absl::StatusCode::kInternal);
}

TEST(ClientTest, ScriptSurvivesScriptFlushAndRestart) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              RedisServer::Start());
  std::unique_ptr<Client> client = MustCreate(OptionsFor(*server));
  ASSERT_NE(client, nullptr);
  const Script incr("return redis.call('INCR', KEYS[1])");
  RECSYS_ASSERT_OK_AND_ASSIGN(Value v,
                              client->Eval(incr, {"n"}, {}, kDeadline));
  EXPECT_EQ(v.AsInt(), 1);

  // SCRIPT FLUSH: EVALSHA meets NOSCRIPT, the script is loaded again and
  // run once.
  RECSYS_ASSERT_OK(server->Command({"SCRIPT", "FLUSH"}).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(v, client->Eval(incr, {"n"}, {}, kDeadline));
  EXPECT_EQ(v.AsInt(), 2);
  EXPECT_EQ(client->GetStats().script_reloads, 1);

  // In a pipeline: the other commands run once, the script once.
  RECSYS_ASSERT_OK(server->Command({"SCRIPT", "FLUSH"}).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(
      Command call, client->ScriptCommand(incr, {"n"}, {}, kDeadline));
  const Command pipeline[] = {{"INCR", "other"}, call, {"INCR", "other"}, call};
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Value> r,
                              client->Execute(pipeline, kDeadline));
  EXPECT_EQ(r[0].AsInt(), 1);
  EXPECT_EQ(r[1].AsInt(), 3);
  EXPECT_EQ(r[2].AsInt(), 2);
  EXPECT_EQ(r[3].AsInt(), 4);
  EXPECT_EQ(client->GetStats().script_reloads, 2);

  // A restart empties Redis, scripts included.
  RECSYS_ASSERT_OK(server->Restart());
  RECSYS_ASSERT_OK(
      client->Ping(kDeadline));  // a read: replaces the stale connection
  RECSYS_ASSERT_OK_AND_ASSIGN(v, client->Eval(incr, {"n"}, {}, kDeadline));
  EXPECT_EQ(v.AsInt(), 1);
  EXPECT_EQ(client->GetStats().script_reloads, 3);
}

// ---------------------------------------------------------------------------
// The pool bound and concurrency.

TEST(ClientTest, ManyThreadsShareTheBoundedPool) {
  // Own server, so that the connections counted are this client's alone.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              RedisServer::Start());
  Options options = OptionsFor(*server);
  options.pool_size = 3;
  std::unique_ptr<Client> client = MustCreate(options);
  ASSERT_NE(client, nullptr);
  const Script add("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  constexpr int kThreads = 16;
  constexpr int kCalls = 100;
  std::atomic<int> max_open{0};
  std::vector<std::thread> threads;
  std::vector<absl::Status> errors(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        absl::Status status;
        if (i % 3 == 0) {
          status = client->Eval(add, {"sum"}, {"2"}, kDeadline).status();
        } else if (i % 3 == 1) {
          const Command commands[] = {{"INCR", "count"}, {"GET", "count"}};
          status = client->Execute(commands, kDeadline).status();
        } else {
          const Command commands[] = {{"GET", "count"}, {"GET", "sum"}};
          status =
              client->RoundTrip(commands, kDeadline, CallKind::kRead).status();
        }
        if (!status.ok() && errors[t].ok()) errors[t] = status;
        int open = client->GetStats().open_connections;
        int seen = max_open.load();
        while (open > seen && !max_open.compare_exchange_weak(seen, open)) {
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t)
    RECSYS_EXPECT_OK(errors[t]) << "thread " << t;
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string count,
                              server->Command({"GET", "count"}));
  EXPECT_EQ(count, absl::StrCat(kThreads * 33));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string sum, server->Command({"GET", "sum"}));
  EXPECT_EQ(sum, absl::StrCat(kThreads * 34 * 2));
  EXPECT_LE(max_open.load(), 3);
  // The server saw at most pool_size connections (plus the one asking).
  EXPECT_GE(ConnectedClients(*server), 2);
  EXPECT_LE(ConnectedClients(*server), 3 + 1);
  EXPECT_LE(ClientListSize(*server), 3 + 1);
}

// Two users of one client (as the feature, coupon and segment stores share
// the server's pool) together stay within pool_size.
TEST(ClientTest, TwoUsersOfOneClientStayWithinPoolSize) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              RedisServer::Start());
  Options options = OptionsFor(*server);
  options.pool_size = 2;
  std::unique_ptr<Client> client = MustCreate(options);
  ASSERT_NE(client, nullptr);
  const std::string a = UniqueKeyPrefix();
  const std::string b = UniqueKeyPrefix();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    const std::string prefix = t % 2 == 0 ? a : b;
    threads.emplace_back([&client, prefix] {
      for (int i = 0; i < 50; ++i) {
        const Command commands[] = {{"HINCRBY", prefix + "h", "f", "1"}};
        EXPECT_TRUE(client->Execute(commands, kDeadline).ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string va,
                              server->Command({"HGET", a + "h", "f"}));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string vb,
                              server->Command({"HGET", b + "h", "f"}));
  EXPECT_EQ(va, "200");
  EXPECT_EQ(vb, "200");
  EXPECT_LE(ConnectedClients(*server), 2 + 1);
  EXPECT_LE(ClientListSize(*server), 2 + 1);
}

TEST(ClientTest, CallersBeyondThePoolWaitUntilTheirDeadline) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              RedisServer::Start());
  Options options = OptionsFor(*server);
  options.pool_size = 1;
  options.stall_trip = 0;
  std::unique_ptr<Client> client = MustCreate(options);
  ASSERT_NE(client, nullptr);
  // One caller holds the only connection in a BLPOP on an empty list until
  // the test pushes to it.
  std::thread holder([&client] {
    const Command commands[] = {{"BLPOP", "nothing", "60"}};
    EXPECT_TRUE(client->RoundTrip(commands, kDeadline).ok());
  });
  // Held once Redis sees the BLPOP (polled, not slept on: a loaded box may
  // start the thread late).
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (absl::Now() < give_up &&
         !absl::StrContains(server->Command({"CLIENT", "LIST"}).value_or(""),
                            "cmd=blpop")) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  const absl::Status status =
      client->Ping(absl::Now() + absl::Milliseconds(100));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("no free redis connection"));
  RECSYS_EXPECT_OK(server->Command({"LPUSH", "nothing", "x"}).status());
  holder.join();
  RECSYS_EXPECT_OK(client->Ping(kDeadline));
}

// --- AUTH -----------------------------------------------------------------

constexpr char kPassword[] = "pw-Secret-7f3a";

// A server that requires kPassword (requirepass, the default user) and also
// knows an ACL user "app" with password "app-Secret-91c2".
absl::StatusOr<std::unique_ptr<RedisServer>> StartAuthServer() {
  recsys::testing::RedisServerOptions options;
  // A config directive's words are separate arguments on the command line.
  options.extra_args = {"--requirepass", kPassword, "--user", "app", "on",
                        ">app-Secret-91c2", "~*", "&*", "+@all"};
  options.auth_password = kPassword;
  return RedisServer::Start(options);
}

// True when no text the client shows contains `secret`.
void ExpectNoSecretIn(const Client& client, const absl::Status& status,
                      absl::string_view secret) {
  EXPECT_THAT(std::string(status.message()), ::testing::Not(HasSubstr(secret)));
  EXPECT_THAT(client.Describe(), ::testing::Not(HasSubstr(secret)));
  EXPECT_THAT(client.GetStats().ToString(), ::testing::Not(HasSubstr(secret)));
}

TEST(AuthTest, RightPasswordWorksAndIsNeverShown) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              StartAuthServer());
  Options options = OptionsFor(*server);
  options.password = kPassword;
  options.db = 2;  // AUTH comes before SELECT
  std::unique_ptr<Client> client = MustCreate(options);
  ASSERT_NE(client, nullptr);
  const Command set[] = {{"SET", "k", "v"}};
  RECSYS_ASSERT_OK(client->Execute(set, kDeadline).status());
  RECSYS_EXPECT_OK(client->Ping(kDeadline));
  // The key went to db 2 (the fixture's Command authenticates, in db 0).
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string db0_size, server->Command({"DBSIZE"}));
  EXPECT_EQ(db0_size, "0");
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string info,
                              server->Command({"INFO", "keyspace"}));
  EXPECT_THAT(info, HasSubstr("db2:keys=1"));
  ExpectNoSecretIn(*client, absl::OkStatus(), kPassword);
}

TEST(AuthTest, AclUserWorks) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              StartAuthServer());
  Options options = OptionsFor(*server);
  options.user = "app";
  options.password = "app-Secret-91c2";
  std::unique_ptr<Client> client = MustCreate(options);
  ASSERT_NE(client, nullptr);
  const Command set[] = {{"SET", "k", "v"}, {"ACL", "WHOAMI"}};
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Value> r,
                              client->Execute(set, kDeadline));
  EXPECT_EQ(r[1].AsText(), "app");
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string v, server->Command({"GET", "k"}));
  EXPECT_EQ(v, "v");
}

TEST(AuthTest, WrongPasswordIsPermissionDeniedWithoutThePassword) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              StartAuthServer());
  for (const std::string user : {"", "app"}) {
    SCOPED_TRACE(user);
    Options options = OptionsFor(*server);
    options.user = user;
    options.password = "wrong-Guess-55d1";
    options.reconnect_backoff = absl::Seconds(30);
    std::unique_ptr<Client> client = MustCreate(options);
    ASSERT_NE(client, nullptr);
    absl::Status status = client->Ping(kDeadline);
    EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("refused AUTH"));
    EXPECT_THAT(std::string(status.message()), HasSubstr(server->address()));
    ExpectNoSecretIn(*client, status, "wrong-Guess-55d1");
    // The refused connect backs off: the next call fails fast, with the
    // same code and still without the password.
    const Command get[] = {{"GET", "k"}};
    absl::Status again = client->Execute(get, kDeadline).status();
    EXPECT_EQ(again.code(), absl::StatusCode::kPermissionDenied) << again;
    ExpectNoSecretIn(*client, again, "wrong-Guess-55d1");
    EXPECT_TRUE(client->GetStats().failing_fast);
  }
}

TEST(AuthTest, NoPasswordIsPermissionDenied) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              StartAuthServer());
  std::unique_ptr<Client> client = MustCreate(OptionsFor(*server));
  ASSERT_NE(client, nullptr);
  absl::Status status = client->Ping(kDeadline);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("NOAUTH"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("--redis_password_file"));
  const Command set[] = {{"SET", "k", "v"}};
  EXPECT_EQ(client->Execute(set, kDeadline).status().code(),
            absl::StatusCode::kPermissionDenied);
  // A large unauthenticated command makes Redis close the connection
  // instead of answering NOAUTH; still PermissionDenied, not a bare reset.
  const Command big[] = {{"SET", "big", std::string(100000, 'x')}};
  absl::Status bulk = client->Execute(big, kDeadline).status();
  EXPECT_EQ(bulk.code(), absl::StatusCode::kPermissionDenied) << bulk;
  EXPECT_THAT(std::string(bulk.message()), HasSubstr("requires authentication"));
  // With db != 0 the failure shows at connect (SELECT meets NOAUTH).
  Options with_db = OptionsFor(*server);
  with_db.db = 1;
  std::unique_ptr<Client> db_client = MustCreate(with_db);
  ASSERT_NE(db_client, nullptr);
  EXPECT_FALSE(db_client->Ping(kDeadline).ok());
}

TEST(AuthTest, PooledConnectionReauthenticatesAfterRestart) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              StartAuthServer());
  for (const std::string user : {"", "app"}) {
    SCOPED_TRACE(user);
    Options options = OptionsFor(*server);
    options.user = user;
    options.password = user.empty() ? kPassword : "app-Secret-91c2";
    std::unique_ptr<Client> client = MustCreate(options);
    ASSERT_NE(client, nullptr);
    const Command set[] = {{"SET", "k", "v"}};
    RECSYS_ASSERT_OK(client->Execute(set, kDeadline).status());
    ASSERT_EQ(client->GetStats().idle_connections, 1);

    RECSYS_ASSERT_OK(server->Restart());

    // The idle connection died with the old server; the read is re-sent on
    // a new connection, which authenticates again.
    const Command get[] = {{"GET", "k"}};
    RECSYS_ASSERT_OK_AND_ASSIGN(
        std::vector<Value> r,
        client->Execute(get, kDeadline, CallKind::kRead));
    EXPECT_TRUE(r[0].is_nil());
    EXPECT_EQ(client->GetStats().stale_retries, 1);
    RECSYS_ASSERT_OK(client->Execute(set, kDeadline).status());
  }
}

// ---------------------------------------------------------------------------
// Metrics.

TEST(ClientMetricsTest, RoundTripsErrorsAndPoolStats) {
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  metrics::Registry registry;
  Options options = OptionsFor(**server);
  options.metrics = &registry;
  options.stall_trip = 0;
  // Long enough that the backoff is still on when the test looks.
  options.reconnect_backoff = absl::Seconds(120);
  std::unique_ptr<Client> client = MustCreate(options);
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 3; ++i) RECSYS_ASSERT_OK(client->Ping(kDeadline));
  std::string text = registry.Exposition();
  EXPECT_THAT(text, ::testing::HasSubstr("recsys_redis_call_duration_seconds_count 3\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("recsys_redis_failing_fast 0\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("recsys_redis_pool_connections{state=\"open\"} 1\n"));
  // A dead Redis: the call fails, is counted by code, and the pool then
  // fails fast (connect backoff).
  RECSYS_ASSERT_OK((*server)->Stop());
  EXPECT_FALSE(client->Ping(kDeadline).ok());
  EXPECT_FALSE(client->Ping(kDeadline).ok());
  text = registry.Exposition();
  EXPECT_THAT(text, ::testing::HasSubstr("recsys_redis_call_errors_total{code=\"UNAVAILABLE\"} 2\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("recsys_redis_failing_fast 1\n"));
  // The client's collector goes with it.
  client.reset();
  EXPECT_THAT(registry.Exposition(), ::testing::Not(::testing::HasSubstr("recsys_redis_pool_size")));
}

}  // namespace
}  // namespace recsys::redis
