// Moving a live deployment's Redis to a Redis Cluster (docs/scaling.md,
// "Moving to a cluster"), on real processes: a redis-server filled through
// the real stores (purchase histories, activity, event markers with their
// expiry, items, segments, a coupon with an issuance and a redemption, ids
// holding `}`, NUL and `:`), copied by redis::MigrateKeys and by the real
// `recsys_cli redis-migrate` into a three-master cluster
// (tests/testing/redis_cluster.h). Label `cluster`.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "feature_store/feature_store.h"
#include "feature_store/redis_feature_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "marketing/coupon.h"
#include "marketing/coupon_store.h"
#include "marketing/segment_store.h"
#include "marketing/segments.h"
#include "redis/client.h"
#include "redis/migrate.h"
#include "redis/scan.h"
#include "tests/testing/child_process.h"
#include "tests/testing/redis_cluster.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"

namespace recsys {
namespace {

using feature_store::Event;
using feature_store::EventType;
using feature_store::FeatureStore;
using feature_store::UserFeatures;
using marketing::CouponStore;
using recsys::testing::RedisCluster;
using recsys::testing::RedisServer;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1700000000;

absl::Time Deadline() { return absl::Now() + absl::Seconds(20); }

// Users whose ids hold the bytes keys must survive: a brace (the hash tag
// ends early), a NUL, a colon.
std::vector<std::string> UserIds() {
  std::vector<std::string> ids = {"u}1", std::string("u\0nul", 5), "a:b:c"};
  for (int i = 0; i < 20; ++i) ids.push_back(absl::StrCat("user", i));
  return ids;
}

// Users of the coupon operations (the coupon and segment stores take ids
// without control characters).
const std::vector<std::string> kCouponUsers = {"u}1", "a:b:c", "user0"};

marketing::CouponCatalog OneCoupon() {
  marketing::CouponCatalog catalog;
  marketing::Coupon* c = &catalog.coupons.emplace_back();
  c->id = "C1";
  c->type = marketing::CouponType::kPercentOff;
  c->percent_off = 10;
  c->max_discount = 20;
  c->budget_count = 100;
  c->budget_money = 500;
  c->per_user_cap = 3;
  c->valid_from_unix = kNow - 1000;
  c->valid_until_unix = kNow + 1000;
  c->campaign = "spring";
  return catalog;
}

// The stores of one deployment on one Redis client.
struct Stores {
  std::unique_ptr<FeatureStore> features;
  std::unique_ptr<CouponStore> coupons;
  std::unique_ptr<marketing::SegmentStore> segments;
};

absl::StatusOr<Stores> OpenStores(redis::Client* client) {
  Stores stores;
  RECSYS_ASSIGN_OR_RETURN(stores.features,
                          feature_store::NewRedisFeatureStore(client));
  RECSYS_ASSIGN_OR_RETURN(stores.coupons,
                          marketing::NewRedisCouponStore(client));
  RECSYS_ASSIGN_OR_RETURN(stores.segments,
                          marketing::NewRedisSegmentStore(client));
  return stores;
}

// A user's features in a comparable form.
std::string Describe(const UserFeatures& user) {
  std::vector<std::string> parts;
  for (const auto& p : user.purchases) {
    parts.push_back(absl::StrCat("p ", absl::CEscape(p.item_id), " ", p.count,
                                 " ", absl::FormatTime(p.last_purchase)));
  }
  std::sort(parts.begin(), parts.end());
  for (const auto& a : user.recent) {
    parts.push_back(absl::StrCat("r ", absl::CEscape(a.item_id), " ",
                                 static_cast<int>(a.type), " ",
                                 absl::FormatTime(a.time)));
  }
  for (const auto& a : user.impressions) {
    parts.push_back(absl::StrCat("i ", absl::CEscape(a.item_id), " ",
                                 absl::FormatTime(a.time)));
  }
  return absl::StrJoin(parts, "; ");
}

class RedisMigrateClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<RedisCluster*> cluster =
        recsys::testing::SharedRedisCluster();
    start_status_ = new absl::Status(cluster.status());
    if (cluster.ok()) cluster_ = *cluster;
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
    if (!server.ok()) {
      *start_status_ = server.status();
    } else {
      server_ = server->release();
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    delete start_status_;
  }

  void SetUp() override {
    ASSERT_TRUE(start_status_->ok()) << *start_status_;
    RECSYS_ASSERT_OK(cluster_->WaitHealthy(absl::Seconds(30)));
    RECSYS_ASSERT_OK(cluster_->OnEveryMaster({"FLUSHALL"}));
    RECSYS_ASSERT_OK(server_->FlushAll());
    redis::Options single;
    single.host = server_->host();
    single.port = server_->port();
    single.connect_timeout = absl::Seconds(5);
    single.default_timeout = absl::Seconds(20);
    RECSYS_ASSERT_OK_AND_ASSIGN(source_, redis::Client::Create(single));
    RECSYS_ASSERT_OK_AND_ASSIGN(redis::Options options,
                                redis::ParseAddress(cluster_->url()));
    options.connect_timeout = absl::Seconds(5);
    options.default_timeout = absl::Seconds(20);
    RECSYS_ASSERT_OK_AND_ASSIGN(target_, redis::Client::Create(options));
    RECSYS_ASSERT_OK_AND_ASSIGN(from_, OpenStores(source_.get()));
    RECSYS_ASSERT_OK_AND_ASSIGN(to_, OpenStores(target_.get()));
  }

  // Fills the single Redis through the stores.
  void Fill() {
    std::vector<UserFeatures> users;
    std::vector<Event> events;
    std::vector<marketing::UserSegment> segments;
    int i = 0;
    for (const std::string& id : UserIds()) {
      UserFeatures& u = users.emplace_back();
      u.user_id = id;
      u.purchases.push_back({.item_id = absl::StrCat("item", i % 7),
                             .count = 1 + i % 3,
                             .last_purchase = absl::FromUnixSeconds(kNow - i)});
      u.purchases.push_back({.item_id = "it}em:\n",
                             .count = 2,
                             .last_purchase = absl::FromUnixSeconds(kNow)});
      Event view;
      view.type = EventType::kView;
      view.user_id = id;
      view.item_id = absl::StrCat("item", i % 5);
      view.time = absl::FromUnixSeconds(kNow + i);
      view.event_id = absl::StrCat("view-", i);
      events.push_back(view);
      Event buy = view;
      buy.type = EventType::kPurchase;
      buy.price = 3.5;
      buy.event_id = absl::StrCat("buy-", i);
      events.push_back(buy);
      // The segment store takes only ids without control characters.
      if (id.find('\0') == std::string::npos) {
        marketing::UserSegment& s = segments.emplace_back();
        s.user_id = id;
        s.as_of_unix = kNow;
        s.frequency = 1 + i;
        s.monetary = 10.5 * (i + 1);
      }
      ++i;
    }
    RECSYS_ASSERT_OK(from_.features->PutUsers(users));
    RECSYS_ASSERT_OK(from_.features->RecordEvents(events, Deadline()).status());
    RECSYS_ASSERT_OK(from_.features->PutItems(
        {{.item_id = "item1", .category = "tea", .price = 2.5, .stock = 4}}));
    RECSYS_ASSERT_OK(from_.segments->PutSegments(segments));
    RECSYS_ASSERT_OK(from_.coupons->PutCoupons(OneCoupon(), Deadline()));
    for (int k = 0; k < 3; ++k) {
      const std::string& user = kCouponUsers[k];
      RECSYS_ASSERT_OK(from_.coupons
                           ->IssueOnce(user, "C1", absl::FromUnixSeconds(kNow),
                                       absl::StrCat("issue-", k), Deadline())
                           .status());
    }
    RECSYS_ASSERT_OK(from_.coupons
                         ->RedeemOnce(kCouponUsers[1], "C1", 80,
                                      absl::FromUnixSeconds(kNow), "redeem-1",
                                      Deadline())
                         .status());
  }

  // Every key of `client` (binary-safe: SCAN, not redis-cli).
  static std::vector<std::string> Keys(const redis::Client& client) {
    std::vector<std::string> keys;
    absl::StatusOr<std::vector<std::string>> nodes =
        client.DataNodes(Deadline());
    EXPECT_TRUE(nodes.ok()) << nodes.status();
    if (!nodes.ok()) return keys;
    for (const std::string& node : *nodes) {
      absl::Status status =
          redis::ScanNode(client, node, "*", 1000, absl::Seconds(10),
                          [&](std::vector<std::string> batch) {
                            keys.insert(keys.end(), batch.begin(), batch.end());
                            return absl::OkStatus();
                          });
      EXPECT_TRUE(status.ok()) << status;
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  static int64_t Pttl(const redis::Client& client, const std::string& key) {
    const redis::Command pttl = {"PTTL", key};
    absl::StatusOr<std::vector<redis::Value>> r =
        client.RoundTrip({&pttl, 1}, Deadline(), redis::CallKind::kRead);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)[0].integer : -3;
  }

  // The source's and the cluster's coupon state and user counts agree.
  void ExpectSameCoupons() {
    RECSYS_ASSERT_OK_AND_ASSIGN(auto from,
                                from_.coupons->ListCoupons(Deadline()));
    RECSYS_ASSERT_OK_AND_ASSIGN(auto to, to_.coupons->ListCoupons(Deadline()));
    ASSERT_EQ(from.size(), 1u);
    EXPECT_EQ(from, to);
    EXPECT_EQ(to[0].state.redeemed, 1);
    EXPECT_EQ(to[0].state.issued, 3);
    const std::vector<std::string> ids = {"C1"};
    for (const std::string& user : kCouponUsers) {
      RECSYS_ASSERT_OK_AND_ASSIGN(
          auto a, from_.coupons->GetUserCounts(user, ids, Deadline()));
      RECSYS_ASSERT_OK_AND_ASSIGN(
          auto b, to_.coupons->GetUserCounts(user, ids, Deadline()));
      EXPECT_EQ(a[0].issued, b[0].issued) << absl::CEscape(user);
      EXPECT_EQ(a[0].redeemed, b[0].redeemed) << absl::CEscape(user);
    }
  }

  static RedisCluster* cluster_;
  static RedisServer* server_;
  static absl::Status* start_status_;
  std::unique_ptr<redis::Client> source_;
  std::unique_ptr<redis::Client> target_;
  Stores from_;
  Stores to_;
};
RedisCluster* RedisMigrateClusterTest::cluster_ = nullptr;
RedisServer* RedisMigrateClusterTest::server_ = nullptr;
absl::Status* RedisMigrateClusterTest::start_status_ = nullptr;

TEST_F(RedisMigrateClusterTest, TheStoresReadTheSameFromTheClusterAfterACopy) {
  Fill();
  const std::vector<std::string> source_keys = Keys(*source_);
  ASSERT_GT(source_keys.size(), 100u);
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::MigrateResult copied,
                              redis::MigrateKeys(*source_, *target_, {}));
  EXPECT_TRUE(copied.complete);
  EXPECT_EQ(copied.totals.copied, static_cast<int64_t>(source_keys.size()));
  EXPECT_EQ(copied.totals.expired, 0);

  // (a) verify finds no difference, and the keys spread over every master.
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::VerifyResult verify,
                              redis::VerifyKeys(*source_, *target_, {}));
  EXPECT_TRUE(verify.ok()) << verify.ToString();
  EXPECT_EQ(verify.target_keys, static_cast<int64_t>(source_keys.size()));
  EXPECT_EQ(verify.target_per_node.size(), 3u);
  for (const auto& [node, keys] : verify.target_per_node) {
    EXPECT_GT(keys, 0) << node;
  }
  EXPECT_EQ(Keys(*target_), source_keys);

  // (b) the stores opened on the cluster read what they read on the source.
  for (const std::string& user : UserIds()) {
    RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures a,
                                from_.features->GetUser(user, Deadline()));
    RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures b,
                                to_.features->GetUser(user, Deadline()));
    EXPECT_EQ(Describe(a), Describe(b)) << absl::CEscape(user);
    EXPECT_GE(b.purchases.size(), 2u);
    EXPECT_EQ(b.recent.size(), 2u);  // the view and the purchase
    if (user.find('\0') == std::string::npos) {
      RECSYS_ASSERT_OK_AND_ASSIGN(marketing::UserSegment s,
                                  to_.segments->GetSegment(user, Deadline()));
      EXPECT_EQ(s.user_id, user);
      EXPECT_GT(s.monetary, 0);
    }
  }
  RECSYS_ASSERT_OK_AND_ASSIGN(auto items,
                              to_.features->GetItems({"item1"}, Deadline()));
  ASSERT_TRUE(items[0].has_value());
  EXPECT_EQ(items[0]->stock, 4);
  ExpectSameCoupons();

  // (c) expiries carried: every key with one on the source (the event and
  // coupon operation markers) has the same on the cluster.
  int with_expiry = 0;
  for (const std::string& key : source_keys) {
    const int64_t source_ttl = Pttl(*source_, key);
    if (source_ttl < 0) {
      EXPECT_EQ(Pttl(*target_, key), -1) << absl::CEscape(key);
      continue;
    }
    ++with_expiry;
    const int64_t target_ttl = Pttl(*target_, key);
    EXPECT_GT(target_ttl, 0) << absl::CEscape(key);
    EXPECT_LE(target_ttl, source_ttl) << absl::CEscape(key);
  }
  // 2 events per user, 1 issue + 1 redemption marker per coupon operation.
  EXPECT_GE(with_expiry, 2 * static_cast<int>(UserIds().size()) + 4);
  // A retried event is still a duplicate on the cluster.
  Event retry;
  retry.type = EventType::kView;
  retry.user_id = "u}1";
  retry.item_id = "item0";
  retry.time = absl::FromUnixSeconds(kNow);
  retry.event_id = "view-0";
  RECSYS_ASSERT_OK_AND_ASSIGN(auto outcome,
                              to_.features->RecordEvents({retry}, Deadline()));
  EXPECT_EQ(outcome.applied, 0);

  // (d) a second run copies nothing: everything exists.
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::MigrateResult again,
                              redis::MigrateKeys(*source_, *target_, {}));
  EXPECT_EQ(again.totals.copied, 0);
  EXPECT_EQ(again.totals.skipped_existing,
            static_cast<int64_t>(source_keys.size()));
}

TEST_F(RedisMigrateClusterTest,
       ReplaceOverwritesCouponCountersChangedOnTheCluster) {
  Fill();
  RECSYS_ASSERT_OK(redis::MigrateKeys(*source_, *target_, {}).status());
  // A redemption lands on the cluster only (a writer switched early).
  RECSYS_ASSERT_OK(to_.coupons
                       ->RedeemOnce(kCouponUsers[0], "C1", 50,
                                    absl::FromUnixSeconds(kNow), "redeem-0",
                                    Deadline())
                       .status());
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::VerifyResult changed,
                              redis::VerifyKeys(*source_, *target_, {}));
  EXPECT_GE(changed.different, 1) << changed.ToString();
  EXPECT_GE(changed.extra, 1) << changed.ToString();  // its op marker

  RECSYS_ASSERT_OK_AND_ASSIGN(redis::MigrateResult kept,
                              redis::MigrateKeys(*source_, *target_, {}));
  EXPECT_EQ(kept.totals.copied, 0);
  RECSYS_ASSERT_OK_AND_ASSIGN(auto still, to_.coupons->ListCoupons(Deadline()));
  EXPECT_EQ(still[0].state.redeemed, 2);

  RECSYS_ASSERT_OK_AND_ASSIGN(
      redis::MigrateResult replaced,
      redis::MigrateKeys(*source_, *target_, {.replace = true}));
  EXPECT_EQ(replaced.totals.copied, replaced.totals.scanned);
  ExpectSameCoupons();
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::VerifyResult after,
                              redis::VerifyKeys(*source_, *target_, {}));
  EXPECT_EQ(after.missing + after.different, 0) << after.ToString();
  // REPLACE copies; it deletes nothing.
  EXPECT_EQ(after.extra, changed.extra);
}

TEST_F(RedisMigrateClusterTest, AnInterruptedRunAndARerunEndWithTheSameKeySet) {
  Fill();
  const std::vector<std::string> source_keys = Keys(*source_);
  int batches = 0;
  RECSYS_ASSERT_OK_AND_ASSIGN(
      redis::MigrateResult first,
      redis::MigrateKeys(
          *source_, *target_,
          {.batch_size = 5, .progress = [&](const redis::MigrateProgress&) {
             return ++batches < 4;
           }}));
  EXPECT_FALSE(first.complete);
  EXPECT_GT(first.totals.copied, 0);
  EXPECT_LT(first.totals.copied, static_cast<int64_t>(source_keys.size()));
  RECSYS_ASSERT_OK_AND_ASSIGN(int64_t partial, cluster_->KeyCount());
  EXPECT_EQ(partial, first.totals.copied);

  RECSYS_ASSERT_OK_AND_ASSIGN(redis::MigrateResult rest,
                              redis::MigrateKeys(*source_, *target_, {}));
  EXPECT_TRUE(rest.complete);
  EXPECT_EQ(first.totals.copied + rest.totals.copied,
            static_cast<int64_t>(source_keys.size()));
  EXPECT_EQ(Keys(*target_), source_keys);
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::VerifyResult verify,
                              redis::VerifyKeys(*source_, *target_, {}));
  EXPECT_TRUE(verify.ok()) << verify.ToString();
  ExpectSameCoupons();
}

// The other directions: the cluster as the source (its three masters
// walked), a Sentinel-managed master as the target, and back to one Redis.
TEST_F(RedisMigrateClusterTest, FromTheClusterToASentinelMasterAndBack) {
  Fill();
  RECSYS_ASSERT_OK(redis::MigrateKeys(*source_, *target_, {}).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<recsys::testing::RedisSentinelGroup> group,
      recsys::testing::RedisSentinelGroup::Start());
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::Options options,
                              redis::ParseAddress(group->url()));
  options.connect_timeout = absl::Seconds(5);
  options.default_timeout = absl::Seconds(20);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<redis::Client> sentinel,
                              redis::Client::Create(options));

  RECSYS_ASSERT_OK_AND_ASSIGN(redis::MigrateResult out,
                              redis::MigrateKeys(*target_, *sentinel, {}));
  EXPECT_EQ(out.per_node.size(), 3u);  // one entry per master walked
  EXPECT_EQ(out.totals.copied, static_cast<int64_t>(Keys(*source_).size()));
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::VerifyResult verify,
                              redis::VerifyKeys(*target_, *sentinel, {}));
  EXPECT_TRUE(verify.ok()) << verify.ToString();
  EXPECT_EQ(Keys(*sentinel), Keys(*source_));
  RECSYS_ASSERT_OK_AND_ASSIGN(Stores on_sentinel, OpenStores(sentinel.get()));
  RECSYS_ASSERT_OK_AND_ASSIGN(auto coupons,
                              on_sentinel.coupons->ListCoupons(Deadline()));
  RECSYS_ASSERT_OK_AND_ASSIGN(auto expected,
                              from_.coupons->ListCoupons(Deadline()));
  EXPECT_EQ(coupons, expected);

  // Back into the (emptied) single Redis.
  RECSYS_ASSERT_OK(server_->FlushAll());
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::MigrateResult back,
                              redis::MigrateKeys(*sentinel, *source_, {}));
  EXPECT_EQ(back.totals.copied, out.totals.copied);
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::VerifyResult same,
                              redis::VerifyKeys(*target_, *source_, {}));
  EXPECT_TRUE(same.ok()) << same.ToString();
}

// The real command line: recsys_cli redis-migrate.
TEST_F(RedisMigrateClusterTest, TheCliCopiesVerifiesAndFailsOnADifference) {
  Fill();
  const std::string dir = recsys::testing::MakeTestDir();
  auto run = [&](const std::string& flags, std::string* out) {
    const std::string path = absl::StrCat(dir, "/out.txt");
    const int code = recsys::testing::RunCommand(absl::StrCat(
        RECSYS_CLI, " redis-migrate --from=", server_->address(),
        " --to=", cluster_->url(), " ", flags, " >", path, " 2>&1"));
    *out = recsys::testing::ReadFileBytes(path);
    return code;
  };
  std::string out;
  EXPECT_EQ(run("--verify --batch=50", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("copied "));
  EXPECT_THAT(out, HasSubstr("missing 0, different 0, extra 0"));
  EXPECT_THAT(out, HasSubstr(absl::StrCat(server_->address(), " -> ")));

  EXPECT_EQ(run("--dry_run --verify", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("copied 0"));

  RECSYS_ASSERT_OK(cluster_->OnEveryMaster({"FLUSHALL"}));
  EXPECT_EQ(run("--dry_run --verify", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("extra 0; missing: "));
  RECSYS_ASSERT_OK_AND_ASSIGN(int64_t none, cluster_->KeyCount());
  EXPECT_EQ(none, 0);

  EXPECT_EQ(run("--batch=0", &out), 2) << out;
  EXPECT_THAT(out, HasSubstr("--batch"));
}

}  // namespace
}  // namespace recsys
