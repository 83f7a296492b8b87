// Triggered offers through real gRPC on a real redis-server: RecordEvents
// feeds the trigger engine, Admin.RunTriggers (driven with explicit times,
// nothing sleeps) writes the offers into the outbox stream.
#include "server/triggers.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "experiments/attribution.h"
#include "experiments/experiment_plan.h"
#include "feature_store/in_memory_feature_store.h"
#include "feature_store/redis_feature_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "intelligence/intel.h"
#include "intelligence/intel_store.h"
#include "marketing/coupon_store.h"
#include "marketing/intel_signals.h"
#include "marketing/segment_store.h"
#include "marketing/trigger_engine.h"
#include "model/model_format.h"
#include "model/model_store.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "redis/client.h"
#include "server/recommender_service.h"
#include "tests/model/test_model.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"
#include "tests/testing/test_server.h"

namespace recsys::server {
namespace {

using ::testing::HasSubstr;

class TriggersServiceTest : public ::testing::Test {
 protected:
  virtual std::string Config() const {
    return R"pb(
      rules {
        name: "cart_abandoned"
        on_event: "add_to_cart"
        cancel_on: "purchase"
        delay: "4h"
      }
    )pb";
  }

  void SetUp() override {
    RECSYS_ASSERT_OK_AND_ASSIGN(redis_, recsys::testing::RedisServer::Start());
    const std::string root = recsys::testing::MakeUniqueDir("triggers");
    model::PublishOptions publish;
    publish.version = "1";
    RECSYS_ASSERT_OK(
        model::PublishModel(root, model::testing::MakePlantedModel(), publish));
    model::ModelStoreOptions model_options;
    model_options.root = root;
    model_options.poll_interval = absl::ZeroDuration();
    RECSYS_ASSERT_OK_AND_ASSIGN(models_,
                                model::ModelStore::Create(model_options));
    redis::Options redis_options;
    redis_options.host = redis_->host();
    redis_options.port = redis_->port();
    redis_options.default_timeout = absl::Seconds(20);
    RECSYS_ASSERT_OK_AND_ASSIGN(client_, redis::Client::Create(redis_options));
    RECSYS_ASSERT_OK_AND_ASSIGN(
        store_, feature_store::NewRedisFeatureStore(client_.get()));
    RECSYS_ASSERT_OK_AND_ASSIGN(coupons_,
                                marketing::NewRedisCouponStore(client_.get()));
    RECSYS_ASSERT_OK_AND_ASSIGN(segments_,
                                marketing::NewRedisSegmentStore(client_.get()));
    RECSYS_ASSERT_OK_AND_ASSIGN(
        intel_, intelligence::NewRedisIntelStore(client_.get()));
    // As server/main.cc wires them: signals from the intelligence records.
    signals_ = std::make_unique<marketing::IntelSignals>(intel_.get());
    RECSYS_ASSERT_OK_AND_ASSIGN(marketing::TriggersConfig config,
                                marketing::ParseTriggersConfig(Config()));
    marketing::TriggerEngineOptions trigger_options;
    trigger_options.config = config;
    RECSYS_ASSERT_OK_AND_ASSIGN(
        engine_, marketing::TriggerEngine::Create(
                     client_.get(), coupons_.get(), segments_.get(), &plans_,
                     signals_.get(), trigger_options));
    observer_ = std::make_unique<TriggerEventObserver>(engine_.get());
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.triggers = engine_.get();
    RECSYS_ASSERT_OK_AND_ASSIGN(
        served_,
        recsys::testing::StartTestServer(options, models_.get(), store_.get()));
    served_->storefront->SetEventObserver(observer_.get());
    stub_ = v1::Recommender::NewStub(served_->channel);
    admin_ = v1::Admin::NewStub(served_->channel);
  }

  void Record(const std::vector<
                  std::tuple<v1::EventType, std::string, int64_t>>& events,
              const std::string& id_prefix = "") {
    v1::RecordEventsRequest request;
    int n = 0;
    for (const auto& [type, user, t] : events) {
      v1::Event* e = request.add_events();
      e->set_type(type);
      e->set_user_id(user);
      e->set_item_id("a1");
      e->set_timestamp_unix(t);
      e->set_price(type == v1::EVENT_PURCHASE ? 10 : 0);
      if (!id_prefix.empty()) e->set_event_id(absl::StrCat(id_prefix, n++));
    }
    v1::RecordEventsResponse response;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    const grpc::Status st = stub_->RecordEvents(&context, request, &response);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(response.rejected_size(), 0) << response.rejected(0).message();
  }

  grpc::Status RunTriggers(int64_t now, v1::RunTriggersResponse* response,
                           std::vector<std::string> users = {}) {
    v1::RunTriggersRequest request;
    request.set_now_unix(now);
    for (const std::string& u : users) request.add_user_ids(u);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return admin_->RunTriggers(&context, request, response);
  }

  std::string Redis(std::vector<std::string> argv) {
    absl::StatusOr<std::string> reply = redis_->Command(argv);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.value_or("");
  }

  std::unique_ptr<recsys::testing::RedisServer> redis_;
  std::unique_ptr<model::ModelStore> models_;
  std::unique_ptr<redis::Client> client_;  // outlives the stores
  std::unique_ptr<feature_store::FeatureStore> store_;
  std::unique_ptr<marketing::CouponStore> coupons_;
  std::unique_ptr<marketing::SegmentStore> segments_;
  std::unique_ptr<intelligence::IntelStore> intel_;
  std::unique_ptr<marketing::IntelSignals> signals_;
  experiments::PlanHolder plans_;
  std::unique_ptr<marketing::TriggerEngine> engine_;
  std::unique_ptr<TriggerEventObserver> observer_;
  std::unique_ptr<recsys::testing::TestServer> served_;
  std::unique_ptr<v1::Recommender::Stub> stub_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

TEST_F(TriggersServiceTest, CartAbandonmentBecomesOneOfferInTheOutbox) {
  const int64_t t0 = absl::ToUnixSeconds(absl::Now()) - 6 * 3600;
  // The cart event twice (a retried batch), and a cart that a purchase ends.
  Record({{v1::EVENT_ADD_TO_CART, "abandoner", t0}}, "cart-1/");
  Record({{v1::EVENT_ADD_TO_CART, "abandoner", t0}}, "cart-1/");
  Record({{v1::EVENT_ADD_TO_CART, "buyer", t0},
          {v1::EVENT_PURCHASE, "buyer", t0 + 600}});

  v1::RunTriggersResponse early;
  grpc::Status st = RunTriggers(t0 + 4 * 3600 - 1, &early);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(early.claimed(), 0);
  EXPECT_EQ(Redis({"XLEN", "rs:offers"}), "0");

  v1::RunTriggersResponse due;
  st = RunTriggers(t0 + 4 * 3600, &due);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(due.claimed(), 2);
  EXPECT_EQ(due.written(), 1);
  EXPECT_EQ(due.cancelled(), 1);
  ASSERT_EQ(due.offers_size(), 1);
  EXPECT_EQ(due.offers(0).user_id(), "abandoner");
  EXPECT_EQ(due.offers(0).trigger_unix(), t0);
  EXPECT_EQ(due.offers(0).offer_id(),
            marketing::TriggerEngine::OfferId("cart_abandoned", "abandoner", "",
                                              absl::FromUnixSeconds(t0)));
  EXPECT_EQ(Redis({"XLEN", "rs:offers"}), "1");
  EXPECT_THAT(Redis({"XRANGE", "rs:offers", "-", "+"}),
              HasSubstr(due.offers(0).offer_id()));

  // A consumer group reads it once and acknowledges it.
  EXPECT_EQ(Redis({"XGROUP", "CREATE", "rs:offers", "messaging", "0"}), "OK");
  EXPECT_THAT(Redis({"XREADGROUP", "GROUP", "messaging", "c1", "COUNT", "10",
                     "STREAMS", "rs:offers", ">"}),
              HasSubstr("abandoner"));
  EXPECT_EQ(
      Redis({"XACK", "rs:offers", "messaging", due.offers(0).stream_id()}),
      "1");

  v1::RunTriggersResponse later;
  ASSERT_TRUE(RunTriggers(t0 + 5 * 3600, &later).ok());
  EXPECT_EQ(later.claimed(), 0);
  EXPECT_EQ(Redis({"XLEN", "rs:offers"}), "1");
}

TEST_F(TriggersServiceTest, RunTriggersChecksItsArguments) {
  v1::RunTriggersResponse response;
  grpc::Status st = RunTriggers(-5, &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("now_unix"));
  st = RunTriggers(0, &response, {"ok", ""});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("user_ids[1]"));
}

// The rules driven by the nightly scores: the server's engine reads each
// user's intelligence record from Redis (churn risk, intent, due items).
class SignalTriggersServiceTest : public TriggersServiceTest {
 protected:
  std::string Config() const override {
    return R"pb(
      rules { name: "cart_abandoned" on_event: "add_to_cart" delay: "4h" }
      rules {
        name: "win_back"
        on_signal: "win_back"
        min_churn_risk: 0.5
        coupon_id: "COMEBACK15"
      }
      rules { name: "replenishment" on_signal: "replenishment" }
      caps { per_day: 1 }
    )pb";
  }

  void SetUp() override {
    TriggersServiceTest::SetUp();
    if (HasFatalFailure()) return;
    now_ = absl::ToUnixSeconds(absl::Now());
  }

  // A record as the nightly job writes it: a valuable customer whose
  // intent fell has a high churn risk.
  void PutIntel(const std::string& user, double intent, double churn_risk,
                std::vector<intelligence::DueItem> due = {}) {
    intelligence::UserIntel u;
    u.user_id = user;
    u.as_of_unix = now_ - 3600;
    u.purchase_intent = intent;
    u.churn_risk = churn_risk;
    u.cycle_days = 30;
    u.next_purchase_unix = now_ + 20 * 86400;
    u.due_items = std::move(due);
    RECSYS_ASSERT_OK(intel_->PutIntel({u}));
  }

  void PutComeback(int64_t budget_count) {
    marketing::CouponCatalog catalog;
    marketing::Coupon& c = catalog.coupons.emplace_back();
    c.id = "COMEBACK15";
    c.type = marketing::CouponType::kAmountOff;
    c.amount_off = 15;
    c.budget_count = budget_count;
    RECSYS_ASSERT_OK(coupons_->PutCoupons(catalog, absl::InfiniteFuture()));
  }

  std::vector<std::string> Written(const v1::RunTriggersResponse& r) {
    std::vector<std::string> out;
    for (const v1::TriggeredOffer& o : r.offers())
      out.push_back(absl::StrCat(o.rule(), ":", o.user_id()));
    return out;
  }

  int64_t now_ = 0;
};

TEST_F(SignalTriggersServiceTest, AtRiskCustomerGetsAWinBackOfferInTheOutbox) {
  PutComeback(100);
  PutIntel("lapsing", /*intent=*/0.12, /*churn_risk=*/0.72);
  PutIntel("steady", /*intent=*/0.81, /*churn_risk=*/0.03);
  // A model too young to score: no signal, and no segment record either.
  PutIntel("unscored", /*intent=*/-1, /*churn_risk=*/0);
  v1::RunTriggersResponse response;
  grpc::Status st =
      RunTriggers(now_, &response, {"lapsing", "steady", "unscored", "nobody"});
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(response.scheduled(), 1);
  EXPECT_EQ(response.written(), 1);
  ASSERT_EQ(response.offers_size(), 1);
  const v1::TriggeredOffer& offer = response.offers(0);
  EXPECT_EQ(offer.rule(), "win_back");
  EXPECT_EQ(offer.user_id(), "lapsing");
  EXPECT_EQ(offer.coupon_id(), "COMEBACK15");
  const std::string outbox = Redis({"XRANGE", "rs:offers", "-", "+"});
  EXPECT_THAT(outbox, HasSubstr(offer.offer_id()));
  EXPECT_THAT(outbox, HasSubstr("win_back\nuser_id\nlapsing"));
  EXPECT_THAT(outbox, ::testing::Not(HasSubstr("steady")));
  EXPECT_EQ(Redis({"XLEN", "rs:offers"}), "1");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto counts,
                              coupons_->GetUserCounts("lapsing", {"COMEBACK15"},
                                                      absl::InfiniteFuture()));
  EXPECT_EQ(counts[0].issued, 1);

  // The next pass (same week, same record) finds the same offer id.
  v1::RunTriggersResponse again;
  ASSERT_TRUE(RunTriggers(now_ + 60, &again, {"lapsing", "steady"}).ok());
  EXPECT_EQ(again.written(), 0);
  EXPECT_EQ(Redis({"XLEN", "rs:offers"}), "1");

  // The nightly job lowers the risk of another customer below the rule:
  // no offer; raised above it: an offer.
  PutIntel("steady", 0.2, 0.49);
  ASSERT_TRUE(RunTriggers(now_ + 120, &again, {"steady"}).ok());
  EXPECT_EQ(again.written(), 0);
  PutIntel("steady", 0.2, 0.5);
  ASSERT_TRUE(RunTriggers(now_ + 180, &again, {"steady"}).ok());
  EXPECT_THAT(Written(again), ::testing::ElementsAre("win_back:steady"));
}

TEST_F(SignalTriggersServiceTest, ReplenishmentWhenAnItemIsDue) {
  PutIntel(
      "refiller", 0.6, 0.01,
      {{.item_id = "coffee-1kg", .due_unix = now_ - 3600, .cycle_days = 21},
       {.item_id = "filters", .due_unix = now_ + 86400, .cycle_days = 60}});
  PutIntel(
      "not-yet", 0.6, 0.01,
      {{.item_id = "coffee-1kg", .due_unix = now_ + 86400, .cycle_days = 21}});
  v1::RunTriggersResponse response;
  ASSERT_TRUE(RunTriggers(now_, &response, {"refiller", "not-yet"}).ok());
  ASSERT_EQ(response.offers_size(), 1);
  EXPECT_EQ(response.offers(0).rule(), "replenishment");
  EXPECT_EQ(response.offers(0).user_id(), "refiller");
  EXPECT_EQ(response.offers(0).cause(),
            absl::StrCat("due:", now_ - 3600, ":coffee-1kg"));
  EXPECT_EQ(response.offers(0).trigger_unix(), now_ - 3600);
}

TEST_F(SignalTriggersServiceTest, CapsBudgetsAndHoldoutsStillApply) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      auto plan, experiments::ExperimentPlan::Parse(R"pb(
        layers {
          name: "offers"
          experiments {
            name: "win_back_holdout"
            traffic_share: 1
            campaigns: "win_back"
            control: "holdout"
            variants {
              name: "holdout"
              share: 0.5
              coupons { campaign: "win_back" holdout: true }
            }
            variants { name: "offer" share: 0.5 }
          }
        }
      )pb"));
  plans_.Set(plan);
  std::vector<std::string> held, offered;
  for (int i = 0; held.size() < 1 || offered.size() < 3; ++i) {
    const std::string user = absl::StrCat("risky-", i);
    const auto a = plan->Assign(user, absl::FromUnixSeconds(now_), {});
    ASSERT_EQ(a.size(), 1u);
    (a[0].variant->name == "holdout" ? held : offered).push_back(user);
  }
  held.resize(1);
  offered.resize(3);
  // One redemption in the budget.
  PutComeback(1);
  for (const std::string& u : held) PutIntel(u, 0.1, 0.9);
  for (const std::string& u : offered) PutIntel(u, 0.1, 0.9);
  // offered[0] had a cart offer today: the daily cap of 1 is reached.
  Record({{v1::EVENT_ADD_TO_CART, offered[0], now_ - 5 * 3600}});
  v1::RunTriggersResponse cart;
  ASSERT_TRUE(RunTriggers(now_ - 3600, &cart).ok());
  ASSERT_THAT(Written(cart),
              ::testing::ElementsAre("cart_abandoned:" + offered[0]));
  // offered[1] redeems the one budgeted redemption first.
  RECSYS_ASSERT_OK(coupons_
                       ->Issue(offered[1], "COMEBACK15",
                               absl::FromUnixSeconds(now_ - 600),
                               absl::InfiniteFuture())
                       .status());
  RECSYS_ASSERT_OK(coupons_
                       ->Redeem(offered[1], "COMEBACK15", 40,
                                absl::FromUnixSeconds(now_ - 300),
                                absl::InfiniteFuture())
                       .status());

  std::vector<std::string> users = held;
  users.insert(users.end(), offered.begin(), offered.end());
  v1::RunTriggersResponse response;
  grpc::Status st = RunTriggers(now_, &response, users);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(response.scheduled(), 4);
  EXPECT_EQ(response.holdout(), 1);  // held[0]
  EXPECT_EQ(response.capped(), 1);   // offered[0]
  EXPECT_EQ(response.budget(), 2);   // offered[1], offered[2]: spent
  EXPECT_EQ(response.written(), 0);
  EXPECT_EQ(Redis({"XLEN", "rs:offers"}), "1");  // the cart offer only
}

TEST(TriggersServiceWithoutEngineTest, RunTriggersIsUnimplemented) {
  const std::string root = recsys::testing::MakeUniqueDir("triggers_off");
  model::PublishOptions publish;
  publish.version = "1";
  RECSYS_ASSERT_OK(
      model::PublishModel(root, model::testing::MakePlantedModel(), publish));
  model::ModelStoreOptions model_options;
  model_options.root = root;
  model_options.poll_interval = absl::ZeroDuration();
  RECSYS_ASSERT_OK_AND_ASSIGN(auto models,
                              model::ModelStore::Create(model_options));
  feature_store::InMemoryFeatureStore features;
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  RECSYS_ASSERT_OK_AND_ASSIGN(
      auto served,
      recsys::testing::StartTestServer(options, models.get(), &features));
  auto admin = v1::Admin::NewStub(served->channel);
  v1::RunTriggersResponse response;
  grpc::ClientContext context;
  const grpc::Status st =
      admin->RunTriggers(&context, v1::RunTriggersRequest(), &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(st.error_message(), HasSubstr("--triggers_config"));
}

}  // namespace
}  // namespace recsys::server
