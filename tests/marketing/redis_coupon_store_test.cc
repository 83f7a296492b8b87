// Tests of the Redis coupon store beyond the contract suite in
// coupon_store_test.cc: the key schema of docs/redis_keys.md, a dead or
// restarted Redis, corrupt data, data written by earlier versions, and a
// Redis Cluster master killed during redemptions (label cluster).
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "feature_store/redis_feature_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "marketing/coupon_store.h"
#include "marketing/coupons.h"
#include "marketing/marketing_proto.h"
#include "marketing/segment_store.h"
#include "recsys/v1/marketing.pb.h"
#include "redis/slot.h"
#include "tests/marketing/test_util.h"
#include "tests/testing/redis_cluster.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"

namespace recsys::marketing {
namespace {

using recsys::testing::RedisServer;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1700000000;
constexpr absl::Time kDeadline = absl::InfiniteFuture();

CouponCatalog OneCoupon() {
  CouponCatalog catalog;
  Coupon* c = &catalog.coupons.emplace_back();
  c->id = "C1";
  c->type = CouponType::kPercentOff;
  c->percent_off = 12.5;
  c->max_discount = 20;
  c->budget_count = 10;
  c->budget_money = 99.5;
  c->per_user_cap = 2;
  c->valid_from_unix = kNow - 10;
  c->valid_until_unix = kNow + 10;
  c->campaign = "spring";
  return catalog;
}

// The budget or the user's cap said no.
bool IsRefused(const absl::Status& status) {
  return status.code() == absl::StatusCode::kResourceExhausted ||
         status.code() == absl::StatusCode::kFailedPrecondition;
}

bool IsUnavailableOrDeadline(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded;
}

TEST(RedisCouponStoreTest, KeySchemaMatchesDocumentation) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::Client * client, test::SharedRedisClient());
  const std::string p = test::UniqueKeyPrefix();
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<CouponStore> store,
                              NewRedisCouponStore(client, {.key_prefix = p}));
  RECSYS_ASSERT_OK(store->PutCoupons(OneCoupon(), kDeadline));
  RECSYS_ASSERT_OK(
      store->Issue("user:1", "C1", absl::FromUnixSeconds(kNow), kDeadline));
  RECSYS_ASSERT_OK(store->Redeem("user:1", "C1", 80,
                                 absl::FromUnixSeconds(kNow), kDeadline));

  auto cmd = [&](std::vector<std::string> argv) {
    absl::StatusOr<std::string> r = server->Command(argv);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : "";
  };
  EXPECT_EQ(cmd({"TYPE", p + "{coupons}"}), "set");
  EXPECT_EQ(cmd({"SMEMBERS", p + "{coupons}"}), "C1");
  const std::string coupon = p + "{coupons}:coupon:C1";
  EXPECT_EQ(cmd({"TYPE", coupon}), "hash");
  EXPECT_EQ(cmd({"HMGET", coupon, "type", "amount_cents", "percent",
                 "threshold_cents", "max_cents", "from", "until",
                 "budget_count", "budget_cents", "cap", "campaign", "issued",
                 "redeemed", "spent_cents"}),
            absl::StrCat("2\n0\n12.5\n0\n2000\n", kNow - 10, "\n", kNow + 10,
                         "\n10\n9950\n2\nspring\n1\n1\n1000"));
  EXPECT_EQ(cmd({"HEXISTS", coupon, "def"}), "1");
  EXPECT_EQ(cmd({"HLEN", coupon}), "15");
  const std::string counts = p + "{coupons}:u:user:1:cpn";
  EXPECT_EQ(cmd({"HGETALL", counts}), "i:C1\n1\nr:C1\n1");
  const std::string contacts = p + "{coupons}:u:user:1:contact";
  EXPECT_EQ(cmd({"HGETALL", contacts}), absl::StrCat("spring\n", kNow));
  // Nothing else under the prefix.
  EXPECT_EQ(cmd({"EVAL", "return #redis.call('KEYS', ARGV[1])", "0", p + "*"}),
            "4");
  // Deleting leaves a tombstone: the id in {p}{coupons}:deleted.
  RECSYS_ASSERT_OK(store->DeleteCoupon("C1", kDeadline));
  EXPECT_EQ(cmd({"EXISTS", coupon}), "0");
  EXPECT_EQ(cmd({"TYPE", p + "{coupons}:deleted"}), "set");
  EXPECT_EQ(cmd({"SMEMBERS", p + "{coupons}:deleted"}), "C1");
}

TEST(RedisCouponStoreTest, DeadRedisIsUnavailable) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<recsys::testing::RefusingPort> dead,
                              recsys::testing::RefusingPort::Open());
  const int port = dead->port();
  redis::Options options;
  options.port = port;
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<redis::Client> client,
                              redis::Client::Create(options));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<CouponStore> store,
                              NewRedisCouponStore(client.get()));
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  const absl::Time t = absl::FromUnixSeconds(kNow);
  const std::vector<std::string> ids = {"C1"};
  EXPECT_EQ(store->PutCoupons(OneCoupon(), deadline).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->ListCoupons(deadline).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->DeleteCoupon("C1", deadline).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->GetUserCounts("u1", ids, deadline).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->LastContacts("spring", ids, deadline).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->Issue("u1", "C1", t, deadline).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->Redeem("u1", "C1", 10, t, deadline).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->Ping(deadline).code(), absl::StatusCode::kUnavailable);
}

TEST(RedisCouponStoreTest, RecoversAfterRestart) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              RedisServer::Start());
  redis::Options options = test::OptionsFor(*server);
  options.reconnect_backoff = absl::Milliseconds(50);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<redis::Client> client,
                              redis::Client::Create(options));
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<CouponStore> store,
      NewRedisCouponStore(client.get(), {.key_prefix = test::UniqueKeyPrefix()}));
  RECSYS_ASSERT_OK(store->PutCoupons(OneCoupon(), kDeadline));
  RECSYS_ASSERT_OK(server->Stop());
  const absl::Status down =
      store->Issue("u1", "C1", absl::FromUnixSeconds(kNow), kDeadline).status();
  EXPECT_TRUE(IsUnavailableOrDeadline(down)) << down;
  RECSYS_ASSERT_OK(server->Restart());
  // Back, empty (nothing is persisted): the coupon is unknown now.
  absl::Status status;
  for (int i = 0; i < 100; ++i) {
    status = store->Issue("u1", "C1", absl::FromUnixSeconds(kNow), kDeadline)
                 .status();
    if (!IsUnavailableOrDeadline(status)) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
}

// The tester's fault: a redemption sent while Redis is paused (SIGSTOP)
// fails, Redis applies it when it resumes, and the retry with the same op
// id answers success (already applied) instead of "refused"; the budget is
// spent once.
TEST(RedisCouponStoreTest, RedemptionRetriedAfterAPauseSpendsTheBudgetOnce) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server, RedisServer::Start());
  redis::Options options = test::OptionsFor(*server);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<redis::Client> client,
                              redis::Client::Create(options));
  const std::string p = test::UniqueKeyPrefix();
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<CouponStore> store,
      NewRedisCouponStore(client.get(),
                          {.key_prefix = p, .coupons = {.op_dedup_window = absl::Seconds(600)}}));
  CouponCatalog catalog = OneCoupon();
  catalog.coupons[0].budget_count = 1;  // a second redemption would be refused
  RECSYS_ASSERT_OK(store->PutCoupons(catalog, kDeadline));
  const absl::Time t = absl::FromUnixSeconds(kNow);
  RECSYS_ASSERT_OK(store->IssueOnce("u1", "C1", t, "id:issue-1", kDeadline));
  // Loads the redeem script before the pause.
  EXPECT_EQ(store->RedeemOnce("u2", "C1", 80, t, "id:warm", kDeadline).status().code(),
            absl::StatusCode::kFailedPrecondition);

  RECSYS_ASSERT_OK(server->Suspend());
  const absl::Status lost =
      store->RedeemOnce("u1", "C1", 80, t, "id:order-7", absl::Now() + absl::Milliseconds(300))
          .status();
  EXPECT_TRUE(IsUnavailableOrDeadline(lost)) << lost;
  RECSYS_ASSERT_OK(server->Resume());
  const std::string marker = p + "{coupons}:op:id:order-7";
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (server->Command({"EXISTS", marker}).value_or("") != "1" && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  // Applied although reported failed; the marker holds the discount in
  // cents and lives for the window.
  ASSERT_EQ(server->Command({"GET", marker}).value_or(""), "1000");
  const int64_t ttl = std::stoll(server->Command({"TTL", marker}).value_or("0"));
  EXPECT_GT(ttl, 500);
  EXPECT_LE(ttl, 600);

  RECSYS_ASSERT_OK_AND_ASSIGN(RedeemResult retry,
                              store->RedeemOnce("u1", "C1", 80, t, "id:order-7", kDeadline));
  EXPECT_TRUE(retry.duplicate);
  EXPECT_DOUBLE_EQ(retry.discount, 10);
  EXPECT_EQ(server->Command({"HMGET", p + "{coupons}:coupon:C1", "redeemed", "spent_cents"}).value_or(""),
            "1\n1000");
  EXPECT_EQ(server->Command({"HGET", p + "{coupons}:u:u1:cpn", "r:C1"}).value_or(""), "1");
}

TEST(RedisCouponStoreTest, CorruptDefinitionIsDataLoss) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::Client * client, test::SharedRedisClient());
  const std::string p = test::UniqueKeyPrefix();
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<CouponStore> store,
                              NewRedisCouponStore(client, {.key_prefix = p}));
  RECSYS_ASSERT_OK(store->PutCoupons(OneCoupon(), kDeadline));
  RECSYS_ASSERT_OK(server
                       ->Command({"HSET", p + "{coupons}:coupon:C1",
                                  "def", "\xff\xff\xff"})
                       .status());
  absl::StatusOr<std::vector<CouponWithState>> all =
      store->ListCoupons(kDeadline);
  EXPECT_EQ(all.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(all.status().message()), HasSubstr("C1"));
  // An id in the set without a hash (deleted by hand) is skipped.
  RECSYS_ASSERT_OK(
      server->Command({"DEL", p + "{coupons}:coupon:C1"}).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<CouponWithState> none,
                              store->ListCoupons(kDeadline));
  EXPECT_TRUE(none.empty());
}

// Coupons as the store wrote them when its API took recsys.v1 messages: the
// proto's serialization under "def", the script fields next to it. Written
// here by hand (binary-safe, through the client), not through the store.
TEST(RedisCouponStoreTest, ReadsCouponsWrittenAsProtoByEarlierVersions) {
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::Client * client, test::SharedRedisClient());
  const std::string p = test::UniqueKeyPrefix();
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<CouponStore> store,
                              NewRedisCouponStore(client, {.key_prefix = p}));

  recsys::v1::Coupon old;
  old.set_id("OLD15");
  old.set_type(recsys::v1::COUPON_PERCENT_OFF);
  old.set_percent_off(15);
  old.set_max_discount(25);
  old.mutable_scope()->set_kind(recsys::v1::CouponScope::SCOPE_CATEGORIES);
  old.mutable_scope()->add_categories("coffee_tea");
  old.mutable_eligibility()->add_segments("dormant");
  old.mutable_eligibility()->add_tiers("gold");
  old.set_valid_from_unix(kNow - 10);
  old.set_valid_until_unix(kNow + 10);
  old.set_budget_count(10);
  old.set_budget_money(99.5);
  old.set_per_user_cap(2);
  old.set_campaign("win_back");
  old.set_description("15% off coffee");
  std::string def;
  ASSERT_TRUE(old.SerializeToString(&def));
  const std::string key = p + "{coupons}:coupon:OLD15";
  const redis::Command write[] = {
      {"SADD", p + "{coupons}", "OLD15"},
      {"HSET", key, "def", def, "type", "2", "amount_cents", "0", "percent",
       "15", "threshold_cents", "0", "max_cents", "2500", "from",
       absl::StrCat(kNow - 10), "until", absl::StrCat(kNow + 10),
       "budget_count", "10", "budget_cents", "9950", "cap", "2", "campaign",
       "win_back", "issued", "3", "redeemed", "1", "spent_cents", "450"}};
  RECSYS_ASSERT_OK(client->Execute(write, kDeadline).status());

  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<CouponWithState> all,
                              store->ListCoupons(kDeadline));
  ASSERT_EQ(all.size(), 1u);
  const Coupon& c = all[0].coupon;
  EXPECT_EQ(c, FromProto(old));
  EXPECT_EQ(c.id, "OLD15");
  EXPECT_EQ(c.type, CouponType::kPercentOff);
  EXPECT_EQ(c.percent_off, 15);
  EXPECT_EQ(c.max_discount, 25);
  EXPECT_EQ(c.scope.kind, CouponScope::Kind::kCategories);
  EXPECT_THAT(c.scope.categories, ::testing::ElementsAre("coffee_tea"));
  EXPECT_THAT(c.eligibility.segments, ::testing::ElementsAre("dormant"));
  EXPECT_THAT(c.eligibility.tiers, ::testing::ElementsAre("gold"));
  EXPECT_EQ(c.valid_from_unix, kNow - 10);
  EXPECT_EQ(c.valid_until_unix, kNow + 10);
  EXPECT_EQ(c.budget_count, 10);
  EXPECT_EQ(c.budget_money, 99.5);
  EXPECT_EQ(c.per_user_cap, 2);
  EXPECT_EQ(c.campaign, "win_back");
  EXPECT_EQ(c.description, "15% off coffee");
  EXPECT_EQ(all[0].state.issued, 3);
  EXPECT_EQ(all[0].state.redeemed, 1);
  EXPECT_DOUBLE_EQ(all[0].state.discount_spent, 4.5);
  EXPECT_EQ(all[0].state.remaining_count, 9);
  EXPECT_DOUBLE_EQ(all[0].state.remaining_money, 95);
  // The scripts use it as before.
  RECSYS_ASSERT_OK(
      store->Issue("u1", "OLD15", absl::FromUnixSeconds(kNow), kDeadline));
  RECSYS_ASSERT_OK_AND_ASSIGN(
      double discount,
      store->Redeem("u1", "OLD15", 40, absl::FromUnixSeconds(kNow), kDeadline));
  EXPECT_DOUBLE_EQ(discount, 6);

  // Writing the same coupon now stores the same bytes as before, and keeps
  // the state.
  RECSYS_ASSERT_OK(store->PutCoupons({.coupons = {c}}, kDeadline));
  const redis::Command read[] = {{"HGET", key, "def"}};
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<redis::Value> stored,
                              client->Execute(read, kDeadline));
  EXPECT_EQ(stored[0].text, def);
  RECSYS_ASSERT_OK_AND_ASSIGN(all, store->ListCoupons(kDeadline));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].state.redeemed, 2);
}

TEST(RedisCouponStoreTest, CorruptCountersAreInternalErrors) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::Client * client, test::SharedRedisClient());
  const std::string p = test::UniqueKeyPrefix();
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<CouponStore> store,
                              NewRedisCouponStore(client, {.key_prefix = p}));
  RECSYS_ASSERT_OK(store->PutCoupons(OneCoupon(), kDeadline));
  // The user's counts key holds a string instead of a hash.
  RECSYS_ASSERT_OK(
      server->Command({"SET", p + "{coupons}:u:u1:cpn", "x"}).status());
  const absl::Status s =
      store->Issue("u1", "C1", absl::FromUnixSeconds(kNow), kDeadline).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
  const std::vector<std::string> ids = {"C1"};
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<UserCouponCounts> counts,
                              store->GetUserCounts("u1", ids, kDeadline));
  EXPECT_EQ(counts[0].issued, 0);
}

TEST(RedisCouponStoreTest, ScriptsSurviveScriptFlush) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::Client * client, test::SharedRedisClient());
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<CouponStore> store,
      NewRedisCouponStore(client, {.key_prefix = test::UniqueKeyPrefix()}));
  RECSYS_ASSERT_OK(store->PutCoupons(OneCoupon(), kDeadline));
  const absl::Time t = absl::FromUnixSeconds(kNow);
  RECSYS_ASSERT_OK_AND_ASSIGN(int64_t issued, store->Issue("u1", "C1", t, kDeadline));
  EXPECT_EQ(issued, 1);
  // Redis forgets every script; the store's EVALSHA meets NOSCRIPT and is
  // run again after loading the script.
  RECSYS_ASSERT_OK(server->Command({"SCRIPT", "FLUSH"}).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(issued, store->Issue("u1", "C1", t, kDeadline));
  EXPECT_EQ(issued, 2);
  RECSYS_ASSERT_OK(server->Command({"SCRIPT", "FLUSH"}).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(double discount,
                              store->Redeem("u1", "C1", 80, t, kDeadline));
  EXPECT_DOUBLE_EQ(discount, 10);
}

// The server's stores share one pool: however busy, the feature, coupon and
// segment stores together never open more than pool_size connections.
TEST(RedisStoresTest, ShareOnePoolWithinItsSize) {
  // Own server, so that the connections counted are this pool's alone.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              RedisServer::Start());
  redis::Options options = test::OptionsFor(*server);
  options.pool_size = 3;
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<redis::Client> client,
                              redis::Client::Create(options));
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<feature_store::FeatureStore> features,
      feature_store::NewRedisFeatureStore(client.get()));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<CouponStore> coupons,
                              NewRedisCouponStore(client.get()));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<SegmentStore> segments,
                              NewRedisSegmentStore(client.get()));
  CouponCatalog catalog = OneCoupon();
  catalog.coupons[0].per_user_cap = 0;
  catalog.coupons[0].budget_count = 0;
  catalog.coupons[0].budget_money = 0;
  RECSYS_ASSERT_OK(coupons->PutCoupons(catalog, kDeadline));
  const absl::Time t = absl::FromUnixSeconds(kNow);
  std::vector<std::thread> threads;
  for (int th = 0; th < 9; ++th) {
    threads.emplace_back([&, th] {
      for (int i = 0; i < 30; ++i) {
        const std::string user = absl::StrCat("u", th, "-", i);
        absl::Status status;
        switch (th % 3) {
          case 0: {
            feature_store::Event event;
            event.type = feature_store::EventType::kPurchase;
            event.user_id = user;
            event.item_id = "sku";
            event.time = t;
            const feature_store::Event events[] = {event};
            status = features->RecordEvents(events, kDeadline).status();
            if (status.ok()) status = features->GetUser(user, kDeadline).status();
            break;
          }
          case 1:
            status = coupons->Issue(user, "C1", t, kDeadline).status();
            break;
          default: {
            UserSegment u;
            u.user_id = user;
            status = segments->PutSegments({u});
            if (status.ok()) status = segments->GetSegment(user, kDeadline).status();
            break;
          }
        }
        EXPECT_TRUE(status.ok()) << status;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_LE(client->GetStats().open_connections, 3);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string list, server->Command({"CLIENT", "LIST"}));
  int connections = 0;
  for (absl::string_view line : absl::StrSplit(list, '\n')) {
    if (absl::StartsWith(line, "id=")) ++connections;
  }
  EXPECT_GE(connections, 2);
  EXPECT_LE(connections, 3 + 1);  // the pool, plus the connection asking
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string issued,
                              server->Command({"HGET", "rs:{coupons}:coupon:C1", "issued"}));
  EXPECT_EQ(issued, "90");
}

// The master holding the coupons' slot is killed while users are issued
// and redeem a coupon with a budget of 20. Every operation carries an op id
// and is retried with it until it gets a definite answer, as RecordEvents
// callers do; the store waits for a replica's acknowledgement
// (replica_acks = 1). The budget is granted exactly 20 times, and each
// acknowledged redemption is still counted after the replica took over.
// (The promoted replica has no replica of its own, so each operation after
// the failover waits replica_ack_timeout, answers UNAVAILABLE, and its retry
// finds it applied: a duplicate, reported done.)
TEST(CouponFailoverOnRedisClusterTest,
     MasterKilledDuringRedemptionsNeverOverspends) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<recsys::testing::RedisCluster> cluster,
      recsys::testing::RedisCluster::Start({.replicas_per_master = 1}));
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::Options options,
                              redis::ParseAddress(cluster->url()));
  options.connect_timeout = absl::Seconds(1);
  options.default_timeout = absl::Seconds(2);
  options.reconnect_backoff = absl::Milliseconds(100);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<redis::Client> client,
                              redis::Client::Create(options));
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<CouponStore> store,
      NewRedisCouponStore(client.get(),
                          {.key_prefix = "f:",
                           .replica_acks = 1,
                           .replica_ack_timeout = absl::Milliseconds(100)}));
  CouponCatalog catalog;
  Coupon* c = &catalog.coupons.emplace_back();
  c->id = "C1";
  c->type = CouponType::kAmountOff;
  c->amount_off = 1;
  c->budget_count = 20;
  RECSYS_ASSERT_OK(store->PutCoupons(catalog, absl::Now() + absl::Seconds(10)));

  // One user after the other: issue, then redeem, each retried with its id.
  std::atomic<int> redeemed{0};
  std::atomic<int> refused{0};
  std::atomic<int> retries{0};
  std::atomic<int> done{0};
  std::vector<std::string> unexpected;
  std::thread shoppers([&] {
    for (int i = 0; i < 40; ++i) {
      const std::string user = absl::StrCat("u", i);
      const absl::Time give_up = absl::Now() + absl::Seconds(60);
      absl::Status status;
      bool issued = false;
      while (absl::Now() < give_up) {
        status = store
                     ->IssueOnce(user, "C1", absl::FromUnixSeconds(kNow),
                                 absl::StrCat("issue-", i),
                                 absl::Now() + absl::Seconds(2))
                     .status();
        if (!IsUnavailableOrDeadline(status)) break;
        ++retries;
        absl::SleepFor(absl::Milliseconds(20));
      }
      if (status.ok()) {
        issued = true;
      } else if (!IsRefused(status)) {
        unexpected.push_back(status.ToString());
      } else {
        ++refused;
      }
      while (issued && absl::Now() < give_up) {
        status = store
                     ->RedeemOnce(user, "C1", 10, absl::FromUnixSeconds(kNow),
                                  absl::StrCat("redeem-", i),
                                  absl::Now() + absl::Seconds(2))
                     .status();
        if (!IsUnavailableOrDeadline(status)) break;
        ++retries;
        absl::SleepFor(absl::Milliseconds(20));
      }
      if (issued && status.ok()) {
        ++redeemed;
      } else if (issued && IsRefused(status)) {
        ++refused;
      } else if (issued) {
        unexpected.push_back(status.ToString());
      }
      ++done;
    }
  });
  while (done < 8) absl::SleepFor(absl::Milliseconds(1));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string master,
                              cluster->MasterOf(redis::KeySlot("{coupons}")));
  ASSERT_NE(cluster->NodeAt(master), nullptr);
  RECSYS_ASSERT_OK(cluster->NodeAt(master)->Stop());
  shoppers.join();
  EXPECT_THAT(unexpected, ::testing::IsEmpty());
  EXPECT_EQ(redeemed, 20);
  EXPECT_EQ(redeemed + refused, 40);
  // The shoppers may all be done before the kill lands, and then nothing
  // has waited for the replica's promotion yet: read as they wrote, retried
  // while the node is unavailable.
  absl::StatusOr<std::vector<CouponWithState>> listed;
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  do {
    listed = store->ListCoupons(absl::Now() + absl::Seconds(2));
    if (!IsUnavailableOrDeadline(listed.status())) break;
    absl::SleepFor(absl::Milliseconds(20));
  } while (absl::Now() < give_up);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<CouponWithState> coupons,
                              std::move(listed));
  ASSERT_EQ(coupons.size(), 1u);
  EXPECT_EQ(coupons[0].state.redeemed, 20);
  EXPECT_DOUBLE_EQ(coupons[0].state.discount_spent, 20);
  EXPECT_EQ(coupons[0].state.remaining_count, 0);
}

}  // namespace
}  // namespace recsys::marketing
