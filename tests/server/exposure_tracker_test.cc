// ExposureTracker: distinct users per slot over the window, in process and
// shared through a real redis-server by two trackers (two replicas); the
// window moving on; a failed flush kept for the next one.
#include "server/exposure_tracker.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "redis/client.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"

namespace recsys::server {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1764000000);  // a bucket start

std::map<std::string, double> AsMap(
    const absl::StatusOr<std::vector<std::pair<std::string, double>>>& v) {
  EXPECT_TRUE(v.ok()) << v.status();
  std::map<std::string, double> out;
  if (v.ok()) out.insert(v->begin(), v->end());
  return out;
}

TEST(ExposureTrackerTest, CountsDistinctUsersInProcessOverTheWindow) {
  absl::Time now = kT0;
  ExposureTrackerOptions options;
  options.clock = [&now] { return now; };
  auto tracker = ExposureTracker::Create(nullptr, options);
  ASSERT_TRUE(tracker.ok()) << tracker.status();
  ExposureTracker& t = **tracker;
  t.Record("hero", "u1");
  t.Record("hero", "u1");  // the same user twice: once
  t.Record("hero", "u2");
  t.Record("other", "u1");
  now += absl::Minutes(30);
  t.Record("hero", "u3");
  auto counts = AsMap(t.DistinctUsers({"hero", "feed"}));
  EXPECT_EQ(counts["hero"], 3);
  EXPECT_EQ(counts["other"], 1);  // recorded by this process
  EXPECT_EQ(counts["feed"], 0);   // configured, never shown
  // 12 buckets of 5 minutes: at kT0 + 60 min the first bucket has left the
  // window, the one at kT0 + 30 min is still in it.
  now = kT0 + absl::Minutes(60);
  counts = AsMap(t.DistinctUsers({"hero"}));
  EXPECT_EQ(counts["hero"], 1);
  now = kT0 + absl::Minutes(90);
  counts = AsMap(t.DistinctUsers({"hero"}));
  EXPECT_EQ(counts["hero"], 0);
}

TEST(ExposureTrackerTest, RefusesBadOptionsNamingThem) {
  ExposureTrackerOptions options;
  options.bucket = absl::Milliseconds(1500);
  EXPECT_NE(ExposureTracker::Create(nullptr, options).status().message().find("bucket"),
            absl::string_view::npos);
  options = {};
  options.window_buckets = 0;
  EXPECT_NE(ExposureTracker::Create(nullptr, options).status().message().find("window_buckets"),
            absl::string_view::npos);
}

class RedisExposureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto redis = recsys::testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    redis::Options options;
    options.host = redis_->host();
    options.port = redis_->port();
    options.reconnect_backoff = absl::Milliseconds(1);
    for (auto* client : {&a_client_, &b_client_}) {
      auto c = redis::Client::Create(options);
      ASSERT_TRUE(c.ok()) << c.status();
      *client = *std::move(c);
    }
  }

  std::unique_ptr<ExposureTracker> Tracker(const redis::Client* client) {
    ExposureTrackerOptions options;
    options.key_prefix = "x:";
    options.flush_interval = absl::ZeroDuration();  // flushed by hand
    options.clock = [this] { return now_; };
    auto t = ExposureTracker::Create(client, options);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *std::move(t) : nullptr;
  }

  absl::Time now_ = kT0;
  std::unique_ptr<recsys::testing::RedisServer> redis_;
  std::unique_ptr<redis::Client> a_client_, b_client_;
};

TEST_F(RedisExposureTest, TwoReplicasReportTheSameSharedCount) {
  auto a = Tracker(a_client_.get());
  auto b = Tracker(b_client_.get());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  for (int i = 0; i < 300; ++i) a->Record("hero", absl::StrCat("user", i));
  now_ += absl::Minutes(20);
  // 100 users seen by both replicas, 200 only by b.
  for (int i = 200; i < 500; ++i) b->Record("hero", absl::StrCat("user", i));
  // Nothing is in Redis before a flush.
  EXPECT_EQ(AsMap(b->DistinctUsers({"hero"}))["hero"], 0);
  RECSYS_ASSERT_OK(a->Flush());
  RECSYS_ASSERT_OK(b->Flush());
  const double from_a = AsMap(a->DistinctUsers({"hero"}))["hero"];
  const double from_b = AsMap(b->DistinctUsers({"hero"}))["hero"];
  EXPECT_EQ(from_a, from_b);
  // HyperLogLog: exact below its sparse-encoding limits at this size, and
  // within 2% in any case.
  EXPECT_NEAR(from_a, 500, 10);
  // The keys expire one bucket after the window.
  auto ttl = redis_->Command({"TTL", absl::StrCat("x:xu:{hero}:", absl::ToUnixSeconds(kT0))});
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_GT(std::stoi(*ttl), 0);
  EXPECT_LE(std::stoi(*ttl), 13 * 300);
  // An hour later only b's users of kT0 + 20 min are left.
  now_ = kT0 + absl::Minutes(65);
  EXPECT_NEAR(AsMap(a->DistinctUsers({"hero"}))["hero"], 300, 6);
}

TEST_F(RedisExposureTest, AFailedFlushIsKeptForTheNextOne) {
  auto a = Tracker(a_client_.get());
  ASSERT_NE(a, nullptr);
  a->Record("hero", "u1");
  a->Record("hero", "u2");
  RECSYS_ASSERT_OK(redis_->Suspend());
  EXPECT_FALSE(a->Flush().ok());
  EXPECT_EQ(a->flush_errors(), 1);
  EXPECT_FALSE(a->DistinctUsers({"hero"}).ok());
  RECSYS_ASSERT_OK(redis_->Resume());
  // The client fails fast for a moment after the failure; retry briefly.
  absl::Status flushed;
  for (int i = 0; i < 200; ++i) {
    flushed = a->Flush();
    if (flushed.ok()) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  RECSYS_ASSERT_OK(flushed);
  EXPECT_EQ(AsMap(a->DistinctUsers({"hero"}))["hero"], 2);
  EXPECT_EQ(a->dropped(), 0);
}

}  // namespace
}  // namespace recsys::server
