#include "recommender/storefront.h"

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "feature_store/faulty_feature_store.h"
#include "feature_store/in_memory_feature_store.h"
#include "gtest/gtest.h"
#include "tests/model/test_model.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"

namespace recsys::recommender {
namespace {

using feature_store::Event;
using feature_store::EventType;

// Records what it is given; refuses coupon "SPENT".
class FakeCouponSink : public CouponEventSink {
 public:
  absl::StatusOr<CouponEventsOutcome> RecordCouponEvents(absl::Span<const Event> events,
                                                         absl::Span<const int> indices,
                                                         absl::Time) const override {
    if (fail) return absl::UnavailableError("coupon store down");
    CouponEventsOutcome outcome;
    for (size_t i = 0; i < events.size(); ++i) {
      seen.push_back({indices[i], events[i]});
      if (events[i].coupon_id == "SPENT") {
        outcome.rejected.emplace_back(indices[i], "budget exhausted");
      } else {
        ++outcome.accepted;
      }
    }
    return outcome;
  }
  mutable std::vector<std::pair<int, Event>> seen;
  bool fail = false;
};

class StorefrontDomainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = recsys::testing::MakeUniqueDir("storefront_unit");
    data_ = model::testing::MakePlantedModel();
    model::PublishOptions publish;
    publish.version = "3";
    RECSYS_ASSERT_OK(model::PublishModel(root_, data_, publish).status());
    model::ModelStoreOptions options;
    options.root = root_;
    options.poll_interval = absl::ZeroDuration();
    RECSYS_ASSERT_OK_AND_ASSIGN(models_, model::ModelStore::Create(options));
    RECSYS_ASSERT_OK(model::LoadIntoFeatureStore(data_, &memory_));
  }

  std::unique_ptr<Storefront> Make(const StorefrontOptions& options = {},
                                   const CouponEventSink* sink = nullptr) {
    auto s = Storefront::Create(options, models_.get(), &faulty_, sink);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  static Event ItemEvent(EventType type, const std::string& user, const std::string& item) {
    Event e;
    e.type = type;
    e.user_id = user;
    e.item_id = item;
    return e;
  }
  static Event CouponEvent(bool redeemed, const std::string& user, const std::string& coupon) {
    Event e;
    e.type = redeemed ? EventType::kCouponRedeemed : EventType::kCouponIssued;
    e.user_id = user;
    e.coupon_id = coupon;
    e.price = 20;
    return e;
  }

  std::string root_;
  model::ModelData data_;
  std::unique_ptr<model::ModelStore> models_;
  feature_store::InMemoryFeatureStore memory_;
  feature_store::FaultyFeatureStore faulty_{&memory_};
};

TEST_F(StorefrontDomainTest, UpdateItemsMergesIntoTheStoredItem) {
  auto storefront = Make();
  ItemUpdate stock;
  stock.item_id = "a1";
  stock.stock = 4;
  RECSYS_ASSERT_OK_AND_ASSIGN(ItemUpdateAnswer answer,
                              storefront->UpdateItems({stock}, absl::InfiniteFuture()));
  EXPECT_EQ(answer.updated, 1);
  EXPECT_TRUE(answer.unknown_to_model.empty());
  ItemUpdate flag;
  flag.item_id = "a1";
  flag.slow_mover = true;  // stock left unset: kept
  RECSYS_ASSERT_OK(storefront->UpdateItems({flag}, absl::InfiniteFuture()).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(auto items, memory_.GetItems({"a1"}, absl::InfiniteFuture()));
  ASSERT_TRUE(items[0].has_value());
  EXPECT_EQ(items[0]->stock, 4);
  EXPECT_TRUE(items[0]->slow_mover);
  EXPECT_EQ(items[0]->category, "alpha");  // from the model
  EXPECT_DOUBLE_EQ(items[0]->price, data_.items[1].price);
}

TEST_F(StorefrontDomainTest, UpdateItemsReportsItemsUnknownToTheModel) {
  auto storefront = Make();
  ItemUpdate listing;
  listing.item_id = "brand-new";
  listing.category = "alpha";
  listing.price = 3;
  listing.listed_unix = 1700000000;
  RECSYS_ASSERT_OK_AND_ASSIGN(ItemUpdateAnswer answer,
                              storefront->UpdateItems({listing}, absl::InfiniteFuture()));
  EXPECT_EQ(answer.unknown_to_model, std::vector<std::string>{"brand-new"});
  RECSYS_ASSERT_OK_AND_ASSIGN(auto listed, memory_.GetListedItems(10, absl::InfiniteFuture()));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].item_id, "brand-new");
}

TEST_F(StorefrontDomainTest, UpdateItemsNamesTheBadFieldAndStoresNothing) {
  auto storefront = Make();
  ItemUpdate good;
  good.item_id = "a1";
  good.stock = 0;
  ItemUpdate bad;
  bad.item_id = "a2";
  bad.stock = -5;
  auto answer = storefront->UpdateItems({good, bad}, absl::InfiniteFuture());
  EXPECT_TRUE(absl::IsInvalidArgument(answer.status()));
  EXPECT_NE(answer.status().message().find("items[1].stock"), absl::string_view::npos)
      << answer.status();
  RECSYS_ASSERT_OK_AND_ASSIGN(auto items, memory_.GetItems({"a1"}, absl::InfiniteFuture()));
  EXPECT_NE(items[0]->stock, 0);
  EXPECT_TRUE(absl::IsInvalidArgument(storefront->UpdateItems({}, absl::InfiniteFuture()).status()));
}

TEST_F(StorefrontDomainTest, UpdateItemsIsUnavailableWhenTheStoreIsDown) {
  auto storefront = Make();
  faulty_.set_failing(true);
  ItemUpdate stock;
  stock.item_id = "a1";
  stock.stock = 1;
  EXPECT_TRUE(absl::IsUnavailable(
      storefront->UpdateItems({stock}, absl::InfiniteFuture()).status()));
}

TEST_F(StorefrontDomainTest, RecordEventsRoutesCouponEventsWithTheirIndices) {
  FakeCouponSink sink;
  auto storefront = Make({}, &sink);
  std::vector<Event> events = {ItemEvent(EventType::kView, "ua0", "a5"),
                               CouponEvent(false, "ua0", "WELCOME"),
                               ItemEvent(EventType::kPurchase, "ua0", "a6"),
                               CouponEvent(true, "ua0", "SPENT")};
  RECSYS_ASSERT_OK_AND_ASSIGN(EventsAnswer answer,
                              storefront->RecordEvents(events, absl::InfiniteFuture()));
  EXPECT_EQ(answer.accepted, 3);
  ASSERT_EQ(answer.rejected.size(), 1u);
  EXPECT_EQ(answer.rejected[0].first, 3);
  ASSERT_EQ(sink.seen.size(), 2u);
  EXPECT_EQ(sink.seen[0].first, 1);
  EXPECT_EQ(sink.seen[1].first, 3);
  EXPECT_GT(sink.seen[0].second.time, absl::UnixEpoch());  // unset time: now
  EXPECT_EQ(answer.meta.model_version, "3");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto user, memory_.GetUser("ua0", absl::InfiniteFuture()));
  EXPECT_FALSE(user.recent.empty());
}

TEST_F(StorefrontDomainTest, MalformedCouponEventsAreReportedPerEvent) {
  FakeCouponSink sink;
  auto storefront = Make({}, &sink);
  Event no_coupon = CouponEvent(false, "ua0", "");
  Event bad_price = CouponEvent(true, "ua0", "X");
  bad_price.price = -1;
  RECSYS_ASSERT_OK_AND_ASSIGN(
      EventsAnswer answer,
      storefront->RecordEvents({ItemEvent(EventType::kView, "ua0", "a5"), no_coupon, bad_price},
                               absl::InfiniteFuture()));
  EXPECT_EQ(answer.accepted, 1);
  ASSERT_EQ(answer.rejected.size(), 2u);
  EXPECT_EQ(answer.rejected[0].second, "events[1].coupon_id: must not be empty");
  EXPECT_EQ(answer.rejected[1].second, "events[2].price: must be finite and >= 0");
  EXPECT_TRUE(sink.seen.empty());
}

TEST_F(StorefrontDomainTest, HostileIdsAndTimesAreRefusedNamingTheField) {
  FakeCouponSink sink;
  auto storefront = Make({}, &sink);
  Event control = CouponEvent(false, "ua0", "C\x01");
  Event old = CouponEvent(false, "ua0", "C1");
  old.time = absl::FromUnixSeconds(-5);
  RECSYS_ASSERT_OK_AND_ASSIGN(
      EventsAnswer answer,
      storefront->RecordEvents({ItemEvent(EventType::kView, "ua0", "a5"), control, old},
                               absl::InfiniteFuture()));
  EXPECT_EQ(answer.accepted, 1);
  ASSERT_EQ(answer.rejected.size(), 2u);
  EXPECT_EQ(answer.rejected[0].second.find("events[1].coupon_id:"), 0u);
  EXPECT_EQ(answer.rejected[1].second.find("events[2].timestamp_unix:"), 0u);
  EXPECT_TRUE(sink.seen.empty());

  ItemUpdate item;
  item.item_id = "a1\n";
  auto updated = storefront->UpdateItems({item}, absl::InfiniteFuture());
  EXPECT_TRUE(absl::IsInvalidArgument(updated.status()));
  EXPECT_EQ(updated.status().message().find("items[0].item_id:"), 0u) << updated.status();
  item.item_id = "a1";
  item.category = "\xc3";
  updated = storefront->UpdateItems({item}, absl::InfiniteFuture());
  EXPECT_EQ(updated.status().message().find("items[0].category:"), 0u) << updated.status();
}

TEST_F(StorefrontDomainTest, CouponEventsWithoutASinkAreRefused) {
  auto storefront = Make();
  auto answer =
      storefront->RecordEvents({CouponEvent(false, "ua0", "WELCOME")}, absl::InfiniteFuture());
  EXPECT_TRUE(absl::IsInvalidArgument(answer.status()));
  EXPECT_EQ(answer.status().message(), "events[0].type: coupon events need the marketing engine");
}

TEST_F(StorefrontDomainTest, RecordEventsFailuresKeepTheirCodes) {
  FakeCouponSink sink;
  auto storefront = Make({}, &sink);
  EXPECT_TRUE(absl::IsInvalidArgument(storefront->RecordEvents({}, absl::InfiniteFuture()).status()));
  sink.fail = true;
  EXPECT_TRUE(absl::IsUnavailable(
      storefront->RecordEvents({CouponEvent(false, "ua0", "W")}, absl::InfiniteFuture()).status()));
  sink.fail = false;
  faulty_.set_failing(true);
  EXPECT_TRUE(absl::IsUnavailable(
      storefront->RecordEvents({ItemEvent(EventType::kView, "ua0", "a5")}, absl::InfiniteFuture())
          .status()));
}

// The store applied the batch but its answer was lost: Unavailable saying
// that a retry is safe (and naming the events it cannot say that of);
// the retry stores nothing twice and reports the duplicates.
TEST_F(StorefrontDomainTest, LostAcknowledgementThenRetryStoresEachEventOnce) {
  auto storefront = Make();
  const absl::Time t = absl::Now() - absl::Minutes(5);
  Event bought = ItemEvent(EventType::kPurchase, "ub3", "a7");
  bought.time = t;
  bought.event_id = "order-9";
  Event viewed = ItemEvent(EventType::kView, "ub3", "a8");
  viewed.time = t;  // no id: derived from the content
  const std::vector<Event> batch = {bought, viewed};
  faulty_.set_lose_write_acks(true);
  absl::Status lost = storefront->RecordEvents(batch, absl::InfiniteFuture()).status();
  EXPECT_TRUE(absl::IsUnavailable(lost)) << lost;
  EXPECT_NE(lost.message().find("retrying the same batch is safe"), absl::string_view::npos)
      << lost;
  EXPECT_EQ(lost.message().find("except"), absl::string_view::npos) << lost;
  faulty_.set_lose_write_acks(false);
  RECSYS_ASSERT_OK_AND_ASSIGN(EventsAnswer retry,
                              storefront->RecordEvents(batch, absl::InfiniteFuture()));
  EXPECT_EQ(retry.accepted, 2);
  EXPECT_EQ(retry.duplicates, 2);
  RECSYS_ASSERT_OK_AND_ASSIGN(auto user, memory_.GetUser("ub3", absl::InfiniteFuture()));
  int bought_a7 = 0;
  for (const auto& p : user.purchases) {
    if (p.item_id == "a7") bought_a7 = p.count;
  }
  EXPECT_EQ(bought_a7, 1);
  int activity = 0;
  for (const auto& a : user.recent) activity += (a.item_id == "a7" || a.item_id == "a8");
  EXPECT_EQ(activity, 2);

  // An event with neither id nor time: its key depends on the second it is
  // received, and the message says so.
  faulty_.set_lose_write_acks(true);
  lost = storefront->RecordEvents({ItemEvent(EventType::kView, "ub3", "a9")},
                                  absl::InfiniteFuture())
             .status();
  faulty_.set_lose_write_acks(false);
  EXPECT_NE(lost.message().find("except 1 event(s) with neither event_id nor timestamp_unix"),
            absl::string_view::npos)
      << lost;
}

TEST_F(StorefrontDomainTest, BadSlotConfigIsRefusedAndTheServedOneKept) {
  const std::string path = root_ + "/slots.textproto";
  std::ofstream(path) << R"pb(slots { name: "hero" sources { source: SOURCE_TRENDING weight: 1 } })pb";
  StorefrontOptions options;
  options.slots_config = path;
  auto storefront = Make(options);
  ASSERT_NE(storefront->recommender().slot_plan(), nullptr);
  const auto served = storefront->recommender().slot_plan();
  std::ofstream(path) << R"pb(slots { name: "hero" max_per_category: -4 })pb";
  absl::Status st = storefront->ReloadSlotConfig();
  EXPECT_TRUE(absl::IsInvalidArgument(st));
  EXPECT_NE(st.message().find("slots[0]"), absl::string_view::npos) << st;
  EXPECT_EQ(storefront->recommender().slot_plan(), served);
  auto refused = Storefront::Create(options, models_.get(), &faulty_);
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
}

}  // namespace
}  // namespace recsys::recommender
