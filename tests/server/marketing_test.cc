// Marketing through the gRPC API on a real redis-server: recsys_datagen
// generates a shop, recsys_train computes segments and loads them into
// Redis, the server serves coupons and audiences from Redis-backed stores.
// The redis-server requires a password (--requirepass): recsys_train reads
// it from --redis_password_file, the pool authenticates.

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "feature_store/redis_feature_store.h"
#include "gtest/gtest.h"
#include "marketing/coupon_store.h"
#include "marketing/marketer.h"
#include "marketing/segment_store.h"
#include "marketing/segments.h"
#include "model/model_store.h"
#include "server/recommender_service.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "redis/client.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/test_server.h"
#include "tests/testing/trained_shop.h"

namespace recsys::server {
namespace {

namespace v1 = recsys::v1;

constexpr char kRedisPassword[] = "mkt-Test-Pw-4b7e";

struct World {
  std::unique_ptr<recsys::testing::TrainedShop> shop;
  std::unique_ptr<marketing::CouponStore> coupons;
  std::unique_ptr<marketing::SegmentStore> segments;
  std::unique_ptr<marketing::Marketer> marketer;
  std::unique_ptr<recsys::testing::TestServer> server;
  std::shared_ptr<grpc::Channel> channel;
  // segments.tsv of the model.
  std::vector<marketing::UserSegment> records;
  int64_t as_of = 0;
};

World* world = nullptr;

class MarketingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    world = new World();
    auto shop = recsys::testing::TrainedShop::Create({.datagen = RECSYS_DATAGEN,
                                                      .train = RECSYS_TRAIN,
                                                      .name = "marketing_test",
                                                      .users = 500,
                                                      .seed = 5,
                                                      .redis_password = kRedisPassword});
    ASSERT_TRUE(shop.ok()) << shop.status();
    world->shop = *std::move(shop);
    std::ifstream in(world->shop->models->Current()->path() + "/segments.tsv");
    std::stringstream text;
    text << in.rdbuf();
    auto records = marketing::ParseSegmentsTsv(text.str());
    ASSERT_TRUE(records.ok()) << records.status();
    world->records = *std::move(records);
    ASSERT_FALSE(world->records.empty());
    world->as_of = world->records.front().as_of_unix;

    auto coupons = marketing::NewRedisCouponStore(world->shop->redis_client.get());
    ASSERT_TRUE(coupons.ok()) << coupons.status();
    world->coupons = *std::move(coupons);
    auto segments = marketing::NewRedisSegmentStore(world->shop->redis_client.get());
    ASSERT_TRUE(segments.ok()) << segments.status();
    world->segments = *std::move(segments);
    marketing::MarketerOptions marketer_options;
    marketer_options.store_timeout = absl::Seconds(10);  // the test box may be busy
    auto marketer =
        marketing::Marketer::Create(world->shop->models.get(), world->shop->features.get(),
                                    world->coupons.get(), world->segments.get(), marketer_options);
    ASSERT_TRUE(marketer.ok()) << marketer.status();
    world->marketer = *std::move(marketer);

    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.redis = world->shop->redis_client.get();
    recommender::StorefrontOptions storefront_options;
    storefront_options.recommender.feature_timeout = absl::Milliseconds(500);
    auto server = recsys::testing::StartTestServer(options, world->shop->models.get(),
                                                   world->shop->features.get(), storefront_options,
                                                   world->marketer.get());
    ASSERT_TRUE(server.ok()) << server.status();
    world->server = *std::move(server);
    world->channel = world->server->channel;
  }

  static void TearDownTestSuite() {
    if (world == nullptr) return;
    world->server.reset();
    world->marketer.reset();
    world->coupons.reset();
    world->segments.reset();
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
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  }

  static v1::Coupon MakeCoupon(const std::string& id) {
    v1::Coupon c;
    c.set_id(id);
    c.set_type(v1::COUPON_PERCENT_OFF);
    c.set_percent_off(10);
    c.set_campaign(id);
    return c;
  }

  grpc::Status Put(const std::vector<v1::Coupon>& coupons) {
    v1::CouponCatalog catalog;
    for (const auto& c : coupons) *catalog.add_coupons() = c;
    v1::PutCouponsResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    return admin_->PutCoupons(&ctx, catalog, &resp);
  }

  v1::RecommendCouponsResponse Coupons(const std::string& user, int64_t now = 0) {
    v1::RecommendCouponsRequest req;
    req.set_user_id(user);
    req.set_k(20);
    req.mutable_context()->set_request_time_unix(now > 0 ? now : world->as_of);
    v1::RecommendCouponsResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    grpc::Status st = rec_->RecommendCoupons(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  }

  std::vector<v1::AudienceMember> Audience(const v1::FindAudienceRequest& req,
                                           grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    auto reader = rec_->FindAudience(&ctx, req);
    std::vector<v1::AudienceMember> out;
    v1::AudiencePage page;
    bool first = true;
    while (reader->Read(&page)) {
      EXPECT_EQ(page.has_meta(), first);
      if (first) {
        EXPECT_FALSE(page.meta().model_version().empty());
      }
      first = false;
      for (const auto& m : page.members()) out.push_back(m);
    }
    grpc::Status st = reader->Finish();
    if (status != nullptr) {
      *status = st;
    } else {
      EXPECT_TRUE(st.ok()) << st.error_message();
    }
    return out;
  }

  v1::RecordEventsResponse CouponEvent(v1::EventType type, const std::string& user,
                                       const std::string& coupon, double order_value = 50,
                                       grpc::Status* status = nullptr) {
    v1::RecordEventsRequest req;
    v1::Event* e = req.add_events();
    e->set_type(type);
    e->set_user_id(user);
    e->set_coupon_id(coupon);
    e->set_price(order_value);
    e->set_timestamp_unix(world->as_of);
    // Each call is a new business event (a retry would reuse its id).
    static int events_sent = 0;  // the suite's Redis outlives each test
    e->set_event_id(absl::StrCat("marketing-test-", ++events_sent));
    v1::RecordEventsResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    grpc::Status st = rec_->RecordEvents(&ctx, req, &resp);
    if (status != nullptr) *status = st;
    return resp;
  }

  static const marketing::UserSegment* FirstOf(marketing::Segment segment) {
    for (const auto& r : world->records) {
      if (r.segment == segment) return &r;
    }
    return nullptr;
  }

  std::unique_ptr<v1::Recommender::Stub> rec_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

TEST_F(MarketingTest, TrainerLoadedIntoThePasswordProtectedRedis) {
  // recsys_train --redis_password_file wrote the users' keys...
  auto keys = world->shop->redis->Command({"DBSIZE"});
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_GT(std::stoll(*keys), 100) << "recsys_train loaded nothing";
  // ...into a Redis that refuses a client without the password...
  redis::Options no_password = world->shop->redis_client->options();
  no_password.password.clear();
  auto client = redis::Client::Create(no_password);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ((*client)->Ping(absl::Now() + absl::Seconds(5)).code(),
            absl::StatusCode::kPermissionDenied);
  // ...and its log never shows the password.
  std::ifstream log(world->shop->dir + "/train.log");
  std::stringstream text;
  text << log.rdbuf();
  EXPECT_EQ(text.str().find(kRedisPassword), std::string::npos) << text.str();
}

TEST_F(MarketingTest, ProfileCarriesTheTrainersSegments) {
  for (marketing::Segment s : {marketing::Segment::kCore, marketing::Segment::kDormant}) {
    const marketing::UserSegment* r = FirstOf(s);
    ASSERT_NE(r, nullptr) << marketing::SegmentName(s);
    v1::GetUserProfileRequest req;
    req.set_user_id(r->user_id);
    v1::UserProfile profile;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    ASSERT_TRUE(rec_->GetUserProfile(&ctx, req, &profile).ok());
    EXPECT_EQ(profile.segment(), marketing::SegmentName(r->segment));
    EXPECT_EQ(profile.tier(), marketing::TierName(r->tier));
    EXPECT_EQ(profile.lifecycle_stage(), marketing::LifecycleName(r->lifecycle));
    EXPECT_EQ(profile.rfm().recency_days(), r->recency_days);
    EXPECT_EQ(profile.rfm().frequency(), r->frequency);
    EXPECT_EQ(profile.rfm().r_score(), r->r_score);
  }
}

TEST_F(MarketingTest, CouponsAreEligibleAndNeverExpiredExhaustedOrCapped) {
  v1::Coupon welcome = MakeCoupon("T1_WELCOME");
  welcome.mutable_eligibility()->set_first_order_only(true);
  v1::Coupon dormant = MakeCoupon("T1_DORMANT");
  dormant.mutable_eligibility()->add_segments("dormant");
  dormant.mutable_eligibility()->add_segments("deep_dormant");
  v1::Coupon expired = MakeCoupon("T1_EXPIRED");
  expired.set_valid_until_unix(world->as_of - 86400);
  v1::Coupon future = MakeCoupon("T1_FUTURE");
  future.set_valid_from_unix(world->as_of + 86400);
  v1::Coupon exhausted = MakeCoupon("T1_EXHAUSTED");
  exhausted.set_budget_count(1);
  v1::Coupon capped = MakeCoupon("T1_CAPPED");
  capped.set_per_user_cap(1);
  v1::Coupon gold = MakeCoupon("T1_GOLD");
  gold.mutable_eligibility()->add_tiers("gold");
  gold.mutable_eligibility()->add_tiers("black");
  ASSERT_TRUE(Put({welcome, dormant, expired, future, exhausted, capped, gold}).ok());

  const marketing::UserSegment* d = FirstOf(marketing::Segment::kDormant);
  const marketing::UserSegment* c = FirstOf(marketing::Segment::kCore);
  ASSERT_NE(d, nullptr);
  ASSERT_NE(c, nullptr);
  // Use up the budget of T1_EXHAUSTED, and the dormant user's cap of T1_CAPPED.
  v1::RecordEventsResponse r = CouponEvent(v1::EVENT_COUPON_ISSUED, c->user_id, "T1_EXHAUSTED");
  ASSERT_EQ(r.accepted(), 1) << (r.rejected().empty() ? "" : r.rejected(0).message());
  r = CouponEvent(v1::EVENT_COUPON_REDEEMED, c->user_id, "T1_EXHAUSTED");
  ASSERT_EQ(r.accepted(), 1) << (r.rejected().empty() ? "" : r.rejected(0).message());
  r = CouponEvent(v1::EVENT_COUPON_ISSUED, d->user_id, "T1_CAPPED");
  ASSERT_EQ(r.accepted(), 1);
  // Issuing past the cap is refused, not an error of the request.
  grpc::Status st;
  r = CouponEvent(v1::EVENT_COUPON_ISSUED, d->user_id, "T1_CAPPED", 50, &st);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(r.accepted(), 0);
  ASSERT_EQ(r.rejected_size(), 1);
  EXPECT_NE(r.rejected(0).message().find("events[0]"), std::string::npos);

  auto ids = [](const v1::RecommendCouponsResponse& resp) {
    std::set<std::string> out;
    for (const auto& c : resp.coupons()) out.insert(c.coupon_id());
    return out;
  };
  const auto for_dormant = Coupons(d->user_id);
  EXPECT_EQ(for_dormant.segment(), "dormant");
  const auto dormant_ids = ids(for_dormant);
  EXPECT_TRUE(dormant_ids.contains("T1_DORMANT"));
  for (const char* never : {"T1_WELCOME", "T1_EXPIRED", "T1_FUTURE", "T1_EXHAUSTED", "T1_CAPPED"}) {
    EXPECT_FALSE(dormant_ids.contains(never)) << never;
  }
  for (const auto& coupon : for_dormant.coupons()) {
    if (coupon.coupon_id() == "T1_DORMANT") {
      EXPECT_EQ(coupon.reason().code(), v1::REASON_WIN_BACK);
    }
  }
  EXPECT_EQ(ids(Coupons(d->user_id)).contains("T1_GOLD"),
            d->tier == marketing::Tier::kGold || d->tier == marketing::Tier::kBlack);
  const auto core_ids = ids(Coupons(c->user_id));
  EXPECT_FALSE(core_ids.contains("T1_DORMANT"));
  EXPECT_FALSE(core_ids.contains("T1_WELCOME"));
  EXPECT_TRUE(core_ids.contains("T1_CAPPED"));  // the cap is per user
  // A visitor the trainer never saw: the first-order coupon, nothing for
  // dormant users.
  const auto newcomer = Coupons("never-seen-visitor");
  EXPECT_EQ(newcomer.segment(), "new");
  EXPECT_EQ(newcomer.orders(), 0);
  const auto new_ids = ids(newcomer);
  EXPECT_TRUE(new_ids.contains("T1_WELCOME"));
  EXPECT_FALSE(new_ids.contains("T1_DORMANT"));
  for (int i = 1; i < newcomer.coupons_size(); ++i) {
    EXPECT_GE(newcomer.coupons(i - 1).score(), newcomer.coupons(i).score());
  }
}

TEST_F(MarketingTest, DormantAudienceHoldsOnlyUsersPastTheThresholdSortedByScore) {
  v1::FindAudienceRequest req;
  req.set_category(world->shop->models->Current()->item(0).category);
  req.mutable_filters()->add_segments("dormant");
  req.mutable_filters()->add_segments("deep_dormant");
  req.mutable_filters()->set_min_days_since_purchase(90);
  req.mutable_context()->set_request_time_unix(world->as_of);
  const auto members = Audience(req);
  std::set<std::string> expected;
  for (const auto& r : world->records) {
    if (marketing::IsDormant(r.segment) && r.recency_days >= 90 &&
        world->shop->models->Current()->UserRow(r.user_id) >= 0) {
      expected.insert(r.user_id);
    }
  }
  ASSERT_FALSE(expected.empty());
  std::set<std::string> got;
  for (size_t i = 0; i < members.size(); ++i) {
    const auto& m = members[i];
    got.insert(m.user_id());
    EXPECT_GE(m.days_since_purchase(), 90) << m.user_id();
    EXPECT_TRUE(m.segment() == "dormant" || m.segment() == "deep_dormant") << m.segment();
    EXPECT_EQ(m.reason().code(), v1::REASON_AFFINITY);
    if (i > 0) {
      EXPECT_GE(members[i - 1].score(), m.score());
    }
  }
  EXPECT_EQ(got, expected);
  ASSERT_FALSE(members.empty());

  // Tier filter and limit.
  req.mutable_filters()->add_tiers("none");
  req.set_limit(3);
  const auto limited = Audience(req);
  EXPECT_LE(limited.size(), 3u);
  for (const auto& m : limited) EXPECT_EQ(m.tier(), "none");
}

TEST_F(MarketingTest, CouponAudienceFollowsEligibilityAndTheContactCap) {
  v1::Coupon recall = MakeCoupon("T3_RECALL");
  recall.mutable_eligibility()->add_segments("dormant");
  recall.set_campaign("t3_win_back");
  ASSERT_TRUE(Put({recall}).ok());
  v1::FindAudienceRequest req;
  req.set_coupon_id("T3_RECALL");
  req.mutable_context()->set_request_time_unix(world->as_of);
  const auto members = Audience(req);
  ASSERT_FALSE(members.empty());
  for (const auto& m : members) {
    EXPECT_EQ(m.segment(), "dormant");
    EXPECT_EQ(m.best_coupon_id(), "T3_RECALL");
  }
  // The best user gets the coupon; with a contact cap the campaign skips them.
  const std::string top = members[0].user_id();
  ASSERT_EQ(CouponEvent(v1::EVENT_COUPON_ISSUED, top, "T3_RECALL").accepted(), 1);
  req.mutable_filters()->set_contact_cap_days(30);
  const auto capped = Audience(req);
  EXPECT_EQ(capped.size(), members.size() - 1);
  for (const auto& m : capped) EXPECT_NE(m.user_id(), top);

  // Bad requests name the field.
  grpc::Status st;
  req.mutable_filters()->add_segments("sleepy");
  Audience(req, &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("filters.segments[0]"), std::string::npos)
      << st.error_message();
  v1::FindAudienceRequest unknown;
  unknown.set_coupon_id("NO_SUCH_COUPON");
  Audience(unknown, &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(st.error_message().find("coupon_id"), std::string::npos);
}

TEST_F(MarketingTest, AudienceItemIdsAndTimesAreLimitedNamingTheField) {
  v1::FindAudienceRequest many;
  for (int i = 0; i < 100000; ++i) many.mutable_items()->add_item_ids(absl::StrCat("i", i));
  grpc::Status st;
  const absl::Time start = absl::Now();
  Audience(many, &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_EQ(st.error_message().find("items.item_ids:"), 0u) << st.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));

  v1::FindAudienceRequest control;
  control.mutable_items()->add_item_ids("i00017");
  control.mutable_items()->add_item_ids("i\x7f");
  Audience(control, &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_EQ(st.error_message().find("items.item_ids[1]:"), 0u) << st.error_message();

  v1::FindAudienceRequest old;
  old.set_category("c0");
  old.mutable_context()->set_request_time_unix(-5);
  Audience(old, &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_EQ(st.error_message().find("context.request_time_unix:"), 0u) << st.error_message();
}

TEST_F(MarketingTest, BadCouponDefinitionsAreRejectedWithTheFieldNamed) {
  v1::Coupon bad = MakeCoupon("T4_BAD");
  bad.set_percent_off(150);
  grpc::Status st = Put({MakeCoupon("T4_OK"), bad});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("coupons[1].percent_off"), std::string::npos)
      << st.error_message();
  v1::Coupon segment = MakeCoupon("T4_SEGMENT");
  segment.mutable_eligibility()->add_segments("vip");
  st = Put({segment});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("coupons[0].eligibility.segments[0]"), std::string::npos)
      << st.error_message();
  // Nothing of a rejected catalog is stored.
  v1::CouponList list;
  grpc::ClientContext ctx;
  Deadline(&ctx);
  ASSERT_TRUE(admin_->ListCoupons(&ctx, v1::ListCouponsRequest(), &list).ok());
  for (const auto& c : list.coupons()) EXPECT_NE(c.coupon().id(), "T4_OK");
}

TEST_F(MarketingTest, DeletedCouponIdCannotBePutAgainToResetItsBudget) {
  v1::Coupon c = MakeCoupon("T7_RETIRED");
  c.set_budget_count(2);
  ASSERT_TRUE(Put({c}).ok());
  for (const std::string user : {"t7-a", "t7-b"}) {
    ASSERT_EQ(CouponEvent(v1::EVENT_COUPON_ISSUED, user, "T7_RETIRED").accepted(), 1);
    ASSERT_EQ(CouponEvent(v1::EVENT_COUPON_REDEEMED, user, "T7_RETIRED").accepted(), 1);
  }
  {
    v1::DeleteCouponRequest req;
    req.set_coupon_id("T7_RETIRED");
    v1::DeleteCouponResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    grpc::Status st = admin_->DeleteCoupon(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  grpc::Status st = Put({MakeCoupon("T7_NEW"), c});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_NE(st.error_message().find("coupons[1].id"), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find("was deleted; use a new id"), std::string::npos)
      << st.error_message();
  v1::CouponList list;
  grpc::ClientContext ctx;
  Deadline(&ctx);
  ASSERT_TRUE(admin_->ListCoupons(&ctx, v1::ListCouponsRequest(), &list).ok());
  for (const auto& entry : list.coupons()) {
    EXPECT_NE(entry.coupon().id(), "T7_RETIRED");
    EXPECT_NE(entry.coupon().id(), "T7_NEW");  // the refused catalog wrote nothing
  }
}

TEST_F(MarketingTest, ConcurrentRedemptionsThroughTheApiNeverOverspend) {
  v1::Coupon c = MakeCoupon("T5_BUDGET");
  c.set_type(v1::COUPON_AMOUNT_OFF);
  c.set_percent_off(0);
  c.set_amount_off(5);
  c.set_budget_count(20);
  c.set_budget_money(80);  // 16 redemptions of 5.00
  ASSERT_TRUE(Put({c}).ok());
  constexpr int kUsers = 40;
  for (int u = 0; u < kUsers; ++u) {
    ASSERT_EQ(CouponEvent(v1::EVENT_COUPON_ISSUED, absl::StrCat("t5-user-", u), "T5_BUDGET")
                  .accepted(),
              1);
  }
  std::atomic<int> redeemed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto stub = v1::Recommender::NewStub(world->channel);
      for (int u = t; u < kUsers; u += 8) {
        v1::RecordEventsRequest req;
        v1::Event* e = req.add_events();
        e->set_type(v1::EVENT_COUPON_REDEEMED);
        e->set_user_id(absl::StrCat("t5-user-", u));
        e->set_coupon_id("T5_BUDGET");
        e->set_price(30);
        e->set_timestamp_unix(world->as_of);
        v1::RecordEventsResponse resp;
        grpc::ClientContext ctx;
        Deadline(&ctx);
        if (stub->RecordEvents(&ctx, req, &resp).ok()) redeemed += resp.accepted();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(redeemed.load(), 16);
  v1::CouponList list;
  grpc::ClientContext ctx;
  Deadline(&ctx);
  ASSERT_TRUE(admin_->ListCoupons(&ctx, v1::ListCouponsRequest(), &list).ok());
  for (const auto& entry : list.coupons()) {
    if (entry.coupon().id() != "T5_BUDGET") continue;
    EXPECT_EQ(entry.state().redeemed(), 16);
    EXPECT_DOUBLE_EQ(entry.state().discount_spent(), 80);
    EXPECT_DOUBLE_EQ(entry.state().remaining_money(), 0);
  }
}

// FindAudience streams beyond --max_audience_streams (default 2) are
// refused at once with RESOURCE_EXHAUSTED naming the limit. The two that
// hold the slots are kept running by a frozen Redis (SIGSTOP): their first
// store call (the coupon list) waits for its deadline, which a marketer
// with a long store timeout makes the client's. Their own pool, so the
// shared one's stall breaker is not involved.
TEST_F(MarketingTest, AudienceStreamsAboveTheLimitAreRefusedNamingIt) {
  auto address = redis::ParseAddress(world->shop->redis->address());
  ASSERT_TRUE(address.ok()) << address.status();
  address->password = kRedisPassword;
  address->pool_size = 4;
  auto client = redis::Client::Create(*address);
  ASSERT_TRUE(client.ok()) << client.status();
  auto coupons = marketing::NewRedisCouponStore(client->get());
  auto segments = marketing::NewRedisSegmentStore(client->get());
  ASSERT_TRUE(coupons.ok() && segments.ok());
  marketing::MarketerOptions marketer_options;
  marketer_options.store_timeout = absl::Minutes(10);
  auto marketer =
      marketing::Marketer::Create(world->shop->models.get(), world->shop->features.get(),
                                  coupons->get(), segments->get(), marketer_options);
  ASSERT_TRUE(marketer.ok()) << marketer.status();
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.health_interval = absl::Hours(1);  // no Redis pings while frozen
  ASSERT_EQ(options.limits.max_audience_streams, 2);
  auto served = recsys::testing::StartTestServer(options, world->shop->models.get(),
                                                 world->shop->features.get(), {}, marketer->get());
  ASSERT_TRUE(served.ok()) << served.status();
  auto stub = v1::Recommender::NewStub((*served)->channel);

  v1::FindAudienceRequest req;
  req.set_category(world->shop->models->Current()->item(0).category);
  auto stream = [&stub, &req] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
    auto reader = stub->FindAudience(&ctx, req);
    v1::AudiencePage page;
    int members = 0;
    while (reader->Read(&page)) members += page.members_size();
    return std::make_pair(reader->Finish(), members);
  };
  ASSERT_TRUE(world->shop->redis->Suspend().ok());
  std::vector<std::future<std::pair<grpc::Status, int>>> streams;
  for (int i = 0; i < 3; ++i) streams.push_back(std::async(std::launch::async, stream));
  // The first stream to end is the refused one: the other two wait for
  // Redis, which stays frozen until then.
  // Without the limit all three would wait: give up after 2 minutes.
  int refused = -1;
  const absl::Time give_up = absl::Now() + absl::Minutes(2);
  while (refused < 0 && absl::Now() < give_up) {
    for (int i = 0; i < 3 && refused < 0; ++i) {
      if (streams[i].wait_for(std::chrono::milliseconds(20)) == std::future_status::ready) {
        refused = i;
      }
    }
  }
  if (refused < 0) {
    ASSERT_TRUE(world->shop->redis->Resume().ok());
    FAIL() << "no stream was refused while two were running";
  }
  const auto [status, members] = streams[refused].get();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_NE(status.error_message().find("2 audience streams already running"), std::string::npos)
      << status.error_message();
  EXPECT_NE(status.error_message().find("--max_audience_streams"), std::string::npos);
  EXPECT_EQ(members, 0);
  ASSERT_TRUE(world->shop->redis->Resume().ok());
  for (int i = 0; i < 3; ++i) {
    if (i == refused) continue;
    const auto [st, n] = streams[i].get();
    EXPECT_TRUE(st.ok()) << i << ": " << st.error_code() << " " << st.error_message();
    EXPECT_GT(n, 0);
  }
  // The slots are free again.
  const auto [again, n] = stream();
  EXPECT_TRUE(again.ok()) << again.error_message();
  EXPECT_GT(n, 0);
}

TEST_F(MarketingTest, RedisDownDegradesCouponsInsteadOfFailing) {
  ASSERT_TRUE(Put({MakeCoupon("T6_ANY")}).ok());
  const marketing::UserSegment* d = FirstOf(marketing::Segment::kDormant);
  ASSERT_NE(d, nullptr);
  EXPECT_GT(Coupons(d->user_id).coupons_size(), 0);
  ASSERT_TRUE(world->shop->redis->Stop().ok());
  const auto degraded = Coupons(d->user_id);
  EXPECT_TRUE(degraded.meta().degraded());
  EXPECT_EQ(degraded.coupons_size(), 0);
  // Coupon writes cannot be confirmed: UNAVAILABLE so the caller retries.
  grpc::Status st;
  CouponEvent(v1::EVENT_COUPON_ISSUED, d->user_id, "T6_ANY", 50, &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
}

}  // namespace
}  // namespace recsys::server
