#include "marketing/segment_store.h"

#include <memory>
#include <string>
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

using recsys::testing::RedisServer;

constexpr absl::Time kDeadline = absl::InfiniteFuture();

UserSegment Record(absl::string_view id, Segment segment, Tier tier) {
  UserSegment u;
  u.user_id = std::string(id);
  u.as_of_unix = 1700000000;
  u.recency_days = 120;
  u.frequency = 3;
  u.monetary = 0.1 + 0.2;
  u.trailing_spend = 123.45;
  u.first_purchase_unix = 1600000000;
  u.last_purchase_unix = 1690000000;
  u.r_score = 2;
  u.f_score = 3;
  u.m_score = 4;
  u.segment = segment;
  u.tier = tier;
  u.lifecycle = Lifecycle::kLapsed;
  return u;
}

void ExpectSame(const UserSegment& a, const UserSegment& b) {
  EXPECT_EQ(a.user_id, b.user_id);
  EXPECT_EQ(a.as_of_unix, b.as_of_unix);
  EXPECT_EQ(a.recency_days, b.recency_days);
  EXPECT_EQ(a.frequency, b.frequency);
  EXPECT_EQ(a.monetary, b.monetary);
  EXPECT_EQ(a.trailing_spend, b.trailing_spend);
  EXPECT_EQ(a.first_purchase_unix, b.first_purchase_unix);
  EXPECT_EQ(a.last_purchase_unix, b.last_purchase_unix);
  EXPECT_EQ(a.r_score, b.r_score);
  EXPECT_EQ(a.f_score, b.f_score);
  EXPECT_EQ(a.m_score, b.m_score);
  EXPECT_EQ(a.segment, b.segment);
  EXPECT_EQ(a.tier, b.tier);
  EXPECT_EQ(a.lifecycle, b.lifecycle);
}

class SegmentStoreContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "redis") {
      absl::StatusOr<redis::Client*> client = test::SharedRedisClient();
      ASSERT_TRUE(client.ok()) << client.status();
      RedisSegmentStoreOptions options;
      options.key_prefix = test::UniqueKeyPrefix();
      options.bulk_batch = 7;  // several pipelines for the bulk test
      absl::StatusOr<std::unique_ptr<SegmentStore>> store =
          NewRedisSegmentStore(*client, options);
      ASSERT_TRUE(store.ok()) << store.status();
      store_ = *std::move(store);
    } else {
      store_ = NewInMemorySegmentStore();
    }
  }
  std::unique_ptr<SegmentStore> store_;
};

TEST_P(SegmentStoreContractTest, PutAndGet) {
  const std::vector<UserSegment> users = {
      Record("a", Segment::kDormant, Tier::kGold),
      Record("b:c d", Segment::kCore, Tier::kBlack)};
  RECSYS_ASSERT_OK(store_->PutSegments(users));
  RECSYS_ASSERT_OK_AND_ASSIGN(UserSegment a,
                              store_->GetSegment("a", kDeadline));
  ExpectSame(a, users[0]);
  const std::vector<std::string> ids = {"b:c d", "nobody", "a"};
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<std::optional<UserSegment>> found,
                              store_->GetSegments(ids, kDeadline));
  ASSERT_EQ(found.size(), 3u);
  ASSERT_TRUE(found[0].has_value());
  ExpectSame(*found[0], users[1]);
  EXPECT_FALSE(found[1].has_value());
  ASSERT_TRUE(found[2].has_value());
  EXPECT_EQ(store_->GetSegment("nobody", kDeadline).status().code(),
            absl::StatusCode::kNotFound);

  // Replaced, not merged.
  UserSegment changed = Record("a", Segment::kNew, Tier::kNone);
  changed.frequency = 1;
  RECSYS_ASSERT_OK(store_->PutSegments({changed}));
  RECSYS_ASSERT_OK_AND_ASSIGN(a, store_->GetSegment("a", kDeadline));
  ExpectSame(a, changed);
  RECSYS_ASSERT_OK_AND_ASSIGN(found, store_->GetSegments({}, kDeadline));
  EXPECT_TRUE(found.empty());
}

TEST_P(SegmentStoreContractTest, BulkLoad) {
  std::vector<UserSegment> users;
  for (int i = 0; i < 100; ++i) {
    users.push_back(Record(absl::StrCat("u", i),
                           static_cast<Segment>(i % kNumSegments),
                           static_cast<Tier>(i % kNumTiers)));
  }
  RECSYS_ASSERT_OK(store_->PutSegments(users));
  RECSYS_ASSERT_OK_AND_ASSIGN(UserSegment u,
                              store_->GetSegment("u99", kDeadline));
  ExpectSame(u, users[99]);
}

TEST_P(SegmentStoreContractTest, InvalidIds) {
  EXPECT_EQ(store_->GetSegment("", kDeadline).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      store_->PutSegments({Record("a\tb", Segment::kCore, Tier::kNone)}).code(),
      absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> ids = {"ok", "bad\n"};
  EXPECT_EQ(store_->GetSegments(ids, kDeadline).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(store_->Describe().empty());
}

INSTANTIATE_TEST_SUITE_P(Stores, SegmentStoreContractTest,
                         ::testing::Values("in_memory", "redis"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST(RedisSegmentStoreTest, KeySchemaMatchesDocumentation) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::Client * client, test::SharedRedisClient());
  const std::string p = test::UniqueKeyPrefix();
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<SegmentStore> store,
                              NewRedisSegmentStore(client, {.key_prefix = p}));
  RECSYS_ASSERT_OK(
      store->PutSegments({Record("u1", Segment::kDeepDormant, Tier::kSilver)}));
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::string fields,
      server->Command({"HGETALL", p + "u:u1:seg"}));
  EXPECT_EQ(
      fields,
      "segment\ndeep_dormant\ntier\nsilver\nlifecycle\nlapsed\nrecency_"
      "days\n120\n"
      "frequency\n3\nmonetary\n0.30000000000000004\ntrailing_spend\n123.45\n"
      "first_purchase\n1600000000\nlast_"
      "purchase\n1690000000\nr\n2\nf\n3\nm\n4\n"
      "as_of\n1700000000");
  // A record that does not parse reads as missing.
  RECSYS_ASSERT_OK(
      server
          ->Command({"HSET", p + "u:u1:seg", "segment", "vip"})
          .status());
  EXPECT_EQ(store->GetSegment("u1", kDeadline).status().code(),
            absl::StatusCode::kNotFound);
}

// A load's generation (> 0) goes without MULTI/EXEC and on several lanes:
// the same key layout and fields as generation 0, every record of a bulk
// call there, and a user given twice keeps its last record.
TEST(RedisSegmentStoreTest, LoadWritesTheSameHashesAsGenerationZero) {
  RECSYS_ASSERT_OK_AND_ASSIGN(RedisServer * server, test::SharedRedisServer());
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::Client * client, test::SharedRedisClient());
  const std::string p = test::UniqueKeyPrefix();
  std::vector<UserSegment> records;
  for (int i = 0; i < 2500; ++i) {
    records.push_back(Record(absl::StrCat("u", i), Segment::kCore, Tier::kGold));
  }
  UserSegment again = Record("u7", Segment::kDeepDormant, Tier::kSilver);
  records.push_back(again);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<SegmentStore> live,
                              NewRedisSegmentStore(client, {.key_prefix = p}));
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<SegmentStore> load,
      NewRedisSegmentStore(client, {.key_prefix = p,
                                    .bulk_batch = 100,
                                    .bulk_threads = 3,
                                    .load_generation = 4}));
  RECSYS_ASSERT_OK(live->PutSegments(records));
  RECSYS_ASSERT_OK(load->PutSegments(records));
  for (const char* user : {"u0", "u7", "u1234", "u2499"}) {
    RECSYS_ASSERT_OK_AND_ASSIGN(
        std::string zero,
        server->Command({"HGETALL", absl::StrCat(p, "u:", user, ":seg")}));
    RECSYS_ASSERT_OK_AND_ASSIGN(
        std::string four,
        server->Command({"HGETALL", absl::StrCat(p, "g4:u:", user, ":seg")}));
    EXPECT_FALSE(zero.empty()) << user;
    EXPECT_EQ(zero, four) << user;
  }
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::string u7, server->Command({"HGET", p + "g4:u:u7:seg", "segment"}));
  EXPECT_EQ(u7, "deep_dormant");
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::string keys, server->Command({"KEYS", p + "g4:u:*"}));
  EXPECT_EQ(std::count(keys.begin(), keys.end(), '\n') + 1, 2500);
}

TEST(RedisSegmentStoreTest, DeadRedisIsUnavailable) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<recsys::testing::RefusingPort> dead,
                              recsys::testing::RefusingPort::Open());
  const int port = dead->port();
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<redis::Client> client,
                              redis::Client::Create({.port = port}));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<SegmentStore> store,
                              NewRedisSegmentStore(client.get()));
  EXPECT_EQ(
      store->GetSegment("u1", absl::Now() + absl::Seconds(5)).status().code(),
      absl::StatusCode::kUnavailable);
  EXPECT_EQ(
      store->PutSegments({Record("u1", Segment::kCore, Tier::kNone)}).code(),
      absl::StatusCode::kUnavailable);
}

TEST(RedisSegmentStoreTest, BadOptions) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<redis::Client> client,
                              redis::Client::Create({}));
  const absl::Status status =
      NewRedisSegmentStore(client.get(), {.bulk_batch = 0}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "bulk_batch: must be >= 1, got 0");
  EXPECT_EQ(NewRedisSegmentStore(client.get(), {.bulk_threads = 0})
                .status()
                .message(),
            "bulk_threads: must be >= 1, got 0");
  EXPECT_EQ(NewRedisSegmentStore(nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recsys::marketing
