#include "bench/load_generator.h"

#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "access/api_key.h"
#include "absl/strings/str_split.h"
#include "bench/synth_model.h"
#include "feature_store/faulty_feature_store.h"
#include "feature_store/in_memory_feature_store.h"
#include "gtest/gtest.h"
#include "model/model_format.h"
#include "model/model_store.h"
#include "server/auth.h"
#include "server/recommender_service.h"
#include "tests/testing/test_server.h"
#include "tests/model/test_model.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"

namespace recsys::bench {
namespace {

TEST(LoadOptionsTest, BadOptionsNameTheField) {
  LoadOptions o;
  o.known_users = {"u1"};
  RECSYS_EXPECT_OK(ValidateLoadOptions(o));
  auto expect_bad = [](const LoadOptions& bad, absl::string_view field) {
    const absl::Status st = ValidateLoadOptions(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << field << ": " << st;
    EXPECT_NE(st.message().find(field), absl::string_view::npos) << st;
  };
  LoadOptions bad = o;
  bad.rate = 0;
  expect_bad(bad, "rate");
  bad = o;
  bad.mode = LoadMode::kClosedLoop;
  bad.concurrency = 0;
  expect_bad(bad, "concurrency");
  bad = o;
  bad.duration = absl::ZeroDuration();
  expect_bad(bad, "duration");
  bad = o;
  bad.k = 0;
  expect_bad(bad, "k");
  bad = o;
  bad.channels = 0;
  expect_bad(bad, "channels");
  bad = o;
  bad.known_users.clear();
  expect_bad(bad, "known_users");
  bad = o;
  bad.mix = *RequestMix::Parse("similar:1");
  expect_bad(bad, "items");
  bad = o;
  bad.mix = *RequestMix::Parse("events:1");
  expect_bad(bad, "items");
  bad = o;
  bad.mode = LoadMode::kBurst;
  bad.burst = 0;
  expect_bad(bad, "burst");
  bad = o;
  bad.server_pid = -1;
  expect_bad(bad, "server_pid");
  // Closed loop ignores the rate.
  bad = o;
  bad.mode = LoadMode::kClosedLoop;
  bad.rate = 0;
  RECSYS_EXPECT_OK(ValidateLoadOptions(bad));
}

// A server on a small synthesized model with the embedded store.
class LoadGeneratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string root = recsys::testing::MakeUniqueDir("load_generator");
    SynthOptions synth;
    synth.users = 200;
    synth.items = 300;
    synth.dim = 8;
    synth.threads = 1;
    RECSYS_ASSERT_OK_AND_ASSIGN(data_, SynthesizeModel(synth));
    RECSYS_ASSERT_OK(model::PublishModel(root, data_).status());
    model::ModelStoreOptions store_options;
    store_options.root = root;
    store_options.poll_interval = absl::ZeroDuration();
    RECSYS_ASSERT_OK_AND_ASSIGN(models_, model::ModelStore::Create(store_options));
    RECSYS_ASSERT_OK(model::LoadIntoFeatureStore(data_, &features_));
    server::ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.reflection = false;
    RECSYS_ASSERT_OK_AND_ASSIGN(
        served_, recsys::testing::StartTestServer(options, models_.get(), &features_));
    server_ = served_->server.get();
  }

  LoadOptions BaseOptions() const {
    LoadOptions o;
    o.target = absl::StrCat("127.0.0.1:", server_->port());
    o.known_users = data_.user_ids;
    for (const auto& item : data_.items) o.items.push_back(item.item_id);
    o.slot = "homepage_feed";
    o.k = 5;
    o.channels = 2;
    // Generous: the test checks accounting, not speed.
    o.timeout = absl::Seconds(20);
    return o;
  }

  model::ModelData data_;
  std::unique_ptr<model::ModelStore> models_;
  feature_store::InMemoryFeatureStore features_;
  std::unique_ptr<recsys::testing::TestServer> served_;
  server::RecsysServer* server_ = nullptr;  // served_->server
};

// Burst mode against the in-process server: every request sent at once is
// answered and counted, and this process's /proc status is read before,
// during and after.
TEST_F(LoadGeneratorTest, BurstSendsEveryRequestAtOnceAndReadsTheServer) {
  LoadOptions o = BaseOptions();
  o.mode = LoadMode::kBurst;
  o.burst = 300;
  o.mix = *RequestMix::Parse("events:1,profile:1");
  o.server_pid = static_cast<int>(getpid());
  o.settle = absl::ZeroDuration();
  RECSYS_ASSERT_OK_AND_ASSIGN(LoadResult r, RunLoad(o));
  EXPECT_EQ(r.sent, 300);
  EXPECT_EQ(r.all.measured, 300);
  EXPECT_EQ(r.all.codes.at(0), 300) << FormatReport(r);
  EXPECT_GT(r.kinds[static_cast<int>(RequestKind::kEvents)].measured, 0);
  EXPECT_GT(r.kinds[static_cast<int>(RequestKind::kProfile)].measured, 0);
  ASSERT_TRUE(r.server.read);
  EXPECT_GT(r.server.rss_before_kb, 0);
  EXPECT_GE(r.server.rss_peak_kb, r.server.rss_before_kb);
  // VmHWM is kept lazily by the kernel and may read below an RSS sampled
  // during the burst, so it is only checked to be read.
  EXPECT_GT(r.server.hwm_after_kb, 0);
  EXPECT_GT(r.server.threads_before, 0);
  EXPECT_NE(FormatReport(r).find("burst of 300 requests"), std::string::npos);
  EXPECT_NE(ToJson(r).find("\"mode\":\"burst\""), std::string::npos);
  EXPECT_NE(ToJson(r).find("\"rss_peak_kb\""), std::string::npos);

  o.server_pid = 999999999;  // beyond pid_max
  EXPECT_TRUE(absl::IsNotFound(RunLoad(o).status()));
}

TEST_F(LoadGeneratorTest, OpenLoopSendsTheScheduleAndCountsCodes) {
  LoadOptions o = BaseOptions();
  o.rate = 200;
  o.warmup = absl::Milliseconds(100);
  o.duration = absl::Milliseconds(500);
  o.mix = *RequestMix::Parse(
      "home_known:5,home_new:2,home_unknown:1,similar:1,coupons:1,health:1");
  RECSYS_ASSERT_OK_AND_ASSIGN(LoadResult r, RunLoad(o));
  // 120 due in 0.6 s, of which the 100 after the warm-up are measured.
  EXPECT_EQ(r.sent, 120);
  EXPECT_EQ(r.all.measured, 100);
  int64_t measured = 0;
  for (int k = 0; k < kNumRequestKinds; ++k) {
    const KindResult& kind = r.kinds[k];
    measured += kind.measured;
    if (o.mix.weight(static_cast<RequestKind>(k)) == 0) {
      EXPECT_EQ(kind.measured, 0);
    } else if (static_cast<RequestKind>(k) == RequestKind::kCoupons) {
      // RecommendCoupons is not implemented by the server yet.
      EXPECT_EQ(kind.codes.count(0), 0u);
      EXPECT_EQ(kind.latency.count, 0);
    } else {
      EXPECT_EQ(kind.codes.size(), 1u) << RequestKindName(static_cast<RequestKind>(k));
      EXPECT_EQ(kind.latency.count, kind.measured);
    }
  }
  EXPECT_EQ(measured, 100);
  const int coupons = static_cast<int>(RequestKind::kCoupons);
  EXPECT_EQ(r.kinds[coupons].codes.at(12), r.kinds[coupons].measured);
  EXPECT_GT(r.kinds[static_cast<int>(RequestKind::kHomeKnown)].measured, 0);
  EXPECT_GT(r.kinds[static_cast<int>(RequestKind::kHomeNew)].measured, 0);
  const int health = static_cast<int>(RequestKind::kHealth);
  EXPECT_GT(r.kinds[health].measured, 0);
  EXPECT_EQ(r.kinds[health].codes.at(0), r.kinds[health].measured);
  EXPECT_GE(r.window, o.duration);
  EXPECT_GT(r.achieved_rate, 0);

  const std::string report = FormatReport(r);
  EXPECT_NE(report.find("open loop at 200 req/s"), std::string::npos) << report;
  EXPECT_NE(report.find("UNIMPLEMENTED"), std::string::npos) << report;
  EXPECT_NE(report.find("home_new"), std::string::npos) << report;
  const std::string json = ToJson(r);
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
  EXPECT_NE(json.find("\"mode\":\"open\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"UNIMPLEMENTED\":"), std::string::npos) << json;
}

TEST_F(LoadGeneratorTest, ClosedLoopKeepsRequestsOutstanding) {
  LoadOptions o = BaseOptions();
  o.mode = LoadMode::kClosedLoop;
  o.concurrency = 3;
  o.warmup = absl::Milliseconds(100);
  o.duration = absl::Milliseconds(300);
  RECSYS_ASSERT_OK_AND_ASSIGN(LoadResult r, RunLoad(o));
  EXPECT_GT(r.all.measured, 0);
  EXPECT_GE(r.sent, r.all.measured + 3);
  EXPECT_EQ(r.all.codes.size(), 1u);
  EXPECT_EQ(r.all.latency.count, r.all.measured);
  EXPECT_NE(FormatReport(r).find("closed loop with 3 outstanding"), std::string::npos);
}

// Reads an ack log: one row of 5 tab-separated fields per event.
std::vector<std::vector<std::string>> ReadAckLog(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    rows.push_back(absl::StrSplit(line, '\t'));
  }
  return rows;
}

TEST_F(LoadGeneratorTest, PurchasesAreLoggedWithTheirOutcome) {
  LoadOptions o = BaseOptions();
  o.rate = 200;
  o.warmup = absl::ZeroDuration();
  o.duration = absl::Milliseconds(200);
  o.mix = *RequestMix::Parse("purchase:1");
  o.run_id = "acks";
  o.ack_log = recsys::testing::MakeUniqueDir("ack_log") + "/acks.tsv";
  RECSYS_ASSERT_OK_AND_ASSIGN(LoadResult r, RunLoad(o));
  EXPECT_EQ(r.sent, 40);
  EXPECT_EQ(r.all.codes.at(0), 40);
  const std::vector<std::vector<std::string>> rows = ReadAckLog(o.ack_log);
  ASSERT_EQ(rows.size(), 40u);
  for (const std::vector<std::string>& row : rows) {
    ASSERT_EQ(row.size(), 5u);
    EXPECT_EQ(row[0].rfind("acks-ev-", 0), 0u) << row[0];
    EXPECT_EQ(row[3], "0");  // acknowledged
    EXPECT_EQ(row[4], "1");  // first attempt
    RECSYS_ASSERT_OK_AND_ASSIGN(feature_store::UserFeatures user,
                                features_.GetUser(row[1], absl::InfiniteFuture()));
    ASSERT_EQ(user.purchases.size(), 1u);
    EXPECT_EQ(user.purchases[0].item_id, row[2]);
  }
}

// Every acknowledgement lost (the store applies the events, then answers
// UNAVAILABLE): each purchase is sent 1 + event_retries times with the same
// id, logged as failed, and stored exactly once.
TEST_F(LoadGeneratorTest, RetriedPurchasesKeepTheirIdAndAreStoredOnce) {
  feature_store::FaultyFeatureStore faulty(&features_);
  faulty.set_lose_write_acks(true);
  server::ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.reflection = false;
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<recsys::testing::TestServer> lossy,
                              recsys::testing::StartTestServer(options, models_.get(), &faulty));
  LoadOptions o = BaseOptions();
  o.target = absl::StrCat("127.0.0.1:", lossy->server->port());
  o.rate = 100;
  o.warmup = absl::ZeroDuration();
  o.duration = absl::Milliseconds(100);
  o.mix = *RequestMix::Parse("purchase:1");
  o.run_id = "lossy";
  o.event_retries = 2;
  o.event_retry_backoff = absl::Milliseconds(10);
  o.ack_log = recsys::testing::MakeUniqueDir("ack_log") + "/acks.tsv";
  RECSYS_ASSERT_OK_AND_ASSIGN(LoadResult r, RunLoad(o));
  EXPECT_EQ(r.sent, 10);
  EXPECT_EQ(r.all.codes.at(14), 10);  // UNAVAILABLE after the retries
  const std::vector<std::vector<std::string>> rows = ReadAckLog(o.ack_log);
  ASSERT_EQ(rows.size(), 10u);
  for (const std::vector<std::string>& row : rows) {
    ASSERT_EQ(row.size(), 5u);
    EXPECT_EQ(row[3], "14");
    EXPECT_EQ(row[4], "3");
    RECSYS_ASSERT_OK_AND_ASSIGN(feature_store::UserFeatures user,
                                features_.GetUser(row[1], absl::InfiniteFuture()));
    ASSERT_EQ(user.purchases.size(), 1u);
    EXPECT_EQ(user.purchases[0].count, 1) << row[0];
  }
}

TEST_F(LoadGeneratorTest, SendsTheApiKeyOnEveryCall) {
  const std::string key = "rsk_load-generator-test";
  RECSYS_ASSERT_OK_AND_ASSIGN(
      server::ApiKeys keys,
      server::ApiKeys::Parse(access::KeysFileLine("load", key, {access::Scope::kStorefront})));
  served_.reset();
  server::ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.security.api_keys = std::make_shared<const server::ApiKeys>(std::move(keys));
  RECSYS_ASSERT_OK_AND_ASSIGN(
      served_, recsys::testing::StartTestServer(options, models_.get(), &features_));
  server_ = served_->server.get();
  LoadOptions o = BaseOptions();
  o.mode = LoadMode::kClosedLoop;
  o.concurrency = 2;
  o.warmup = absl::ZeroDuration();
  o.duration = absl::Milliseconds(200);
  RECSYS_ASSERT_OK_AND_ASSIGN(LoadResult without_key, RunLoad(o));
  ASSERT_EQ(without_key.all.codes.size(), 1u);
  EXPECT_EQ(without_key.all.codes.begin()->first, 16);  // UNAUTHENTICATED
  o.api_key = key;
  RECSYS_ASSERT_OK_AND_ASSIGN(LoadResult with_key, RunLoad(o));
  ASSERT_EQ(with_key.all.codes.size(), 1u);
  EXPECT_EQ(with_key.all.codes.begin()->first, 0);
  EXPECT_EQ(ToJson(with_key).find(key), std::string::npos);
  EXPECT_EQ(FormatReport(with_key).find(key), std::string::npos);
}

TEST_F(LoadGeneratorTest, UnreachableServerIsUnavailable) {
  LoadOptions o = BaseOptions();
  server_->Shutdown();
  o.duration = absl::Milliseconds(10);
  o.connect_timeout = absl::Milliseconds(300);
  // A port nothing listens on any more.
  EXPECT_TRUE(absl::IsUnavailable(RunLoad(o).status()));
}

}  // namespace
}  // namespace recsys::bench
