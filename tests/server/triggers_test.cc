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
#include "feature_store/in_memory_feature_store.h"
#include "feature_store/redis_feature_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "marketing/coupon_store.h"
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
    RECSYS_ASSERT_OK_AND_ASSIGN(marketing::TriggersConfig config,
                                marketing::ParseTriggersConfig(R"pb(
                                  rules {
                                    name: "cart_abandoned"
                                    on_event: "add_to_cart"
                                    cancel_on: "purchase"
                                    delay: "4h"
                                  }
                                )pb"));
    marketing::TriggerEngineOptions trigger_options;
    trigger_options.config = config;
    RECSYS_ASSERT_OK_AND_ASSIGN(
        engine_,
        marketing::TriggerEngine::Create(client_.get(), coupons_.get(), nullptr,
                                         nullptr, nullptr, trigger_options));
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
