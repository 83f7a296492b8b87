// The server's metrics and HTTP port on a planted model and the in-memory
// store: call counts by method and code (sync and callback calls),
// degraded answers and fallbacks, per-slot events, the model and coupon
// collectors, /metrics, /healthz, /readyz and 404s.
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "feature_store/faulty_feature_store.h"
#include "feature_store/in_memory_feature_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/metrics.h"
#include "model/model_store.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "server/http_server.h"
#include "server/recommender_service.h"
#include "server/server_metrics.h"
#include "tests/model/test_model.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"
#include "tests/testing/test_server.h"

namespace recsys::server {
namespace {

namespace v1 = recsys::v1;
using ::testing::HasSubstr;

// The value of the sample `series` (name{labels} exactly as exported) in a
// text exposition; -1 when absent.
double Sample(const std::string& text, absl::string_view series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, series) && line.size() > series.size() &&
        line[series.size()] == ' ') {
      double v = 0;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
    }
  }
  return -1;
}

class ObservabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string root = recsys::testing::MakeUniqueDir("observability");
    data_ = model::testing::MakePlantedModel();
    model::PublishOptions publish;
    publish.version = "7";
    RECSYS_ASSERT_OK(model::PublishModel(root, data_, publish));
    model::ModelStoreOptions options;
    options.root = root;
    options.poll_interval = absl::ZeroDuration();
    auto models = model::ModelStore::Create(options);
    ASSERT_TRUE(models.ok()) << models.status();
    models_ = *std::move(models);
    RECSYS_ASSERT_OK(model::LoadIntoFeatureStore(data_, &memory_));
  }

  void Start(bool callback_api) {
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.callback_api = callback_api;
    options.metrics = &registry_;
    recommender::StorefrontOptions storefront;
    storefront.recommender.blended_slots = {"for_you"};
    auto served = recsys::testing::StartTestServer(options, models_.get(),
                                                   &faulty_, storefront);
    ASSERT_TRUE(served.ok()) << served.status();
    served_ = *std::move(served);
    stub_ = v1::Recommender::NewStub(served_->channel);
  }

  grpc::Status Recommend(const std::string& user, const std::string& slot) {
    v1::RecommendProductsRequest req;
    req.set_user_id(user);
    auto* s = req.add_slots();
    s->set_name(slot);
    s->set_k(3);
    v1::RecommendProductsResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(20));
    return stub_->RecommendProducts(&ctx, req, &resp);
  }

  model::ModelData data_;
  std::unique_ptr<model::ModelStore> models_;
  feature_store::InMemoryFeatureStore memory_;
  feature_store::FaultyFeatureStore faulty_{&memory_};
  metrics::Registry registry_;
  std::unique_ptr<recsys::testing::TestServer> served_;
  std::unique_ptr<v1::Recommender::Stub> stub_;
};

TEST_F(ObservabilityTest, CountsEveryCallByMethodAndCodeOnBothApis) {
  for (bool callback : {true, false}) {
    SCOPED_TRACE(callback ? "callback API" : "sync API");
    served_.reset();  // removes its collectors; the families stay
    Start(callback);
    const std::string before = registry_.Exposition();
    const std::string ok_series = absl::StrCat(
        "recsys_rpc_duration_seconds_count{service=\"recsys.v1.Recommender\","
        "method=\"RecommendProducts\",code=\"OK\"}");
    const std::string bad_series = absl::StrCat(
        "recsys_rpc_duration_seconds_count{service=\"recsys.v1.Recommender\","
        "method=\"RecommendProducts\",code=\"INVALID_ARGUMENT\"}");
    const double ok0 = std::max(0.0, Sample(before, ok_series));
    const double bad0 = std::max(0.0, Sample(before, bad_series));
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(Recommend("ua0", "homepage_hero").ok());
    EXPECT_EQ(Recommend("ua0", "bad slot!").error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    // The status is sent before the interceptor's count becomes visible
    // only on the server side; the call returning means it was recorded.
    const std::string after = registry_.Exposition();
    EXPECT_EQ(Sample(after, ok_series), ok0 + 5);
    EXPECT_EQ(Sample(after, bad_series), bad0 + 1);
    EXPECT_THAT(
        after,
        HasSubstr("recsys_rpc_duration_seconds_bucket{service=\"recsys.v1."
                  "Recommender\",method=\"RecommendProducts\",code=\"OK\","
                  "le=\"+Inf\"}"));
  }
}

TEST_F(ObservabilityTest, DegradedAnswersAndFallbacks) {
  Start(true);
  const std::string degraded =
      "recsys_degraded_answers_total{method=\"RecommendProducts\",reason="
      "\"feature_store\"}";
  faulty_.set_failing(true);
  ASSERT_TRUE(Recommend("ua0", "homepage_hero").ok());
  ASSERT_TRUE(Recommend("ua1", "homepage_hero").ok());
  faulty_.set_failing(false);
  ASSERT_TRUE(Recommend("ua0", "homepage_hero").ok());
  std::string text = registry_.Exposition();
  EXPECT_EQ(Sample(text, degraded), 2);
  const double cold0 =
      Sample(text, "recsys_fallbacks_total{kind=\"cold_start\"}");
  EXPECT_GE(cold0, 0);
  // An unknown visitor: no vector, popular items fill the slot.
  ASSERT_TRUE(Recommend("never-seen-visitor", "homepage_hero").ok());
  text = registry_.Exposition();
  EXPECT_EQ(Sample(text, "recsys_fallbacks_total{kind=\"cold_start\"}"),
            cold0 + 1);
  EXPECT_GE(Sample(text, "recsys_fallbacks_total{kind=\"popular_fill\"}"), 1);
}

TEST_F(ObservabilityTest, SlotEventsCountedUnderConfiguredSlotsOrOther) {
  Start(true);
  v1::RecordEventsRequest req;
  auto add = [&](v1::EventType type, const std::string& slot, double price) {
    v1::Event* e = req.add_events();
    e->set_type(type);
    e->set_user_id("ua0");
    e->set_item_id("a1");
    e->set_slot(slot);
    e->set_price(price);
    e->set_quantity(2);
    e->set_timestamp_unix(absl::ToUnixSeconds(absl::Now()) - 10);
    e->set_event_id(absl::StrCat("ev", req.events_size()));
  };
  for (int i = 0; i < 4; ++i) add(v1::EVENT_IMPRESSION, "for_you", 0);
  add(v1::EVENT_CLICK, "for_you", 0);
  add(v1::EVENT_PURCHASE, "for_you", 12.5);
  add(v1::EVENT_IMPRESSION, "some-unconfigured-slot", 0);
  v1::Event* bad = req.add_events();  // refused: counted nowhere
  bad->set_type(v1::EVENT_IMPRESSION);
  bad->set_slot("for_you");
  v1::RecordEventsResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->RecordEvents(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.rejected_size(), 1);
  // The same batch again (a client retry): every event is a duplicate and
  // no count moves.
  v1::RecordEventsResponse retry;
  grpc::ClientContext retry_ctx;
  ASSERT_TRUE(stub_->RecordEvents(&retry_ctx, req, &retry).ok());
  EXPECT_EQ(retry.duplicates(), 7);
  const std::string text = registry_.Exposition();
  const std::string labels =
      "{slot=\"for_you\",experiment=\"none\",variant=\"none\"}";
  EXPECT_EQ(Sample(text, "recsys_slot_impressions_total" + labels), 4);
  EXPECT_EQ(Sample(text, "recsys_slot_clicks_total" + labels), 1);
  EXPECT_EQ(Sample(text, "recsys_slot_conversions_total" + labels), 1);
  EXPECT_EQ(Sample(text, "recsys_slot_gmv_total" + labels), 25);
  EXPECT_EQ(
      Sample(text,
             "recsys_slot_impressions_total{slot=\"other\",experiment=\"none\","
             "variant=\"none\"}"),
      1);
  EXPECT_THAT(text, ::testing::Not(HasSubstr("some-unconfigured-slot")));
  // One user was shown each slot (the retry changed nothing).
  EXPECT_EQ(Sample(text, "recsys_slot_exposed_users{slot=\"for_you\"}"), 1);
  EXPECT_EQ(Sample(text, "recsys_slot_exposed_users{slot=\"other\"}"), 1);
}

TEST_F(ObservabilityTest, SlotsAddedByAConfigReloadGetTheirOwnLabel) {
  const std::string path =
      recsys::testing::MakeUniqueDir("observability_slots") + "/slots.textproto";
  std::ofstream(path) << R"pb(slots { name: "hero" sources { source: SOURCE_TRENDING weight: 1 } })pb";
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.metrics = &registry_;
  recommender::StorefrontOptions storefront;
  storefront.slots_config = path;
  auto served = recsys::testing::StartTestServer(options, models_.get(), &faulty_, storefront);
  ASSERT_TRUE(served.ok()) << served.status();
  auto stub = v1::Recommender::NewStub((*served)->channel);
  auto admin = v1::Admin::NewStub((*served)->channel);
  int next_id = 0;
  auto impression = [&](const std::string& slot) {
    v1::RecordEventsRequest req;
    v1::Event* e = req.add_events();
    e->set_type(v1::EVENT_IMPRESSION);
    e->set_user_id("ua0");
    e->set_item_id("a1");
    e->set_slot(slot);
    e->set_event_id(absl::StrCat("reload", next_id++));
    v1::RecordEventsResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->RecordEvents(&ctx, req, &resp).ok());
  };
  auto count = [&](const std::string& slot) {
    return Sample(registry_.Exposition(),
                  absl::StrCat("recsys_slot_impressions_total{slot=\"", slot,
                               "\",experiment=\"none\",variant=\"none\"}"));
  };
  impression("hero");
  impression("evening_deals");  // not configured yet: "other"
  EXPECT_EQ(count("hero"), 1);
  EXPECT_EQ(count("other"), 1);
  EXPECT_EQ(count("evening_deals"), -1);
  std::ofstream(path) << R"pb(
    slots { name: "hero" sources { source: SOURCE_TRENDING weight: 1 } }
    slots { name: "evening_deals" sources { source: SOURCE_TRENDING weight: 1 } }
  )pb";
  v1::ReloadModelResponse reload;
  grpc::ClientContext ctx;
  ASSERT_TRUE(admin->ReloadModel(&ctx, v1::ReloadModelRequest(), &reload).ok());
  impression("evening_deals");
  EXPECT_EQ(count("evening_deals"), 1);
  EXPECT_EQ(count("other"), 1);
}

TEST_F(ObservabilityTest, SharedSlotCountsSourceReplacesTheLocalOne) {
  Start(true);
  served_->server->metrics()->SetSlotCountsSource([] {
    return std::vector<SlotCounts>{{.slot = "for_you",
                                    .experiment = "ranker_v2",
                                    .variant = "treatment",
                                    .impressions = 100,
                                    .clicks = 7,
                                    .conversions = 2,
                                    .gmv = 40}};
  });
  const std::string text = registry_.Exposition();
  EXPECT_EQ(
      Sample(
          text,
          "recsys_slot_clicks_total{slot=\"for_you\",experiment=\"ranker_v2\","
          "variant=\"treatment\"}"),
      7);
}

TEST_F(ObservabilityTest, ModelCollector) {
  Start(true);
  const std::string text = registry_.Exposition();
  EXPECT_EQ(Sample(text, "recsys_model_info{version=\"7\"}"), 1);
  EXPECT_GE(Sample(text, "recsys_model_age_seconds"), 0);
  EXPECT_EQ(Sample(text, "recsys_model_rejected_versions"), 0);
}

TEST(DegradedReasonLabelTest, BoundedLabels) {
  EXPECT_EQ(ServerMetrics::DegradedReasonLabel(
                "feature store unavailable (UNAVAILABLE: x); answered from the "
                "model alone"),
            "feature_store");
  EXPECT_EQ(ServerMetrics::DegradedReasonLabel(
                "coupon store unavailable (DEADLINE_EXCEEDED: y)"),
            "coupon_store");
  EXPECT_EQ(ServerMetrics::DegradedReasonLabel("user 12345 unavailable (...)"),
            "other");
  EXPECT_EQ(ServerMetrics::DegradedReasonLabel("something else"), "other");
}

TEST(HttpServerTest, MetricsHealthReadinessAnd404) {
  metrics::Registry registry;
  registry.AddCounter("demo_total", "Demo.")->Get({})->Increment(3);
  std::atomic<bool> ready{true};
  auto http = HttpServer::Start({.listen_address = "127.0.0.1:0"}, &registry,
                                [&ready] { return ready.load(); });
  ASSERT_TRUE(http.ok()) << http.status();
  httplib::Client client("127.0.0.1", (*http)->port());
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->get_header_value("Content-Type"),
              HasSubstr("version=0.0.4"));
  EXPECT_THAT(metrics->body, HasSubstr("demo_total 3\n"));
  EXPECT_EQ(client.Get("/healthz")->status, 200);
  EXPECT_EQ(client.Get("/readyz")->status, 200);
  ready = false;
  EXPECT_EQ(client.Get("/readyz")->status, 503);
  EXPECT_EQ(client.Get("/nope")->status, 404);
  EXPECT_EQ(client.Get("/metrics/x")->status, 404);
  auto page = client.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->body, HasSubstr("fetch(\"/metrics\""));
  (*http)->Stop();
  (*http)->Stop();  // idempotent
}

TEST(HttpServerTest, RefusesBadAddressesAndBusyPorts) {
  metrics::Registry registry;
  EXPECT_EQ(HttpServer::Start({.listen_address = "nonsense"}, &registry,
                              [] { return true; })
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  auto first = HttpServer::Start({.listen_address = "127.0.0.1:0"}, &registry,
                                 [] { return true; });
  ASSERT_TRUE(first.ok());
  auto second = HttpServer::Start(
      {.listen_address = absl::StrCat("127.0.0.1:", (*first)->port())},
      &registry, [] { return true; });
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

TEST(HttpServerTest, ReadinessFollowsTheDrain) {
  // RecsysServer::serving() is what main hands to /readyz.
  const std::string root =
      recsys::testing::MakeUniqueDir("observability_drain");
  model::ModelData data = model::testing::MakePlantedModel();
  RECSYS_ASSERT_OK(model::PublishModel(root, data, {.version = "1"}));
  auto models = model::ModelStore::Create(
      {.root = root, .poll_interval = absl::ZeroDuration()});
  ASSERT_TRUE(models.ok());
  feature_store::InMemoryFeatureStore memory;
  RECSYS_ASSERT_OK(model::LoadIntoFeatureStore(data, &memory));
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  auto served =
      recsys::testing::StartTestServer(options, models->get(), &memory);
  ASSERT_TRUE(served.ok());
  metrics::Registry registry;
  RecsysServer* server = (*served)->server.get();
  auto http = HttpServer::Start({.listen_address = "127.0.0.1:0"}, &registry,
                                [server] { return server->serving(); });
  ASSERT_TRUE(http.ok());
  httplib::Client client("127.0.0.1", (*http)->port());
  EXPECT_EQ(client.Get("/readyz")->status, 200);
  server->Drain();
  EXPECT_EQ(client.Get("/readyz")->status, 503);
  EXPECT_EQ(client.Get("/healthz")->status, 200);
}

}  // namespace
}  // namespace recsys::server
