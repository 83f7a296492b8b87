// Customer intelligence through the gRPC API on a real redis-server:
// recsys_datagen generates a shop, recsys_train computes the intelligence
// with deploy/intelligence.textproto and loads it into Redis; the server's
// GetUserProfile reads it from Redis and FindAudience filters by tags,
// churn risk, intent and due date from the model's intel.tsv. Events of
// RecordEvents complete the live tag rules (server/live_tags.h) in Redis.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "experiments/attribution.h"
#include "intelligence/intel.h"
#include "intelligence/intel_store.h"
#include "marketing/coupon_store.h"
#include "marketing/marketer.h"
#include "marketing/segment_store.h"
#include "metrics/metrics.h"
#include "model/model_store.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "redis/client.h"
#include "server/live_tags.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/test_files.h"
#include "tests/testing/test_server.h"
#include "tests/testing/trained_shop.h"

namespace recsys::server {
namespace {

namespace v1 = recsys::v1;

struct World {
  std::unique_ptr<recsys::testing::TrainedShop> shop;
  std::unique_ptr<marketing::CouponStore> coupons;
  std::unique_ptr<marketing::SegmentStore> segments;
  std::unique_ptr<intelligence::IntelStore> intel;
  std::unique_ptr<marketing::Marketer> marketer;
  std::unique_ptr<LiveTagObserver> live_tags;
  // The experiments the storefront and the marketer serve, from
  // `experiments_config` (empty until a test writes it and reloads).
  experiments::PlanHolder plans;
  std::string experiments_config;
  std::unique_ptr<recsys::testing::TestServer> server;
  // intel.tsv of the model.
  std::vector<intelligence::UserIntel> records;
  int64_t as_of = 0;
};

World* world = nullptr;

class IntelligenceApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    world = new World();
    auto shop = recsys::testing::TrainedShop::Create(
        {.datagen = RECSYS_DATAGEN,
         .train = RECSYS_TRAIN,
         .name = "intelligence_test",
         .users = 500,
         .seed = 5,
         .train_flags = "--intelligence_config=" RECSYS_DEPLOY_DIR
                        "/intelligence.textproto"});
    ASSERT_TRUE(shop.ok()) << shop.status();
    world->shop = *std::move(shop);
    std::ifstream in(world->shop->models->Current()->path() + "/intel.tsv");
    std::stringstream text;
    text << in.rdbuf();
    auto records = intelligence::ParseIntelTsv(text.str());
    ASSERT_TRUE(records.ok()) << records.status();
    world->records = *std::move(records);
    ASSERT_FALSE(world->records.empty());
    world->as_of = world->records.front().as_of_unix;

    auto coupons =
        marketing::NewRedisCouponStore(world->shop->redis_client.get());
    ASSERT_TRUE(coupons.ok()) << coupons.status();
    world->coupons = *std::move(coupons);
    auto segments =
        marketing::NewRedisSegmentStore(world->shop->redis_client.get());
    ASSERT_TRUE(segments.ok()) << segments.status();
    world->segments = *std::move(segments);
    auto intel =
        intelligence::NewRedisIntelStore(world->shop->redis_client.get());
    ASSERT_TRUE(intel.ok()) << intel.status();
    world->intel = *std::move(intel);
    marketing::MarketerOptions marketer_options;
    marketer_options.store_timeout =
        absl::Seconds(2);  // the test box may be busy
    marketer_options.intel = world->intel.get();
    auto marketer = marketing::Marketer::Create(
        world->shop->models.get(), world->shop->features.get(),
        world->coupons.get(), world->segments.get(), marketer_options,
        &world->plans);
    ASSERT_TRUE(marketer.ok()) << marketer.status();
    world->marketer = *std::move(marketer);

    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.redis = world->shop->redis_client.get();
    recommender::StorefrontOptions storefront_options;
    storefront_options.recommender.feature_timeout = absl::Milliseconds(500);
    // As server/main.cc with --redis: the recommender reads the records.
    storefront_options.recommender.intel = world->intel.get();
    world->experiments_config = recsys::testing::WriteFile(
        world->shop->dir, "experiments.textproto", "");
    storefront_options.experiments_config = world->experiments_config;
    auto server = recsys::testing::StartTestServer(
        options, world->shop->models.get(), world->shop->features.get(),
        storefront_options, world->marketer.get(), &world->plans);
    ASSERT_TRUE(server.ok()) << server.status();
    world->server = *std::move(server);
    // As server/main.cc: the stored events complete the live tag rules.
    world->live_tags = std::make_unique<LiveTagObserver>(
        world->shop->models.get(), world->intel.get(), nullptr);
    world->server->storefront->SetEventObserver(world->live_tags.get());
  }

  static void TearDownTestSuite() {
    if (world == nullptr) return;
    world->server.reset();
    world->marketer.reset();
    world->intel.reset();
    world->coupons.reset();
    world->segments.reset();
    world->shop.reset();
    delete world;
    world = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(world, nullptr);
    ASSERT_NE(world->server, nullptr) << "suite set-up failed";
    rec_ = v1::Recommender::NewStub(world->server->channel);
  }

  static void Deadline(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(20));
  }

  std::vector<v1::AudienceMember> Audience(const v1::FindAudienceRequest& req,
                                           grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    auto reader = rec_->FindAudience(&ctx, req);
    std::vector<v1::AudienceMember> out;
    v1::AudiencePage page;
    while (reader->Read(&page)) {
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

  // Users of intel.tsv the served model knows (the audience scans those).
  static std::set<std::string> Expected(
      const std::function<bool(const intelligence::UserIntel&)>& keep) {
    std::set<std::string> out;
    for (const auto& r : world->records) {
      if (world->shop->models->Current()->UserRow(r.user_id) >= 0 && keep(r)) {
        out.insert(r.user_id);
      }
    }
    return out;
  }

  v1::FindAudienceRequest Request() const {
    v1::FindAudienceRequest req;
    req.set_category(world->shop->models->Current()->item(0).category);
    req.mutable_context()->set_request_time_unix(world->as_of);
    return req;
  }

  std::vector<std::string> ProfileTags(const std::string& user) {
    v1::GetUserProfileRequest req;
    req.set_user_id(user);
    v1::UserProfile profile;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    const grpc::Status st = rec_->GetUserProfile(&ctx, req, &profile);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return {profile.interest_tags().begin(), profile.interest_tags().end()};
  }

  // Purchases of `items` by `user` now, with the given event ids.
  void Buy(const std::string& user, const std::vector<std::string>& items,
           const std::vector<std::string>& ids) {
    v1::RecordEventsRequest req;
    for (size_t i = 0; i < items.size(); ++i) {
      v1::Event* e = req.add_events();
      e->set_type(v1::EVENT_PURCHASE);
      e->set_user_id(user);
      e->set_item_id(items[i]);
      e->set_price(20);
      e->set_event_id(ids[i]);
    }
    v1::RecordEventsResponse response;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    const grpc::Status st = rec_->RecordEvents(&ctx, req, &response);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(response.rejected_size(), 0) << response.rejected(0).message();
  }

  std::set<std::string> AudienceWithTag(const std::string& tag) {
    v1::FindAudienceRequest req = Request();
    req.mutable_filters()->add_tags(tag);
    std::set<std::string> got;
    for (const auto& m : Audience(req)) {
      got.insert(m.user_id());
      EXPECT_TRUE(std::count(m.interest_tags().begin(), m.interest_tags().end(), tag))
          << m.user_id();
    }
    return got;
  }

  std::unique_ptr<v1::Recommender::Stub> rec_;
};

// fitness_enthusiast (3 purchases in sports within 180 days) is live: a
// user two purchases short buys two sports items and has the tag at once,
// in the profile and in FindAudience; a retried batch counts once; other
// rules do not move; a new training write resets the live state.
TEST_F(IntelligenceApiTest, EventsCompleteALiveTagAtOnce) {
  const auto bundle = world->shop->models->Current();
  std::vector<std::string> sports;
  for (int32_t row = 0; row < bundle->num_items() && sports.size() < 3; ++row) {
    if (bundle->item(row).category == "sports") sports.push_back(bundle->item(row).item_id);
  }
  ASSERT_EQ(sports.size(), 3u);
  // A user of the served model two purchases short, without the non-live
  // tags a purchase could bring at the next run.
  const intelligence::UserIntel* user = nullptr;
  for (const auto& r : world->records) {
    if (bundle->UserRow(r.user_id) < 0 || r.HasTag("recent_buyer") || r.HasTag("big_spender")) {
      continue;
    }
    for (const auto& p : r.live) {
      if (p.tag == "fitness_enthusiast" && p.min_purchases == p.purchases + 2) user = &r;
    }
    if (user != nullptr) break;
  }
  ASSERT_NE(user, nullptr);
  ASSERT_LT(user->as_of_unix, absl::ToUnixSeconds(absl::Now()));
  const std::string id = user->user_id;
  ASSERT_EQ(ProfileTags(id), user->tags);
  ASSERT_EQ(AudienceWithTag("fitness_enthusiast").count(id), 0u);

  Buy(id, {sports[0]}, {"live-1"});
  // Sent again (a client retry): counted once.
  Buy(id, {sports[0]}, {"live-1"});
  EXPECT_EQ(ProfileTags(id), user->tags);
  auto record = world->intel->GetIntel(id, absl::InfiniteFuture());
  ASSERT_TRUE(record.ok()) << record.status();
  int purchases = -1;
  for (const auto& p : record->live) {
    if (p.tag == "fitness_enthusiast") purchases = p.purchases;
  }
  EXPECT_EQ(purchases, user->live.empty() ? -1 : [&] {
    for (const auto& p : user->live) {
      if (p.tag == "fitness_enthusiast") return p.purchases + 1;
    }
    return -1;
  }());
  EXPECT_EQ(AudienceWithTag("fitness_enthusiast").count(id), 0u);

  Buy(id, {sports[1]}, {"live-2"});
  std::vector<std::string> expected = user->tags;
  expected.push_back("fitness_enthusiast");
  std::sort(expected.begin(), expected.end());
  // Only the live rule moved (recent_buyer and big_spender wait for the run).
  EXPECT_EQ(ProfileTags(id), expected);
  const std::set<std::string> audience = AudienceWithTag("fitness_enthusiast");
  EXPECT_EQ(audience.count(id), 1u);
  EXPECT_EQ(audience, [&] {
    auto s = Expected([](const auto& r) { return r.HasTag("fitness_enthusiast"); });
    s.insert(id);
    return s;
  }());
  // Another purchase of a tagged user changes nothing more.
  Buy(id, {sports[2]}, {"live-3"});
  EXPECT_EQ(ProfileTags(id), expected);

  // A training run writes the records again: the live state is gone (the
  // run counts the purchases itself).
  ASSERT_TRUE(world->intel->PutIntel({*user}).ok());
  EXPECT_EQ(ProfileTags(id), user->tags);
  EXPECT_EQ(AudienceWithTag("fitness_enthusiast").count(id), 0u);
  EXPECT_EQ(world->shop->redis->Command({"SISMEMBER", "rs:tag_live:fitness_enthusiast", id})
                .value_or("?"),
            "0");
}

TEST_F(IntelligenceApiTest, ProfileCarriesTheTrainersIntelligenceFromRedis) {
  // recsys_train wrote the records into Redis.
  const intelligence::UserIntel* tagged = nullptr;
  for (const auto& r : world->records) {
    if (r.tags.size() >= 2 && r.purchase_intent >= 0 &&
        r.next_purchase_unix > 0 && !r.due_items.empty()) {
      tagged = &r;
      break;
    }
  }
  ASSERT_NE(tagged, nullptr);
  auto stored = world->shop->redis->Command(
      {"HGET", "rs:u:" + tagged->user_id + ":intel", "purchase_intent"});
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(std::stod(*stored), tagged->purchase_intent);

  v1::GetUserProfileRequest req;
  req.set_user_id(tagged->user_id);
  v1::UserProfile profile;
  grpc::ClientContext ctx;
  Deadline(&ctx);
  ASSERT_TRUE(rec_->GetUserProfile(&ctx, req, &profile).ok());
  EXPECT_EQ(std::vector<std::string>(profile.interest_tags().begin(),
                                     profile.interest_tags().end()),
            tagged->tags);
  EXPECT_FLOAT_EQ(profile.purchase_intent(),
                  static_cast<float>(tagged->purchase_intent));
  EXPECT_FLOAT_EQ(profile.churn_risk(), static_cast<float>(tagged->churn_risk));
  EXPECT_EQ(profile.next_purchase_unix(), tagged->next_purchase_unix);
  EXPECT_FLOAT_EQ(profile.cycle_days(), static_cast<float>(tagged->cycle_days));
  EXPECT_EQ(profile.growth_tier(), tagged->growth_tier);
  EXPECT_EQ(profile.intelligence_as_of_unix(), world->as_of);
  ASSERT_EQ(profile.category_affinities_size(),
            static_cast<int>(tagged->affinities.size()));
  EXPECT_EQ(profile.category_affinities(0).category(),
            tagged->affinities[0].first);
  ASSERT_EQ(profile.due_items_size(),
            static_cast<int>(tagged->due_items.size()));
  for (int i = 0; i < profile.due_items_size(); ++i) {
    EXPECT_EQ(profile.due_items(i).item_id(), tagged->due_items[i].item_id);
    EXPECT_EQ(profile.due_items(i).due_unix(), tagged->due_items[i].due_unix);
    EXPECT_FLOAT_EQ(profile.due_items(i).cycle_days(),
                    static_cast<float>(tagged->due_items[i].cycle_days));
  }
  EXPECT_EQ(profile.birthday(), "");
  EXPECT_FALSE(profile.meta().degraded());

  // The birthday the customer file put in the record.
  ASSERT_TRUE(world->shop->redis
                  ->Command({"HSET", "rs:u:" + tagged->user_id + ":intel",
                             "birthday", "03-14"})
                  .ok());
  v1::UserProfile with_birthday;
  grpc::ClientContext ctx_birthday;
  Deadline(&ctx_birthday);
  ASSERT_TRUE(
      rec_->GetUserProfile(&ctx_birthday, req, &with_birthday).ok());
  EXPECT_EQ(with_birthday.birthday(), "03-14");

  // A user without a record (its key removed): unknown figures, no tags.
  const std::string other = world->records.back().user_id;
  ASSERT_NE(other, tagged->user_id);
  ASSERT_TRUE(
      world->shop->redis->Command({"DEL", "rs:u:" + other + ":intel"}).ok());
  req.set_user_id(other);
  v1::UserProfile empty;
  grpc::ClientContext ctx2;
  Deadline(&ctx2);
  ASSERT_TRUE(rec_->GetUserProfile(&ctx2, req, &empty).ok());
  EXPECT_EQ(empty.interest_tags_size(), 0);
  EXPECT_EQ(empty.purchase_intent(), -1);
  EXPECT_EQ(empty.intelligence_as_of_unix(), 0);
}

// RecommendCoupons reads the user's record: a price-sensitive customer
// values a discount more (u_f = 1 - (1 - u)^f, docs/marketing.md).
TEST_F(IntelligenceApiTest, PriceSensitivityMovesTheCouponIncrementality) {
  const intelligence::UserIntel* user = nullptr;
  for (size_t i = world->records.size() / 2; i < world->records.size(); ++i) {
    if (world->shop->models->Current()->UserRow(world->records[i].user_id) >=
        0) {
      user = &world->records[i];
      break;
    }
  }
  ASSERT_NE(user, nullptr);
  marketing::CouponCatalog catalog;
  marketing::Coupon& c = catalog.coupons.emplace_back();
  c.id = "PRICE_TEST5";
  c.type = marketing::CouponType::kAmountOff;
  c.amount_off = 5;
  ASSERT_TRUE(
      world->marketer->PutCoupons(catalog, absl::InfiniteFuture()).ok());
  // (incrementality used, the u before the adjustment) for the record with
  // these price figures.
  auto with = [&](double discount_share, double level) {
    intelligence::UserIntel changed = *user;
    changed.discount_share = discount_share;
    changed.relative_price_level = level;
    EXPECT_TRUE(world->intel->PutIntel({changed}).ok());
    v1::RecommendCouponsRequest req;
    req.set_user_id(user->user_id);
    req.set_k(50);
    req.mutable_context()->set_request_time_unix(world->as_of);
    v1::RecommendCouponsResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    const grpc::Status st = rec_->RecommendCoupons(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_FALSE(resp.meta().degraded());
    for (const v1::RecommendedCoupon& r : resp.coupons()) {
      if (r.coupon_id() == "PRICE_TEST5") {
        return std::make_pair(static_cast<double>(r.incrementality()),
                              r.incrementality_figures().value());
      }
    }
    ADD_FAILURE() << "PRICE_TEST5 not offered";
    return std::make_pair(-1.0, -1.0);
  };
  // Typical figures (discount share 0.2, price level 1): f = 1.
  const auto [typical, u] = with(0.2, 1);
  ASSERT_GT(u, 0);
  ASSERT_LT(u, 1);
  EXPECT_NEAR(typical, u, 1e-6);
  // Every line at a discount, at half the category's price level: f = 4.
  const auto [sensitive, u_again] = with(1, 0.5);
  EXPECT_NEAR(u_again, u, 1e-12);
  EXPECT_NEAR(sensitive, 1 - std::pow(1 - u, 4), 1e-6);
  EXPECT_GT(sensitive, typical);
  ASSERT_TRUE(world->intel->PutIntel({*user}).ok());
}

// A tier-only coupon (eligibility.growth_tiers): offered to the members of
// its growth tiers, by RecommendCoupons (from the record in Redis) and by
// FindAudience (from intel.tsv), and to nobody else.
TEST_F(IntelligenceApiTest, TierOnlyCouponReachesItsGrowthTiersOnly) {
  const std::set<std::string> top = {"gold", "platinum"};
  const intelligence::UserIntel* member = nullptr;
  const intelligence::UserIntel* other = nullptr;
  for (const auto& r : world->records) {
    if (world->shop->models->Current()->UserRow(r.user_id) < 0) continue;
    if (member == nullptr && top.count(r.growth_tier)) member = &r;
    if (other == nullptr && !r.growth_tier.empty() && !top.count(r.growth_tier)) other = &r;
  }
  ASSERT_NE(member, nullptr);
  ASSERT_NE(other, nullptr);
  marketing::CouponCatalog catalog;
  marketing::Coupon& c = catalog.coupons.emplace_back();
  c.id = "VIP_TEST";
  c.type = marketing::CouponType::kAmountOff;
  c.amount_off = 5;
  c.eligibility.growth_tiers = {"gold", "platinum"};
  marketing::Coupon& open = catalog.coupons.emplace_back();
  open.id = "OPEN_TEST";
  open.type = marketing::CouponType::kAmountOff;
  open.amount_off = 5;
  ASSERT_TRUE(world->marketer->PutCoupons(catalog, absl::InfiniteFuture()).ok());
  auto offered = [&](const intelligence::UserIntel& user) {
    v1::RecommendCouponsRequest req;
    req.set_user_id(user.user_id);
    req.set_k(50);
    req.mutable_context()->set_request_time_unix(world->as_of);
    v1::RecommendCouponsResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    const grpc::Status st = rec_->RecommendCoupons(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_FALSE(resp.meta().degraded());
    EXPECT_EQ(resp.growth_tier(), user.growth_tier);
    std::set<std::string> ids;
    // Only this test's coupons (others of the suite may be in the store).
    for (const v1::RecommendedCoupon& r : resp.coupons()) {
      if (r.coupon_id() == "OPEN_TEST" || r.coupon_id() == "VIP_TEST") {
        ids.insert(r.coupon_id());
      }
    }
    return ids;
  };
  EXPECT_EQ(offered(*member), (std::set<std::string>{"OPEN_TEST", "VIP_TEST"}))
      << member->growth_tier;
  EXPECT_EQ(offered(*other), (std::set<std::string>{"OPEN_TEST"})) << other->growth_tier;

  v1::FindAudienceRequest req;
  req.set_coupon_id("VIP_TEST");
  req.mutable_context()->set_request_time_unix(world->as_of);
  std::set<std::string> got;
  for (const auto& m : Audience(req)) got.insert(m.user_id());
  const auto expected = Expected([&](const auto& r) { return top.count(r.growth_tier) > 0; });
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(got, expected);
}

TEST_F(IntelligenceApiTest, AudienceFiltersByTags) {
  // The most common learned tag, and a rule tag of the config.
  std::map<std::string, int> counts;
  for (const auto& r : world->records) {
    for (const auto& t : r.tags) ++counts[t];
  }
  std::string learned;
  for (const auto& [tag, n] : counts) {
    if (tag.rfind("likes:", 0) == 0 && (learned.empty() || n > counts[learned]))
      learned = tag;
  }
  ASSERT_FALSE(learned.empty());
  ASSERT_GT(counts["recent_buyer"], 0);

  v1::FindAudienceRequest req = Request();
  req.mutable_filters()->add_tags(learned);
  std::set<std::string> got;
  for (const auto& m : Audience(req)) {
    got.insert(m.user_id());
    EXPECT_TRUE(
        std::count(m.interest_tags().begin(), m.interest_tags().end(), learned))
        << m.user_id();
  }
  const auto expected =
      Expected([&](const auto& r) { return r.HasTag(learned); });
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(got, expected);

  // Two tags: both must hold.
  req.mutable_filters()->add_tags("recent_buyer");
  got.clear();
  for (const auto& m : Audience(req)) got.insert(m.user_id());
  EXPECT_EQ(got, Expected([&](const auto& r) {
              return r.HasTag(learned) && r.HasTag("recent_buyer");
            }));

  // A tag nobody has: nobody.
  v1::FindAudienceRequest none = Request();
  none.mutable_filters()->add_tags("no_such_tag");
  EXPECT_TRUE(Audience(none).empty());
}

TEST_F(IntelligenceApiTest, AudienceByChurnRiskIntentAndReplenishment) {
  v1::FindAudienceRequest req = Request();
  req.mutable_filters()->set_min_churn_risk(0.2f);
  std::set<std::string> got;
  for (const auto& m : Audience(req)) {
    got.insert(m.user_id());
    EXPECT_GE(m.churn_risk(), 0.2f);
  }
  const auto at_risk = Expected(
      [](const auto& r) { return static_cast<float>(r.churn_risk) >= 0.2f; });
  ASSERT_FALSE(at_risk.empty());
  EXPECT_EQ(got, at_risk);

  req = Request();
  req.mutable_filters()->set_min_purchase_intent(0.5f);
  got.clear();
  for (const auto& m : Audience(req)) got.insert(m.user_id());
  EXPECT_EQ(got, Expected([](const auto& r) {
              return static_cast<float>(r.purchase_intent) >= 0.5f;
            }));

  // Due for a replenishment this week (as of the data's end).
  req = Request();
  req.mutable_filters()->set_due_within_days(7);
  got.clear();
  for (const auto& m : Audience(req)) {
    got.insert(m.user_id());
    EXPECT_LE(std::abs(m.next_purchase_unix() - world->as_of), 7 * 86400)
        << m.user_id();
  }
  const auto due = Expected([](const auto& r) {
    return r.next_purchase_unix > 0 &&
           std::abs(r.next_purchase_unix - world->as_of) <= 7 * 86400;
  });
  ASSERT_FALSE(due.empty());
  EXPECT_EQ(got, due);
}

TEST_F(IntelligenceApiTest, BadFiltersAreRefusedNamingTheField) {
  v1::FindAudienceRequest req = Request();
  req.mutable_filters()->set_min_churn_risk(1.5f);
  grpc::Status status;
  Audience(req, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "filters.min_churn_risk: must be in [0, 1], got 1.5");
  req = Request();
  req.mutable_filters()->add_tags("");
  Audience(req, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("filters.tags[0]"), std::string::npos)
      << status.error_message();
  req = Request();
  req.mutable_filters()->set_due_within_days(-1);
  Audience(req, &status);
  EXPECT_EQ(status.error_message(), "filters.due_within_days: must be >= 0");
}

// With its Redis down, the live tags fail alone: RecordEvents stores the
// event and answers OK; the failure is counted and logged.
TEST_F(IntelligenceApiTest, LiveTagsDownDoNotFailRecordEvents) {
  auto down = recsys::testing::RedisServer::Start();
  ASSERT_TRUE(down.ok()) << down.status();
  redis::Options options;
  options.host = (*down)->host();
  options.port = (*down)->port();
  options.default_timeout = absl::Seconds(2);
  options.connect_timeout = absl::Seconds(2);
  auto client = redis::Client::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  auto intel = intelligence::NewRedisIntelStore(client->get());
  ASSERT_TRUE(intel.ok()) << intel.status();
  ASSERT_TRUE((*down)->Stop().ok());
  metrics::Registry registry;
  const LiveTagObserver failing(world->shop->models.get(), intel->get(), &registry);
  world->server->storefront->SetEventObserver(&failing);

  const auto bundle = world->shop->models->Current();
  std::string item;
  for (int32_t row = 0; row < bundle->num_items() && item.empty(); ++row) {
    if (bundle->item(row).category == "sports") item = bundle->item(row).item_id;
  }
  ASSERT_FALSE(item.empty());
  const std::string user = world->records.front().user_id;
  Buy(user, {item}, {"live-down-1"});
  auto stored = world->shop->features->GetUser(user, absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(stored.ok()) << stored.status();
  // The same event again: a duplicate for the feature store (stored once).
  v1::RecordEventsRequest again;
  v1::Event* e = again.add_events();
  e->set_type(v1::EVENT_PURCHASE);
  e->set_user_id(user);
  e->set_item_id(item);
  e->set_price(20);
  e->set_event_id("live-down-1");
  v1::RecordEventsResponse response;
  grpc::ClientContext ctx;
  Deadline(&ctx);
  ASSERT_TRUE(rec_->RecordEvents(&ctx, again, &response).ok());
  EXPECT_EQ(response.duplicates(), 1);
  world->server->storefront->SetEventObserver(world->live_tags.get());
  const metrics::Counter* errors =
      registry.AddCounter("recsys_live_tag_events_total", "", {"outcome"})->Get({"error"});
  EXPECT_EQ(errors->Value(), 2);
}

// An experiment targeted by an interest tag (Experiment.target_tags): in
// RecommendProducts, RecommendCoupons and FindAudience, the users of its
// range with the tag get its variants, the others none; a tag completed
// live by events counts at once.
TEST_F(IntelligenceApiTest, ExperimentTargetedByATagAssignsOnlyTaggedUsers) {
  auto* models = world->shop->models.get();
  // A rule tag: who has it and who does not (both known to the model).
  const std::string tag = "recent_buyer";
  const intelligence::UserIntel* tagged = nullptr;
  const intelligence::UserIntel* untagged = nullptr;
  for (const auto& r : world->records) {
    if (models->Current()->UserRow(r.user_id) < 0) continue;
    if (tagged == nullptr && r.HasTag(tag)) tagged = &r;
    if (untagged == nullptr && !r.HasTag(tag)) untagged = &r;
  }
  ASSERT_NE(tagged, nullptr);
  ASSERT_NE(untagged, nullptr);
  {
    std::ofstream out(world->experiments_config, std::ios::trunc);
    out << R"pb(layers {
                  name: "targeting"
                  experiments {
                    name: "for_recent_buyers"
                    traffic_share: 1
                    slots: "homepage_feed"
                    campaigns: "recent_buyers"
                    target_tags: "recent_buyer"
                    variants { name: "a" share: 0.5 }
                    variants { name: "b" share: 0.5 }
                  }
                })pb";
  }
  ASSERT_TRUE(world->server->storefront->ReloadSlotConfig().ok());

  auto product_arms = [&](const std::string& user) {
    v1::RecommendProductsRequest req;
    req.set_user_id(user);
    auto* slot = req.add_slots();
    slot->set_name("homepage_feed");
    slot->set_k(3);
    req.mutable_context()->set_request_time_unix(world->as_of);
    v1::RecommendProductsResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    const grpc::Status st = rec_->RecommendProducts(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    std::vector<std::string> arms;
    if (resp.slots_size() == 1) {
      for (const auto& a : resp.slots(0).assignments())
        arms.push_back(a.experiment());
    }
    return arms;
  };
  auto coupon_arms = [&](const std::string& user) {
    v1::RecommendCouponsRequest req;
    req.set_user_id(user);
    req.set_k(3);
    req.mutable_context()->set_request_time_unix(world->as_of);
    v1::RecommendCouponsResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    const grpc::Status st = rec_->RecommendCoupons(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    std::vector<std::string> arms;
    for (const auto& a : resp.assignments()) arms.push_back(a.experiment());
    return arms;
  };
  const std::vector<std::string> in = {"for_recent_buyers"};
  EXPECT_EQ(product_arms(tagged->user_id), in);
  EXPECT_EQ(product_arms(untagged->user_id), std::vector<std::string>{});
  EXPECT_EQ(coupon_arms(tagged->user_id), in);
  EXPECT_EQ(coupon_arms(untagged->user_id), std::vector<std::string>{});

  // FindAudience: every member is in the experiment exactly when tagged.
  v1::FindAudienceRequest req = Request();
  int members_in = 0;
  int members_out = 0;
  for (const v1::AudienceMember& m : Audience(req)) {
    const bool has = std::count(m.interest_tags().begin(),
                                m.interest_tags().end(), tag) > 0;
    EXPECT_EQ(m.assignments_size(), has ? 1 : 0) << m.user_id();
    (has ? members_in : members_out) += 1;
  }
  EXPECT_GT(members_in, 0);
  EXPECT_GT(members_out, 0);

  // The record gains the tag (as a training run or a live rule would):
  // the next answer assigns the user.
  ASSERT_TRUE(world->shop->redis
                  ->Command({"HSET", "rs:u:" + untagged->user_id + ":intel",
                             "tags", tag})
                  .ok());
  EXPECT_EQ(product_arms(untagged->user_id), in);
  ASSERT_TRUE(world->intel->PutIntel({*untagged}).ok());

  {
    std::ofstream out(world->experiments_config, std::ios::trunc);
  }
  ASSERT_TRUE(world->server->storefront->ReloadSlotConfig().ok());
  EXPECT_EQ(product_arms(tagged->user_id), std::vector<std::string>{});
}

}  // namespace
}  // namespace recsys::server
