// Storefront rules on a real redis-server: one test per rule of the slot
// configuration (dayparts, festivals, stock, repurchase windows, rotation,
// slow movers, diversity), and the server's handling of a bad config.
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "feature_store/item_cache.h"
#include "feature_store/redis_feature_store.h"
#include "gtest/gtest.h"
#include "model/model_store.h"
#include "recommender/recommender.h"
#include "server/recommender_service.h"
#include "recommender/slot_config.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "tests/model/test_model.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/test_server.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"

namespace recsys::recommender {
namespace {

using feature_store::Event;
using feature_store::EventType;
using feature_store::ItemFeatures;

constexpr int64_t kBought = 1700000000;  // ua0 bought a0, a1 around then

absl::Time At(int64_t unix_seconds) { return absl::FromUnixSeconds(unix_seconds); }
absl::Time Hour(int hour) { return At(kBought + 30 * 86400 - kBought % 86400 + hour * 3600); }

class StorefrontTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto redis = recsys::testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    const std::string root = recsys::testing::MakeUniqueDir("storefront");
    data_ = model::testing::MakePlantedModel();
    // a3 is often bought with b7 and b8.
    data_.complements.resize(data_.items.size());
    data_.complements[3] = {{17, 0.9f}, {18, 0.5f}};
    data_.complements[17] = {{3, 0.9f}};
    data_.complements[18] = {{3, 0.5f}};
    model::PublishOptions publish;
    publish.version = "1";
    ASSERT_TRUE(model::PublishModel(root, data_, publish).ok());
    model::ModelStoreOptions options;
    options.root = root;
    options.poll_interval = absl::ZeroDuration();
    auto models = model::ModelStore::Create(options);
    ASSERT_TRUE(models.ok()) << models.status();
    models_ = *std::move(models);
    recsys::redis::Options redis_options;
    redis_options.host = redis_->host();
    redis_options.port = redis_->port();
    auto client = recsys::redis::Client::Create(redis_options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    auto store = feature_store::NewRedisFeatureStore(client_.get());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    RECSYS_ASSERT_OK(model::LoadIntoFeatureStore(data_, store_.get()));
    // As in production, items are read through the in-process cache; the
    // tests write to Redis directly, as another process would, so the cache
    // reads the change feed on every request here.
    auto cached = feature_store::NewItemCachingFeatureStore(
        store_.get(), {.max_staleness = absl::ZeroDuration()});
    ASSERT_TRUE(cached.ok()) << cached.status();
    cached_ = *std::move(cached);
    RecommenderOptions rec_options;
    rec_options.feature_timeout = absl::Seconds(2);
    rec_options.trial_pool.refresh = absl::ZeroDuration();  // see listings at once
    recommender_ = std::make_unique<Recommender>(models_.get(), cached_.get(), rec_options);
  }

  void UsePlan(absl::string_view text) {
    auto plan = SlotPlan::Parse(text);
    ASSERT_TRUE(plan.ok()) << plan.status();
    recommender_->SetSlotPlan(*plan);
  }

  void SetStock(const std::string& item, int64_t stock, bool slow = false) {
    const int32_t row = models_->Current()->ItemRow(item);
    ItemFeatures f;
    f.item_id = item;
    f.category = data_.items[row].category;
    f.price = data_.items[row].price;
    f.stock = stock;
    f.slow_mover = slow;
    RECSYS_ASSERT_OK(store_->PutItems({f}));
  }

  // Lists a catalog item (new to the model unless it is one of its items).
  void List(const std::string& item, const std::string& category, absl::Time listed,
            int64_t stock = 10) {
    ItemFeatures f;
    f.item_id = item;
    f.category = category;
    f.price = 3;
    f.title = absl::StrCat("New ", item);
    f.stock = stock;
    f.listed = listed;
    RECSYS_ASSERT_OK(store_->PutItems({f}));
  }

  static Event MakeEvent(EventType type, const std::string& user, const std::string& item,
                         absl::Time t) {
    Event e;
    e.type = type;
    e.user_id = user;
    e.item_id = item;
    e.time = t;
    return e;
  }

  std::vector<SlotAnswer> Ask(const std::string& user, std::vector<SlotSpec> slots,
                              absl::Time now) {
    ProductRequest r;
    r.user_id = user;
    r.slots = std::move(slots);
    r.now = now;
    auto a = recommender_->RecommendProducts(r);
    EXPECT_TRUE(a.ok()) << a.status();
    if (!a.ok()) return {};
    EXPECT_FALSE(a->meta.degraded) << a->meta.degraded_reason;
    return a->slots;
  }

  static std::vector<std::string> Ids(const SlotAnswer& slot) {
    std::vector<std::string> ids;
    for (const auto& i : slot.items) ids.push_back(i.item_id);
    return ids;
  }
  static bool HasRule(const ScoredItem& item, absl::string_view rule) {
    for (const auto& r : item.reason.applied_rules) {
      if (r == rule) return true;
    }
    return false;
  }

  // A server replica over store_ whose item cache would not read the
  // change feed for a day. `server` is null (and the test failed) on error.
  struct Replica {
    std::unique_ptr<feature_store::ItemCachingFeatureStore> cache;
    std::unique_ptr<recsys::testing::TestServer> server;
    std::shared_ptr<grpc::Channel> channel;
  };
  Replica StartReplica() {
    Replica replica;
    auto cache = feature_store::NewItemCachingFeatureStore(store_.get(),
                                                           {.max_staleness = absl::Hours(24)});
    EXPECT_TRUE(cache.ok()) << cache.status();
    if (!cache.ok()) return replica;
    replica.cache = *std::move(cache);
    server::ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    auto server = recsys::testing::StartTestServer(options, models_.get(), replica.cache.get());
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return replica;
    replica.server = *std::move(server);
    replica.channel = replica.server->channel;
    return replica;
  }

  std::unique_ptr<recsys::testing::RedisServer> redis_;
  model::ModelData data_;
  std::unique_ptr<model::ModelStore> models_;
  std::unique_ptr<redis::Client> client_;  // outlives store_
  std::unique_ptr<feature_store::FeatureStore> store_;
  std::unique_ptr<feature_store::ItemCachingFeatureStore> cached_;
  std::unique_ptr<Recommender> recommender_;
};

TEST_F(StorefrontTest, DaypartSwitchChangesTheHeroSlot) {
  UsePlan(R"pb(
    slots { name: "hero" sources { source: SOURCE_TRENDING weight: 1 } }
    dayparts { name: "breakfast" start_hour: 6 end_hour: 10 slots: "hero"
               boosts { category: "alpha" multiplier: 1000 } }
  )pb");
  auto morning = Ask("visitor", {{"hero", 3}}, Hour(8));
  ASSERT_EQ(morning[0].items.size(), 3u);
  for (const auto& item : morning[0].items) {
    EXPECT_EQ(item.category, "alpha") << item.item_id;
    EXPECT_TRUE(HasRule(item, "daypart:breakfast"));
  }
  auto evening = Ask("visitor", {{"hero", 3}}, Hour(20));
  EXPECT_EQ(Ids(evening[0]), (std::vector<std::string>{"b0", "b1", "b2"}));
  EXPECT_EQ(evening[0].items[0].reason.code, ReasonCode::kTrending);
}

TEST_F(StorefrontTest, NoItemRepeatsAcrossConfiguredSlots) {
  UsePlan(R"pb(
    slots { name: "hero" sources { source: SOURCE_PERSONALIZED weight: 1 } }
    slots { name: "feed" sources { source: SOURCE_SIMILAR_TO_RECENT weight: 1 }
                         sources { source: SOURCE_CATEGORY_BESTSELLERS weight: 0.5 } }
    slots { name: "for_you" sources { source: SOURCE_BLENDED weight: 1 } }
  )pb");
  auto slots = Ask("ua0", {{"hero", 4}, {"feed", 6}, {"for_you", 6}}, Hour(12));
  std::set<std::string> seen;
  size_t total = 0;
  for (const auto& slot : slots) {
    for (const auto& item : slot.items) {
      EXPECT_TRUE(seen.insert(item.item_id).second) << "repeated " << item.item_id;
      ++total;
    }
  }
  EXPECT_EQ(total, 16u);
}

TEST_F(StorefrontTest, OutOfStockIsNeverShownAndComesBackWhenRestocked) {
  SetStock("b0", 0);
  SetStock("a2", 0);
  for (const char* user : {"visitor", "ub3", "ua0"}) {
    auto slots = Ask(user, {{"hero", 5}, {"for_you", 5}, {"feed", 8}}, Hour(12));
    for (const auto& slot : slots) {
      for (const auto& item : slot.items) {
        EXPECT_NE(item.item_id, "b0") << user << " " << slot.name;
        EXPECT_NE(item.item_id, "a2") << user << " " << slot.name;
      }
    }
  }
  SetStock("b0", 50);
  auto slots = Ask("visitor", {{"hero", 3}}, Hour(12));
  EXPECT_EQ(slots[0].items[0].item_id, "b0");
}

TEST_F(StorefrontTest, RepurchaseWindowIsRespected) {
  UsePlan(R"pb(
    slots { name: "buy_again" sources { source: SOURCE_BUY_AGAIN weight: 1 } }
    rules { repurchasable { category: "alpha" min_days: 7 } }
  )pb");
  // ua0 bought a0 and a1 at kBought (+100 s for a1).
  auto early = Ask("ua0", {{"buy_again", 3}}, At(kBought + 3 * 86400));
  for (const auto& item : early[0].items) {
    EXPECT_NE(item.item_id, "a0");
    EXPECT_NE(item.item_id, "a1");
  }
  auto due = Ask("ua0", {{"buy_again", 3}}, At(kBought + 8 * 86400));
  const auto ids = Ids(due[0]);
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.begin() + 2),
            (std::set<std::string>{"a0", "a1"}));
  EXPECT_EQ(due[0].items[0].reason.code, ReasonCode::kBuyAgain);
  // Beta is not repurchasable: ub0's purchases never come back.
  auto never = Ask("ub0", {{"buy_again", 5}, {"feed", 10}}, At(kBought + 400 * 86400));
  for (const auto& slot : never) {
    for (const auto& item : slot.items) {
      EXPECT_NE(item.item_id, "b0");
      EXPECT_NE(item.item_id, "b1");
    }
  }
}

TEST_F(StorefrontTest, RecentImpressionsRotateOut) {
  UsePlan(R"pb(
    slots { name: "feed" sources { source: SOURCE_PERSONALIZED weight: 1 } }
    rules { rotation_impressions: 10 rotation_multiplier: 0.01 }
  )pb");
  auto first = Ask("ua0", {{"feed", 3}}, Hour(12));
  std::vector<Event> shown;
  for (const auto& item : first[0].items) {
    Event e;
    e.type = EventType::kImpression;
    e.user_id = "ua0";
    e.item_id = item.item_id;
    e.time = Hour(12);
    shown.push_back(e);
  }
  RECSYS_ASSERT_OK(recommender_->RecordEvents(shown, absl::InfiniteFuture()).status());
  auto second = Ask("ua0", {{"feed", 3}}, Hour(12));
  for (const auto& item : second[0].items) {
    for (const auto& old : first[0].items) EXPECT_NE(item.item_id, old.item_id);
  }
  auto longer = Ask("ua0", {{"feed", 18}}, Hour(12));
  int rotated = 0;
  for (const auto& item : longer[0].items) rotated += HasRule(item, "rotation");
  EXPECT_EQ(rotated, 3);
}

TEST_F(StorefrontTest, LowStockAndSlowMoversAreDemoted) {
  UsePlan(R"pb(
    slots { name: "hero" sources { source: SOURCE_TRENDING weight: 1 } }
    rules { low_stock_threshold: 5 low_stock_multiplier: 0.01 slow_mover_multiplier: 0.01 }
  )pb");
  SetStock("b0", 2);
  SetStock("b1", 100, /*slow=*/true);
  auto slots = Ask("visitor", {{"hero", 20}}, Hour(12));
  const auto ids = Ids(slots[0]);
  ASSERT_GE(ids.size(), 10u);
  EXPECT_EQ(ids[0], "b2");
  for (const auto& item : slots[0].items) {
    if (item.item_id == "b0") {
      EXPECT_TRUE(HasRule(item, "low_stock"));
    }
    if (item.item_id == "b1") {
      EXPECT_TRUE(HasRule(item, "slow_mover"));
    }
  }
  const auto pos = [&](const std::string& id) {
    return std::find(ids.begin(), ids.end(), id) - ids.begin();
  };
  EXPECT_GT(pos("b0"), pos("b5"));
  EXPECT_GT(pos("b1"), pos("b5"));
}

TEST_F(StorefrontTest, FestivalPinsCampaignItemsUpToItsShare) {
  UsePlan(R"pb(
    slots { name: "hero" sources { source: SOURCE_TRENDING weight: 1 } }
    festivals { name: "valentines" start_date: "2023-11-01" end_date: "2023-12-31"
                pinned_items: "a9" pinned_items: "a8" pinned_items: "a7"
                pinned_share: 0.4 slots: "hero" }
  )pb");
  auto during = Ask("visitor", {{"hero", 5}}, At(kBought + 86400 * 20));  // 2023-12-04
  const auto ids = Ids(during[0]);
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(ids[0], "a9");
  EXPECT_EQ(ids[1], "a8");
  EXPECT_EQ(during[0].items[0].reason.code, ReasonCode::kCampaign);
  EXPECT_TRUE(HasRule(during[0].items[0], "festival:valentines"));
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "a7"), 0);  // over the 40% share
  auto after = Ask("visitor", {{"hero", 5}}, At(kBought + 86400 * 80));  // 2024-02
  EXPECT_EQ(after[0].items[0].item_id, "b0");
}

TEST_F(StorefrontTest, CategoryCapKeepsTheSlotDiverse) {
  UsePlan(R"pb(
    slots { name: "hero" sources { source: SOURCE_TRENDING weight: 1 } max_per_category: 2 }
  )pb");
  auto slots = Ask("visitor", {{"hero", 6}}, Hour(12));
  std::map<std::string, int> per_category;
  for (const auto& item : slots[0].items) ++per_category[item.category];
  EXPECT_EQ(slots[0].items.size(), 4u);  // two categories, two each
  for (const auto& [category, n] : per_category) EXPECT_LE(n, 2) << category;
}

TEST_F(StorefrontTest, SimilarItemsSkipOutOfStockAndKeepThePriceBand) {
  SimilarRequest r;
  r.item_id = "a3";  // price 4
  r.k = 10;
  r.price_band = 0.3;  // 2.8 .. 5.2
  SetStock("a4", 0);
  RECSYS_ASSERT_OK_AND_ASSIGN(SimilarAnswer a, recommender_->SimilarItems(r));
  ASSERT_FALSE(a.items.empty());
  EXPECT_EQ(a.items[0].item_id, "a2");
  for (const auto& item : a.items) {
    EXPECT_NE(item.item_id, "a4");
    EXPECT_GE(item.price, 2.8);
    EXPECT_LE(item.price, 5.2);
  }
  r.price_band = 1.5;
  EXPECT_TRUE(absl::IsInvalidArgument(recommender_->SimilarItems(r).status()));
}

TEST_F(StorefrontTest, BundlesAreComplementsFromOtherCategories) {
  SimilarRequest r;
  r.item_id = "a3";
  r.k = 5;
  r.complements = true;
  RECSYS_ASSERT_OK_AND_ASSIGN(SimilarAnswer a, recommender_->SimilarItems(r));
  ASSERT_EQ(a.items.size(), 2u);
  EXPECT_EQ(a.items[0].item_id, "b7");
  EXPECT_EQ(a.items[1].item_id, "b8");
  EXPECT_EQ(a.items[0].reason.code, ReasonCode::kBundleComplement);
  EXPECT_NE(a.items[0].reason.text.find("often bought with"), std::string::npos);
  for (const auto& item : a.items) EXPECT_NE(item.category, "alpha");  // not substitutes

  // In a cart_bundle slot, complements of what the user just carted lead.
  UsePlan(R"pb(
    slots { name: "cart_bundle" sources { source: SOURCE_BUNDLE_COMPLEMENTS weight: 1 } }
  )pb");
  Event cart;
  cart.type = EventType::kAddToCart;
  cart.user_id = "shopper";
  cart.item_id = "a3";
  cart.time = Hour(11);
  RECSYS_ASSERT_OK(recommender_->RecordEvents({cart}, absl::InfiniteFuture()).status());
  auto slots = Ask("shopper", {{"cart_bundle", 3}}, Hour(12));
  ASSERT_EQ(slots[0].items.size(), 3u);
  EXPECT_EQ(slots[0].items[0].item_id, "b7");
  EXPECT_EQ(slots[0].items[0].reason.anchor_item_id, "a3");
  EXPECT_EQ(slots[0].items[1].item_id, "b8");
}

TEST_F(StorefrontTest, BadConfigOnReloadKeepsTheServedOne) {
  const std::string dir = recsys::testing::MakeUniqueDir("storefront_cfg");
  const std::string path = dir + "/slots.textproto";
  std::ofstream(path) << R"pb(
    slots { name: "hero" sources { source: SOURCE_TRENDING weight: 1 } }
    dayparts { name: "breakfast" start_hour: 0 end_hour: 24
               boosts { category: "alpha" multiplier: 1000 } }
  )pb";
  server::ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  recommender::StorefrontOptions storefront_options;
  storefront_options.slots_config = path;
  auto server =
      recsys::testing::StartTestServer(options, models_.get(), store_.get(), storefront_options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = (*server)->channel;
  auto rec = recsys::v1::Recommender::NewStub(channel);
  auto admin = recsys::v1::Admin::NewStub(channel);
  auto hero_category = [&]() {
    recsys::v1::RecommendProductsRequest req;
    req.set_user_id("visitor");
    auto* slot = req.add_slots();
    slot->set_name("hero");
    slot->set_k(1);
    recsys::v1::RecommendProductsResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(rec->RecommendProducts(&ctx, req, &resp).ok());
    return resp.slots(0).items(0).category();
  };
  EXPECT_EQ(hero_category(), "alpha");
  std::ofstream(path) << R"pb(slots { name: "hero" max_per_category: -4 })pb";
  recsys::v1::ReloadModelResponse reload;
  grpc::ClientContext ctx;
  grpc::Status st = admin->ReloadModel(&ctx, recsys::v1::ReloadModelRequest(), &reload);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("slots[0]"), std::string::npos) << st.error_message();
  EXPECT_EQ(hero_category(), "alpha");  // the old config still serves
  // A broken file at start-up refuses to start, naming the field.
  auto refused =
      recsys::testing::StartTestServer(options, models_.get(), store_.get(), storefront_options);
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("slots[0]"), absl::string_view::npos);
}

TEST_F(StorefrontTest, TrialShareIsMetOverManyRequests) {
  UsePlan(R"pb(
    slots { name: "feed" sources { source: SOURCE_TRENDING weight: 1 } trial_share: 0.25 }
    rules { trial_days: 15 }
  )pb");
  const absl::Time now = Hour(12);
  // Four new items in their window, one whose window ended, one not yet
  // listed, one out of stock, and a model item listed as new.
  List("n0", "alpha", now - absl::Hours(24 * 2));
  List("n1", "beta", now - absl::Hours(24 * 5));
  List("n2", "alpha", now - absl::Hours(24 * 14));
  List("n3", "gamma", now - absl::Hours(1));
  List("old", "alpha", now - absl::Hours(24 * 15) - absl::Seconds(1));
  List("future", "alpha", now + absl::Hours(1));
  List("gone", "beta", now - absl::Hours(24), /*stock=*/0);
  List("a9", "alpha", now - absl::Hours(24 * 3));
  const std::set<std::string> trial = {"n0", "n1", "n2", "n3", "a9"};

  constexpr int kRequests = 400;
  int trial_shown = 0;
  std::map<std::string, int> per_item;
  for (int i = 0; i < kRequests; ++i) {
    auto slots = Ask(absl::StrCat("visitor", i), {{"feed", 10}}, now);
    ASSERT_EQ(slots[0].items.size(), 10u);
    int in_request = 0;
    std::set<std::string> seen;
    for (size_t pos = 0; pos < slots[0].items.size(); ++pos) {
      const ScoredItem& item = slots[0].items[pos];
      EXPECT_TRUE(seen.insert(item.item_id).second) << item.item_id;
      EXPECT_NE(item.item_id, "old");
      EXPECT_NE(item.item_id, "future");
      EXPECT_NE(item.item_id, "gone");
      if (item.reason.code != ReasonCode::kTrialPool) continue;
      EXPECT_TRUE(trial.contains(item.item_id)) << item.item_id;
      EXPECT_TRUE(HasRule(item, "trial_pool"));
      EXPECT_GT(pos, 0u) << "trial items are spread through the slot";
      ++in_request;
      ++per_item[item.item_id];
    }
    // 0.25 * 10 = 2.5: two or three per request.
    EXPECT_GE(in_request, 2);
    EXPECT_LE(in_request, 3);
    trial_shown += in_request;
  }
  const double share = static_cast<double>(trial_shown) / (10.0 * kRequests);
  EXPECT_NEAR(share, 0.25, 0.015);
  // Visitors without a history have no preference: the exposure is spread
  // over the whole pool, including the item of a category the model does
  // not know (no vector at all).
  for (const std::string& id : trial) {
    EXPECT_GT(per_item[id], trial_shown / 10) << id;
  }
}

TEST_F(StorefrontTest, NewItemsGetTheirCategorysVectorAndFollowTheUsersTaste) {
  UsePlan(R"pb(
    slots { name: "feed" sources { source: SOURCE_PERSONALIZED weight: 1 } trial_share: 0.1 }
  )pb");
  const absl::Time now = Hour(12);
  List("new-alpha", "alpha", now - absl::Hours(24));
  List("new-beta", "beta", now - absl::Hours(24));
  auto trial_item = [&](const std::string& user) {
    auto slots = Ask(user, {{"feed", 10}}, now);
    for (const auto& item : slots[0].items) {
      if (item.reason.code == ReasonCode::kTrialPool) return item.item_id;
    }
    return std::string();
  };
  EXPECT_EQ(trial_item("ua0"), "new-alpha");
  EXPECT_EQ(trial_item("ub0"), "new-beta");
  // Similar items of a new item, before any training, come from its category.
  SimilarRequest r;
  r.item_id = "new-beta";
  r.k = 5;
  RECSYS_ASSERT_OK_AND_ASSIGN(SimilarAnswer similar, recommender_->SimilarItems(r));
  ASSERT_EQ(similar.items.size(), 5u);
  for (const auto& item : similar.items) EXPECT_EQ(item.category, "beta") << item.item_id;
  r.item_id = "never-listed";
  EXPECT_TRUE(absl::IsNotFound(recommender_->SimilarItems(r).status()));
}

TEST_F(StorefrontTest, TrialOutcomeIsCountedPerItem) {
  const absl::Time now = Hour(12);
  UsePlan(R"pb(
    slots { name: "feed" sources { source: SOURCE_TRENDING weight: 1 } trial_share: 0.5 }
    rules { trial_days: 10 trial_graduation_purchases: 1 }
  )pb");
  List("fresh", "alpha", now - absl::Hours(24 * 2));
  List("hit", "alpha", now - absl::Hours(24 * 12));   // trial ended 2 days ago
  List("flop", "beta", now - absl::Hours(24 * 11));   // trial ended 1 day ago
  std::vector<Event> events = {
      MakeEvent(EventType::kImpression, "u1", "fresh", now),
      MakeEvent(EventType::kImpression, "u2", "fresh", now),
      MakeEvent(EventType::kClick, "u2", "fresh", now),
      MakeEvent(EventType::kPurchase, "u2", "fresh", now),
      // During their windows.
      MakeEvent(EventType::kImpression, "u3", "hit", now - absl::Hours(24 * 5)),
      MakeEvent(EventType::kPurchase, "u3", "hit", now - absl::Hours(24 * 5)),
      MakeEvent(EventType::kImpression, "u4", "flop", now - absl::Hours(24 * 5)),
      // After the window, and for an item never on trial: not counted.
      MakeEvent(EventType::kPurchase, "u5", "flop", now),
      MakeEvent(EventType::kImpression, "u5", "b0", now),
      MakeEvent(EventType::kView, "u5", "fresh", now),
  };
  RECSYS_ASSERT_OK(recommender_->RecordEvents(events, absl::InfiniteFuture()).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(TrialReportAnswer report,
                              recommender_->TrialReport(now, 0, absl::InfiniteFuture()));
  EXPECT_EQ(report.trial_days, 10);
  ASSERT_EQ(report.items.size(), 3u);
  EXPECT_EQ(report.items[0].item_id, "fresh");  // newest first
  EXPECT_EQ(report.items[0].status, "in_trial");
  EXPECT_EQ(report.items[0].day, 2);
  EXPECT_EQ(report.items[0].counts.impressions, 2);
  EXPECT_EQ(report.items[0].counts.clicks, 1);
  EXPECT_EQ(report.items[0].counts.purchases, 1);
  EXPECT_EQ(report.items[0].vector_source, TrialVectorSource::kCategoryMean);
  EXPECT_EQ(report.items[1].item_id, "flop");
  EXPECT_EQ(report.items[1].status, "slow_mover_candidate");
  EXPECT_EQ(report.items[1].counts.impressions, 1);
  EXPECT_EQ(report.items[1].counts.purchases, 0);
  EXPECT_EQ(report.items[2].item_id, "hit");
  EXPECT_EQ(report.items[2].status, "graduated");
  // Ended long enough ago: out of the report.
  RECSYS_ASSERT_OK_AND_ASSIGN(report, recommender_->TrialReport(now + absl::Hours(24 * 20), 0,
                                                                absl::InfiniteFuture()));
  EXPECT_TRUE(report.items.empty());
}

TEST_F(StorefrontTest, StockSetThroughGrpcIsSeenAtOnceDespiteTheItemCache) {
  // A server whose item cache would not read the change feed for a day:
  // updates through its own Admin.UpdateItems must still be seen by the
  // next request.
  Replica replica = StartReplica();
  ASSERT_NE(replica.server, nullptr);
  auto* lazy = &replica.cache;
  auto rec = recsys::v1::Recommender::NewStub(replica.channel);
  auto admin = recsys::v1::Admin::NewStub(replica.channel);
  auto top = [&]() -> std::vector<std::string> {
    recsys::v1::RecommendProductsRequest req;
    req.set_user_id("visitor");
    auto* slot = req.add_slots();
    slot->set_name("homepage");
    slot->set_k(3);
    recsys::v1::RecommendProductsResponse resp;
    grpc::ClientContext ctx;
    grpc::Status st = rec->RecommendProducts(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_FALSE(resp.meta().degraded()) << resp.meta().degraded_reason();
    std::vector<std::string> ids;
    if (resp.slots_size() == 1) {
      for (const auto& i : resp.slots(0).items()) ids.push_back(i.item_id());
    }
    return ids;
  };
  auto set_stock = [&](const std::string& item, int64_t stock) {
    recsys::v1::UpdateItemsRequest update;
    update.add_items()->set_item_id(item);
    update.mutable_items(0)->set_stock(stock);
    recsys::v1::UpdateItemsResponse updated;
    grpc::ClientContext ctx;
    grpc::Status st = admin->UpdateItems(&ctx, update, &updated);
    ASSERT_TRUE(st.ok()) << st.error_message();
  };
  const std::vector<std::string> before = top();
  ASSERT_FALSE(before.empty());
  const std::string first = before[0];
  EXPECT_GT((*lazy)->stats().items, 0);  // the answer was checked through the cache
  set_stock(first, 0);
  for (const std::string& id : top()) EXPECT_NE(id, first);
  set_stock(first, 50);
  EXPECT_EQ(top(), before);
  EXPECT_EQ((*lazy)->stats().refreshes, 1);
  EXPECT_GE((*lazy)->stats().invalidated, 1);
}

TEST_F(StorefrontTest, PartialUpdatesOnTwoReplicasLoseNothing) {
  // Two replicas whose item caches would not read the change feed for a
  // day. An update on one must not be undone by a partial update of the
  // same item on the other (which merges the fields it was not given).
  std::vector<Replica> replicas;
  std::vector<std::unique_ptr<recsys::v1::Admin::Stub>> admins;
  for (int r = 0; r < 2; ++r) {
    replicas.push_back(StartReplica());
    ASSERT_NE(replicas.back().server, nullptr);
    admins.push_back(recsys::v1::Admin::NewStub(replicas.back().channel));
  }
  auto update = [&](int replica, std::optional<int64_t> stock, std::optional<bool> slow) {
    recsys::v1::UpdateItemsRequest request;
    auto* item = request.add_items();
    item->set_item_id("a2");
    if (stock.has_value()) item->set_stock(*stock);
    if (slow.has_value()) item->set_slow_mover(*slow);
    recsys::v1::UpdateItemsResponse response;
    grpc::ClientContext ctx;
    grpc::Status st = admins[replica]->UpdateItems(&ctx, request, &response);
    ASSERT_TRUE(st.ok()) << st.error_message();
  };
  update(0, 40, std::nullopt);  // both replicas' caches now hold a2
  for (const Replica& replica : replicas) {
    RECSYS_ASSERT_OK(replica.cache->GetItems({"a2"}, absl::InfiniteFuture()).status());
  }
  update(0, 0, std::nullopt);     // sold out, through replica 0
  update(1, std::nullopt, true);  // flagged slow, through replica 1
  RECSYS_ASSERT_OK_AND_ASSIGN(auto stored, store_->GetItems({"a2"}, absl::InfiniteFuture()));
  ASSERT_TRUE(stored[0].has_value());
  EXPECT_EQ(stored[0]->stock, 0);
  EXPECT_TRUE(stored[0]->slow_mover);
}

TEST_F(StorefrontTest, CatalogListingThroughGrpcReachesTheTrialPool) {
  const std::string dir = recsys::testing::MakeUniqueDir("storefront_trial");
  const std::string path = dir + "/slots.textproto";
  std::ofstream(path) << R"pb(
    slots { name: "feed" sources { source: SOURCE_TRENDING weight: 1 } trial_share: 0.2 }
  )pb";
  server::ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  recommender::StorefrontOptions storefront_options;
  storefront_options.slots_config = path;
  auto server =
      recsys::testing::StartTestServer(options, models_.get(), store_.get(), storefront_options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = (*server)->channel;
  auto rec = recsys::v1::Recommender::NewStub(channel);
  auto admin = recsys::v1::Admin::NewStub(channel);

  recsys::v1::UpdateItemsRequest update;
  auto* item = update.add_items();
  item->set_item_id("kettle-2");
  item->set_category("alpha");
  item->set_price(29.5);
  item->set_title("Kettle 2");
  item->set_listed_unix(absl::ToUnixSeconds(absl::Now()) - 3600);
  recsys::v1::UpdateItemsResponse updated;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(admin->UpdateItems(&ctx, update, &updated).ok());
  }
  ASSERT_EQ(updated.unknown_to_model_size(), 1);
  // A bad listing time names the field.
  item->set_listed_unix(-5);
  {
    grpc::ClientContext ctx;
    grpc::Status st = admin->UpdateItems(&ctx, update, &updated);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(st.error_message().find("items[0].listed_unix"), std::string::npos);
  }

  recsys::v1::RecommendProductsRequest req;
  req.set_user_id("newcomer");
  auto* slot = req.add_slots();
  slot->set_name("feed");
  slot->set_k(5);  // 0.2 * 5 = exactly one trial item
  recsys::v1::RecommendProductsResponse resp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(rec->RecommendProducts(&ctx, req, &resp).ok());
  }
  std::string shown;
  for (const auto& i : resp.slots(0).items()) {
    if (i.reason().code() == recsys::v1::REASON_TRIAL_POOL) shown = i.item_id();
  }
  ASSERT_EQ(shown, "kettle-2");

  // A stock-only update keeps the listing and the catalog fields.
  recsys::v1::UpdateItemsRequest restock;
  restock.add_items()->set_item_id("kettle-2");
  restock.mutable_items(0)->set_stock(7);
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(admin->UpdateItems(&ctx, restock, &updated).ok());
  }
  recsys::v1::RecordEventsRequest events;
  auto* e = events.add_events();
  e->set_type(recsys::v1::EVENT_IMPRESSION);
  e->set_user_id("newcomer");
  e->set_item_id("kettle-2");
  e->set_slot("feed");
  recsys::v1::RecordEventsResponse recorded;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(rec->RecordEvents(&ctx, events, &recorded).ok());
  }
  recsys::v1::TrialReport report;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(admin->GetTrialReport(&ctx, recsys::v1::GetTrialReportRequest(), &report).ok());
  }
  ASSERT_EQ(report.items_size(), 1);
  EXPECT_EQ(report.items(0).item_id(), "kettle-2");
  EXPECT_EQ(report.items(0).category(), "alpha");
  EXPECT_EQ(report.items(0).title(), "Kettle 2");
  EXPECT_EQ(report.items(0).status(), "in_trial");
  EXPECT_EQ(report.items(0).impressions(), 1);
  EXPECT_EQ(report.items(0).vector_source(), "category_mean");
  EXPECT_EQ(report.trial_days(), 15);
}

}  // namespace
}  // namespace recsys::recommender
