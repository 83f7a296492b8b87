// Tests of redis::Client in cluster mode on a real Redis Cluster started on
// loopback (tests/testing/redis_cluster.h): slots against CLUSTER KEYSLOT,
// pipelines split per node, sent to every node before any reply is read
// and reassembled in order, transactions and
// scripts kept on one node, ASK during a slot migration, MOVED after it,
// resharding (redis-cli --cluster reshard) under load, and a master killed
// under load (reads and writes fail over to the promoted replica; nothing
// acknowledged is lost); and a master behind Redis Sentinel killed under
// load (the client follows the promoted replica).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "redis/client.h"
#include "redis/slot.h"
#include "tests/testing/redis_cluster.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"

namespace recsys::redis {
namespace {

using recsys::testing::RedisCluster;
using recsys::testing::RedisClusterOptions;
using recsys::testing::RedisServer;
using ::testing::HasSubstr;

// Generous: the box running the tests may be busy.
Options ClusterOptions(const RedisCluster& cluster) {
  absl::StatusOr<Options> options = ParseAddress(cluster.url());
  EXPECT_TRUE(options.ok()) << options.status();
  options->connect_timeout = absl::Seconds(2);
  options->default_timeout = absl::Seconds(10);
  options->reconnect_backoff = absl::Milliseconds(100);
  return *options;
}

std::unique_ptr<Client> MustCreate(const Options& options) {
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

// A hash tag whose slot `cluster` serves on the master at `address`.
std::string TagOn(const RedisCluster& cluster, const std::string& address,
                  absl::string_view base) {
  for (int i = 0;; ++i) {
    std::string tag = absl::StrCat(base, i);
    absl::StatusOr<std::string> master = cluster.MasterOf(KeySlot(tag));
    if (master.ok() && *master == address) return tag;
  }
}

class ClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<RedisCluster*> cluster =
        recsys::testing::SharedRedisCluster();
    start_status_ = new absl::Status(cluster.status());
    if (cluster.ok()) cluster_ = *cluster;
  }
  static void TearDownTestSuite() { delete start_status_; }

  void SetUp() override {
    ASSERT_TRUE(start_status_->ok()) << *start_status_;
    RECSYS_ASSERT_OK(cluster_->WaitHealthy(absl::Seconds(30)));
    RECSYS_ASSERT_OK(cluster_->OnEveryMaster({"FLUSHALL"}));
  }

  static RedisCluster* cluster_;
  static absl::Status* start_status_;
};
RedisCluster* ClusterTest::cluster_ = nullptr;
absl::Status* ClusterTest::start_status_ = nullptr;

TEST_F(ClusterTest, KeySlotMatchesClusterKeyslot) {
  std::vector<std::string> keys = {"foo",
                                   "{user1000}.following",
                                   "foo{}{bar}",
                                   "foo{{bar}}zap",
                                   std::string("bin\0{x}\xff", 7),
                                   "}{",
                                   ""};
  std::mt19937 random(7);
  const std::string alphabet = "ab{}:|z0\xc3";
  for (int i = 0; i < 300; ++i) {
    std::string key;
    const int length = static_cast<int>(random() % 12);
    for (int j = 0; j < length; ++j)
      key += alphabet[random() % alphabet.size()];
    keys.push_back(key);
  }
  for (const std::string& key : keys) {
    RECSYS_ASSERT_OK_AND_ASSIGN(
        std::string slot,
        cluster_->node(0).Command({"CLUSTER", "KEYSLOT", key}));
    EXPECT_EQ(slot, absl::StrCat(KeySlot(key))) << absl::CEscape(key);
  }
}

TEST_F(ClusterTest, PipelineSpreadsOverEveryMasterAndKeepsOrder) {
  std::unique_ptr<Client> client = MustCreate(ClusterOptions(*cluster_));
  ASSERT_NE(client, nullptr);
  std::vector<Command> sets;
  std::vector<Command> gets;
  for (int i = 0; i < 600; ++i) {
    sets.push_back({"SET", absl::StrCat("k:", i), absl::StrCat("v", i)});
    gets.push_back({"GET", absl::StrCat("k:", i)});
  }
  gets.insert(gets.begin() + 300, Command{"PING"});
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Value> set_replies,
                              client->Execute(sets, Soon()));
  ASSERT_EQ(set_replies.size(), 600u);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Value> replies,
                              client->Execute(gets, Soon(), CallKind::kRead));
  ASSERT_EQ(replies.size(), 601u);
  for (int i = 0; i < 600; ++i) {
    const Value& reply = replies[i < 300 ? i : i + 1];
    EXPECT_EQ(reply.text, absl::StrCat("v", i)) << i;
  }
  EXPECT_EQ(replies[300].text, "PONG");
  // Every master holds some of the keys.
  const std::vector<std::string> masters = client->ClusterMasters();
  ASSERT_EQ(masters.size(), 3u);
  for (const std::string& master : masters) {
    RedisServer* node = cluster_->NodeAt(master);
    ASSERT_NE(node, nullptr) << master;
    RECSYS_ASSERT_OK_AND_ASSIGN(std::string keys, node->Command({"DBSIZE"}));
    EXPECT_NE(keys, "0") << master;
  }
  RECSYS_EXPECT_OK(client->Ping(Soon()));
  EXPECT_THAT(client->GetStats().ToString(), HasSubstr("3 masters"));
}

// A pipeline is cut into units (a transaction; a command with a key and
// the keyless commands before it; trailing keyless commands with the last
// keyed one) sent to their nodes in place: the replies come back in the
// caller's order, every transaction applied on its tag's node.
TEST_F(ClusterTest, UnitsOfMixedPipelinesKeepTheCallersOrder) {
  std::unique_ptr<Client> client = MustCreate(ClusterOptions(*cluster_));
  ASSERT_NE(client, nullptr);
  std::vector<Command> commands = {{"PING"}};
  for (int i = 0; i < 300; ++i) {
    const std::string tag = absl::StrCat("{t", i, "}");
    commands.push_back({"MULTI"});
    commands.push_back({"DEL", tag + "a", tag + "b"});
    commands.push_back({"SET", tag + "a", absl::StrCat("a", i)});
    commands.push_back({"SET", tag + "b", absl::StrCat("b", i)});
    commands.push_back({"EXEC"});
    commands.push_back({"SET", absl::StrCat("plain", i), absl::StrCat("p", i)});
    commands.push_back({"ECHO", absl::StrCat("e", i)});
  }
  commands.push_back({"PING"});
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Value> replies,
                              client->Execute(commands, Soon()));
  ASSERT_EQ(replies.size(), commands.size());
  EXPECT_EQ(replies.front().text, "PONG");
  EXPECT_EQ(replies.back().text, "PONG");
  for (int i = 0; i < 300; ++i) {
    const size_t base = 1 + 7 * static_cast<size_t>(i);
    EXPECT_EQ(replies[base].text, "OK") << i;                     // MULTI
    ASSERT_EQ(replies[base + 4].type, Value::Type::kArray) << i;  // EXEC
    EXPECT_EQ(replies[base + 4].elements.size(), 3u) << i;
    EXPECT_EQ(replies[base + 5].text, "OK") << i;
    EXPECT_EQ(replies[base + 6].text, absl::StrCat("e", i)) << i;
  }
  std::vector<Command> gets;
  for (int i = 0; i < 300; ++i) {
    gets.push_back({"GET", absl::StrCat("{t", i, "}b")});
    gets.push_back({"GET", absl::StrCat("plain", i)});
  }
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Value> got,
                              client->Execute(gets, Soon(), CallKind::kRead));
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(got[2 * i].text, absl::StrCat("b", i)) << i;
    EXPECT_EQ(got[2 * i + 1].text, absl::StrCat("p", i)) << i;
  }
}

// Every node's batch is written before any reply is read: pipelines over
// every master from many threads at once on pools of one connection per
// node (each call holds a connection of several nodes at a time, so calls
// that took them in different orders would wait for each other until
// their deadline), and one pipeline of several MB per node (written whole
// before its replies are read).
TEST_F(ClusterTest, ConcurrentPipelinesOverEveryMasterOnPoolsOfOne) {
  Options options = ClusterOptions(*cluster_);
  options.pool_size = 1;
  std::unique_ptr<Client> client = MustCreate(options);
  ASSERT_NE(client, nullptr);
  constexpr int kThreads = 6;
  constexpr int kRounds = 40;
  std::atomic<int> failed{0};
  std::atomic<int> wrong{0};
  absl::Mutex mu;
  std::string first_failure;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int round = 0; round < kRounds; ++round) {
        // Keys in a different order each round, so the first command's
        // node differs between calls.
        std::vector<int> keys(30);
        for (int k = 0; k < 30; ++k) keys[k] = k;
        std::shuffle(keys.begin(), keys.end(), rng);
        std::vector<Command> sets;
        std::vector<Command> gets;
        for (const int k : keys) {
          const std::string key = absl::StrCat("c:", t, ":", k);
          sets.push_back({"SET", key, absl::StrCat(round, ":", k)});
          gets.push_back({"GET", key});
        }
        absl::StatusOr<std::vector<Value>> replies = client->Execute(sets, Soon());
        if (replies.ok()) {
          replies = client->Execute(gets, Soon(), CallKind::kRead);
        }
        if (!replies.ok()) {
          absl::MutexLock lock(&mu);
          if (failed++ == 0) first_failure = replies.status().ToString();
          continue;
        }
        for (size_t i = 0; i < keys.size(); ++i) {
          if ((*replies)[i].text != absl::StrCat(round, ":", keys[i])) ++wrong;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failed, 0) << first_failure;
  EXPECT_EQ(wrong, 0);

  // About 4 MB per master in one pipeline, then read back in one.
  std::vector<Command> sets;
  std::vector<Command> gets;
  const std::string value(1000, 'v');
  for (int i = 0; i < 12000; ++i) {
    sets.push_back({"SET", absl::StrCat("big:", i), absl::StrCat(i, value)});
    gets.push_back({"GET", absl::StrCat("big:", i)});
  }
  RECSYS_ASSERT_OK(client->Execute(sets, Soon()).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Value> replies,
                              client->Execute(gets, Soon(), CallKind::kRead));
  ASSERT_EQ(replies.size(), gets.size());
  for (int i = 0; i < 12000; ++i) {
    ASSERT_EQ(replies[i].text, absl::StrCat(i, value)) << i;
  }
}

TEST_F(ClusterTest, TransactionsAndScriptsStayOnTheNodeOfTheirTag) {
  std::unique_ptr<Client> client = MustCreate(ClusterOptions(*cluster_));
  ASSERT_NE(client, nullptr);
  RECSYS_ASSERT_OK(client->Ping(Soon()));
  // One user per master, each user's transaction in the same pipeline.
  std::vector<std::string> users;
  for (const std::string& master : client->ClusterMasters()) {
    users.push_back(TagOn(*cluster_, master, "user"));
  }
  ASSERT_EQ(users.size(), 3u);
  std::vector<Command> commands;
  for (const std::string& user : users) {
    const std::string pc = absl::StrCat("rs:u:{", user, "}:pc");
    const std::string pt = absl::StrCat("rs:u:{", user, "}:pt");
    commands.push_back({"MULTI"});
    commands.push_back({"DEL", pc, pt});
    commands.push_back({"HSET", pc, "item", "2"});
    commands.push_back({"HSET", pt, "item", "1700000000"});
    commands.push_back({"EXEC"});
  }
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Value> replies,
                              client->Execute(commands, Soon()));
  ASSERT_EQ(replies.size(), 15u);
  for (int u = 0; u < 3; ++u) {
    EXPECT_EQ(replies[u * 5 + 4].type, Value::Type::kArray) << u;
  }
  // A script whose keys share a tag runs on every master; the nodes that
  // never saw SCRIPT LOAD answer NOSCRIPT once and get the source.
  Script script(
      "redis.call('HINCRBY', KEYS[1], 'item', 1) "
      "return redis.call('HGET', KEYS[1], 'item') + "
      "redis.call('HGET', KEYS[2], 'item') * 0");
  for (const std::string& user : users) {
    RECSYS_ASSERT_OK_AND_ASSIGN(
        Value value, client->Eval(script,
                                  {absl::StrCat("rs:u:{", user, "}:pc"),
                                   absl::StrCat("rs:u:{", user, "}:pt")},
                                  {}, Soon()));
    EXPECT_EQ(value.AsInt(), 3) << user << " " << value.text;
  }
  EXPECT_GE(client->GetStats().script_reloads, 2);
  // Keys of two tags in one script: Redis refuses it (CROSSSLOT), an error
  // reply, not a failure of the call.
  RECSYS_ASSERT_OK_AND_ASSIGN(
      Value refused, client->Eval(script,
                                  {absl::StrCat("rs:u:{", users[0], "}:pc"),
                                   absl::StrCat("rs:u:{", users[1], "}:pc")},
                                  {}, Soon()));
  EXPECT_TRUE(refused.is_error());
  EXPECT_THAT(refused.text, HasSubstr("CROSSSLOT"));
}

TEST_F(ClusterTest, AskDuringAMigrationThenMovedAfterIt) {
  std::unique_ptr<Client> client = MustCreate(ClusterOptions(*cluster_));
  ASSERT_NE(client, nullptr);
  RECSYS_ASSERT_OK(client->Ping(Soon()));
  const std::vector<std::string> masters = client->ClusterMasters();
  ASSERT_EQ(masters.size(), 3u);
  const std::string tag = TagOn(*cluster_, masters[0], "moving");
  const int slot = KeySlot(tag);
  const std::string source = masters[0];
  const std::string target = masters[1];
  RedisServer* from = cluster_->NodeAt(source);
  RedisServer* to = cluster_->NodeAt(target);
  ASSERT_NE(from, nullptr);
  ASSERT_NE(to, nullptr);
  std::vector<Command> sets;
  std::vector<Command> gets;
  for (int i = 0; i < 20; ++i) {
    const std::string key = absl::StrCat("{", tag, "}:", i);
    sets.push_back({"SET", key, absl::StrCat("v", i)});
    gets.push_back({"GET", key});
  }
  RECSYS_ASSERT_OK(client->Execute(sets, Soon()).status());

  // Migrate half the slot's keys by hand, as redis-cli --cluster reshard
  // does, and stop halfway.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string source_id, cluster_->IdOf(source));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string target_id, cluster_->IdOf(target));
  const std::string slot_text = absl::StrCat(slot);
  RECSYS_ASSERT_OK(
      to->Command({"CLUSTER", "SETSLOT", slot_text, "IMPORTING", source_id})
          .status());
  RECSYS_ASSERT_OK(
      from->Command({"CLUSTER", "SETSLOT", slot_text, "MIGRATING", target_id})
          .status());
  std::vector<std::string> migrate = {
      "MIGRATE", to->host(), absl::StrCat(to->port()), "", "0", "5000", "KEYS"};
  for (int i = 0; i < 10; ++i) migrate.push_back(sets[i][1]);
  RECSYS_ASSERT_OK(from->Command(migrate).status());

  // Half the keys answer ASK from the source: followed with ASKING.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Value> replies,
                              client->Execute(gets, Soon(), CallKind::kRead));
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(replies[i].text, absl::StrCat("v", i)) << i;
  }
  // A new key of the migrating slot is created on the target.
  const std::string fresh = absl::StrCat("{", tag, "}:new");
  RECSYS_ASSERT_OK(client->Execute({{"SET", fresh, "n"}}, Soon()).status());
  EXPECT_EQ(client->GetStats().ask_redirects, 11);
  EXPECT_EQ(client->GetStats().moved_redirects, 0);
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::string keys_on_target,
      to->Command({"CLUSTER", "COUNTKEYSINSLOT", slot_text}));
  EXPECT_EQ(keys_on_target, "11");

  // Finish: the rest of the keys, then the slot itself, on every master.
  migrate.resize(7);
  for (int i = 10; i < 20; ++i) migrate.push_back(sets[i][1]);
  RECSYS_ASSERT_OK(from->Command(migrate).status());
  for (const std::string& master : masters) {
    RECSYS_ASSERT_OK(
        cluster_->NodeAt(master)
            ->Command({"CLUSTER", "SETSLOT", slot_text, "NODE", target_id})
            .status());
  }
  RECSYS_ASSERT_OK(cluster_->WaitHealthy(absl::Seconds(30)));
  // The client still maps the slot to the source: MOVED, followed; the
  // slot's next command goes straight to the target.
  RECSYS_ASSERT_OK_AND_ASSIGN(replies,
                              client->Execute(gets, Soon(), CallKind::kRead));
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(replies[i].text, absl::StrCat("v", i)) << i;
  }
  const int64_t moved = client->GetStats().moved_redirects;
  EXPECT_GE(moved, 1);
  RECSYS_ASSERT_OK(client->Execute(gets, Soon(), CallKind::kRead).status());
  EXPECT_EQ(client->GetStats().moved_redirects, moved);
  // Put the slot back for the other tests.
  RECSYS_ASSERT_OK(cluster_->OnEveryMaster({"FLUSHALL"}));
  for (const std::string& master : masters) {
    RECSYS_ASSERT_OK(
        cluster_->NodeAt(master)
            ->Command({"CLUSTER", "SETSLOT", slot_text, "NODE", source_id})
            .status());
  }
  RECSYS_ASSERT_OK(cluster_->WaitHealthy(absl::Seconds(30)));
}

// Writes and reads keys in a loop until stopped; counts failures.
class Load {
 public:
  explicit Load(Client* client) : client_(client) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int written() const { return written_; }
  // Failed calls by code, "CODE: message" of the first ones.
  std::vector<std::string> errors() const {
    absl::MutexLock lock(&mu_);
    return errors_;
  }
  int succeeded() const { return succeeded_; }

 private:
  void Run() {
    while (!stop_) {
      std::vector<Command> commands;
      const int base = written_;
      for (int i = 0; i < 20; ++i) {
        commands.push_back({"SET", absl::StrCat("load:", base + i),
                            absl::StrCat("v", base + i)});
      }
      for (int i = 0; i < base && i < 20; ++i) {
        commands.push_back(
            {"GET", absl::StrCat("load:", (base * 7 + i) % base)});
      }
      absl::StatusOr<std::vector<Value>> replies =
          client_->Execute(commands, absl::Now() + absl::Seconds(5));
      if (!replies.ok()) {
        absl::MutexLock lock(&mu_);
        errors_.push_back(
            absl::StrCat(absl::StatusCodeToString(replies.status().code()),
                         ": ", replies.status().message()));
        continue;
      }
      bool right = true;
      for (size_t i = 20; i < commands.size(); ++i) {
        const std::string expected = absl::StrCat(
            "v", absl::string_view(commands[i][1]).substr(5));  // "load:"
        if ((*replies)[i].text != expected) right = false;
      }
      if (!right) {
        absl::MutexLock lock(&mu_);
        errors_.push_back("wrong value read back");
      }
      written_ = base + 20;
      ++succeeded_;
    }
  }

  Client* const client_;
  std::atomic<bool> stop_{false};
  std::atomic<int> written_{0};
  std::atomic<int> succeeded_{0};
  mutable absl::Mutex mu_;
  std::vector<std::string> errors_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

TEST(ClusterReshardTest, SlotsMoveUnderLoadWithoutAFailedCall) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisCluster> cluster,
                              RedisCluster::Start({.replicas_per_master = 0}));
  std::unique_ptr<Client> client = MustCreate(ClusterOptions(*cluster));
  ASSERT_NE(client, nullptr);
  RECSYS_ASSERT_OK(client->Ping(Soon()));
  const std::vector<std::string> masters = client->ClusterMasters();
  ASSERT_EQ(masters.size(), 3u);
  Load load(client.get());
  while (load.succeeded() < 20) absl::SleepFor(absl::Milliseconds(5));
  RECSYS_ASSERT_OK(cluster->Reshard(masters[0], masters[1], 600));
  const int after = load.succeeded();
  while (load.succeeded() < after + 20) absl::SleepFor(absl::Milliseconds(5));
  load.Stop();
  EXPECT_THAT(load.errors(), ::testing::IsEmpty());
  // The slots moved, and every key written is there.
  RECSYS_ASSERT_OK(cluster->WaitHealthy(absl::Seconds(30)));
  EXPECT_EQ(client->ClusterMasters().size(), 3u);
  RECSYS_ASSERT_OK_AND_ASSIGN(int64_t keys, cluster->KeyCount());
  EXPECT_EQ(keys, load.written());
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string moved_owner, cluster->MasterOf(0));
  EXPECT_EQ(moved_owner, masters[1]);
}

TEST(ClusterFailoverTest, KilledMasterDegradesThenItsReplicaServes) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<RedisCluster> cluster,
      RedisCluster::Start({.replicas_per_master = 1,
                           .node_timeout = absl::Milliseconds(1000)}));
  Options options = ClusterOptions(*cluster);
  options.default_timeout = absl::Seconds(2);
  std::unique_ptr<Client> client = MustCreate(options);
  ASSERT_NE(client, nullptr);
  RECSYS_ASSERT_OK(client->Ping(Soon()));

  // Keys on the master about to die, acknowledged by its replica (WAIT)
  // before it dies: they must survive the failover.
  const std::vector<std::string> masters = client->ClusterMasters();
  ASSERT_EQ(masters.size(), 3u);
  const std::string victim = masters[2];
  const std::string tag = TagOn(*cluster, victim, "victim");
  std::vector<Command> sets;
  std::vector<Command> gets;
  for (int i = 0; i < 50; ++i) {
    const std::string key = absl::StrCat("{", tag, "}:", i);
    sets.push_back({"SET", key, absl::StrCat("v", i)});
    gets.push_back({"GET", key});
  }
  // WAIT has no key: it goes with the command before it, to the same node
  // and connection.
  sets.push_back({"WAIT", "1", "5000"});
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Value> acked,
                              client->Execute(sets, Soon()));
  ASSERT_EQ(acked.back().AsInt(), 1);

  Load load(client.get());
  while (load.succeeded() < 10) absl::SleepFor(absl::Milliseconds(5));
  RedisServer* node = cluster->NodeAt(victim);
  ASSERT_NE(node, nullptr);
  RECSYS_ASSERT_OK(node->Stop());
  RECSYS_ASSERT_OK(cluster->WaitHealthy(absl::Seconds(60)));
  // The client finds the promoted replica by itself (it refreshes its slot
  // map after a failed call); wait for some calls on the new map.
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  int after = load.succeeded();
  while (load.succeeded() < after + 20 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  load.Stop();
  EXPECT_GE(load.succeeded(), after + 20);
  // While the master was down calls failed as unavailable (the degraded
  // path callers handle) or ran out of time; never wrong data.
  for (const std::string& error : load.errors()) {
    EXPECT_TRUE(absl::StartsWith(error, "UNAVAILABLE") ||
                absl::StartsWith(error, "DEADLINE_EXCEEDED"))
        << error;
  }
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<Value> replies,
                              client->Execute(gets, Soon(), CallKind::kRead));
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(replies[i].text, absl::StrCat("v", i)) << i;
  }
  const std::vector<std::string> now_masters = client->ClusterMasters();
  EXPECT_EQ(now_masters.size(), 3u);
  EXPECT_THAT(now_masters, ::testing::Not(::testing::Contains(victim)));
}

TEST(SentinelTest, FollowsTheMasterThroughAFailover) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<recsys::testing::RedisSentinelGroup> group,
      recsys::testing::RedisSentinelGroup::Start());
  RECSYS_ASSERT_OK_AND_ASSIGN(Options options, ParseAddress(group->url()));
  options.connect_timeout = absl::Seconds(2);
  options.default_timeout = absl::Seconds(2);
  options.reconnect_backoff = absl::Milliseconds(100);
  std::unique_ptr<Client> client = MustCreate(options);
  ASSERT_NE(client, nullptr);
  // Acknowledged by the replica before the master dies.
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::vector<Value> acked,
      client->Execute({{"SET", "kept", "1"}, {"WAIT", "1", "5000"}}, Soon()));
  ASSERT_EQ(acked[1].AsInt(), 1);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string written,
                              group->master().Command({"GET", "kept"}));
  EXPECT_EQ(written, "1");

  Load load(client.get());
  while (load.succeeded() < 10) absl::SleepFor(absl::Milliseconds(5));
  const std::string old_master = group->master().address();
  RECSYS_ASSERT_OK(group->master().Stop());
  // The sentinel promotes the replica; the client follows by itself.
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (absl::Now() < give_up) {
    absl::StatusOr<std::string> master = group->CurrentMaster();
    if (master.ok() && *master == group->replica().address()) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string master, group->CurrentMaster());
  ASSERT_EQ(master, group->replica().address());
  const int after = load.succeeded();
  while (load.succeeded() < after + 20 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  load.Stop();
  EXPECT_GE(load.succeeded(), after + 20);
  for (const std::string& error : load.errors()) {
    EXPECT_TRUE(absl::StartsWith(error, "UNAVAILABLE") ||
                absl::StartsWith(error, "DEADLINE_EXCEEDED"))
        << error;
  }
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::vector<Value> kept,
      client->Execute({{"GET", "kept"}}, Soon(), CallKind::kRead));
  EXPECT_EQ(kept[0].text, "1");
  // The writes went to the promoted replica.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string role,
                              group->replica().Command({"ROLE"}));
  EXPECT_TRUE(absl::StartsWith(role, "master")) << role;
  EXPECT_NE(old_master, master);
}

}  // namespace
}  // namespace recsys::redis
