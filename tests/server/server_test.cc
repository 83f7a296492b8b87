// End-to-end tests of the gRPC service on a real redis-server:
// recsys_datagen generates a shop, recsys_train trains on it and loads Redis,
// the server runs on a free port and is called through a real TCP channel.
#include "server/recommender_service.h"


#include <signal.h>

#include <cstdlib>
#include <future>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "feature_store/redis_feature_store.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "model/model_store.h"
#include "redis/client.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "evaluation/production_ranker.h"
#include "tests/testing/child_process.h"
#include "tests/testing/test_files.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/test_server.h"
#include "tests/testing/trained_shop.h"
#include "tests/testing/status_matchers.h"

namespace recsys::server {
namespace {

namespace v1 = recsys::v1;
using grpc::health::v1::HealthCheckResponse;

// Shared by all tests of one process: Redis, a trained model, the server.
struct World {
  std::unique_ptr<recsys::testing::TrainedShop> shop;
  std::unique_ptr<recsys::testing::TestServer> server;
  std::shared_ptr<grpc::Channel> channel;
};

World* world = nullptr;

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    world = new World();
    auto shop = recsys::testing::TrainedShop::Create(
        {.datagen = RECSYS_DATAGEN, .train = RECSYS_TRAIN, .name = "server_test"});
    ASSERT_TRUE(shop.ok()) << shop.status();
    world->shop = *std::move(shop);

    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.health_interval = absl::Milliseconds(50);
    options.redis = world->shop->redis_client.get();
    recommender::StorefrontOptions storefront_options;
    recommender::RecommenderOptions& rec_options = storefront_options.recommender;
    rec_options.max_k = 100;
    rec_options.max_exclude_ids = 20;
    // Generous: the box running the tests may be busy.
    rec_options.feature_timeout = absl::Milliseconds(500);
    // One configured slot; the others keep the default sources.
    storefront_options.slots_config = recsys::testing::WriteFile(
        recsys::testing::MakeUniqueDir("server_test_slots"), "slots.textproto",
        "slots { name: \"new_for_you\" sources { source: SOURCE_BLENDED_NEW weight: 1 } }\n");
    auto server = recsys::testing::StartTestServer(options, world->shop->models.get(),
                                                   world->shop->features.get(), storefront_options);
    ASSERT_TRUE(server.ok()) << server.status();
    world->server = *std::move(server);
    world->channel = world->server->channel;
  }

  static void TearDownTestSuite() {
    if (world == nullptr) return;
    world->server.reset();
    world->shop.reset();
    delete world;
    world = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(world, nullptr);
    ASSERT_NE(world->server, nullptr) << "suite set-up failed";
    rec_ = v1::Recommender::NewStub(world->channel);
    admin_ = v1::Admin::NewStub(world->channel);
  }

  static void Deadline(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  }

  grpc::Status Recommend(const std::string& user, int k, v1::RecommendProductsResponse* out,
                         int second_k = 0) {
    v1::RecommendProductsRequest req;
    req.set_user_id(user);
    auto* slot = req.add_slots();
    slot->set_name("homepage_hero");
    slot->set_k(k);
    if (second_k > 0) {
      slot = req.add_slots();
      slot->set_name("homepage_feed");
      slot->set_k(second_k);
    }
    grpc::ClientContext ctx;
    Deadline(&ctx);
    return rec_->RecommendProducts(&ctx, req, out);
  }

  grpc::Status Profile(const std::string& user, v1::UserProfile* out) {
    v1::GetUserProfileRequest req;
    req.set_user_id(user);
    req.set_history_limit(1000);
    grpc::ClientContext ctx;
    Deadline(&ctx);
    return rec_->GetUserProfile(&ctx, req, out);
  }

  grpc::Status Purchase(const std::string& user, const std::string& item,
                        v1::RecordEventsResponse* out) {
    v1::RecordEventsRequest req;
    v1::Event* e = req.add_events();
    e->set_type(v1::EVENT_PURCHASE);
    e->set_user_id(user);
    e->set_item_id(item);
    e->set_quantity(1);
    e->set_price(2.5);
    grpc::ClientContext ctx;
    Deadline(&ctx);
    return rec_->RecordEvents(&ctx, req, out);
  }

  HealthCheckResponse::ServingStatus Health(const std::string& service) {
    auto stub = grpc::health::v1::Health::NewStub(world->channel);
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    HealthCheckResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    grpc::Status st = stub->Check(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.status();
  }

  static void ExpectInvalid(const grpc::Status& st, const std::string& field) {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
    EXPECT_NE(st.error_message().find(field), std::string::npos) << st.error_message();
  }

  std::unique_ptr<v1::Recommender::Stub> rec_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

TEST_F(ServerTest, HealthAndModelInfo) {
  EXPECT_EQ(Health(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(Health(kRecommenderHealthName), HealthCheckResponse::SERVING);
  EXPECT_EQ(Health(kFeatureStoreHealthName), HealthCheckResponse::SERVING);

  v1::ModelInfo info;
  grpc::ClientContext ctx;
  Deadline(&ctx);
  ASSERT_TRUE(admin_->GetModelInfo(&ctx, v1::GetModelInfoRequest(), &info).ok());
  EXPECT_EQ(info.version(), world->shop->models->Current()->version());
  EXPECT_EQ(info.num_users(), static_cast<int>(world->shop->users.size()));
  EXPECT_GT(info.num_items(), 50);
  EXPECT_EQ(info.dim(), 16);
  EXPECT_TRUE(info.feature_store_healthy());
  EXPECT_NE(info.manifest_json().find("\"factors\""), std::string::npos);
  EXPECT_EQ(info.available_versions_size(), 1);
}

// SIGTERM: NOT_SERVING on every health name for the drain period while calls
// are still answered, then the port closes and the process exits 0.
TEST_F(ServerTest, SigtermDrainsThenExitsCleanly) {
  const std::string port_file = world->shop->dir + "/drain.port";
  auto process = recsys::testing::ChildProcess::Start(
      {RECSYS_SERVER, "--listen=127.0.0.1:0", "--http_listen=127.0.0.1:0", absl::StrCat("--port_file=", port_file),
       absl::StrCat("--model_root=", world->shop->dir, "/models"),
       absl::StrCat("--redis=", world->shop->redis->address()), "--poll_seconds=0",
       "--drain=5s", "--shutdown_grace=5s"},
      world->shop->dir + "/drain.log");
  ASSERT_TRUE(process.ok()) << process.status();
  auto port = recsys::testing::WaitForPortFile(port_file, process->get(), absl::Seconds(60));
  ASSERT_TRUE(port.ok()) << port.status();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", *port),
                                     grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  auto rec = v1::Recommender::NewStub(channel);
  auto check = [&](const std::string& service) {
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    grpc::Status st = health->Check(&ctx, req, &resp);
    return st.ok() ? resp.status() : HealthCheckResponse::UNKNOWN;
  };
  EXPECT_EQ(check(""), HealthCheckResponse::SERVING);
  ASSERT_EQ(kill((*process)->pid(), SIGTERM), 0);
  // Within the drain period: NOT_SERVING, and calls still answered. (The
  // drain is long enough for a loaded box to run the checks inside it.)
  const absl::Time until = absl::Now() + absl::Seconds(2);
  while (check("") == HealthCheckResponse::SERVING && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(check(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(check(kRecommenderHealthName), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(check(kFeatureStoreHealthName), HealthCheckResponse::NOT_SERVING);
  v1::RecommendProductsRequest req;
  req.set_user_id(world->shop->users[0]);
  auto* slot = req.add_slots();
  slot->set_name("homepage_hero");
  slot->set_k(3);
  v1::RecommendProductsResponse resp;
  grpc::ClientContext ctx;
  Deadline(&ctx);
  grpc::Status st = rec->RecommendProducts(&ctx, req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.slots(0).items_size(), 3);
  auto code = (*process)->Stop(0, absl::Seconds(20));  // signal 0: just wait
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
}

TEST_F(ServerTest, KnownUserGetsPersonalizedSlotsWithoutTheirPurchases) {
  const std::string user = world->shop->users[0];
  v1::UserProfile profile;
  ASSERT_TRUE(Profile(user, &profile).ok());
  EXPECT_TRUE(profile.known_to_model());
  ASSERT_GT(profile.purchases_size(), 0);
  std::set<std::string> bought;
  for (const auto& p : profile.purchases()) bought.insert(p.item_id());

  v1::RecommendProductsResponse resp;
  grpc::Status st = Recommend(user, 5, &resp, 10);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_FALSE(resp.meta().degraded()) << resp.meta().degraded_reason();
  EXPECT_EQ(resp.meta().model_version(), world->shop->models->Current()->version());
  ASSERT_EQ(resp.slots_size(), 2);
  EXPECT_EQ(resp.slots(0).name(), "homepage_hero");
  EXPECT_EQ(resp.slots(0).items_size(), 5);
  EXPECT_EQ(resp.slots(1).items_size(), 10);
  std::set<std::string> seen;
  for (const auto& slot : resp.slots()) {
    for (const auto& item : slot.items()) {
      EXPECT_TRUE(seen.insert(item.item_id()).second) << "repeated " << item.item_id();
      EXPECT_EQ(bought.count(item.item_id()), 0u) << "already bought " << item.item_id();
      EXPECT_EQ(item.reason().code(), v1::REASON_PERSONALIZED);
      EXPECT_FALSE(item.reason().text().empty());
      EXPECT_EQ(bought.count(item.reason().anchor_item_id()), 1u)
          << "anchor " << item.reason().anchor_item_id() << " is not a purchase";
    }
  }
}

TEST_F(ServerTest, UnknownUserGetsPopularItems) {
  v1::RecommendProductsResponse resp;
  ASSERT_TRUE(Recommend("visitor-without-history", 5, &resp).ok());
  ASSERT_EQ(resp.slots(0).items_size(), 5);
  for (const auto& item : resp.slots(0).items()) {
    EXPECT_EQ(item.reason().code(), v1::REASON_POPULAR);
  }
  EXPECT_EQ(resp.slots(0).items(0).item_id(),
            world->shop->models->Current()->item(world->shop->models->Current()->popular()[0]).item_id);
}

TEST_F(ServerTest, PurchaseRecordedThroughRecordEventsIsExcludedNextTime) {
  const std::string user = world->shop->users[1];
  v1::RecommendProductsResponse before;
  ASSERT_TRUE(Recommend(user, 5, &before).ok());
  const std::string top = before.slots(0).items(0).item_id();

  v1::RecordEventsResponse recorded;
  grpc::Status st = Purchase(user, top, &recorded);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(recorded.accepted(), 1);

  v1::RecommendProductsResponse after;
  ASSERT_TRUE(Recommend(user, 5, &after).ok());
  for (const auto& item : after.slots(0).items()) EXPECT_NE(item.item_id(), top);
  v1::UserProfile profile;
  ASSERT_TRUE(Profile(user, &profile).ok());
  EXPECT_EQ(profile.purchases(0).item_id(), top);  // most recent first
  ASSERT_GT(profile.recent_activity_size(), 0);
  EXPECT_EQ(profile.recent_activity(0).item_id(), top);
  EXPECT_EQ(profile.recent_activity(0).type(), v1::EVENT_PURCHASE);
}

TEST_F(ServerTest, ViewsPersonalizeABrandNewUser) {
  const auto bundle = world->shop->models->Current();
  // The new user views the items most similar to one item.
  v1::SimilarItemsRequest sreq;
  sreq.set_item_id(bundle->item(bundle->popular()[20]).item_id);
  sreq.set_k(3);
  v1::SimilarItemsResponse similar;
  grpc::ClientContext sctx;
  Deadline(&sctx);
  ASSERT_TRUE(rec_->SimilarItems(&sctx, sreq, &similar).ok());
  v1::RecordEventsRequest req;
  for (const auto& item : similar.items()) {
    v1::Event* e = req.add_events();
    e->set_type(v1::EVENT_VIEW);
    e->set_user_id("brand-new-user");
    e->set_item_id(item.item_id());
  }
  v1::RecordEventsResponse recorded;
  grpc::ClientContext ctx;
  Deadline(&ctx);
  ASSERT_TRUE(rec_->RecordEvents(&ctx, req, &recorded).ok());
  EXPECT_EQ(recorded.accepted(), 3);
  v1::RecommendProductsResponse resp;
  ASSERT_TRUE(Recommend("brand-new-user", 5, &resp).ok());
  for (const auto& item : resp.slots(0).items()) {
    EXPECT_EQ(item.reason().code(), v1::REASON_PERSONALIZED);
    EXPECT_NE(item.reason().text().find("you viewed"), std::string::npos);
  }
}

// The production ranker served for blended slots is the evaluator's: for
// users without live events, the server's "for_you" slot equals the
// evaluator's list from the same model directory, and the discovery slot
// "new_for_you" (SOURCE_BLENDED_NEW) its new-items list (the ranker without
// the user's purchases).
TEST_F(ServerTest, BlendedSlotsEqualTheEvaluatorsProductionRankerLists) {
  const auto bundle = world->shop->models->Current();
  const int64_t now = bundle->manifest().data().last_event_unix() + 86400;
  const evaluation::BundleRanker ranker(bundle.get());
  for (const bool new_items : {false, true}) {
    const std::string slot_name = new_items ? "new_for_you" : "for_you";
    int compared = 0;
    for (size_t u = 3; u < 9 && u < world->shop->users.size(); ++u) {
      const std::string& user = world->shop->users[u];
      auto expected = ranker.Rank(user, 10, now, /*include_bought=*/!new_items);
      ASSERT_TRUE(expected.ok()) << expected.status();
      v1::RecommendProductsRequest req;
      req.set_user_id(user);
      auto* slot = req.add_slots();
      slot->set_name(slot_name);
      slot->set_k(10);
      req.mutable_context()->set_request_time_unix(now);
      v1::RecommendProductsResponse resp;
      grpc::ClientContext ctx;
      Deadline(&ctx);
      ASSERT_TRUE(rec_->RecommendProducts(&ctx, req, &resp).ok());
      std::vector<std::string> served;
      for (const auto& item : resp.slots(0).items()) {
        served.push_back(item.item_id());
        if (new_items) {
          EXPECT_NE(item.reason().code(), v1::REASON_BUY_AGAIN);
        }
      }
      EXPECT_EQ(served, *expected) << slot_name << ", user " << user;
      ++compared;
    }
    EXPECT_GE(compared, 5);
  }
}

TEST_F(ServerTest, SimilarItems) {
  const auto bundle = world->shop->models->Current();
  const std::string item = bundle->item(bundle->popular()[0]).item_id;
  v1::SimilarItemsRequest req;
  req.set_item_id(item);
  req.set_k(8);
  v1::SimilarItemsResponse resp;
  grpc::ClientContext ctx;
  Deadline(&ctx);
  ASSERT_TRUE(rec_->SimilarItems(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.items_size(), 8);
  for (const auto& it : resp.items()) {
    EXPECT_NE(it.item_id(), item);
    EXPECT_EQ(it.reason().code(), v1::REASON_SIMILAR_TO_ITEM);
    EXPECT_EQ(it.reason().anchor_item_id(), item);
    EXPECT_LE(it.score(), 1.0001f);
  }
  for (int i = 1; i < resp.items_size(); ++i) {
    EXPECT_GE(resp.items(i - 1).score(), resp.items(i).score());
  }
  req.set_item_id("no-such-item");
  grpc::ClientContext ctx2;
  Deadline(&ctx2);
  grpc::Status st = rec_->SimilarItems(&ctx2, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(st.error_message().find("item_id"), std::string::npos);
}

TEST_F(ServerTest, BadRequestsGetInvalidArgumentNamingTheField) {
  v1::RecommendProductsResponse resp;
  ExpectInvalid(Recommend("", 5, &resp), "user_id");
  ExpectInvalid(Recommend("u", 0, &resp), "slots[0].k");
  ExpectInvalid(Recommend("u", -3, &resp), "slots[0].k");
  ExpectInvalid(Recommend("u", 101, &resp), "slots[0].k");
  ExpectInvalid(Recommend("u", 5, &resp, 1000), "slots[1].k");

  v1::RecommendProductsRequest req;
  req.set_user_id("u");
  req.add_slots()->set_k(3);
  for (int i = 0; i < 21; ++i) req.mutable_filters()->add_exclude_item_ids(absl::StrCat("x", i));
  grpc::ClientContext ctx;
  Deadline(&ctx);
  ExpectInvalid(rec_->RecommendProducts(&ctx, req, &resp), "filters.exclude_item_ids");

  v1::SimilarItemsRequest sreq;
  sreq.set_item_id("x");
  sreq.set_k(0);
  v1::SimilarItemsResponse sresp;
  grpc::ClientContext sctx;
  Deadline(&sctx);
  ExpectInvalid(rec_->SimilarItems(&sctx, sreq, &sresp), "k");

  v1::RecordEventsRequest ereq;
  ereq.add_events()->set_user_id("u");  // type unset
  v1::RecordEventsResponse eresp;
  grpc::ClientContext ectx;
  Deadline(&ectx);
  ExpectInvalid(rec_->RecordEvents(&ectx, ereq, &eresp), "events[0].type");

  v1::UserProfile profile;
  ExpectInvalid(Profile("", &profile), "user_id");
  EXPECT_EQ(Profile("nobody-at-all", &profile).error_code(), grpc::StatusCode::NOT_FOUND);
}

// Hostile input of every class answers INVALID_ARGUMENT whose message starts
// with the field (docs/reliability.md, "Input").
TEST_F(ServerTest, HostileInputGetsInvalidArgumentNamingTheField) {
  auto expect_field = [](const grpc::Status& st, const std::string& field) {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
    EXPECT_EQ(st.error_message().find(field), 0u) << st.error_message();
  };
  auto recommend = [&](const v1::RecommendProductsRequest& req) {
    v1::RecommendProductsResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    return rec_->RecommendProducts(&ctx, req, &resp);
  };
  v1::RecommendProductsRequest base;
  base.set_user_id("u000123");
  base.add_slots()->set_name("homepage_hero");
  base.mutable_slots(0)->set_k(3);

  v1::RecommendProductsRequest control = base;
  control.set_user_id("u000\x01" "123");
  expect_field(recommend(control), "user_id:");

  v1::RecommendProductsRequest big_slot = base;
  big_slot.mutable_slots(0)->set_name(std::string(1 << 20, 's'));
  const grpc::Status big = recommend(big_slot);
  expect_field(big, "slots[0].name:");
  EXPECT_LT(big.error_message().size(), 200u);  // not echoed back

  v1::RecommendProductsRequest dup = base;
  *dup.add_slots() = base.slots(0);
  expect_field(recommend(dup), "slots[1].name:");

  v1::RecommendProductsRequest old = base;
  old.mutable_context()->set_request_time_unix(86400);  // 1970-01-02
  expect_field(recommend(old), "context.request_time_unix:");

  for (int64_t t : {int64_t{-5}, int64_t{86400}}) {
    v1::RecordEventsRequest ereq;
    v1::Event* e = ereq.add_events();
    e->set_type(v1::EVENT_VIEW);
    e->set_user_id("u000123");
    e->set_item_id("i00017");
    e->set_timestamp_unix(t);
    v1::RecordEventsResponse eresp;
    grpc::ClientContext ectx;
    Deadline(&ectx);
    expect_field(rec_->RecordEvents(&ectx, ereq, &eresp), "events[0].timestamp_unix:");
  }

  v1::RecordEventsRequest unknown;
  v1::Event* e = unknown.add_events();
  e->set_type(static_cast<v1::EventType>(42));
  e->set_user_id("u000123");
  e->set_item_id("i00017");
  v1::RecordEventsResponse uresp;
  grpc::ClientContext uctx;
  Deadline(&uctx);
  expect_field(rec_->RecordEvents(&uctx, unknown, &uresp), "events[0].type:");

  v1::SimilarItemsRequest sreq;
  sreq.set_item_id("i00017");
  sreq.set_k(3);
  sreq.set_mode(static_cast<v1::SimilarMode>(42));
  v1::SimilarItemsResponse sresp;
  grpc::ClientContext sctx;
  Deadline(&sctx);
  expect_field(rec_->SimilarItems(&sctx, sreq, &sresp), "mode:");
}

// Raw request bytes through grpc::GenericStub: what a client that does not
// use protobuf (or a broken one) can send.
grpc::Status RawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                     const std::string& bytes, grpc::ByteBuffer* response = nullptr) {
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer ignored;
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request,
                 response != nullptr ? response : &ignored,
                 [&done](grpc::Status st) { done.set_value(st); });
  return done.get_future().get();
}

// 6 bytes that are not UTF-8, put in place of kMarker in serialized bytes.
constexpr char kMarker[] = "@BAD@!";

std::string WithInvalidUtf8(const google::protobuf::Message& message) {
  std::string wire = message.SerializeAsString();
  for (size_t at = wire.find(kMarker); at != std::string::npos; at = wire.find(kMarker, at)) {
    wire.replace(at, 6, std::string("\xff\xfe\xc0\x80\xed\xa0", 6));
  }
  return wire;
}

// Invalid UTF-8 in a proto3 string field fails protobuf's generated parser.
// The callback API (the default) parses such a request field by field
// (server/callback_handler.h) and answers INVALID_ARGUMENT naming the
// field, for every unary method, nested and repeated fields included, and
// stores nothing. The sync API (--callback_api=false) keeps gRPC 1.51's
// answer: INTERNAL with an empty message (proto_utils.h GenericDeserialize).
TEST_F(ServerTest, InvalidUtf8InAStringFieldIsInvalidArgumentNamingTheField) {
  // RecommendProductsRequest{user_id: "\xff", slots {name: "homepage_hero" k: 3}}.
  const std::string wire = std::string("\x0a\x01\xff\x12\x11\x0a\x0d", 7) + "homepage_hero" +
                           std::string("\x10\x03", 2);
  std::string valid = wire;
  valid[2] = 'u';
  const std::string products = "/recsys.v1.Recommender/RecommendProducts";
  grpc::Status st = RawCall(world->channel, products, wire);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_EQ(st.error_message(), "user_id: invalid UTF-8");
  // The same bytes made valid are served: the framing above is right.
  EXPECT_TRUE(RawCall(world->channel, products, valid).ok());

  // A batch of events whose third event's item id is invalid: refused as a
  // whole, nothing stored (the user's profile is unchanged).
  const std::string user = world->shop->users[7];
  v1::UserProfile before;
  ASSERT_TRUE(Profile(user, &before).ok());
  v1::RecordEventsRequest events;
  const auto bundle = world->shop->models->Current();
  for (int i = 0; i < 4; ++i) {
    v1::Event* e = events.add_events();
    e->set_type(v1::EVENT_PURCHASE);
    e->set_user_id(user);
    e->set_item_id(i == 2 ? kMarker : bundle->item(i).item_id);
    e->set_quantity(1);
    e->set_price(2.5);
  }
  st = RawCall(world->channel, "/recsys.v1.Recommender/RecordEvents", WithInvalidUtf8(events));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_EQ(st.error_message(), "events[2].item_id: invalid UTF-8");
  v1::UserProfile after;
  ASSERT_TRUE(Profile(user, &after).ok());
  after.clear_meta();
  before.clear_meta();
  EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString());

  v1::GetUserProfileRequest profile_request;
  profile_request.set_user_id(kMarker);
  st = RawCall(world->channel, "/recsys.v1.Recommender/GetUserProfile",
               WithInvalidUtf8(profile_request));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_EQ(st.error_message(), "user_id: invalid UTF-8");

  v1::SimilarItemsRequest similar;
  similar.set_item_id(bundle->item(0).item_id);
  similar.set_k(3);
  similar.mutable_filters()->add_exclude_item_ids("x");
  similar.mutable_filters()->add_exclude_item_ids(kMarker);
  st = RawCall(world->channel, "/recsys.v1.Recommender/SimilarItems", WithInvalidUtf8(similar));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_EQ(st.error_message(), "filters.exclude_item_ids[1]: invalid UTF-8");

  // Admin: an item update whose second item's category is invalid; the
  // first item's stock is not changed.
  v1::UpdateItemsRequest update;
  v1::ItemUpdate* first = update.add_items();
  first->set_item_id(bundle->item(0).item_id);
  first->set_stock(0);
  v1::ItemUpdate* second = update.add_items();
  second->set_item_id(bundle->item(1).item_id);
  second->set_category(kMarker);
  st = RawCall(world->channel, "/recsys.v1.Admin/UpdateItems", WithInvalidUtf8(update));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_EQ(st.error_message(), "items[1].category: invalid UTF-8");
  const std::string zero_stock = bundle->item(0).item_id;
  auto features = world->shop->features->GetItems({zero_stock}, absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(features.ok()) << features.status();
  ASSERT_EQ(features->size(), 1u);
  ASSERT_TRUE((*features)[0].has_value());
  EXPECT_NE((*features)[0]->stock, 0) << "the refused update was applied";

  // Bytes that are not a message at all keep gRPC's answer.
  st = RawCall(world->channel, products,
               std::string("\x0a\x05"
                           "ab",
                           4));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED) << st.error_message();

  // The sync API keeps gRPC's INTERNAL with an empty message.
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.callback_api = false;
  recommender::StorefrontOptions storefront_options;
  storefront_options.recommender.max_k = 100;
  auto sync_server = recsys::testing::StartTestServer(
      options, world->shop->models.get(), world->shop->features.get(), storefront_options);
  ASSERT_TRUE(sync_server.ok()) << sync_server.status();
  const grpc::Status sync = RawCall((*sync_server)->channel, products, wire);
  EXPECT_EQ(sync.error_code(), grpc::StatusCode::INTERNAL) << sync.error_message();
  EXPECT_EQ(sync.error_message(), "");
  EXPECT_TRUE(RawCall((*sync_server)->channel, products, valid).ok());
}

// The tester's bursts (300 concurrent RecordEvents: 188 RESOURCE_EXHAUSTED
// from the 32-thread sync pool; 500 concurrent GetUserProfile: 179) on the
// default server, real Redis: every call answered OK.
TEST_F(ServerTest, BurstsOfCheapCallsAreNeverRefused) {
  auto stub = v1::Recommender::NewStub(world->channel);
  const auto bundle = world->shop->models->Current();
  struct Call {
    grpc::ClientContext ctx;
    v1::RecordEventsRequest events;
    v1::RecordEventsResponse events_response;
    v1::GetUserProfileRequest profile;
    v1::UserProfile profile_response;
  };
  for (const int burst : {300, 500}) {
    const bool profiles = burst == 500;
    SCOPED_TRACE(profiles ? "500 GetUserProfile" : "300 RecordEvents");
    std::vector<std::unique_ptr<Call>> calls;
    std::vector<std::promise<grpc::Status>> done(burst);
    for (int i = 0; i < burst; ++i) {
      auto call = std::make_unique<Call>();
      call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
      auto on_done = [&done, i](grpc::Status st) { done[i].set_value(std::move(st)); };
      if (profiles) {
        call->profile.set_user_id(world->shop->users[i % world->shop->users.size()]);
        stub->async()->GetUserProfile(&call->ctx, &call->profile, &call->profile_response, on_done);
      } else {
        v1::Event* e = call->events.add_events();
        e->set_type(v1::EVENT_VIEW);
        e->set_user_id(absl::StrCat("burst-user-", i));
        e->set_item_id(bundle->item(i % bundle->num_items()).item_id);
        stub->async()->RecordEvents(&call->ctx, &call->events, &call->events_response, on_done);
      }
      calls.push_back(std::move(call));
    }
    std::map<grpc::StatusCode, int> codes;
    for (int i = 0; i < burst; ++i) {
      const grpc::Status st = done[i].get_future().get();
      ++codes[st.error_code()];
      if (!st.ok()) ADD_FAILURE() << i << ": " << st.error_code() << " " << st.error_message();
    }
    EXPECT_EQ(codes[grpc::StatusCode::OK], burst);
    EXPECT_EQ(codes[grpc::StatusCode::RESOURCE_EXHAUSTED], 0);
    if (!profiles) {
      int accepted = 0;
      for (const auto& call : calls) accepted += call->events_response.accepted();
      EXPECT_EQ(accepted, burst);
    }
  }
}

TEST_F(ServerTest, SyncAndCallbackApisGiveTheSameAnswersAndErrors) {
  // The suite's server uses the callback API (the default); this one the
  // sync thread pool for every call.
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.callback_api = false;
  recommender::StorefrontOptions storefront_options;
  recommender::RecommenderOptions& rec_options = storefront_options.recommender;
  rec_options.max_k = 100;
  rec_options.max_exclude_ids = 20;
  rec_options.feature_timeout = absl::Milliseconds(500);
  auto server = recsys::testing::StartTestServer(options, world->shop->models.get(),
                                                 world->shop->features.get(), storefront_options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = (*server)->channel;
  auto callback = v1::Recommender::NewStub(channel);

  const int64_t now = absl::ToUnixSeconds(absl::Now());
  for (size_t u = 0; u < 5 && u < world->shop->users.size(); ++u) {
    v1::RecommendProductsRequest req;
    req.set_user_id(world->shop->users[u]);
    req.mutable_context()->set_request_time_unix(now);
    for (const char* name : {"homepage_hero", "for_you"}) {
      auto* slot = req.add_slots();
      slot->set_name(name);
      slot->set_k(6);
    }
    v1::RecommendProductsResponse sync_resp, callback_resp;
    grpc::ClientContext sync_ctx, callback_ctx;
    Deadline(&sync_ctx);
    Deadline(&callback_ctx);
    ASSERT_TRUE(rec_->RecommendProducts(&sync_ctx, req, &sync_resp).ok());
    ASSERT_TRUE(callback->RecommendProducts(&callback_ctx, req, &callback_resp).ok());
    ASSERT_EQ(sync_resp.slots_size(), 2);
    ASSERT_EQ(callback_resp.slots_size(), 2);
    for (int s = 0; s < 2; ++s) {
      // Every answer gets its own recommendation id; the rest is the same.
      EXPECT_FALSE(callback_resp.slots(s).recommendation_id().empty());
      EXPECT_FALSE(sync_resp.slots(s).recommendation_id().empty());
      callback_resp.mutable_slots(s)->clear_recommendation_id();
      sync_resp.mutable_slots(s)->clear_recommendation_id();
      EXPECT_EQ(callback_resp.slots(s).SerializeAsString(), sync_resp.slots(s).SerializeAsString())
          << world->shop->users[u] << " slot " << s;
      EXPECT_GT(callback_resp.slots(s).items_size(), 0);
    }
  }
  const auto bundle = world->shop->models->Current();
  v1::SimilarItemsRequest sreq;
  sreq.set_item_id(bundle->item(bundle->popular()[0]).item_id);
  sreq.set_k(8);
  v1::SimilarItemsResponse sync_similar, callback_similar;
  grpc::ClientContext sync_ctx, callback_ctx;
  Deadline(&sync_ctx);
  Deadline(&callback_ctx);
  ASSERT_TRUE(rec_->SimilarItems(&sync_ctx, sreq, &sync_similar).ok());
  ASSERT_TRUE(callback->SimilarItems(&callback_ctx, sreq, &callback_similar).ok());
  EXPECT_EQ(callback_similar.items_size(), 8);
  EXPECT_EQ(callback_similar.SerializeAsString().size(), sync_similar.SerializeAsString().size());
  for (int i = 0; i < callback_similar.items_size() && i < sync_similar.items_size(); ++i) {
    EXPECT_EQ(callback_similar.items(i).item_id(), sync_similar.items(i).item_id());
  }

  // Errors keep their code and the field's name.
  v1::RecommendProductsRequest bad;
  bad.set_user_id("u");
  bad.add_slots()->set_k(0);
  v1::RecommendProductsResponse resp;
  grpc::ClientContext bad_ctx;
  Deadline(&bad_ctx);
  ExpectInvalid(callback->RecommendProducts(&bad_ctx, bad, &resp), "slots[0].k");
  sreq.set_item_id("no-such-item");
  grpc::ClientContext missing_ctx;
  Deadline(&missing_ctx);
  grpc::Status st = callback->SimilarItems(&missing_ctx, sreq, &callback_similar);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  // The other calls are served alike.
  v1::GetUserProfileRequest preq;
  preq.set_user_id(world->shop->users[0]);
  v1::UserProfile profile;
  grpc::ClientContext profile_ctx;
  Deadline(&profile_ctx);
  EXPECT_TRUE(callback->GetUserProfile(&profile_ctx, preq, &profile).ok());
}

TEST_F(ServerTest, NotYetAvailableRpcsAnswerUnimplemented) {
  v1::RecommendCouponsRequest creq;
  creq.set_user_id("u");
  v1::RecommendCouponsResponse cresp;
  grpc::ClientContext ctx;
  Deadline(&ctx);
  grpc::Status st = rec_->RecommendCoupons(&ctx, creq, &cresp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_FALSE(st.error_message().empty());

  v1::FindAudienceRequest areq;
  areq.set_category("x");
  grpc::ClientContext actx;
  Deadline(&actx);
  auto reader = rec_->FindAudience(&actx, areq);
  v1::AudiencePage m;
  EXPECT_FALSE(reader->Read(&m));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(ServerTest, StockUpdatesTakeEffectWithoutRetraining) {
  const auto bundle = world->shop->models->Current();
  const std::string top = bundle->item(bundle->popular()[0]).item_id;
  auto update = [&](const std::string& item, int64_t stock, v1::UpdateItemsResponse* resp) {
    v1::UpdateItemsRequest req;
    v1::ItemUpdate* u = req.add_items();
    u->set_item_id(item);
    u->set_stock(stock);
    grpc::ClientContext ctx;
    Deadline(&ctx);
    return admin_->UpdateItems(&ctx, req, resp);
  };
  v1::UpdateItemsResponse resp;
  ASSERT_TRUE(update(top, 0, &resp).ok());
  EXPECT_EQ(resp.updated(), 1);
  EXPECT_TRUE(resp.unknown_to_model().empty());
  v1::RecommendProductsResponse rec;
  ASSERT_TRUE(Recommend("stock-watcher", 10, &rec).ok());
  for (const auto& item : rec.slots(0).items()) EXPECT_NE(item.item_id(), top);
  ASSERT_TRUE(update(top, 25, &resp).ok());
  ASSERT_TRUE(Recommend("stock-watcher", 10, &rec).ok());
  EXPECT_EQ(rec.slots(0).items(0).item_id(), top);
  // The model's category and price are kept.
  ASSERT_EQ(rec.slots(0).items(0).category(), bundle->item(bundle->popular()[0]).category);
  ASSERT_TRUE(update("brand-new-sku", 5, &resp).ok());
  EXPECT_EQ(resp.unknown_to_model_size(), 1);
  ExpectInvalid(update("", 5, &resp), "items[0].item_id");
  ExpectInvalid(update(top, -7, &resp), "items[0].stock");
}

TEST_F(ServerTest, AdminReloadAndRollback) {
  v1::ReloadModelResponse reload;
  grpc::ClientContext ctx;
  Deadline(&ctx);
  ASSERT_TRUE(admin_->ReloadModel(&ctx, v1::ReloadModelRequest(), &reload).ok());
  EXPECT_FALSE(reload.changed());
  EXPECT_EQ(reload.version(), world->shop->models->Current()->version());

  v1::RollbackResponse rollback;
  grpc::ClientContext rctx;
  Deadline(&rctx);
  EXPECT_EQ(admin_->Rollback(&rctx, v1::RollbackRequest(), &rollback).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

// A newer version corrupted in place (4 KB of 0xFF inside items_ip.faiss,
// same size): ReloadModel without a version stays on the newest valid one,
// and GetModelInfo lists the rejected version with the reason.
TEST_F(ServerTest, GetModelInfoListsARejectedVersionWithItsReason) {
  namespace fs = std::filesystem;
  const std::string served = world->shop->models->Current()->version();
  const std::string broken = std::to_string(std::stoll(served) + 1);
  const std::string root = world->shop->models->root();
  fs::copy(root + "/" + served, root + "/" + broken, fs::copy_options::recursive);
  const std::string index = root + "/" + broken + "/items_ip.faiss";
  const auto size = fs::file_size(index);
  ASSERT_GT(size, 4096u + 512u);
  {
    std::fstream f(index, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(256);
    const std::string ff(4096, '\xFF');
    f.write(ff.data(), static_cast<std::streamsize>(ff.size()));
  }
  ASSERT_EQ(fs::file_size(index), size);

  v1::ReloadModelResponse reload;
  grpc::ClientContext ctx;
  Deadline(&ctx);
  grpc::Status st = admin_->ReloadModel(&ctx, v1::ReloadModelRequest(), &reload);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_FALSE(reload.changed());
  EXPECT_EQ(reload.version(), served);

  v1::ModelInfo info;
  grpc::ClientContext ictx;
  Deadline(&ictx);
  ASSERT_TRUE(admin_->GetModelInfo(&ictx, v1::GetModelInfoRequest(), &info).ok());
  EXPECT_EQ(info.version(), served);
  ASSERT_EQ(info.rejected_versions_size(), 1);
  EXPECT_EQ(info.rejected_versions(0).version(), broken);
  EXPECT_NE(info.rejected_versions(0).reason().find("items_ip.faiss: checksum mismatch"),
            std::string::npos)
      << info.rejected_versions(0).reason();
  EXPECT_GT(info.rejected_versions(0).rejected_unix(), 0);
  fs::remove_all(root + "/" + broken);
}

// Runs last in the suite: it stops Redis and brings it back empty.
// Above --max_concurrent_calls calls in flight a call is refused with
// RESOURCE_EXHAUSTED naming the limit. A server with a limit of 1 whose
// feature store waits on a frozen Redis (SIGSTOP; its own pool and a long
// feature timeout): the call that gets in holds the only slot until Redis
// resumes, the other is refused.
TEST_F(ServerTest, CallsAboveMaxConcurrentCallsAreRefusedNamingIt) {
  auto address = redis::ParseAddress(world->shop->redis->address());
  ASSERT_TRUE(address.ok()) << address.status();
  auto client = redis::Client::Create(*address);
  ASSERT_TRUE(client.ok()) << client.status();
  auto features = feature_store::NewRedisFeatureStore(client->get());
  ASSERT_TRUE(features.ok()) << features.status();
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.health_interval = absl::Hours(1);  // no Redis pings while frozen
  options.limits.max_concurrent_calls = 1;
  recommender::StorefrontOptions storefront_options;
  storefront_options.recommender.feature_timeout = absl::Minutes(10);
  auto served = recsys::testing::StartTestServer(options, world->shop->models.get(),
                                                 features->get(), storefront_options);
  ASSERT_TRUE(served.ok()) << served.status();
  auto stub = v1::Recommender::NewStub((*served)->channel);

  ASSERT_TRUE(world->shop->redis->Suspend().ok());
  auto profile = [&stub](const std::string& user) {
    v1::GetUserProfileRequest req;
    req.set_user_id(user);
    v1::UserProfile resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
    return stub->GetUserProfile(&ctx, req, &resp);
  };
  std::vector<std::future<grpc::Status>> calls;
  for (int i = 0; i < 2; ++i) {
    calls.push_back(std::async(std::launch::async, profile, world->shop->users[i]));
  }
  // Without the limit both would wait: give up after 2 minutes.
  int refused = -1;
  const absl::Time give_up = absl::Now() + absl::Minutes(2);
  while (refused < 0 && absl::Now() < give_up) {
    for (int i = 0; i < 2 && refused < 0; ++i) {
      if (calls[i].wait_for(std::chrono::milliseconds(20)) == std::future_status::ready) {
        refused = i;
      }
    }
  }
  ASSERT_TRUE(world->shop->redis->Resume().ok());
  ASSERT_GE(refused, 0) << "no call was refused while one was in flight";
  const grpc::Status st = calls[refused].get();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  EXPECT_EQ(st.error_message(),
            "GetUserProfile: the server already has its limit of 1 calls in flight "
            "(--max_concurrent_calls); retry later");
  const grpc::Status held = calls[1 - refused].get();
  EXPECT_TRUE(held.ok()) << held.error_code() << " " << held.error_message();
  // The slot is free again once gRPC has released the held call's messages,
  // which may be just after its answer reached us: until then a call is
  // still refused for the limit, never failed otherwise.
  grpc::Status again = profile(world->shop->users[2]);
  for (int i = 0; i < 500 && again.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    again = profile(world->shop->users[2]);
  }
  EXPECT_TRUE(again.ok()) << again.error_code() << " " << again.error_message();
  // The suite's own pool may have tripped its stall breaker meanwhile.
  for (int i = 0; i < 100 && !world->shop->redis_client->Ping(absl::Now() + absl::Seconds(1)).ok();
       ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
}

TEST_F(ServerTest, ZZRedisDownDegradesAnswersAndRecovers) {
  const std::string user = world->shop->users[2];
  v1::UserProfile profile;
  ASSERT_TRUE(Profile(user, &profile).ok());
  std::set<std::string> bought;
  for (const auto& p : profile.purchases()) bought.insert(p.item_id());

  RECSYS_ASSERT_OK(world->shop->redis->Stop());
  v1::RecommendProductsResponse resp;
  grpc::Status st = Recommend(user, 10, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(resp.meta().degraded());
  EXPECT_NE(resp.meta().degraded_reason().find("feature store"), std::string::npos);
  ASSERT_EQ(resp.slots(0).items_size(), 10);
  // Training-time purchases are still excluded.
  for (const auto& item : resp.slots(0).items()) {
    EXPECT_EQ(bought.count(item.item_id()), 0u) << item.item_id();
  }
  ASSERT_TRUE(Profile(user, &profile).ok());
  EXPECT_TRUE(profile.meta().degraded());
  EXPECT_GT(profile.purchases_size(), 0);
  v1::RecordEventsResponse recorded;
  EXPECT_EQ(Purchase(user, "x", &recorded).error_code(), grpc::StatusCode::UNAVAILABLE);

  // Health reports the store, not the recommender, as down.
  HealthCheckResponse::ServingStatus status = HealthCheckResponse::SERVING;
  for (int i = 0; i < 200 && status == HealthCheckResponse::SERVING; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    status = Health(kFeatureStoreHealthName);
  }
  EXPECT_EQ(status, HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Health(kRecommenderHealthName), HealthCheckResponse::SERVING);

  // Redis comes back empty: it answers, but the trainer's load marker
  // (rs:loaded) is gone, so the store stays NOT_SERVING and answers stay
  // degraded, naming the marker and the reload command, computed from the
  // model alone (training-time purchases still excluded).
  RECSYS_ASSERT_OK(world->shop->redis->Restart());
  const std::string expected_reason = "key rs:loaded missing: Redis restarted empty?";
  std::string reason;
  for (int i = 0; i < 200 && reason.find(expected_reason) == std::string::npos; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    ASSERT_TRUE(Recommend(user, 10, &resp).ok());
    reason = resp.meta().degraded_reason();
  }
  EXPECT_TRUE(resp.meta().degraded());
  EXPECT_NE(reason.find(expected_reason), std::string::npos) << reason;
  EXPECT_NE(reason.find("recsys_train --load_redis_only"), std::string::npos) << reason;
  ASSERT_EQ(resp.slots(0).items_size(), 10);
  for (const auto& item : resp.slots(0).items()) {
    EXPECT_EQ(bought.count(item.item_id()), 0u) << item.item_id();
  }
  ASSERT_TRUE(Profile(user, &profile).ok());
  EXPECT_TRUE(profile.meta().degraded());
  EXPECT_EQ(profile.purchases_size(), static_cast<int>(bought.size()));
  EXPECT_EQ(Health(kFeatureStoreHealthName), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Health(kRecommenderHealthName), HealthCheckResponse::SERVING);

  // The documented reload (README "Running in production"): SERVING and
  // not degraded again, with the user's history back from Redis.
  const std::string model_dir = absl::StrCat(world->shop->models->root(), "/",
                                             world->shop->models->Current()->version());
  ASSERT_EQ(recsys::testing::RunCommand(absl::StrCat(
                RECSYS_TRAIN, " --load_redis_only --model_dir=", model_dir,
                " --redis=127.0.0.1:", world->shop->redis->port(), " > ", world->shop->dir,
                "/reload.log 2>&1")),
            0)
      << recsys::testing::ReadFileBytes(world->shop->dir + "/reload.log");
  status = HealthCheckResponse::NOT_SERVING;
  for (int i = 0; i < 200 && status != HealthCheckResponse::SERVING; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    status = Health(kFeatureStoreHealthName);
  }
  EXPECT_EQ(status, HealthCheckResponse::SERVING);
  ASSERT_TRUE(Recommend(user, 3, &resp).ok());
  EXPECT_FALSE(resp.meta().degraded()) << resp.meta().degraded_reason();
  ASSERT_TRUE(Profile(user, &profile).ok());
  EXPECT_FALSE(profile.meta().degraded()) << profile.meta().degraded_reason();
  EXPECT_EQ(profile.purchases_size(), static_cast<int>(bought.size()));
}

}  // namespace
}  // namespace recsys::server
