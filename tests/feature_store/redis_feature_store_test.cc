// Tests of the Redis store that go beyond the shared contract suite in
// feature_store_test.cc: option checks, the key schema of docs/redis_keys.md,
// corrupt data, a dead or paused Redis, and concurrency. The pool itself
// (address parsing, its options, stale connections, scripts) is tested in
// tests/redis/client_test.cc.
#include "feature_store/redis_feature_store.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "feature_store/feature_store.h"
#include "gtest/gtest.h"
#include "redis/client.h"
#include "redis/generation.h"
#include "tests/feature_store/test_util.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"

namespace recsys::feature_store {
namespace {

using recsys::testing::RedisServer;
using test::FindPurchase;
using test::Impression;
using test::ItemIds;
using test::Purchase;
using test::T;
using test::View;

constexpr absl::Time kNoDeadline = absl::InfiniteFuture();

// The options of a store and of the client (pool) it gets.
struct Options {
  redis::Options redis;
  RedisFeatureStoreOptions store;
};

// Options for a store on `server` with generous timeouts (the box running
// the tests may be busy) and a key prefix of its own.
Options OptionsFor(const RedisServer& server) {
  Options options;
  options.redis.host = server.host();
  options.redis.port = server.port();
  options.store.key_prefix = test::UniqueKeyPrefix();
  options.redis.connect_timeout = absl::Seconds(5);
  options.redis.default_timeout = absl::Seconds(10);
  return options;
}

// A store with a client of its own, as the server's main builds them. The
// client is declared first, so it outlives the store.
struct TestStore {
  std::unique_ptr<redis::Client> client;
  std::unique_ptr<FeatureStore> store;

  FeatureStore* get() const { return store.get(); }
  FeatureStore* operator->() const { return store.get(); }
  bool operator==(std::nullptr_t) const { return store == nullptr; }
};

TestStore MustCreate(const Options& options) {
  TestStore result;
  absl::StatusOr<std::unique_ptr<redis::Client>> client =
      redis::Client::Create(options.redis);
  EXPECT_TRUE(client.ok()) << client.status();
  if (!client.ok()) return result;
  result.client = *std::move(client);
  absl::StatusOr<std::unique_ptr<FeatureStore>> store =
      NewRedisFeatureStore(result.client.get(), options.store);
  EXPECT_TRUE(store.ok()) << store.status();
  if (store.ok()) result.store = *std::move(store);
  return result;
}

bool IsUnavailableOrDeadline(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded;
}

// ---------------------------------------------------------------------------
// NewRedisFeatureStore. (Address parsing and the client's options:
// tests/redis/client_test.cc.)

TEST(NewRedisFeatureStoreTest, RejectsBadOptions) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<redis::Client> client,
                              redis::Client::Create({}));
  auto expect_invalid = [&client](RedisFeatureStoreOptions options,
                                  absl::string_view what) {
    absl::StatusOr<std::unique_ptr<FeatureStore>> store =
        NewRedisFeatureStore(client.get(), options);
    EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument)
        << what << ": " << store.status();
  };
  RedisFeatureStoreOptions options;
  options.recent_limit = 0;
  expect_invalid(options, "recent_limit 0");
  options = RedisFeatureStoreOptions();
  options.impression_limit = 0;
  expect_invalid(options, "impression_limit 0");
  options = RedisFeatureStoreOptions();
  options.bulk_batch = 0;
  expect_invalid(options, "bulk_batch 0");
  options = RedisFeatureStoreOptions();
  options.bulk_threads = 0;
  expect_invalid(options, "bulk_threads 0");
  EXPECT_EQ(NewRedisFeatureStore(nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(NewRedisFeatureStoreTest, DoesNotConnectAndDescribesItself) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<recsys::testing::RefusingPort> dead,
                              recsys::testing::RefusingPort::Open());
  const int port = dead->port();
  redis::Options options;
  options.port = port;
  options.db = 2;
  // Nothing listens on the port: creating the store must still succeed.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<redis::Client> client,
                              redis::Client::Create(options));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<FeatureStore> store,
                              NewRedisFeatureStore(client.get()));
  EXPECT_EQ(store->Describe(), absl::StrCat("redis 127.0.0.1:", port, " db 2"));
}

// ---------------------------------------------------------------------------
// A dead Redis.

TEST(RedisFeatureStoreTest, DeadRedisFailsFastWithUnavailable) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<recsys::testing::RefusingPort> dead,
                              recsys::testing::RefusingPort::Open());
  const int port = dead->port();
  Options options;
  options.redis.port = port;
  options.redis.reconnect_backoff = absl::Minutes(10);
  TestStore store = MustCreate(options);
  ASSERT_NE(store, nullptr);

  absl::Status first = store->GetUser("u", kNoDeadline).status();
  EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable) << first;

  // During the backoff every call fails fast without touching the network.
  // The time bound is deliberately loose: it only catches a store that pays
  // a connect (or a timeout) per call.
  const absl::Time start = absl::Now();
  for (int i = 0; i < 100; ++i) {
    absl::Status status = store->GetUser("u", kNoDeadline).status();
    ASSERT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));

  const Event events[] = {Purchase("u", "a", T(1))};
  EXPECT_EQ(store->RecordEvents(events, kNoDeadline).status().code(),
            absl::StatusCode::kUnavailable);
  const std::string ids[] = {"a"};
  EXPECT_EQ(store->GetItems(ids, kNoDeadline).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->Ping(kNoDeadline).code(), absl::StatusCode::kUnavailable);
  const UserFeatures users[] = {{.user_id = "u"}};
  EXPECT_EQ(store->PutUsers(users).code(), absl::StatusCode::kUnavailable);
}

// A hung Redis: connections are accepted, commands are not answered
// (CLIENT PAUSE). After stall_trip unanswered calls in a row, calls fail
// fast instead of each waiting out its timeout.
// A store on its own redis-server that trips after 3 unanswered calls and
// then stays open for 10 minutes.
class StallTripTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RECSYS_ASSERT_OK_AND_ASSIGN(server_, RedisServer::Start());
    Options options = OptionsFor(*server_);
    options.redis.stall_trip = 3;
    options.redis.reconnect_backoff = absl::Minutes(10);
    store_ = MustCreate(options);
    ASSERT_NE(store_, nullptr);
  }

  std::unique_ptr<RedisServer> server_;
  TestStore store_;
};

TEST_F(StallTripTest, HungRedisTripsToFailFast) {
  RedisServer* server = server_.get();
  FeatureStore* store = store_.get();
  RECSYS_ASSERT_OK(store->Ping(kNoDeadline));
  RECSYS_ASSERT_OK(server->Command({"CLIENT", "PAUSE", "30000", "ALL"}).status());
  for (int i = 0; i < 3; ++i) {
    absl::Status status =
        store->GetUser("u", absl::Now() + absl::Milliseconds(30)).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << i << ": " << status;
  }
  for (int i = 0; i < 20; ++i) {
    absl::Status status = store->GetUser("u", absl::Now() + absl::Seconds(30)).status();
    ASSERT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
    EXPECT_NE(status.message().find("unanswered"), absl::string_view::npos) << status;
  }
}

TEST_F(StallTripTest, AnAnswerBetweenStallsKeepsTheStoreOpen) {
  RedisServer* server = server_.get();
  FeatureStore* store = store_.get();
  for (int round = 0; round < 3; ++round) {
    // Two stalls, then an answer: never three in a row.
    RECSYS_ASSERT_OK(server->Command({"CLIENT", "PAUSE", "400", "ALL"}).status());
    for (int i = 0; i < 2; ++i) {
      absl::Status status =
          store->GetUser("u", absl::Now() + absl::Milliseconds(20)).status();
      EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
    }
    // Waits out the pause.
    absl::Status answered = store->Ping(absl::Now() + absl::Seconds(30));
    RECSYS_ASSERT_OK(answered) << "round " << round;
  }
}

TEST(RedisFeatureStoreTest, PassedDeadlineIsDeadlineExceeded) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  TestStore store = MustCreate(OptionsFor(*server));
  ASSERT_NE(store, nullptr);
  const absl::Time past = absl::Now() - absl::Seconds(1);
  EXPECT_EQ(store->GetUser("u", past).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(store->Ping(past).code(), absl::StatusCode::kDeadlineExceeded);
  // The store is still fine afterwards.
  RECSYS_EXPECT_OK(store->Ping(kNoDeadline));
}

// The load marker (FeatureStore::CheckLoaded): a marker seen and then lost
// (Redis restarted empty) makes GetUser fail fast with Unavailable naming
// it; a store that never had one keeps working; require_loaded flags an
// absent marker from the start.
TEST(RedisFeatureStoreTest, LoadMarkerLostAfterARestartDegradesUntilReloaded) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              RedisServer::Start());
  Options options = OptionsFor(*server);
  options.store.key_prefix = "rs:";
  options.redis.reconnect_backoff = absl::Milliseconds(10);
  TestStore store = MustCreate(options);
  ASSERT_NE(store, nullptr);
  const UserFeatures users[] = {{.user_id = "u", .purchases = {{"a", 9, T(1)}}}};
  RECSYS_ASSERT_OK(store->PutUsers(users));
  // Never loaded by the trainer: no marker, nothing flagged.
  RECSYS_EXPECT_OK(store->CheckLoaded(kNoDeadline));
  RECSYS_ASSERT_OK(store->GetUser("u", kNoDeadline).status());

  RECSYS_ASSERT_OK(store->MarkLoaded("20260101", T(5)));
  RECSYS_EXPECT_OK(store->CheckLoaded(kNoDeadline));
  {
    const redis::Command command = {"HGET", "rs:loaded", "model_version"};
    RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<redis::Value> replies,
                                store.client->Execute({&command, 1}, kNoDeadline));
    EXPECT_EQ(replies[0].AsText().value_or(""), "20260101");
  }

  RECSYS_ASSERT_OK(server->Restart());
  absl::Status lost = store->CheckLoaded(kNoDeadline);
  for (int i = 0; i < 50 && lost.ok(); ++i) {  // the first call may meet a stale connection
    absl::SleepFor(absl::Milliseconds(20));
    lost = store->CheckLoaded(kNoDeadline);
  }
  EXPECT_EQ(lost.code(), absl::StatusCode::kUnavailable) << lost;
  EXPECT_NE(lost.message().find("key rs:loaded missing: Redis restarted empty?"),
            std::string::npos)
      << lost;
  EXPECT_NE(lost.message().find("recsys_train --load_redis_only"), std::string::npos) << lost;
  absl::Status user = store->GetUser("u", kNoDeadline).status();
  EXPECT_EQ(user, lost);

  // Reloaded (the marker back): OK again.
  RECSYS_ASSERT_OK(store->PutUsers(users));
  RECSYS_ASSERT_OK(store->MarkLoaded("20260101", T(6)));
  RECSYS_EXPECT_OK(store->CheckLoaded(kNoDeadline));
  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures back, store->GetUser("u", kNoDeadline));
  ASSERT_EQ(back.purchases.size(), 1u);
  EXPECT_EQ(back.purchases[0].count, 9);

  // require_loaded: a fresh store flags a missing marker without seeing it.
  RECSYS_ASSERT_OK(server->Restart());
  Options strict = options;
  strict.store.require_loaded = true;
  TestStore fresh = MustCreate(strict);
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(fresh->CheckLoaded(kNoDeadline).code(), absl::StatusCode::kUnavailable);
}

TEST(RedisFeatureStoreTest, SurvivesRedisStopAndRecoversAfterRestart) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              RedisServer::Start());
  Options options = OptionsFor(*server);
  options.redis.pool_size = 4;
  options.redis.reconnect_backoff = absl::Milliseconds(100);
  TestStore store = MustCreate(options);
  ASSERT_NE(store, nullptr);

  // Open several pooled connections, which go stale when Redis dies.
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&store] {
        for (int i = 0; i < 20; ++i) store->Ping(kNoDeadline).IgnoreError();
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  const Event before[] = {Purchase("u", "a", T(1))};
  RECSYS_ASSERT_OK(store->RecordEvents(before, kNoDeadline));
  RECSYS_ASSERT_OK(store->GetUser("u", kNoDeadline).status());

  RECSYS_ASSERT_OK(server->Stop());

  // A large write on a stale connection: the peer resets it mid-write, which
  // must surface as an error, not kill the process with SIGPIPE.
  std::vector<Event> big;
  for (int i = 0; i < 5000; ++i) {
    big.push_back(
        View("u", absl::StrCat("item-", i, std::string(64, 'x')), T(i)));
  }
  absl::Status status = store->RecordEvents(big, kNoDeadline).status();
  EXPECT_TRUE(IsUnavailableOrDeadline(status)) << status;
  for (int i = 0; i < 10; ++i) {
    status = store->GetUser("u", kNoDeadline).status();
    EXPECT_TRUE(IsUnavailableOrDeadline(status)) << status;
    status = store->Ping(kNoDeadline);
    EXPECT_TRUE(IsUnavailableOrDeadline(status)) << status;
  }

  RECSYS_ASSERT_OK(server->Restart());

  // Bounded polling: the store reconnects once the backoff has passed (and
  // the remaining stale connections have each failed once). The restarted
  // Redis is empty, so the user is NotFound.
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  absl::Status after = absl::UnknownError("not polled");
  while (absl::Now() < give_up) {
    after = store->GetUser("u", kNoDeadline).status();
    if (after.code() == absl::StatusCode::kNotFound) break;
    EXPECT_TRUE(IsUnavailableOrDeadline(after)) << after;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(after.code(), absl::StatusCode::kNotFound) << after;

  RECSYS_ASSERT_OK(store->RecordEvents(before, kNoDeadline));
  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user,
                              store->GetUser("u", kNoDeadline));
  ASSERT_EQ(user.purchases.size(), 1u);
  EXPECT_EQ(user.purchases[0].count, 1);
}

TEST(RedisFeatureStoreTest, SlowRedisIsDeadlineExceededAndConnectionDropped) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              RedisServer::Start());
  Options options = OptionsFor(*server);
  options.redis.pool_size = 1;
  TestStore store = MustCreate(options);
  ASSERT_NE(store, nullptr);
  const Event events[] = {Purchase("u", "a", T(1))};
  RECSYS_ASSERT_OK(store->RecordEvents(events, kNoDeadline));

  // Redis stops answering writes (but keeps accepting connections and
  // reads, so the fixture can unpause it) for a minute.
  RECSYS_ASSERT_OK(
      server->Command({"CLIENT", "PAUSE", "60000", "WRITE"}).status());
  const Event late[] = {View("u", "v", T(2))};
  absl::Status status =
      store->RecordEvents(late, absl::Now() + absl::Milliseconds(200)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  RECSYS_ASSERT_OK(server->Command({"CLIENT", "UNPAUSE"}).status());

  // The timed-out connection (with a reply still in flight) was dropped, so
  // the next call reads its own reply, not the stale one.
  RECSYS_ASSERT_OK(store->Ping(kNoDeadline));
  const std::string ids[] = {"nope"};
  RECSYS_ASSERT_OK_AND_ASSIGN(auto items, store->GetItems(ids, kNoDeadline));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_FALSE(items[0].has_value());
  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user,
                              store->GetUser("u", kNoDeadline));
  EXPECT_EQ(user.purchases.size(), 1u);
}

// ---------------------------------------------------------------------------
// Key schema and stored data.

TEST(RedisFeatureStoreTest, KeySchemaMatchesDocumentation) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  Options options = OptionsFor(*server);
  TestStore store = MustCreate(options);
  ASSERT_NE(store, nullptr);
  const std::string p = options.store.key_prefix;
  const Event events[] = {Purchase("alice", "sku-1", T(10)),
                          View("alice", "sku-2", T(11)),
                          Impression("alice", "sku-3", T(12))};
  RECSYS_ASSERT_OK(store->RecordEvents(events, kNoDeadline));
  const ItemFeatures items[] = {{.item_id = "sku-1",
                                 .category = "shoes",
                                 .price = 19.5,
                                 .title = "Shoe",
                                 .stock = 3,
                                 .listed = T(5),
                                 .cost = 7.25,
                                 .role = "profit"}};
  RECSYS_ASSERT_OK(store->PutItems(items));
  Event trial = Impression("bob", "sku-1", T(13));
  trial.count_for_trial = true;
  const Event trial_events[] = {trial};
  RECSYS_ASSERT_OK(store->RecordEvents(trial_events, kNoDeadline));

  auto command = [&](std::vector<std::string> argv) {
    absl::StatusOr<std::string> reply = server->Command(argv);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.value_or("");
  };
  const std::string ts = absl::StrCat(absl::ToUnixSeconds(T(10)));
  // A recorded purchase goes to the journal (member: length of the dedup
  // key, ':', the dedup key, the item; score: its time), not to the
  // generation's history.
  EXPECT_EQ(command({"TYPE", p + "u:{alice}:rp"}), "zset");
  const std::string dedup = EventDedupKey(events[0]);
  EXPECT_EQ(command({"ZRANGE", p + "u:{alice}:rp", "0", "-1", "WITHSCORES"}),
            absl::StrCat(dedup.size(), ":", dedup, "sku-1\n", ts));
  EXPECT_EQ(command({"EXISTS", p + "u:{alice}:pc"}), "0");
  // Bulk history (generation 0: no pointer) under the prefix.
  UserFeatures bulk_user{.user_id = "carol"};
  bulk_user.purchases.push_back({"sku-9", 2, T(3)});
  const UserFeatures bulk_users[] = {bulk_user};
  RECSYS_ASSERT_OK(store->PutUsers(bulk_users));
  EXPECT_EQ(command({"TYPE", p + "u:{carol}:pc"}), "hash");
  EXPECT_EQ(command({"HGET", p + "u:{carol}:pc", "sku-9"}), "2");
  EXPECT_EQ(command({"HGET", p + "u:{carol}:pt", "sku-9"}),
            absl::StrCat(absl::ToUnixSeconds(T(3))));
  EXPECT_EQ(command({"LRANGE", p + "u:{alice}:act", "0", "-1"}),
            absl::StrCat("view|", absl::ToUnixSeconds(T(11)), "|sku-2\n",
                         "purchase|", ts, "|sku-1"));
  EXPECT_EQ(command({"LRANGE", p + "u:{alice}:imp", "0", "-1"}),
            absl::StrCat("impression|", absl::ToUnixSeconds(T(12)), "|sku-3"));
  EXPECT_EQ(
      command({"HMGET", p + "i:{sku-1}", "category", "price", "title", "stock", "slow",
               "listed", "cost", "role"}),
      absl::StrCat("shoes\n19.5\nShoe\n3\n0\n", absl::ToUnixSeconds(T(5)), "\n7.25\nprofit"));
  EXPECT_EQ(command({"ZSCORE", p + "listed", "sku-1"}),
            absl::StrCat(absl::ToUnixSeconds(T(5))));
  EXPECT_EQ(command({"HGET", p + "t:{sku-1}", "impressions"}), "1");
  // The trial count's own marker, on the item's slot.
  EXPECT_EQ(command({"EXISTS", p + "tev:{sku-1}:" + EventDedupKey(trial)}), "1");
  EXPECT_EQ(command({"GET", p + "{catalog}:version"}), "1");
  EXPECT_EQ(command({"ZSCORE", p + "{catalog}:changes", "sku-1"}), "1");
  // Dedup markers: a given id, and a derived one, each with the window as TTL.
  Event with_id = View("alice", "sku-4", T(14));
  with_id.event_id = "evt-1";
  const Event id_events[] = {with_id};
  RECSYS_ASSERT_OK(store->RecordEvents(id_events, kNoDeadline));
  EXPECT_EQ(command({"GET", p + "ev:{alice}:id:evt-1"}), "1");
  const int64_t ttl = std::stoll(command({"TTL", p + "ev:{alice}:id:evt-1"}));
  EXPECT_GT(ttl, 86400 - 60);
  EXPECT_LE(ttl, 86400);
  EXPECT_EQ(command({"EXISTS", p + "ev:{alice}:" + EventDedupKey(events[0])}), "1");
}

// A dedup marker lives for the window, then the same event applies again
// (its purchase stays one entry of the journal, keyed by the event).
TEST(RedisFeatureStoreTest, DedupMarkerExpiresAfterTheWindow) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  Options options = OptionsFor(*server);
  options.store.event_dedup_window = absl::Seconds(1);
  TestStore store = MustCreate(options);
  ASSERT_NE(store, nullptr);
  const std::string marker = options.store.key_prefix + "ev:{fred}:id:short";
  Event event = Purchase("fred", "a", T(20));
  event.event_id = "short";
  const Event batch[] = {event};
  RECSYS_ASSERT_OK_AND_ASSIGN(RecordOutcome outcome, store->RecordEvents(batch, kNoDeadline));
  EXPECT_EQ(outcome.applied, 1);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string ttl, server->Command({"TTL", marker}));
  EXPECT_EQ(ttl, "1");
  // Redis expires it; wait (bounded) until it is gone rather than sleeping a
  // fixed time.
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (server->Command({"EXISTS", marker}).value_or("") != "0" && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(server->Command({"EXISTS", marker}).value_or(""), "0");
  RECSYS_ASSERT_OK_AND_ASSIGN(outcome, store->RecordEvents(batch, kNoDeadline));
  EXPECT_EQ(outcome.applied, 1);
  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user, store->GetUser("fred", kNoDeadline));
  EXPECT_EQ(user.recent.size(), 2u);
  EXPECT_EQ(FindPurchase(user, "a")->count, 1);

  Options zero = OptionsFor(*server);
  zero.store.event_dedup_window = absl::Milliseconds(500);
  EXPECT_EQ(NewRedisFeatureStore(store.client.get(), zero.store).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The tester's fault: Redis paused (SIGSTOP) while a batch is in flight.
// The call fails (no answer before its deadline) but Redis applies the
// batch once it resumes; the caller retries the same batch as told, and
// every event is stored exactly once.
TEST(RedisFeatureStoreTest, BatchSentWhilePausedThenRetriedIsStoredOnce) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server, RedisServer::Start());
  Options options = OptionsFor(*server);
  TestStore store = MustCreate(options);
  ASSERT_NE(store, nullptr);
  const std::string p = options.store.key_prefix;
  // Loads the script and leaves a pooled connection.
  const Event warm[] = {View("warm", "a", T(1))};
  RECSYS_ASSERT_OK(store->RecordEvents(warm, kNoDeadline));

  std::vector<Event> batch;
  for (int i = 0; i < 20; ++i) {
    Event e = (i % 2 == 0) ? Purchase("gina", absl::StrCat("p", i), T(100 + i))
                           : View("gina", absl::StrCat("v", i), T(100 + i));
    e.event_id = absl::StrCat("gina-", i);
    batch.push_back(e);
  }
  RECSYS_ASSERT_OK(server->Suspend());
  absl::StatusOr<RecordOutcome> lost =
      store->RecordEvents(batch, absl::Now() + absl::Milliseconds(300));
  EXPECT_TRUE(absl::IsDeadlineExceeded(lost.status()) || absl::IsUnavailable(lost.status()))
      << lost.status();
  RECSYS_ASSERT_OK(server->Resume());
  // Redis reads the timed-out pipeline after it resumes and applies it:
  // "reported failed, but stored". Wait (bounded) until it has.
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (server->Command({"EXISTS", p + "ev:{gina}:id:gina-19"}).value_or("") != "1" &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(server->Command({"LLEN", p + "u:{gina}:act"}).value_or(""), "20");

  // The retry the error told the caller to make.
  RECSYS_ASSERT_OK_AND_ASSIGN(RecordOutcome retry, store->RecordEvents(batch, kNoDeadline));
  EXPECT_EQ(retry.applied, 0);
  EXPECT_EQ(retry.duplicates.size(), 20u);
  EXPECT_EQ(server->Command({"LLEN", p + "u:{gina}:act"}).value_or(""), "20");
  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user, store->GetUser("gina", kNoDeadline));
  ASSERT_EQ(user.purchases.size(), 10u);
  for (const PurchaseRecord& purchase : user.purchases) EXPECT_EQ(purchase.count, 1);
}

// A batch that never reached Redis (it was down) is applied by the retry.
TEST(RedisFeatureStoreTest, BatchRefusedWhileRedisIsDownIsAppliedByTheRetry) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server, RedisServer::Start());
  Options options = OptionsFor(*server);
  options.redis.reconnect_backoff = absl::Milliseconds(10);
  TestStore store = MustCreate(options);
  ASSERT_NE(store, nullptr);
  Event e = Purchase("hank", "a", T(5));
  e.event_id = "hank-1";
  const Event batch[] = {e};
  RECSYS_ASSERT_OK(server->Stop());
  EXPECT_TRUE(absl::IsUnavailable(store->RecordEvents(batch, kNoDeadline).status()));
  RECSYS_ASSERT_OK(server->Restart());
  // A stale pooled connection (if any) is replaced transparently: the
  // event pipeline is idempotent. Retries until the backoff has passed.
  absl::StatusOr<RecordOutcome> retry = store->RecordEvents(batch, kNoDeadline);
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (!retry.ok() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
    retry = store->RecordEvents(batch, kNoDeadline);
  }
  RECSYS_ASSERT_OK(retry.status());
  EXPECT_EQ(retry->applied, 1);
  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user, store->GetUser("hank", kNoDeadline));
  EXPECT_EQ(FindPurchase(user, "a")->count, 1);
}

TEST(RedisFeatureStoreTest, SelectsTheConfiguredDatabase) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  Options options = OptionsFor(*server);
  options.redis.db = 5;
  TestStore store = MustCreate(options);
  ASSERT_NE(store, nullptr);
  const Event events[] = {Purchase("alice", "sku-1", T(10))};
  RECSYS_ASSERT_OK(store->RecordEvents(events, kNoDeadline));
  RECSYS_ASSERT_OK(store->GetUser("alice", kNoDeadline).status());
  // The fixture's connections use db 0.
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::string exists,
      server->Command({"EXISTS", options.store.key_prefix + "u:{alice}:rp"}));
  EXPECT_EQ(exists, "0");
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string keyspace,
                              server->Command({"INFO", "keyspace"}));
  EXPECT_NE(keyspace.find("db5:keys="), std::string::npos) << keyspace;
}

TEST(RedisFeatureStoreTest, CorruptValuesAreSkipped) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  Options options = OptionsFor(*server);
  TestStore store = MustCreate(options);
  ASSERT_NE(store, nullptr);
  const std::string p = options.store.key_prefix;
  for (const std::vector<std::string>& argv :
       std::vector<std::vector<std::string>>{
           {"HSET", p + "u:{bob}:pc", "good", "2", "text", "abc", "zero", "0",
            "negative", "-3", "huge", "99999999999999999999"},
           {"HSET", p + "u:{bob}:pt", "good", "not-a-time", "text", "5"},
           {"RPUSH", p + "u:{bob}:act", "view|100|fine", "garbage", "view|abc|x",
            "nosuchtype|1|x", "view|5|", "|1|x", "click|101|pipe|in|id"},
           {"RPUSH", p + "u:{bob}:imp", "impression", "impression|7|shown"},
           {"HSET", p + "i:{broken}", "price", "cheap", "stock", "lots",
            "category", "c"},
       }) {
    RECSYS_ASSERT_OK(server->Command(argv).status());
  }

  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user,
                              store->GetUser("bob", kNoDeadline));
  ASSERT_EQ(user.purchases.size(), 1u);
  EXPECT_EQ(user.purchases[0].item_id, "good");
  EXPECT_EQ(user.purchases[0].count, 2);
  EXPECT_EQ(user.purchases[0].last_purchase, absl::InfinitePast());
  EXPECT_EQ(ItemIds(user.recent),
            (std::vector<std::string>{"fine", "pipe|in|id"}));
  EXPECT_EQ(ItemIds(user.impressions), (std::vector<std::string>{"shown"}));

  const std::string ids[] = {"broken"};
  RECSYS_ASSERT_OK_AND_ASSIGN(auto items, store->GetItems(ids, kNoDeadline));
  ASSERT_TRUE(items[0].has_value());
  EXPECT_EQ(items[0]->category, "c");
  EXPECT_EQ(items[0]->price, 0);
  EXPECT_EQ(items[0]->stock, -1);

  // A recorded purchase of an item whose bulk count is corrupt counts from
  // the journal alone, and a corrupt last-purchase time gives way to the
  // journal's.
  const Event events[] = {Purchase("bob", "text", T(1)),
                          Purchase("bob", "good", T(2))};
  RECSYS_ASSERT_OK(store->RecordEvents(events, kNoDeadline));
  RECSYS_ASSERT_OK_AND_ASSIGN(user, store->GetUser("bob", kNoDeadline));
  std::optional<PurchaseRecord> text = FindPurchase(user, "text");
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(text->count, 1);
  EXPECT_EQ(text->last_purchase, T(1));
  std::optional<PurchaseRecord> good = FindPurchase(user, "good");
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(good->count, 3);
  EXPECT_EQ(good->last_purchase, T(2));
}

TEST(RedisFeatureStoreTest, KeyOfWrongTypeIsNotACrash) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  Options options = OptionsFor(*server);
  TestStore store = MustCreate(options);
  ASSERT_NE(store, nullptr);
  const std::string p = options.store.key_prefix;
  RECSYS_ASSERT_OK(server->Command({"SET", p + "u:{cat}:pc", "x"}).status());
  RECSYS_ASSERT_OK(server->Command({"SET", p + "u:{cat}:rp", "x"}).status());
  RECSYS_ASSERT_OK(server->Command({"SET", p + "i:{odd}", "x"}).status());

  // The key exists, so the user is known, with nothing readable.
  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user,
                              store->GetUser("cat", kNoDeadline));
  EXPECT_TRUE(user.purchases.empty());
  const std::string ids[] = {"odd"};
  RECSYS_ASSERT_OK_AND_ASSIGN(auto items, store->GetItems(ids, kNoDeadline));
  EXPECT_FALSE(items[0].has_value());

  // Writing into it is a Redis error, reported as Internal.
  const Event events[] = {Purchase("cat", "a", T(1))};
  absl::Status status = store->RecordEvents(events, kNoDeadline).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  // The connection is still usable.
  RECSYS_EXPECT_OK(store->Ping(kNoDeadline));
}

// The purchase and catalog-change scripts run by SHA; after SCRIPT FLUSH
// (or a restart) they are loaded again, and each runs exactly once.
TEST(RedisFeatureStoreTest, ScriptsSurviveScriptFlush) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  Options options = OptionsFor(*server);
  TestStore store = MustCreate(options);
  ASSERT_NE(store, nullptr);
  const std::string p = options.store.key_prefix;
  const Event first[] = {Purchase("ann", "a", T(1))};
  RECSYS_ASSERT_OK(store->RecordEvents(first, kNoDeadline));
  const ItemFeatures items[] = {{.item_id = "a", .stock = 1}};
  RECSYS_ASSERT_OK(store->PutItems(items));

  RECSYS_ASSERT_OK(server->Command({"SCRIPT", "FLUSH"}).status());
  const Event again[] = {Purchase("ann", "a", T(2)), View("ann", "b", T(3)),
                         Purchase("ann", "a", T(4))};
  RECSYS_ASSERT_OK(store->RecordEvents(again, kNoDeadline));
  RECSYS_ASSERT_OK(store->PutItems(items));

  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user, store->GetUser("ann", kNoDeadline));
  std::optional<PurchaseRecord> a = FindPurchase(user, "a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->count, 3);
  EXPECT_EQ(a->last_purchase, T(4));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string version,
                              server->Command({"GET", p + "{catalog}:version"}));
  EXPECT_EQ(version, "2");
  EXPECT_EQ(store.client->GetStats().script_reloads, 2);
}

// ---------------------------------------------------------------------------
// Concurrency and bulk loads.

class RedisConcurrencyTest : public ::testing::TestWithParam<int> {};

TEST_P(RedisConcurrencyTest, ConcurrentPurchasesCountExactly) {
  const int pool_size = GetParam();
  // Own server, so that the connection count below is this store's alone.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              RedisServer::Start());
  Options options = OptionsFor(*server);
  options.redis.pool_size = pool_size;
  options.store.recent_limit = 50;
  TestStore store = MustCreate(options);
  ASSERT_NE(store, nullptr);

  constexpr int kThreads = 8;
  constexpr int kEventsPerThread = 200;
  std::vector<std::thread> threads;
  std::vector<absl::Status> errors(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEventsPerThread; ++i) {
        // Times interleave across threads; the maximum is thread 7's last.
        const absl::Time time = T(i * kThreads + t);
        const Event events[] = {
            Purchase("shared", "hot", time),
            Purchase("shared", absl::StrCat("own-", t), time)};
        absl::Status status = store->RecordEvents(events, kNoDeadline).status();
        if (!status.ok() && errors[t].ok()) errors[t] = status;
        if (i % 10 == 0) {
          status = store->GetUser("shared", kNoDeadline).status();
          if (!status.ok() && errors[t].ok()) errors[t] = status;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    RECSYS_EXPECT_OK(errors[t]) << "thread " << t;
  }

  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user,
                              store->GetUser("shared", kNoDeadline));
  std::optional<PurchaseRecord> hot = FindPurchase(user, "hot");
  ASSERT_TRUE(hot.has_value());
  EXPECT_EQ(hot->count, kThreads * kEventsPerThread);
  EXPECT_EQ(hot->last_purchase, T(kThreads * kEventsPerThread - 1));
  for (int t = 0; t < kThreads; ++t) {
    std::optional<PurchaseRecord> own =
        FindPurchase(user, absl::StrCat("own-", t));
    ASSERT_TRUE(own.has_value()) << t;
    EXPECT_EQ(own->count, kEventsPerThread);
    EXPECT_EQ(own->last_purchase, T((kEventsPerThread - 1) * kThreads + t));
  }
  EXPECT_EQ(user.recent.size(), 50u);

  // The pool never opened more than pool_size connections (plus the one the
  // fixture uses to ask).
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string info,
                              server->Command({"INFO", "clients"}));
  int64_t connected = -1;
  for (absl::string_view line : absl::StrSplit(info, '\n')) {
    if (absl::ConsumePrefix(&line, "connected_clients:")) {
      ASSERT_TRUE(absl::SimpleAtoi(line, &connected)) << line;
    }
  }
  EXPECT_GE(connected, 2);
  EXPECT_LE(connected, pool_size + 1);
}

INSTANTIATE_TEST_SUITE_P(PoolSizes, RedisConcurrencyTest,
                         ::testing::Values(2, 8),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return absl::StrCat("Pool", info.param);
                         });

TEST(RedisFeatureStoreTest, BulkPutUsers) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  Options options = OptionsFor(*server);
  TestStore store = MustCreate(options);
  ASSERT_NE(store, nullptr);

  constexpr int kUsers = 20000;
  std::vector<UserFeatures> users(kUsers);
  for (int u = 0; u < kUsers; ++u) {
    users[u].user_id = absl::StrCat("user-", u);
    for (int j = 0; j < 3; ++j) {
      users[u].purchases.push_back(
          {.item_id = absl::StrCat("item-", (u + j) % 997),
           .count = j + 1,
           .last_purchase = T(u + j)});
    }
  }
  RECSYS_ASSERT_OK(store->PutUsers(users));

  for (int u : {0, 1, kUsers / 2, kUsers - 1}) {
    RECSYS_ASSERT_OK_AND_ASSIGN(
        UserFeatures user,
        store->GetUser(absl::StrCat("user-", u), kNoDeadline));
    ASSERT_EQ(user.purchases.size(), 3u) << u;
    std::optional<PurchaseRecord> third =
        FindPurchase(user, absl::StrCat("item-", (u + 2) % 997));
    ASSERT_TRUE(third.has_value()) << u;
    EXPECT_EQ(third->count, 3);
    EXPECT_EQ(third->last_purchase, T(u + 2));
  }
}

// PutUsers on several lanes: a user given twice in one call (in different
// batches) keeps the later history, as with one lane, because a user's
// writes always take the lane of its id.
TEST(RedisFeatureStoreTest, BulkPutUsersOnLanesKeepsTheLastHistoryOfAUser) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  for (const int64_t generation : {0, 4}) {
    Options options = OptionsFor(*server);
    options.store.bulk_threads = 3;
    options.store.bulk_batch = 6;  // a few users per batch
    options.store.load_generation = generation;
    TestStore store = MustCreate(options);
    ASSERT_NE(store, nullptr);
    constexpr int kUsers = 200;
    std::vector<UserFeatures> users;
    for (int round = 0; round < 2; ++round) {
      for (int u = 0; u < kUsers; ++u) {
        users.push_back({.user_id = absl::StrCat("user-", u),
                         .purchases = {{.item_id = absl::StrCat("r", round),
                                        .count = round + 1,
                                        .last_purchase = T(u)}}});
      }
    }
    RECSYS_ASSERT_OK(store->PutUsers(users));
    RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<redis::Client> reader,
                                redis::Client::Create(options.redis));
    const std::string base =
        redis::GenerationKeyPrefix(options.store.key_prefix, generation);
    for (int u = 0; u < kUsers; ++u) {
      RECSYS_ASSERT_OK_AND_ASSIGN(
          std::vector<redis::Value> replies,
          reader->Execute(
              {{"HGETALL", absl::StrCat(base, "u:{user-", u, "}:pc")}},
              kNoDeadline));
      ASSERT_EQ(replies[0].elements.size(), 2u) << generation << " " << u;
      EXPECT_EQ(replies[0].elements[0].text, "r1") << generation << " " << u;
      EXPECT_EQ(replies[0].elements[1].text, "2") << generation << " " << u;
    }
  }
}

TEST(RedisFeatureStoreTest, BulkPutItemsAcrossBatches) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  Options options = OptionsFor(*server);
  options.store.bulk_batch = 7;  // Many small pipelines, one partial at the end.
  TestStore store = MustCreate(options);
  ASSERT_NE(store, nullptr);
  std::vector<ItemFeatures> items;
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    items.push_back({.item_id = absl::StrCat("sku-", i), .stock = i});
    ids.push_back(items.back().item_id);
  }
  RECSYS_ASSERT_OK(store->PutItems(items));
  RECSYS_ASSERT_OK_AND_ASSIGN(auto got, store->GetItems(ids, kNoDeadline));
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(got[i].has_value()) << i;
    EXPECT_EQ(got[i]->stock, i);
  }
}

// A load writes its generation without MULTI/EXEC (nobody reads it before
// the flip); the hashes must be the same bytes as generation 0's, written
// the transactional way: the same fields and values, the old fields of a
// replaced history gone, a cleared history's keys deleted. Small batches,
// so that users straddle pipelines.
void CheckLoadWritesTheSameHashesAsGenerationZero(redis::Client* client) {
  constexpr int64_t kGeneration = 5;
  const std::string prefix = test::UniqueKeyPrefix();
  RedisFeatureStoreOptions serving_options;
  serving_options.key_prefix = prefix;
  serving_options.bulk_batch = 4;
  RedisFeatureStoreOptions load_options = serving_options;
  load_options.load_generation = kGeneration;
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<FeatureStore> serving,
                              NewRedisFeatureStore(client, serving_options));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<FeatureStore> load,
                              NewRedisFeatureStore(client, load_options));

  const std::vector<std::string> ids = {"u0", "u1", "u2", "u 3\r\n{x}"};
  std::vector<UserFeatures> earlier(3);
  earlier[0] = {
      .user_id = ids[0],
      .purchases = {{.item_id = "a", .count = 1, .last_purchase = T(1)},
                    {.item_id = "b", .count = 4, .last_purchase = T(2)},
                    {.item_id = "c", .count = 1, .last_purchase = T(3)}}};
  earlier[1] = {
      .user_id = ids[1],
      .purchases = {{.item_id = "a", .count = 1, .last_purchase = T(1)}}};
  earlier[2] = {
      .user_id = ids[2],
      .purchases = {{.item_id = "x", .count = 9, .last_purchase = T(9)}}};
  std::vector<UserFeatures> later(4);
  later[0] = {
      .user_id = ids[0],
      .purchases = {
          {.item_id = "a", .count = 2, .last_purchase = T(5)},
          {.item_id = "b", .count = 1, .last_purchase = absl::InfinitePast()}}};
  later[1] = {
      .user_id = ids[1],
      .purchases = {{.item_id = "d", .count = 1, .last_purchase = T(6)},
                    {.item_id = "e\r\n", .count = 3, .last_purchase = T(7)}}};
  later[2] = {.user_id = ids[2]};  // history cleared
  later[3] = {
      .user_id = ids[3],
      .purchases = {{.item_id = "z", .count = 1, .last_purchase = T(8)}}};
  for (FeatureStore* store : {serving.get(), load.get()}) {
    RECSYS_ASSERT_OK(store->PutUsers(earlier));
    RECSYS_ASSERT_OK(store->PutUsers(later));
  }

  // HGETALL of `key` as sorted field/value pairs; empty for a missing key.
  auto hash = [&](const std::string& key) {
    std::vector<std::pair<std::string, std::string>> fields;
    absl::StatusOr<std::vector<redis::Value>> replies =
        client->Execute({{"HGETALL", key}}, kNoDeadline);
    EXPECT_TRUE(replies.ok()) << replies.status();
    if (!replies.ok()) return fields;
    const redis::Value& reply = (*replies)[0];
    for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
      fields.push_back({reply.elements[i].text, reply.elements[i + 1].text});
    }
    std::sort(fields.begin(), fields.end());
    return fields;
  };
  using Fields = std::vector<std::pair<std::string, std::string>>;
  const std::string load_prefix =
      redis::GenerationKeyPrefix(prefix, kGeneration);
  for (const std::string& id : ids) {
    for (const char* suffix : {"pc", "pt"}) {
      const std::string key = absl::StrCat("u:{", id, "}:", suffix);
      EXPECT_EQ(hash(load_prefix + key), hash(prefix + key)) << key;
    }
  }
  // What both hold, so that the comparison above cannot pass on two empty
  // keyspaces.
  EXPECT_EQ(hash(load_prefix + "u:{u0}:pc"), (Fields{{"a", "2"}, {"b", "1"}}));
  EXPECT_EQ(hash(load_prefix + "u:{u0}:pt"),
            (Fields{{"a", absl::StrCat(absl::ToUnixSeconds(T(5)))}}));
  EXPECT_EQ(hash(load_prefix + "u:{u1}:pc"),
            (Fields{{"d", "1"}, {"e\r\n", "3"}}));
  EXPECT_EQ(hash(load_prefix + "u:{u2}:pc"), Fields{});
  EXPECT_EQ(hash(load_prefix + "u:{u2}:pt"), Fields{});
  EXPECT_EQ(hash(load_prefix + "u:{u 3\r\n{x}}:pc"), (Fields{{"z", "1"}}));
}

TEST(RedisFeatureStoreTest, LoadWritesTheSameHashesAsGenerationZero) {
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::Client * client,
                              test::SharedRedisClient());
  CheckLoadWritesTheSameHashesAsGenerationZero(client);
}

// The same on a three-master cluster (ctest label `cluster`).
TEST(RedisClusterFeatureStoreTest, LoadWritesTheSameHashesAsGenerationZero) {
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::Client * client,
                              test::SharedRedisClusterClient());
  CheckLoadWritesTheSameHashesAsGenerationZero(client);
}

}  // namespace
}  // namespace recsys::feature_store
