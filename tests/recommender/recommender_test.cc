#include "recommender/recommender.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "experiments/experiment_plan.h"
#include "feature_store/faulty_feature_store.h"
#include "feature_store/in_memory_feature_store.h"
#include "gtest/gtest.h"
#include "intelligence/intel.h"
#include "intelligence/intel_store.h"
#include "recommender/experiment_variants.h"
#include "tests/model/test_model.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"

namespace recsys::recommender {
namespace {

using feature_store::Event;
using feature_store::EventType;

class RecommenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string root = recsys::testing::MakeUniqueDir("recommender");
    model::ModelData data = model::testing::MakePlantedModel();
    model::PublishOptions publish;
    publish.version = "7";
    ASSERT_TRUE(model::PublishModel(root, data, publish).ok());
    model::ModelStoreOptions options;
    options.root = root;
    options.poll_interval = absl::ZeroDuration();
    auto models = model::ModelStore::Create(options);
    ASSERT_TRUE(models.ok()) << models.status();
    models_ = *std::move(models);
    RECSYS_ASSERT_OK(model::LoadIntoFeatureStore(data, &memory_));
    RecommenderOptions rec_options;
    rec_options.max_k = 50;
    rec_options.max_exclude_ids = 5;
    recommender_ = std::make_unique<Recommender>(models_.get(), &faulty_, rec_options);
  }

  ProductRequest Request(const std::string& user, int k) {
    ProductRequest r;
    r.user_id = user;
    r.slots.push_back({"feed", k});
    return r;
  }

  static std::vector<std::string> Ids(const std::vector<ScoredItem>& items) {
    std::vector<std::string> ids;
    for (const auto& i : items) ids.push_back(i.item_id);
    return ids;
  }

  Event Purchase(const std::string& user, const std::string& item) {
    Event e;
    e.type = EventType::kPurchase;
    e.user_id = user;
    e.item_id = item;
    return e;
  }

  std::unique_ptr<model::ModelStore> models_;
  feature_store::InMemoryFeatureStore memory_;
  feature_store::FaultyFeatureStore faulty_{&memory_};
  std::unique_ptr<Recommender> recommender_;
};

TEST_F(RecommenderTest, KnownUserGetsTheirGroupMinusPurchases) {
  RECSYS_ASSERT_OK_AND_ASSIGN(ProductAnswer a, recommender_->RecommendProducts(Request("ua0", 5)));
  EXPECT_EQ(a.meta.model_version, "7");
  EXPECT_FALSE(a.meta.degraded);
  ASSERT_EQ(a.slots.size(), 1u);
  ASSERT_EQ(a.slots[0].items.size(), 5u);
  for (const ScoredItem& item : a.slots[0].items) {
    EXPECT_EQ(item.category, "alpha") << item.item_id;
    EXPECT_NE(item.item_id, "a0");  // bought
    EXPECT_NE(item.item_id, "a1");  // bought
    EXPECT_EQ(item.reason.code, ReasonCode::kPersonalized);
    EXPECT_TRUE(item.reason.anchor_item_id == "a0" || item.reason.anchor_item_id == "a1")
        << item.reason.anchor_item_id;
    EXPECT_NE(item.reason.text.find("you bought"), std::string::npos);
  }
  // Scores are sorted.
  for (size_t i = 1; i < a.slots[0].items.size(); ++i) {
    EXPECT_GE(a.slots[0].items[i - 1].score, a.slots[0].items[i].score);
  }
}

TEST_F(RecommenderTest, PersonalizedItemIsExplainedByItsMostSimilarPurchase) {
  // ua2 bought a2 and then a3: each item shown names the nearer of the two
  // by cosine (the more recent purchase on a tie).
  const std::shared_ptr<const model::ModelBundle> bundle = models_->Current();
  auto cosine = [&](const std::string& x, const std::string& y) {
    absl::Span<const float> a = bundle->item_vector(bundle->ItemRow(x));
    absl::Span<const float> b = bundle->item_vector(bundle->ItemRow(y));
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      dot += static_cast<double>(a[i]) * b[i];
      na += static_cast<double>(a[i]) * a[i];
      nb += static_cast<double>(b[i]) * b[i];
    }
    return dot / std::sqrt(na * nb);
  };
  RECSYS_ASSERT_OK_AND_ASSIGN(ProductAnswer a, recommender_->RecommendProducts(Request("ua2", 8)));
  ASSERT_EQ(a.slots[0].items.size(), 8u);
  std::set<std::string> anchors;
  for (const ScoredItem& item : a.slots[0].items) {
    ASSERT_EQ(item.reason.code, ReasonCode::kPersonalized) << item.item_id;
    const std::string nearer =
        cosine(item.item_id, "a3") >= cosine(item.item_id, "a2") ? "a3" : "a2";
    EXPECT_EQ(item.reason.anchor_item_id, nearer) << item.item_id;
    EXPECT_EQ(item.reason.anchor_category, "alpha");
    EXPECT_EQ(item.reason.text, absl::StrCat("similar to Item ", nearer, " you bought"));
    anchors.insert(item.reason.anchor_item_id);
  }
  EXPECT_EQ(anchors.size(), 2u);  // both purchases explain some item
}

TEST_F(RecommenderTest, UnknownUserGetsPopularItems) {
  RECSYS_ASSERT_OK_AND_ASSIGN(ProductAnswer a,
                              recommender_->RecommendProducts(Request("stranger", 3)));
  EXPECT_EQ(Ids(a.slots[0].items), (std::vector<std::string>{"b0", "b1", "b2"}));
  for (const auto& item : a.slots[0].items) EXPECT_EQ(item.reason.code, ReasonCode::kPopular);
  EXPECT_FALSE(a.meta.degraded);
}

TEST_F(RecommenderTest, RecordedPurchaseIsExcludedFromTheNextAnswer) {
  RECSYS_ASSERT_OK_AND_ASSIGN(ProductAnswer before,
                              recommender_->RecommendProducts(Request("ua0", 3)));
  const std::string top = before.slots[0].items[0].item_id;
  RECSYS_ASSERT_OK_AND_ASSIGN(EventsAnswer ev,
                              recommender_->RecordEvents({Purchase("ua0", top)}, absl::InfiniteFuture()));
  EXPECT_EQ(ev.accepted, 1);
  RECSYS_ASSERT_OK_AND_ASSIGN(ProductAnswer after,
                              recommender_->RecommendProducts(Request("ua0", 3)));
  for (const auto& item : after.slots[0].items) EXPECT_NE(item.item_id, top);
}

TEST_F(RecommenderTest, NewUserIsPersonalizedFromFirstEvents) {
  // Cold: popular (beta) items.
  RECSYS_ASSERT_OK_AND_ASSIGN(ProductAnswer cold,
                              recommender_->RecommendProducts(Request("newbie", 4)));
  EXPECT_EQ(cold.slots[0].items[0].reason.code, ReasonCode::kPopular);
  // Views of alpha items fold the user into the alpha group.
  std::vector<Event> views;
  for (const char* item : {"a7", "a8"}) {
    Event e;
    e.type = EventType::kView;
    e.user_id = "newbie";
    e.item_id = item;
    views.push_back(e);
  }
  RECSYS_ASSERT_OK(recommender_->RecordEvents(views, absl::InfiniteFuture()).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(ProductAnswer warm,
                              recommender_->RecommendProducts(Request("newbie", 4)));
  for (const auto& item : warm.slots[0].items) {
    EXPECT_EQ(item.category, "alpha") << item.item_id;
    EXPECT_EQ(item.reason.code, ReasonCode::kPersonalized);
    EXPECT_NE(item.reason.text.find("you viewed"), std::string::npos) << item.reason.text;
  }
}

TEST_F(RecommenderTest, KnownUserWithNewerActivityIsFoldedInAgain) {
  // ua0 likes alpha; after carting six beta items, beta items surface.
  std::vector<Event> carts;
  for (const char* item : {"b2", "b3", "b4", "b5", "b6", "b7"}) {
    Event e;
    e.type = EventType::kAddToCart;
    e.user_id = "ua0";
    e.item_id = item;
    carts.push_back(e);
  }
  RECSYS_ASSERT_OK_AND_ASSIGN(ProductAnswer before,
                              recommender_->RecommendProducts(Request("ua0", 5)));
  for (const auto& item : before.slots[0].items) EXPECT_EQ(item.category, "alpha");
  RECSYS_ASSERT_OK(recommender_->RecordEvents(carts, absl::InfiniteFuture()).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(ProductAnswer after,
                              recommender_->RecommendProducts(Request("ua0", 5)));
  int beta = 0;
  for (const auto& item : after.slots[0].items) beta += item.category == "beta";
  EXPECT_GE(beta, 1);
}

TEST_F(RecommenderTest, SlotsNeverRepeatAnItem) {
  ProductRequest r = Request("ub0", 3);
  r.slots.push_back({"more", 6});
  r.slots.push_back({"tail", 10});
  RECSYS_ASSERT_OK_AND_ASSIGN(ProductAnswer a, recommender_->RecommendProducts(r));
  ASSERT_EQ(a.slots.size(), 3u);
  EXPECT_EQ(a.slots[0].name, "feed");
  EXPECT_EQ(a.slots[1].name, "more");
  std::set<std::string> seen;
  size_t total = 0;
  for (const auto& slot : a.slots) {
    for (const auto& item : slot.items) {
      EXPECT_TRUE(seen.insert(item.item_id).second) << "repeated " << item.item_id;
      ++total;
    }
  }
  // 20 items minus 2 bought = 18 available, 19 requested.
  EXPECT_EQ(total, 18u);
}

TEST_F(RecommenderTest, BuyAgainSlotPutsTheItemDueNowFirst) {
  // ua2 bought a2 three times and a3 once.
  ProductRequest r = Request("ua2", 2);
  r.slots = {{"reorder", 2}};
  r.now = absl::FromUnixSeconds(1790000000);
  std::unique_ptr<intelligence::IntelStore> intel = intelligence::NewInMemoryIntelStore();
  RecommenderOptions options;
  options.intel = intel.get();
  Recommender recommender(models_.get(), &faulty_, options);
  RECSYS_ASSERT_OK_AND_ASSIGN(auto plan, SlotPlan::Parse(R"pb(
    slots {
      name: "reorder"
      sources { source: SOURCE_BUY_AGAIN weight: 1 }
    }
  )pb"));
  recommender.SetSlotPlan(plan);
  // No record: by purchase count.
  RECSYS_ASSERT_OK_AND_ASSIGN(ProductAnswer a, recommender.RecommendProducts(r));
  ASSERT_EQ(a.slots.size(), 1u);
  EXPECT_EQ(Ids(a.slots[0].items), (std::vector<std::string>{"a2", "a3"}));
  // The nightly record: a3 is due (its cycle has passed), a2 in 10 days.
  intelligence::UserIntel record;
  record.user_id = "ua2";
  record.due_items = {{"a3", 1790000000 - 3600, 20}, {"a2", 1790000000 + 10 * 86400, 40}};
  RECSYS_ASSERT_OK(intel->PutIntel({record}));
  RECSYS_ASSERT_OK_AND_ASSIGN(a, recommender.RecommendProducts(r));
  EXPECT_EQ(Ids(a.slots[0].items), (std::vector<std::string>{"a3", "a2"}));
  EXPECT_EQ(a.slots[0].items[0].reason.code, ReasonCode::kBuyAgain);
}

TEST_F(RecommenderTest, TopGrowthTierSeesAScheduledLaunchBeforeEveryoneElse) {
  const absl::Time now = absl::FromUnixSeconds(1790000000);
  std::unique_ptr<intelligence::IntelStore> intel = intelligence::NewInMemoryIntelStore();
  intelligence::UserIntel platinum;
  platinum.user_id = "ua0";
  platinum.growth_tier = "platinum";
  intelligence::UserIntel gold;
  gold.user_id = "ua1";
  gold.growth_tier = "gold";
  RECSYS_ASSERT_OK(intel->PutIntel({platinum, gold}));
  RecommenderOptions options;
  options.intel = intel.get();
  Recommender recommender(models_.get(), &faulty_, options);
  RECSYS_ASSERT_OK_AND_ASSIGN(auto plan, SlotPlan::Parse(R"pb(
    slots {
      name: "feed"
      sources { source: SOURCE_PERSONALIZED weight: 1 }
      trial_share: 0.5
    }
    rules { early_access { growth_tiers: "platinum" days: 3 } }
  )pb"));
  recommender.SetSlotPlan(plan);
  feature_store::ItemFeatures launch;
  launch.item_id = "launch";
  launch.category = "alpha";
  launch.price = 4;
  launch.listed = now + absl::Hours(48);
  RECSYS_ASSERT_OK(memory_.PutItems({launch}));
  auto find = [](const ProductAnswer& a, const std::string& id) -> const ScoredItem* {
    for (const ScoredItem& item : a.slots[0].items) {
      if (item.item_id == id) return &item;
    }
    return nullptr;
  };

  ProductRequest r = Request("ua0", 4);
  r.now = now;
  RECSYS_ASSERT_OK_AND_ASSIGN(ProductAnswer a, recommender.RecommendProducts(r));
  const ScoredItem* shown = find(a, "launch");
  ASSERT_NE(shown, nullptr) << absl::StrJoin(Ids(a.slots[0].items), ",");
  EXPECT_EQ(shown->reason.code, ReasonCode::kTrialPool);
  EXPECT_EQ(shown->reason.text, "early access: new in alpha, launches in 2 days");
  EXPECT_NE(std::find(shown->reason.applied_rules.begin(), shown->reason.applied_rules.end(),
                      "early_access"),
            shown->reason.applied_rules.end());

  // Another tier waits for the launch.
  r.user_id = "ua1";
  RECSYS_ASSERT_OK_AND_ASSIGN(a, recommender.RecommendProducts(r));
  EXPECT_EQ(find(a, "launch"), nullptr);
  r.now = now + absl::Hours(49);
  RECSYS_ASSERT_OK_AND_ASSIGN(a, recommender.RecommendProducts(r));
  shown = find(a, "launch");
  ASSERT_NE(shown, nullptr);
  EXPECT_EQ(shown->reason.text.rfind("new in alpha, listed today", 0), 0u) << shown->reason.text;
}

TEST_F(RecommenderTest, BlendedSlotBringsBackPurchasesAndDiscoveryDoesNot) {
  ProductRequest r = Request("ua0", 5);
  r.slots = {{"for_you", 5}, {"feed", 5}};
  r.now = absl::FromUnixSeconds(1700000000 + 86400);
  RECSYS_ASSERT_OK_AND_ASSIGN(ProductAnswer a, recommender_->RecommendProducts(r));
  ASSERT_EQ(a.slots.size(), 2u);
  ASSERT_EQ(a.slots[0].items.size(), 5u);
  ASSERT_EQ(a.slots[1].items.size(), 5u);
  // The user's own purchases (a0, a1) lead the blended slot as repurchases.
  std::set<std::string> bought = {"a0", "a1"};
  int buy_again = 0;
  for (const auto& item : a.slots[0].items) {
    if (item.reason.code == ReasonCode::kBuyAgain) {
      ++buy_again;
      EXPECT_EQ(bought.count(item.item_id), 1u) << item.item_id;
      EXPECT_NE(item.reason.text.find("you bought this"), std::string::npos);
    }
  }
  EXPECT_EQ(buy_again, 2);
  EXPECT_EQ(a.slots[0].items[0].reason.code, ReasonCode::kBuyAgain);
  std::set<std::string> seen;
  for (const auto& slot : a.slots) {
    for (const auto& item : slot.items) EXPECT_TRUE(seen.insert(item.item_id).second);
  }
  for (const auto& item : a.slots[1].items) EXPECT_EQ(bought.count(item.item_id), 0u);
}

TEST_F(RecommenderTest, FiltersAreHonoured) {
  ProductRequest r = Request("ub0", 5);
  r.filters.categories = {"alpha"};
  r.filters.exclude_item_ids = {"a0", "a1"};
  r.filters.max_price = 6.0;
  RECSYS_ASSERT_OK_AND_ASSIGN(ProductAnswer a, recommender_->RecommendProducts(r));
  ASSERT_FALSE(a.slots[0].items.empty());
  for (const auto& item : a.slots[0].items) {
    EXPECT_EQ(item.category, "alpha");
    EXPECT_NE(item.item_id, "a0");
    EXPECT_NE(item.item_id, "a1");
    EXPECT_LE(item.price, 6.0);
  }
  EXPECT_EQ(a.slots[0].items.size(), 4u);  // a2..a5
}

TEST_F(RecommenderTest, FeatureStoreDownDegradesInsteadOfFailing) {
  faulty_.set_failing(true);
  RECSYS_ASSERT_OK_AND_ASSIGN(ProductAnswer a, recommender_->RecommendProducts(Request("ua0", 4)));
  EXPECT_TRUE(a.meta.degraded);
  EXPECT_NE(a.meta.degraded_reason.find("feature store"), std::string::npos);
  ASSERT_EQ(a.slots[0].items.size(), 4u);
  // Training-time purchases are still excluded.
  for (const auto& item : a.slots[0].items) {
    EXPECT_NE(item.item_id, "a0");
    EXPECT_NE(item.item_id, "a1");
  }
  RECSYS_ASSERT_OK_AND_ASSIGN(ProfileAnswer p,
                              recommender_->GetUserProfile("ua0", 0, absl::InfiniteFuture()));
  EXPECT_TRUE(p.meta.degraded);
  EXPECT_EQ(p.purchases.size(), 2u);
  // Writes report Unavailable so the caller can retry.
  auto st = recommender_->RecordEvents({Purchase("ua0", "a5")}, absl::InfiniteFuture()).status();
  EXPECT_TRUE(absl::IsUnavailable(st)) << st;
}

TEST_F(RecommenderTest, BadRequestsNameTheField) {
  auto expect = [](const absl::Status& st, absl::string_view field) {
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
    EXPECT_NE(st.message().find(field), absl::string_view::npos) << st;
  };
  expect(recommender_->RecommendProducts(Request("", 5)).status(), "user_id");
  expect(recommender_->RecommendProducts(Request("ua0", 0)).status(), "slots[0].k");
  expect(recommender_->RecommendProducts(Request("ua0", 51)).status(), "slots[0].k");
  ProductRequest no_slots = Request("ua0", 1);
  no_slots.slots.clear();
  expect(recommender_->RecommendProducts(no_slots).status(), "slots");
  ProductRequest many = Request("ua0", 1);
  many.filters.exclude_item_ids.assign(6, "x");
  expect(recommender_->RecommendProducts(many).status(), "filters.exclude_item_ids");
  ProductRequest price = Request("ua0", 1);
  price.filters.min_price = 10;
  price.filters.max_price = 5;
  expect(recommender_->RecommendProducts(price).status(), "filters.min_price");

  SimilarRequest s;
  s.item_id = "a1";
  s.k = 0;
  expect(recommender_->SimilarItems(s).status(), "k");
  s.item_id = "";
  s.k = 3;
  expect(recommender_->SimilarItems(s).status(), "item_id");
  s.item_id = "nope";
  auto st = recommender_->SimilarItems(s).status();
  EXPECT_TRUE(absl::IsNotFound(st)) << st;
  EXPECT_NE(st.message().find("item_id"), absl::string_view::npos);

  expect(recommender_->GetUserProfile("", 0, absl::InfiniteFuture()).status(), "user_id");
  EXPECT_TRUE(absl::IsNotFound(
      recommender_->GetUserProfile("ghost", 0, absl::InfiniteFuture()).status()));
}

TEST_F(RecommenderTest, EventsAreValidatedOneByOne) {
  Event no_item = Purchase("ua0", "");
  Event no_user = Purchase("", "a3");
  Event coupon;
  coupon.type = EventType::kCouponRedeemed;
  coupon.user_id = "ua0";
  coupon.coupon_id = "c1";
  RECSYS_ASSERT_OK_AND_ASSIGN(
      EventsAnswer a,
      recommender_->RecordEvents({Purchase("ua0", "a3"), no_item, no_user, coupon},
                                 absl::InfiniteFuture()));
  EXPECT_EQ(a.accepted, 1);
  ASSERT_EQ(a.rejected.size(), 3u);
  EXPECT_EQ(a.rejected[0].first, 1);
  EXPECT_NE(a.rejected[0].second.find("events[1].item_id"), std::string::npos);
  EXPECT_NE(a.rejected[1].second.find("events[2].user_id"), std::string::npos);
  EXPECT_NE(a.rejected[2].second.find("events[3].type"), std::string::npos);
  auto st = recommender_->RecordEvents({no_item}, absl::InfiniteFuture()).status();
  EXPECT_TRUE(absl::IsInvalidArgument(st));
  EXPECT_TRUE(absl::IsInvalidArgument(recommender_->RecordEvents({}, absl::InfiniteFuture()).status()));
}

TEST_F(RecommenderTest, HostileInputIsRefusedNamingTheField) {
  auto expect = [](const absl::Status& st, absl::string_view field) {
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
    EXPECT_EQ(st.message().find(field), 0u) << st;
  };
  auto Named = [this](const std::string& slot) {
    ProductRequest r = Request("ua0", 1);
    r.slots[0].name = slot;
    return r;
  };
  // Ids: control characters, invalid UTF-8, too long; in filters too.
  expect(recommender_->RecommendProducts(Request("u\x01", 1)).status(), "user_id:");
  expect(recommender_->RecommendProducts(Request("u\xff", 1)).status(), "user_id:");
  expect(recommender_->RecommendProducts(Request(std::string(257, 'u'), 1)).status(),
         "user_id:");
  ProductRequest bad_filter = Request("ua0", 1);
  bad_filter.filters.exclude_item_ids = {"a1", "a\n2"};
  expect(recommender_->RecommendProducts(bad_filter).status(), "filters.exclude_item_ids[1]:");
  bad_filter = Request("ua0", 1);
  bad_filter.filters.categories = {"alpha\x7f"};
  expect(recommender_->RecommendProducts(bad_filter).status(), "filters.categories[0]:");
  SimilarRequest s;
  s.item_id = "a1\t";
  s.k = 3;
  expect(recommender_->SimilarItems(s).status(), "item_id:");
  expect(recommender_->GetUserProfile("u\r", 0, absl::InfiniteFuture()).status(), "user_id:");

  // Slot names: length, charset, duplicates.
  expect(recommender_->RecommendProducts(Named(std::string(65, 's'))).status(),
         "slots[0].name:");
  EXPECT_TRUE(recommender_->RecommendProducts(Named(std::string(64, 's'))).ok());
  expect(recommender_->RecommendProducts(Named("feed/../x")).status(),
         "slots[0].name:");
  ProductRequest dup = Named("feed");
  dup.slots.push_back({"other", 1});
  dup.slots.push_back({"feed", 1});
  const absl::Status dup_st = recommender_->RecommendProducts(dup).status();
  expect(dup_st, "slots[2].name:");
  EXPECT_NE(dup_st.message().find("duplicate"), absl::string_view::npos);

  // Request time: before 2000 or more than a day ahead.
  for (int64_t t : {int64_t{-5}, int64_t{86400}}) {
    ProductRequest r = Request("ua0", 1);
    r.now = absl::FromUnixSeconds(t);
    expect(recommender_->RecommendProducts(r).status(), "context.request_time_unix:");
  }
  ProductRequest ahead = Request("ua0", 1);
  ahead.now = absl::Now() + absl::Hours(48);
  expect(recommender_->RecommendProducts(ahead).status(), "context.request_time_unix:");
}

TEST_F(RecommenderTest, EventTimesAndTypesOutsideTheWindowAreRejected) {
  Event negative = Purchase("ua0", "a3");
  negative.time = absl::FromUnixSeconds(-5);
  Event in_1970 = Purchase("ua0", "a3");
  in_1970.time = absl::FromUnixSeconds(86400);
  Event unknown_type = Purchase("ua0", "a3");
  unknown_type.type = static_cast<EventType>(99);
  Event now = Purchase("ua0", "a3");
  now.time = absl::UnixEpoch();  // 0: now
  RECSYS_ASSERT_OK_AND_ASSIGN(
      EventsAnswer a, recommender_->RecordEvents({negative, in_1970, unknown_type, now},
                                                 absl::InfiniteFuture()));
  EXPECT_EQ(a.accepted, 1);
  ASSERT_EQ(a.rejected.size(), 3u);
  EXPECT_EQ(a.rejected[0].second.find("events[0].timestamp_unix:"), 0u) << a.rejected[0].second;
  EXPECT_EQ(a.rejected[1].second.find("events[1].timestamp_unix:"), 0u) << a.rejected[1].second;
  EXPECT_EQ(a.rejected[2].second.find("events[2].type:"), 0u) << a.rejected[2].second;
}

TEST_F(RecommenderTest, SimilarItemsStayInTheGroupAndSkipTheUsersPurchases) {
  SimilarRequest s;
  s.item_id = "a3";
  s.k = 5;
  RECSYS_ASSERT_OK_AND_ASSIGN(SimilarAnswer a, recommender_->SimilarItems(s));
  ASSERT_EQ(a.items.size(), 5u);
  for (const auto& item : a.items) {
    EXPECT_EQ(item.category, "alpha");
    EXPECT_NE(item.item_id, "a3");
    EXPECT_EQ(item.reason.code, ReasonCode::kSimilarToItem);
    EXPECT_EQ(item.reason.anchor_item_id, "a3");
  }
  s.user_id = "ua3";  // bought a3 and a4
  RECSYS_ASSERT_OK_AND_ASSIGN(a, recommender_->SimilarItems(s));
  for (const auto& item : a.items) EXPECT_NE(item.item_id, "a4");
}

TEST_F(RecommenderTest, ProfileShowsHistoryAndLiveEvents) {
  RECSYS_ASSERT_OK_AND_ASSIGN(ProfileAnswer p,
                              recommender_->GetUserProfile("ub2", 0, absl::InfiniteFuture()));
  EXPECT_TRUE(p.known_to_model);
  ASSERT_EQ(p.purchases.size(), 2u);
  EXPECT_EQ(p.purchases[0].item_id, "b3");  // more recent
  Event e = Purchase("ub2", "b9");
  e.time = absl::FromUnixSeconds(1750000000);
  RECSYS_ASSERT_OK(recommender_->RecordEvents({e}, absl::InfiniteFuture()).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(p, recommender_->GetUserProfile("ub2", 0, absl::InfiniteFuture()));
  ASSERT_EQ(p.purchases.size(), 3u);
  EXPECT_EQ(p.purchases[0].item_id, "b9");
  EXPECT_EQ(p.purchases[0].category, "beta");
  ASSERT_FALSE(p.recent.empty());
  EXPECT_EQ(p.recent[0].item_id, "b9");
}

// A slot of an experiment whose variant names another model version is
// filled from it, the other slots from the served model, with no item
// shown twice across them (the two versions share their item ids).
TEST(RecommenderVariantModelTest,
     SlotsOfAVariantComeFromItsVersionWithoutRepeats) {
  const std::string root =
      recsys::testing::MakeUniqueDir("recommender_variant_model");
  model::ModelData first = model::testing::MakePlantedModel();
  model::ModelData second = model::testing::MakePlantedModel();
  // Version 2 reverses the users' tastes: ua* like beta, ub* like alpha.
  for (size_t i = 0; i < second.user_factors.size(); i += 4) {
    std::swap(second.user_factors[i], second.user_factors[i + 1]);
  }
  for (const auto& [version, data] :
       {std::pair{"1", &first}, std::pair{"2", &second}}) {
    model::PublishOptions publish;
    publish.version = version;
    ASSERT_TRUE(model::PublishModel(root, *data, publish).ok());
  }
  model::ModelStoreOptions options;
  options.root = root;
  options.poll_interval = absl::ZeroDuration();
  RECSYS_ASSERT_OK_AND_ASSIGN(auto models, model::ModelStore::Create(options));
  ASSERT_EQ(models->Current()->version(), "2");
  feature_store::InMemoryFeatureStore store;
  Recommender recommender(models.get(), &store);
  RECSYS_ASSERT_OK_AND_ASSIGN(
      auto plan, experiments::ExperimentPlan::Parse(R"pb(
        layers {
          name: "home"
          experiments {
            name: "models"
            traffic_share: 1
            slots: "feed"
            variants { name: "control" share: 0.5 }
            variants { name: "old" share: 0.5 model_version: "1" }
          }
        }
        overrides { user_id: "ua0" experiment: "models" variant: "old" }
        overrides { user_id: "ub0" experiment: "models" variant: "control" }
      )pb"));
  RECSYS_ASSERT_OK_AND_ASSIGN(auto variants,
                              ExperimentVariants::Compile(plan, models.get()));
  ASSERT_NE(variants->Model(plan->Find("models")->FindVariant("old")), nullptr);
  recommender.SetExperiments(variants);

  ProductRequest request;
  request.user_id = "ua0";
  request.slots = {{"other", 4}, {"feed", 4}};
  RECSYS_ASSERT_OK_AND_ASSIGN(ProductAnswer answer,
                              recommender.RecommendProducts(request));
  ASSERT_EQ(answer.slots.size(), 2u);
  EXPECT_EQ(answer.slots[0].name, "other");
  EXPECT_EQ(answer.slots[0].model_version, "2");
  EXPECT_EQ(answer.slots[1].name, "feed");
  EXPECT_EQ(answer.slots[1].model_version, "1");
  EXPECT_EQ(answer.meta.model_version, "2");
  EXPECT_FALSE(answer.meta.model_fallback);
  // Version 2 sees ua0 as a beta fan, version 1 as an alpha fan.
  std::set<std::string> shown;
  for (const ScoredItem& item : answer.slots[0].items) {
    EXPECT_EQ(item.category, "beta") << item.item_id;
    EXPECT_TRUE(shown.insert(item.item_id).second) << item.item_id;
  }
  for (const ScoredItem& item : answer.slots[1].items) {
    EXPECT_EQ(item.category, "alpha") << item.item_id;
    EXPECT_TRUE(shown.insert(item.item_id).second) << item.item_id;
  }
  EXPECT_EQ(shown.size(), 8u);

  // Both slots in the experiment's version: never a repeat either.
  request.slots = {{"feed", 4}, {"also", 4}};
  RECSYS_ASSERT_OK_AND_ASSIGN(answer, recommender.RecommendProducts(request));
  EXPECT_EQ(answer.meta.model_version, "1");
  EXPECT_EQ(answer.slots[0].model_version, "1");
  EXPECT_EQ(answer.slots[1].model_version, "2");

  // A control user is served by version 2 alone.
  request.user_id = "ub0";
  RECSYS_ASSERT_OK_AND_ASSIGN(answer, recommender.RecommendProducts(request));
  EXPECT_EQ(answer.slots[0].model_version, "2");
  EXPECT_EQ(answer.slots[1].model_version, "2");

  // A version the store does not have: the served model, flagged.
  RECSYS_ASSERT_OK_AND_ASSIGN(
      auto missing, experiments::ExperimentPlan::Parse(R"pb(
        layers {
          name: "home"
          experiments {
            name: "models"
            traffic_share: 1
            slots: "feed"
            variants { name: "control" share: 0.5 }
            variants { name: "old" share: 0.5 model_version: "7" }
          }
        }
        overrides { user_id: "ua0" experiment: "models" variant: "old" }
      )pb"));
  RECSYS_ASSERT_OK_AND_ASSIGN(
      variants, ExperimentVariants::Compile(missing, models.get()));
  recommender.SetExperiments(variants);
  request.user_id = "ua0";
  RECSYS_ASSERT_OK_AND_ASSIGN(answer, recommender.RecommendProducts(request));
  EXPECT_EQ(answer.slots[0].model_version, "2");
  EXPECT_TRUE(answer.meta.model_fallback);
  EXPECT_EQ(
      answer.meta.model_fallback_reason,
      absl::StrCat("models/old wants model 7 (no model version '7' under ",
                   root, "); served by 2"));
}

}  // namespace
}  // namespace recsys::recommender
