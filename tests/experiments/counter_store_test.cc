// The counter contract, on both implementations: the in-memory store and
// the Redis store on a real redis-server (one Lua script per event).
#include "experiments/counter_store.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "redis/client.h"
#include "stats/stats.h"
#include "tests/testing/redis_server.h"

namespace recsys::experiments {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1764000000);

class CounterStoreTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      auto redis = recsys::testing::SharedRedisServer();
      ASSERT_TRUE(redis.ok()) << redis.status();
      redis::Options options;
      options.host = (*redis)->host();
      options.port = (*redis)->port();
      auto client = redis::Client::Create(options);
      ASSERT_TRUE(client.ok()) << client.status();
      client_ = *std::move(client);
      auto store = NewRedisCounterStore(client_.get(), {.key_prefix = "t:"});
      ASSERT_TRUE(store.ok()) << store.status();
      store_ = *std::move(store);
    } else {
      store_ = NewInMemoryCounterStore();
    }
    // A fresh experiment name per test: the shared Redis keeps the others.
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    experiment_ =
        absl::StrCat("e", std::hash<std::string>()(info->name()) % 100000,
                     GetParam() ? "r" : "m");
  }

  ExperimentEvent Event(CountedEvent type, const std::string& variant,
                        const std::string& user, absl::Time t, double value = 0,
                        const std::string& event_id = "",
                        const std::string& slot = "feed") {
    ExperimentEvent e;
    e.experiment = experiment_;
    e.variant = variant;
    e.slot = slot;
    e.user_id = user;
    e.type = type;
    e.time = t;
    e.value = value;
    e.event_id = event_id;
    return e;
  }

  std::vector<Outcome> Record(const std::vector<ExperimentEvent>& events) {
    auto out = store_->Record(events, rules_, absl::Now() + absl::Seconds(10));
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : std::vector<Outcome>();
  }

  ExperimentCounts Read() {
    auto out = store_->Read(experiment_, absl::Now() + absl::Seconds(10));
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : ExperimentCounts();
  }

  std::unique_ptr<redis::Client> client_;
  std::unique_ptr<CounterStore> store_;
  std::string experiment_;
  CountRules rules_{.attribution_window = absl::Hours(1),
                    .event_id_ttl = absl::Hours(1)};
};

TEST_P(CounterStoreTest, EventsMoveOnlyTheirVariantsCounters) {
  Record({Event(CountedEvent::kImpression, "b", "u1", kT0),
          Event(CountedEvent::kClick, "b", "u1", kT0 + absl::Seconds(5)),
          Event(CountedEvent::kPurchase, "b", "u1", kT0 + absl::Seconds(60),
                25.5)});
  ExperimentCounts counts = Read();
  EXPECT_FALSE(counts.contains("a"));
  ASSERT_TRUE(counts.contains("b"));
  const SlotCounts& feed = counts["b"].slots["feed"];
  EXPECT_EQ(feed.impressions, 1);
  EXPECT_EQ(feed.clicks, 1);
  EXPECT_EQ(feed.conversions, 1);
  EXPECT_DOUBLE_EQ(feed.gmv, 25.5);
  EXPECT_EQ(counts["b"].sums.exposed_users, 1);
  EXPECT_EQ(counts["b"].sums.converted_users, 1);

  Record({Event(CountedEvent::kImpression, "a", "u2", kT0)});
  counts = Read();
  EXPECT_EQ(counts["a"].slots["feed"].impressions, 1);
  EXPECT_EQ(counts["b"].slots["feed"].impressions, 1);
}

TEST_P(CounterStoreTest, ARetriedEventIdCountsOnce) {
  const auto first =
      Record({Event(CountedEvent::kImpression, "a", "u1", kT0, 0, "ev-1"),
              Event(CountedEvent::kPurchase, "a", "u1", kT0, 10, "ev-2")});
  EXPECT_EQ(first,
            (std::vector<Outcome>{Outcome::kCounted, Outcome::kCounted}));
  const auto again =
      Record({Event(CountedEvent::kImpression, "a", "u1", kT0, 0, "ev-1"),
              Event(CountedEvent::kPurchase, "a", "u1", kT0, 10, "ev-2")});
  EXPECT_EQ(again,
            (std::vector<Outcome>{Outcome::kDuplicate, Outcome::kDuplicate}));
  ExperimentCounts counts = Read();
  EXPECT_EQ(counts["a"].slots["feed"].impressions, 1);
  EXPECT_EQ(counts["a"].slots["feed"].conversions, 1);
  EXPECT_DOUBLE_EQ(counts["a"].slots["feed"].gmv, 10);
}

TEST_P(CounterStoreTest, PurchasesOutsideTheWindowDoNotCount) {
  const auto out = Record({
      // Before any exposure.
      Event(CountedEvent::kPurchase, "a", "u1", kT0, 5),
      Event(CountedEvent::kImpression, "a", "u1", kT0 + absl::Seconds(10)),
      // Before the first exposure.
      Event(CountedEvent::kPurchase, "a", "u1", kT0 + absl::Seconds(5), 5),
      // One hour after the last exposure: still in.
      Event(CountedEvent::kPurchase, "a", "u1",
            kT0 + absl::Seconds(10) + absl::Hours(1), 7),
      // One second later: out.
      Event(CountedEvent::kPurchase, "a", "u1",
            kT0 + absl::Seconds(11) + absl::Hours(1), 9),
      // A click renews the window.
      Event(CountedEvent::kClick, "a", "u1", kT0 + absl::Hours(3)),
      Event(CountedEvent::kPurchase, "a", "u1",
            kT0 + absl::Hours(3) + absl::Minutes(30), 11),
  });
  EXPECT_EQ(out,
            (std::vector<Outcome>{Outcome::kUnattributed, Outcome::kCounted,
                                  Outcome::kUnattributed, Outcome::kCounted,
                                  Outcome::kUnattributed, Outcome::kCounted,
                                  Outcome::kCounted}));
  ExperimentCounts counts = Read();
  EXPECT_EQ(counts["a"].slots["feed"].conversions, 2);
  EXPECT_DOUBLE_EQ(counts["a"].slots["feed"].gmv, 18);
  EXPECT_EQ(counts["a"].slots["feed"].unattributed_purchases, 3);
}

TEST_P(CounterStoreTest, AUserStaysInTheVariantFirstSeen) {
  Record({Event(CountedEvent::kImpression, "a", "u1", kT0)});
  const auto out = Record({Event(CountedEvent::kImpression, "b", "u1", kT0)});
  EXPECT_EQ(out, std::vector<Outcome>{Outcome::kOtherVariant});
  EXPECT_FALSE(Read().contains("b"));
}

TEST_P(CounterStoreTest, SumsEqualTheStatisticsOfPerUserValues) {
  // Per user: pre-period spend x, impressions, clicks, purchases.
  struct User {
    std::string id;
    double x;
    int impressions;
    int clicks;
    std::vector<double> purchases;
  };
  const std::vector<User> users = {{"u1", 10, 3, 1, {5, 7.25}},
                                   {"u2", 0, 2, 0, {}},
                                   {"u3", 42.5, 1, 2, {100}},
                                   {"u4", 3, 4, 2, {1, 2, 3}}};
  stats::Moments expected;
  stats::RatioMoments expected_ctr;
  std::vector<ExperimentEvent> events;
  for (const User& u : users) {
    double y = 0;
    for (int i = 0; i < u.impressions; ++i) {
      events.push_back(Event(CountedEvent::kImpression, "a", u.id, kT0));
      events.back().pre_spend = u.x;
    }
    for (int i = 0; i < u.clicks; ++i)
      events.push_back(Event(CountedEvent::kClick, "a", u.id, kT0));
    for (double v : u.purchases) {
      events.push_back(Event(CountedEvent::kPurchase, "a", u.id, kT0, v));
      y += v;
    }
    expected.Add(y, u.x);
    expected_ctr.Add(u.clicks, u.impressions);
  }
  Record(events);
  const VariantSums s = Read()["a"].sums;
  EXPECT_EQ(s.exposed_users, 4);
  EXPECT_EQ(s.converted_users, 3);
  EXPECT_NEAR(s.sum_y, expected.sum_y, 1e-9);
  EXPECT_NEAR(s.sum_y2, expected.sum_y2, 1e-6);
  EXPECT_NEAR(s.sum_x, expected.sum_x, 1e-9);
  EXPECT_NEAR(s.sum_x2, expected.sum_x2, 1e-6);
  EXPECT_NEAR(s.sum_xy, expected.sum_xy, 1e-6);
  EXPECT_NEAR(s.sum_num, expected_ctr.sum_num, 1e-9);
  EXPECT_NEAR(s.sum_den, expected_ctr.sum_den, 1e-9);
  EXPECT_NEAR(s.sum_num2, expected_ctr.sum_num2, 1e-9);
  EXPECT_NEAR(s.sum_den2, expected_ctr.sum_den2, 1e-9);
  EXPECT_NEAR(s.sum_num_den, expected_ctr.sum_num_den, 1e-9);
}

TEST_P(CounterStoreTest, CouponEventsCountIssuedRedeemedAndDiscount) {
  Record({Event(CountedEvent::kCouponIssued, "coupon", "u1", kT0, 0, "",
                "coupons"),
          Event(CountedEvent::kCouponRedeemed, "coupon", "u1", kT0, 4.5, "",
                "coupons")});
  const SlotCounts c = Read()["coupon"].slots["coupons"];
  EXPECT_EQ(c.coupons_issued, 1);
  EXPECT_EQ(c.coupons_redeemed, 1);
  EXPECT_DOUBLE_EQ(c.discount, 4.5);
}

// The segment of the first exposure holds for the user's later events:
// users, conversions, GMV and discounts per segment, with the per-user
// sums of the margin's variance (Σy², Σd², Σy·d).
TEST_P(CounterStoreTest, SegmentSumsFollowTheSegmentOfTheFirstExposure) {
  auto exposure = [&](const std::string& variant, const std::string& user,
                      const std::string& segment) {
    ExperimentEvent e =
        Event(CountedEvent::kImpression, variant, user, kT0, 0, "", "coupons");
    e.segment = segment;
    return e;
  };
  // u1 (new, coupon): redeems 5 off two orders of 40 and 20.
  // u2 (new, coupon): exposed only. u3 (dormant, coupon): one order of 10.
  // u4 (new, holdout): one order of 30. u5: no segment known.
  ExperimentEvent later_segment = exposure("coupon", "u1", "core");
  std::vector<Outcome> out = Record({
      exposure("coupon", "u1", "new"),
      exposure("coupon", "u2", "new"),
      exposure("coupon", "u3", "dormant"),
      exposure("holdout", "u4", "new"),
      exposure("coupon", "u5", ""),
      later_segment,  // ignored: u1 stays "new"
      Event(CountedEvent::kCouponRedeemed, "coupon", "u1", kT0, 5, "",
            "coupons"),
      Event(CountedEvent::kPurchase, "coupon", "u1", kT0, 40, "", "coupons"),
      Event(CountedEvent::kPurchase, "coupon", "u1", kT0, 20, "", "coupons"),
      Event(CountedEvent::kCouponRedeemed, "coupon", "u1", kT0, 5, "",
            "coupons"),
      Event(CountedEvent::kPurchase, "coupon", "u3", kT0, 10, "", "coupons"),
      Event(CountedEvent::kPurchase, "holdout", "u4", kT0, 30, "", "coupons"),
      Event(CountedEvent::kPurchase, "coupon", "u5", kT0, 99, "", "coupons"),
  });
  ASSERT_EQ(out.size(), 13u);
  for (Outcome o : out) EXPECT_EQ(o, Outcome::kCounted);
  const ExperimentCounts counts = Read();
  const auto& coupon = counts.at("coupon").segments;
  ASSERT_EQ(coupon.size(), 2u);  // new, dormant; u5 in none
  const SegmentSums& n = coupon.at("new");
  EXPECT_EQ(n.exposed_users, 2);
  EXPECT_EQ(n.converted_users, 1);
  // u1: y = 60, d = 10; u2: 0.
  EXPECT_DOUBLE_EQ(n.sum_y, 60);
  EXPECT_DOUBLE_EQ(n.sum_y2, 3600);
  EXPECT_DOUBLE_EQ(n.sum_d, 10);
  EXPECT_DOUBLE_EQ(n.sum_d2, 100);
  EXPECT_DOUBLE_EQ(n.sum_yd, 600);
  const SegmentSums& d = coupon.at("dormant");
  EXPECT_EQ(d.exposed_users, 1);
  EXPECT_EQ(d.converted_users, 1);
  EXPECT_DOUBLE_EQ(d.sum_y, 10);
  EXPECT_DOUBLE_EQ(d.sum_d, 0);
  const SegmentSums& h = counts.at("holdout").segments.at("new");
  EXPECT_EQ(h.exposed_users, 1);
  EXPECT_EQ(h.converted_users, 1);
  EXPECT_DOUBLE_EQ(h.sum_y2, 900);
  // The variant's own sums still count every user, u5 included.
  EXPECT_EQ(counts.at("coupon").sums.exposed_users, 4);
}

INSTANTIATE_TEST_SUITE_P(Stores, CounterStoreTest,
                         ::testing::Values(false, true), [](const auto& info) {
                           return info.param ? "Redis" : "InMemory";
                         });

}  // namespace
}  // namespace recsys::experiments
