// A/B experiments through real gRPC on a real redis-server: recommendation
// ids and assignments in answers, variants that change a slot, attribution
// of RecordEvents to the right variant (counters in Redis), bad input, and
// assignments that agree across two server processes and a restart.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "experiments/attribution.h"
#include "experiments/counter_store.h"
#include "experiments/uplift.h"
#include "gtest/gtest.h"
#include "marketing/coupon_store.h"
#include "marketing/marketer.h"
#include "marketing/segment_store.h"
#include "metrics/metrics.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "tests/testing/child_process.h"
#include "tests/testing/test_files.h"
#include "tests/testing/test_server.h"
#include "tests/testing/trained_shop.h"

namespace recsys::server {
namespace {

namespace v1 = recsys::v1;

// "layout": half the users get a feed of trending items only.
constexpr char kExperiments[] = R"pb(
  attribution_window_seconds: 3600
  layers {
    name: "home"
    experiments {
      name: "layout"
      traffic_share: 1
      slots: "homepage_feed"
      variants { name: "control" share: 0.5 }
      variants {
        name: "trending"
        share: 0.5
        slots {
          name: "homepage_feed"
          sources { source: SOURCE_TRENDING weight: 1 }
        }
      }
    }
  }
  layers {
    name: "coupons"
    experiments {
      name: "welcome_holdout"
      traffic_share: 1
      campaigns: "welcome"
      control: "holdout"
      variants {
        name: "holdout"
        share: 0.5
        coupons { campaign: "welcome" holdout: true }
      }
      variants { name: "coupon" share: 0.5 }
    }
  }
  overrides { user_id: "qa-user" experiment: "layout" variant: "trending" }
)pb";

struct World {
  std::unique_ptr<recsys::testing::TrainedShop> shop;
  std::unique_ptr<experiments::CounterStore> counters;
  experiments::PlanHolder plans;
  std::unique_ptr<marketing::CouponStore> coupons;
  std::unique_ptr<marketing::SegmentStore> segments;
  std::unique_ptr<marketing::Marketer> marketer;
  // The server's metrics (before `server`, which borrows it).
  metrics::Registry registry;
  std::unique_ptr<recsys::testing::TestServer> server;
  std::string config;
};
World* world = nullptr;

class ExperimentsServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    world = new World();
    auto shop =
        recsys::testing::TrainedShop::Create({.datagen = RECSYS_DATAGEN,
                                              .train = RECSYS_TRAIN,
                                              .name = "experiments_test"});
    ASSERT_TRUE(shop.ok()) << shop.status();
    world->shop = *std::move(shop);
    world->config = recsys::testing::WriteFile(
        world->shop->dir, "experiments.textproto", kExperiments);
    auto counters =
        experiments::NewRedisCounterStore(world->shop->redis_client.get());
    ASSERT_TRUE(counters.ok()) << counters.status();
    world->counters = *std::move(counters);
    auto coupons =
        marketing::NewRedisCouponStore(world->shop->redis_client.get());
    ASSERT_TRUE(coupons.ok()) << coupons.status();
    world->coupons = *std::move(coupons);
    auto segments =
        marketing::NewRedisSegmentStore(world->shop->redis_client.get());
    ASSERT_TRUE(segments.ok()) << segments.status();
    world->segments = *std::move(segments);
    marketing::MarketerOptions marketer_options;
    marketer_options.store_timeout =
        absl::Seconds(2);  // the test box may be busy
    auto marketer = marketing::Marketer::Create(
        world->shop->models.get(), world->shop->features.get(),
        world->coupons.get(), world->segments.get(), marketer_options,
        &world->plans, world->counters.get());
    ASSERT_TRUE(marketer.ok()) << marketer.status();
    world->marketer = *std::move(marketer);
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.redis = world->shop->redis_client.get();
    options.metrics = &world->registry;
    recommender::StorefrontOptions storefront_options;
    storefront_options.experiments_config = world->config;
    storefront_options.recommender.feature_timeout = absl::Milliseconds(500);
    auto server = recsys::testing::StartTestServer(
        options, world->shop->models.get(), world->shop->features.get(),
        storefront_options, world->marketer.get(), &world->plans,
        world->counters.get());
    ASSERT_TRUE(server.ok()) << server.status();
    world->server = *std::move(server);
  }

  static void TearDownTestSuite() {
    if (world == nullptr) return;
    world->server.reset();
    world->marketer.reset();
    world->counters.reset();
    world->shop.reset();
    delete world;
    world = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(world, nullptr);
    ASSERT_NE(world->server, nullptr) << "suite set-up failed";
    rec_ = v1::Recommender::NewStub(world->server->channel);
    admin_ = v1::Admin::NewStub(world->server->channel);
  }

  static void Deadline(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(10));
  }

  static v1::SlotResult Feed(v1::Recommender::Stub* stub,
                             const std::string& user) {
    v1::RecommendProductsRequest req;
    req.set_user_id(user);
    auto* slot = req.add_slots();
    slot->set_name("homepage_feed");
    slot->set_k(5);
    slot = req.add_slots();
    slot->set_name("homepage_hero");
    slot->set_k(3);
    v1::RecommendProductsResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    grpc::Status st = stub->RecommendProducts(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    if (!st.ok() || resp.slots_size() != 2) return v1::SlotResult();
    // The hero slot is in no experiment: an id, no assignment.
    EXPECT_FALSE(resp.slots(1).recommendation_id().empty());
    EXPECT_EQ(resp.slots(1).assignments_size(), 0);
    return resp.slots(0);
  }

  grpc::Status Record(const std::vector<v1::Event>& events,
                      v1::RecordEventsResponse* out) {
    v1::RecordEventsRequest req;
    for (const v1::Event& e : events) *req.add_events() = e;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    return rec_->RecordEvents(&ctx, req, out);
  }

  v1::ExperimentReport Report(const std::string& experiment = "layout") {
    v1::GetExperimentReportRequest req;
    req.set_experiment(experiment);
    v1::ExperimentReports resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    grpc::Status st = admin_->GetExperimentReport(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.experiments_size() == 1 ? resp.experiments(0)
                                        : v1::ExperimentReport();
  }

  static const v1::VariantReport& Variant(const v1::ExperimentReport& r,
                                          const std::string& name) {
    for (const auto& v : r.variants()) {
      if (v.variant() == name) return v;
    }
    return v1::VariantReport::default_instance();
  }

  static v1::Event Event(v1::EventType type, const std::string& user,
                         const std::string& item, const std::string& rec_id,
                         const std::string& event_id) {
    v1::Event e;
    e.set_type(type);
    e.set_user_id(user);
    e.set_item_id(item);
    e.set_recommendation_id(rec_id);
    e.set_event_id(event_id);
    e.set_slot("homepage_feed");
    if (type == v1::EVENT_PURCHASE) {
      e.set_quantity(2);
      e.set_price(3.5);
    }
    return e;
  }

  std::unique_ptr<v1::Recommender::Stub> rec_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::map<std::string, int> ports_;  // server processes by name
};

TEST_F(ExperimentsServerTest, SlotsCarryAnIdAndTheVariantThatShapedThem) {
  std::map<std::string, int> seen;
  for (int i = 0; i < 40; ++i) {
    const v1::SlotResult feed = Feed(rec_.get(), world->shop->users[i]);
    ASSERT_FALSE(feed.recommendation_id().empty());
    ASSERT_EQ(feed.assignments_size(), 1);
    EXPECT_EQ(feed.assignments(0).experiment(), "layout");
    const std::string& variant = feed.assignments(0).variant();
    ++seen[variant];
    if (variant == "trending") {
      for (const auto& item : feed.items()) {
        EXPECT_TRUE(item.reason().code() == v1::REASON_TRENDING ||
                    item.reason().code() == v1::REASON_POPULAR)
            << item.reason().code();
      }
    }
  }
  EXPECT_GT(seen["control"], 0);
  EXPECT_GT(seen["trending"], 0);
  EXPECT_EQ(Feed(rec_.get(), "qa-user").assignments(0).variant(), "trending");
}

TEST_F(ExperimentsServerTest, EventsCountOnceForTheirVariantOnly) {
  // A user of each variant.
  std::string user[2], id[2];
  for (int i = 0; i < 40 && (user[0].empty() || user[1].empty()); ++i) {
    const v1::SlotResult feed = Feed(rec_.get(), world->shop->users[i]);
    const int v = feed.assignments(0).variant() == "control" ? 0 : 1;
    if (user[v].empty() && feed.items_size() > 0) {
      user[v] = world->shop->users[i];
      id[v] = feed.recommendation_id();
    }
  }
  ASSERT_FALSE(user[0].empty());
  ASSERT_FALSE(user[1].empty());
  const v1::ExperimentReport before = Report();
  const std::string item = world->shop->models->Current()->item(0).item_id;
  const std::vector<v1::Event> events = {
      Event(v1::EVENT_IMPRESSION, user[1], item, id[1], "t-imp"),
      Event(v1::EVENT_CLICK, user[1], item, id[1], "t-click"),
      Event(v1::EVENT_PURCHASE, user[1], item, id[1], "t-buy")};
  v1::RecordEventsResponse resp;
  ASSERT_TRUE(Record(events, &resp).ok());
  EXPECT_EQ(resp.accepted(), 3);
  // Retried: neither stored nor counted again.
  ASSERT_TRUE(Record(events, &resp).ok());
  const v1::ExperimentReport after = Report();
  const auto& t0 = Variant(before, "trending");
  const auto& t1 = Variant(after, "trending");
  EXPECT_EQ(t1.impressions() - t0.impressions(), 1);
  EXPECT_EQ(t1.clicks() - t0.clicks(), 1);
  EXPECT_DOUBLE_EQ(t1.gmv() - t0.gmv(), 7.0);
  EXPECT_EQ(t1.converted_users() - t0.converted_users(), 1);
  EXPECT_EQ(Variant(after, "control").impressions(),
            Variant(before, "control").impressions());
  EXPECT_EQ(Variant(after, "control").gmv(), Variant(before, "control").gmv());
  EXPECT_FALSE(after.statistics().empty());
}

TEST_F(ExperimentsServerTest,
       BadAttributionIsRefusedNamingTheFieldAndNothingCounts) {
  const std::string user = world->shop->users[1];
  const v1::SlotResult feed = Feed(rec_.get(), user);
  const std::string item = world->shop->models->Current()->item(0).item_id;
  const v1::ExperimentReport before = Report();
  struct Case {
    v1::Event event;
    std::string field;
  };
  std::string edited = feed.recommendation_id();
  edited[0] = '2';
  v1::Event negative =
      Event(v1::EVENT_PURCHASE, user, item, feed.recommendation_id(), "");
  negative.set_price(-1);
  const std::vector<Case> cases = {
      {Event(v1::EVENT_CLICK, user, item, "not-an-id", ""),
       "events[0].recommendation_id"},
      {Event(v1::EVENT_CLICK, user, item, edited, ""),
       "events[0].recommendation_id"},
      {Event(v1::EVENT_CLICK, world->shop->users[2], item,
             feed.recommendation_id(), ""),
       "events[0].recommendation_id: issued to another user"},
      {Event(v1::EVENT_VIEW, user, item, feed.recommendation_id(), ""),
       "events[0].recommendation_id"},
      {negative, "events[0].price"},
  };
  for (const Case& c : cases) {
    v1::RecordEventsResponse resp;
    grpc::Status st = Record({c.event}, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_EQ(st.error_message().rfind(c.field, 0), 0u) << st.error_message();
  }
  const v1::ExperimentReport after = Report();
  for (const char* v : {"control", "trending"}) {
    EXPECT_EQ(Variant(after, v).clicks(), Variant(before, v).clicks());
    EXPECT_EQ(Variant(after, v).gmv(), Variant(before, v).gmv());
  }
  // An unknown experiment in the report request.
  v1::GetExperimentReportRequest req;
  req.set_experiment("nope");
  v1::ExperimentReports resp;
  grpc::ClientContext ctx;
  Deadline(&ctx);
  EXPECT_EQ(admin_->GetExperimentReport(&ctx, req, &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ExperimentsServerTest, SharedCountersAreExportedAsMetrics) {
  // An impression for a variant, then the scrape shows the report's numbers
  // per experiment x variant x slot.
  const std::string user = world->shop->users[3];
  const v1::SlotResult feed = Feed(rec_.get(), user);
  ASSERT_GT(feed.items_size(), 0);
  v1::RecordEventsResponse resp;
  ASSERT_TRUE(Record({Event(v1::EVENT_IMPRESSION, user, feed.items(0).item_id(),
                            feed.recommendation_id(), "metrics-imp")},
                     &resp)
                  .ok());
  const v1::ExperimentReport report = Report();
  const std::string text = world->registry.Exposition();
  int slots = 0;
  for (const v1::VariantReport& v : report.variants()) {
    for (const v1::SlotCounters& slot : v.slots()) {
      ++slots;
      const std::string labels = absl::StrCat("{experiment=\"layout\",variant=\"", v.variant(),
                                              "\",slot=\"", slot.slot(), "\"} ");
      EXPECT_NE(text.find(absl::StrCat("recsys_experiment_impressions_total", labels,
                                       slot.impressions(), "\n")),
                std::string::npos)
          << labels << "\n" << text;
      EXPECT_NE(text.find(absl::StrCat("recsys_experiment_clicks_total", labels, slot.clicks(),
                                       "\n")),
                std::string::npos)
          << labels;
    }
    EXPECT_NE(text.find(absl::StrCat("recsys_experiment_exposed_users{experiment=\"layout\","
                                     "variant=\"",
                                     v.variant(), "\"} ", v.exposed_users(), "\n")),
              std::string::npos)
        << v.variant();
  }
  EXPECT_GT(slots, 0);
}

TEST_F(ExperimentsServerTest, ABadConfigOnReloadKeepsTheServedOne) {
  const std::string good =
      Feed(rec_.get(), world->shop->users[3]).assignments(0).variant();
  recsys::testing::WriteFile(
      world->shop->dir, "experiments.textproto",
      absl::StrCat(kExperiments, "layers { name: \"home\" }"));
  v1::ReloadModelResponse resp;
  grpc::ClientContext ctx;
  Deadline(&ctx);
  grpc::Status st = admin_->ReloadModel(&ctx, v1::ReloadModelRequest(), &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("layers[2].name: duplicate layer 'home'"),
            std::string::npos)
      << st.error_message();
  EXPECT_EQ(Feed(rec_.get(), world->shop->users[3]).assignments(0).variant(),
            good);
  recsys::testing::WriteFile(world->shop->dir, "experiments.textproto",
                             kExperiments);
}

// A holdout variant gets no coupon of its campaign; both variants' answers
// carry the assignment and count as exposures, so the holdout is measured.
TEST_F(ExperimentsServerTest, ACouponHoldoutGetsNoCouponAndIsStillExposed) {
  v1::CouponCatalog catalog;
  v1::Coupon* welcome = catalog.add_coupons();
  welcome->set_id("EXP_WELCOME");
  welcome->set_type(v1::COUPON_AMOUNT_OFF);
  welcome->set_amount_off(5);
  welcome->set_campaign("welcome");
  welcome->mutable_eligibility()->set_first_order_only(true);
  {
    v1::PutCouponsResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    ASSERT_TRUE(admin_->PutCoupons(&ctx, catalog, &resp).ok());
  }
  const v1::ExperimentReport before = Report("welcome_holdout");
  std::map<std::string, int> answers, with_coupon;
  for (int i = 0; i < 30; ++i) {
    v1::RecommendCouponsRequest req;
    req.set_user_id(absl::StrCat("new-visitor-", i));
    req.set_k(3);
    v1::RecommendCouponsResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    ASSERT_TRUE(rec_->RecommendCoupons(&ctx, req, &resp).ok());
    ASSERT_FALSE(resp.recommendation_id().empty());
    ASSERT_EQ(resp.assignments_size(), 1);
    EXPECT_EQ(resp.assignments(0).experiment(), "welcome_holdout");
    const std::string& variant = resp.assignments(0).variant();
    ++answers[variant];
    bool offered = false;
    for (const auto& c : resp.coupons())
      offered = offered || c.coupon_id() == "EXP_WELCOME";
    with_coupon[variant] += offered;
  }
  EXPECT_GT(answers["holdout"], 0);
  EXPECT_GT(answers["coupon"], 0);
  EXPECT_EQ(with_coupon["holdout"], 0);
  EXPECT_EQ(with_coupon["coupon"], answers["coupon"]);
  const v1::ExperimentReport after = Report("welcome_holdout");
  for (const char* v : {"holdout", "coupon"}) {
    EXPECT_EQ(
        Variant(after, v).exposed_users() - Variant(before, v).exposed_users(),
        answers[v])
        << v;
  }
}

// FindAudience members carry a recommendation id and their coupon
// experiment's assignment; a holdout member gets no coupon of the held-out
// campaign. A member's id attributes its coupon event like a
// RecommendCoupons id; an edited one is refused and counts nothing.
TEST_F(ExperimentsServerTest, AudienceMembersCarryIdsAndAHoldoutGetsNoCoupon) {
  v1::CouponCatalog catalog;
  v1::Coupon* welcome = catalog.add_coupons();
  welcome->set_id("EXP_WELCOME_ALL");
  welcome->set_type(v1::COUPON_AMOUNT_OFF);
  welcome->set_amount_off(5);
  welcome->set_campaign("welcome");
  {
    v1::PutCouponsResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    ASSERT_TRUE(admin_->PutCoupons(&ctx, catalog, &resp).ok());
  }
  v1::FindAudienceRequest req;
  req.set_coupon_id("EXP_WELCOME_ALL");
  req.set_limit(200);
  grpc::ClientContext ctx;
  Deadline(&ctx);
  auto reader = rec_->FindAudience(&ctx, req);
  std::vector<v1::AudienceMember> members;
  v1::AudiencePage page;
  while (reader->Read(&page)) {
    for (const auto& m : page.members()) members.push_back(m);
  }
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_GT(members.size(), 20u);
  std::map<std::string, int> listed, with_coupon;
  const v1::AudienceMember* treated = nullptr;
  for (const v1::AudienceMember& m : members) {
    ASSERT_FALSE(m.recommendation_id().empty()) << m.user_id();
    ASSERT_EQ(m.assignments_size(), 1) << m.user_id();
    EXPECT_EQ(m.assignments(0).experiment(), "welcome_holdout");
    const std::string& variant = m.assignments(0).variant();
    ++listed[variant];
    with_coupon[variant] += m.best_coupon_id() == "EXP_WELCOME_ALL";
    if (variant == "coupon" && treated == nullptr) treated = &m;
    EXPECT_EQ(m.held_out(), variant == "holdout") << m.user_id();
    if (variant == "holdout") {
      EXPECT_EQ(m.best_coupon_id(), "") << m.user_id();
      EXPECT_NE(m.reason().text().find("held out"), std::string::npos)
          << m.reason().text();
    }
  }
  EXPECT_GT(listed["holdout"], 0);
  EXPECT_GT(listed["coupon"], 0);
  EXPECT_EQ(with_coupon["holdout"], 0);
  EXPECT_EQ(with_coupon["coupon"], listed["coupon"]);
  ASSERT_NE(treated, nullptr);

  const v1::ExperimentReport before = Report("welcome_holdout");
  // An edited id (one digit of the check changed) and an id of another
  // user are refused, naming the field; nothing counts.
  std::string edited = treated->recommendation_id();
  edited.back() = edited.back() == '0' ? '1' : '0';
  v1::Event issued;
  issued.set_type(v1::EVENT_COUPON_ISSUED);
  issued.set_user_id(treated->user_id());
  issued.set_coupon_id("EXP_WELCOME_ALL");
  issued.set_event_id(absl::StrCat("audience-", treated->user_id()));
  for (const std::string& bad : {edited, std::string("1~garbage")}) {
    v1::Event e = issued;
    e.set_recommendation_id(bad);
    v1::RecordEventsResponse resp;
    grpc::Status st = Record({e}, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(st.error_message().rfind("events[0].recommendation_id", 0), 0u)
        << st.error_message();
  }
  EXPECT_EQ(Variant(Report("welcome_holdout"), "coupon").coupons_issued(),
            Variant(before, "coupon").coupons_issued());
  // The member's own id: issued, and counted for the member's variant.
  issued.set_recommendation_id(treated->recommendation_id());
  v1::RecordEventsResponse resp;
  grpc::Status st = Record({issued}, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.rejected_size(), 0);
  const v1::ExperimentReport after = Report("welcome_holdout");
  EXPECT_EQ(Variant(after, "coupon").coupons_issued(),
            Variant(before, "coupon").coupons_issued() + 1);
  EXPECT_EQ(Variant(after, "holdout").coupons_issued(),
            Variant(before, "holdout").coupons_issued());
}

// recsys_simulate against this server: 400 new visitors, orders with
// probability 0.05, plus 0.15 with a welcome coupon (true incrementality
// 0.15 / 0.20 = 0.75). The report's incremental conversion of segment
// "new" covers +0.15; the measured incrementality is within 3.5 standard
// errors of 0.75; after a refresh RecommendCoupons uses it, shrunk toward
// the prior with w = tau² / (tau² + se²), and says so in its figures.
TEST_F(ExperimentsServerTest, SimulatedHoldoutMeasuresTheTrueUplift) {
  v1::CouponCatalog catalog;
  v1::Coupon* welcome = catalog.add_coupons();
  welcome->set_id("EXP_WELCOME");
  welcome->set_type(v1::COUPON_AMOUNT_OFF);
  welcome->set_amount_off(5);
  welcome->set_campaign("welcome");
  welcome->mutable_eligibility()->set_first_order_only(true);
  {
    v1::PutCouponsResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    ASSERT_TRUE(admin_->PutCoupons(&ctx, catalog, &resp).ok());
  }
  const std::string out = absl::StrCat(world->shop->dir, "/simulate.txt");
  const std::string command = absl::StrCat(
      RECSYS_SIMULATE, " --target=127.0.0.1:", world->server->server->port(),
      " --users=400 --seed=11 --user_prefix=uplift-sim- --experiment=layout",
      " --slot=homepage_feed --click=control:0.04,trending:0.06",
      " --coupon_experiment=welcome_holdout --base_conversion=0.05",
      " --coupon_uplift=0.15 --report > ", out, " 2>&1");
  ASSERT_EQ(recsys::testing::RunCommand(command), 0)
      << recsys::testing::ReadFileBytes(out);

  const v1::ExperimentReport report = Report("welcome_holdout");
  EXPECT_EQ(report.segment_baseline(), "holdout");
  const v1::SegmentReport* holdout = nullptr;
  const v1::SegmentReport* coupon = nullptr;
  for (const v1::VariantReport& v : report.variants()) {
    for (const v1::SegmentReport& g : v.segments()) {
      if (g.segment() != "new") continue;
      (v.variant() == "holdout" ? holdout : coupon) = &g;
    }
  }
  ASSERT_NE(holdout, nullptr);
  ASSERT_NE(coupon, nullptr);
  EXPECT_GE(holdout->exposed_users() + coupon->exposed_users(), 400);
  ASSERT_EQ(coupon->lifts_size(), 2);
  const v1::Lift& conversion = coupon->lifts(0);
  EXPECT_EQ(conversion.metric(), "incremental_conversion");
  EXPECT_LE(conversion.absolute_low(), 0.15) << conversion.ShortDebugString();
  EXPECT_GE(conversion.absolute_high(), 0.15) << conversion.ShortDebugString();
  EXPECT_GT(coupon->coupon_cost(), 0);

  ASSERT_TRUE(
      world->marketer->RefreshUplift(absl::Now() + absl::Seconds(10)).ok());
  std::optional<experiments::UpliftEstimate> estimate;
  for (const auto& e : world->marketer->UpliftEstimates()) {
    if (e.campaign == "welcome" && e.segment == "new") estimate = e;
  }
  ASSERT_TRUE(estimate.has_value());
  EXPECT_NEAR(estimate->incrementality,
              1 - holdout->conversion_rate() / coupon->conversion_rate(), 1e-9);
  EXPECT_LT(std::abs(estimate->incrementality - 0.75),
            3.5 * estimate->standard_error)
      << estimate->incrementality << " ± " << estimate->standard_error;

  // A new visitor of the coupon variant: the coupon's figures use the
  // measurement.
  bool seen = false;
  for (int i = 0; i < 40 && !seen; ++i) {
    v1::RecommendCouponsRequest req;
    req.set_user_id(absl::StrCat("uplift-after-", i));
    req.set_k(1);
    v1::RecommendCouponsResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    ASSERT_TRUE(rec_->RecommendCoupons(&ctx, req, &resp).ok());
    if (resp.coupons_size() == 0) continue;
    seen = true;
    const v1::IncrementalityFigures& u =
        resp.coupons(0).incrementality_figures();
    EXPECT_EQ(u.experiment(), "welcome_holdout");
    EXPECT_NEAR(u.measured(), estimate->incrementality, 1e-9);
    EXPECT_NEAR(u.standard_error(), estimate->standard_error, 1e-9);
    EXPECT_DOUBLE_EQ(u.prior(), 0.5);  // new
    if (u.source() == "shrunk") {
      const double se2 = u.standard_error() * u.standard_error();
      EXPECT_NEAR(u.weight(), 0.04 / (0.04 + se2), 1e-9);
      EXPECT_NEAR(u.value(), u.weight() * u.measured() + (1 - u.weight()) * 0.5,
                  1e-9);
    } else {
      EXPECT_EQ(u.source(), "measured");
      EXPECT_LE(1.96 * u.standard_error(), 0.05);
    }
    EXPECT_NEAR(resp.coupons(0).incrementality(), u.value(), 1e-6);
  }
  EXPECT_TRUE(seen);
}

// The real binary, twice, then one of them restarted: every user keeps its
// variant.
TEST_F(ExperimentsServerTest, AssignmentIsStableAcrossProcessesAndRestarts) {
  auto start = [&](const std::string& name)
      -> std::unique_ptr<recsys::testing::ChildProcess> {
    const std::string port_file =
        absl::StrCat(world->shop->dir, "/", name, ".port");
    auto process = recsys::testing::ChildProcess::Start(
        {RECSYS_SERVER, "--listen=127.0.0.1:0", "--http_listen=127.0.0.1:0",
         absl::StrCat("--port_file=", port_file),
         absl::StrCat("--model_root=", world->shop->dir, "/models"),
         absl::StrCat("--redis=", world->shop->redis->address()),
         "--poll_seconds=0", "--drain=0s",
         absl::StrCat("--experiments_config=", world->config)},
        absl::StrCat(world->shop->dir, "/", name, ".log"));
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return nullptr;
    auto port = recsys::testing::WaitForPortFile(port_file, process->get(),
                                                 absl::Seconds(60));
    EXPECT_TRUE(port.ok()) << port.status();
    ports_[name] = port.ok() ? *port : 0;
    return *std::move(process);
  };
  auto variants = [&](const std::string& name) {
    auto stub = v1::Recommender::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", ports_[name]),
                            grpc::InsecureChannelCredentials()));
    std::vector<std::string> out;
    for (int i = 0; i < 30; ++i) {
      const v1::SlotResult feed = Feed(stub.get(), world->shop->users[i]);
      out.push_back(feed.assignments_size() == 1 ? feed.assignments(0).variant()
                                                 : "?");
    }
    return out;
  };
  auto a = start("a");
  auto b = start("b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const std::vector<std::string> in_a = variants("a");
  EXPECT_EQ(in_a, variants("b"));
  std::vector<std::string> in_process;
  for (int i = 0; i < 30; ++i) {
    in_process.push_back(
        Feed(rec_.get(), world->shop->users[i]).assignments(0).variant());
  }
  EXPECT_EQ(in_a, in_process);
  ASSERT_TRUE(a->Stop(SIGTERM, absl::Seconds(20)).ok());
  a = start("a-restarted");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(variants("a-restarted"), in_a);
}

}  // namespace
}  // namespace recsys::server
