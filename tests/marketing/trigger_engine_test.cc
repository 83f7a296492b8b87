// The trigger engine on a real redis-server: timers, cancellation,
// idempotent offers, caps, budgets, holdouts, quiet hours and the usual
// active hour, and the signal pass. Time is driven by the events' times and
// Run's `now`: nothing sleeps.
#include "marketing/trigger_engine.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "experiments/attribution.h"
#include "experiments/experiment_plan.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "marketing/coupon_store.h"
#include "marketing/segment_store.h"
#include "metrics/metrics.h"
#include "tests/marketing/test_util.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"

namespace recsys::marketing {
namespace {

using feature_store::Event;
using feature_store::EventType;
using recsys::testing::RedisServer;
using ::testing::HasSubstr;

constexpr absl::Time kDeadline = absl::InfiniteFuture();

absl::Time Utc(int d, int hh, int mm = 0, int ss = 0) {
  return absl::FromCivil(absl::CivilSecond(2024, 3, d, hh, mm, ss),
                         absl::UTCTimeZone());
}

Event Ev(EventType type, const std::string& user, const std::string& item,
         absl::Time t, const std::string& id = "") {
  Event e;
  e.type = type;
  e.user_id = user;
  e.item_id = item;
  e.time = t;
  e.event_id = id;
  return e;
}

constexpr char kCartRule[] = R"pb(
  rules {
    name: "cart_abandoned"
    on_event: "add_to_cart"
    cancel_on: "purchase"
    delay: "4h"
  }
)pb";

class FixedSignals : public UserSignalsSource {
 public:
  absl::flat_hash_map<std::string, UserSignals> by_user;
  absl::StatusOr<std::vector<std::optional<UserSignals>>> Get(
      absl::Span<const std::string> user_ids, absl::Time) const override {
    std::vector<std::optional<UserSignals>> out;
    for (const std::string& u : user_ids) {
      auto it = by_user.find(u);
      out.push_back(it == by_user.end() ? std::nullopt
                                        : std::optional(it->second));
    }
    return out;
  }
};

class TriggerEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RECSYS_ASSERT_OK_AND_ASSIGN(server_, test::SharedRedisServer());
    RECSYS_ASSERT_OK_AND_ASSIGN(client_, test::SharedRedisClient());
    prefix_ = test::UniqueKeyPrefix();
    RECSYS_ASSERT_OK_AND_ASSIGN(
        coupons_, NewRedisCouponStore(client_, {.key_prefix = prefix_}));
    segments_ = NewInMemorySegmentStore();
  }

  // An engine over the shared Redis with `config_text`.
  std::unique_ptr<TriggerEngine> Engine(const std::string& config_text) {
    absl::StatusOr<TriggersConfig> config = ParseTriggersConfig(config_text);
    EXPECT_TRUE(config.ok()) << config.status();
    TriggerEngineOptions options;
    options.config = *config;
    options.key_prefix = prefix_;
    options.metrics = &registry_;
    auto engine = TriggerEngine::Create(
        client_, coupons_.get(), segments_.get(), &plans_, &signals_, options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? std::move(*engine) : nullptr;
  }

  TriggerRunAnswer Run(const TriggerEngine& engine, absl::Time now,
                       std::vector<std::string> users = {}) {
    absl::StatusOr<TriggerRunAnswer> a =
        engine.Run({.now = now, .user_ids = users}, kDeadline);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *a : TriggerRunAnswer{};
  }

  // Entries in the outbox stream.
  int OutboxLength() {
    absl::StatusOr<std::string> r =
        server_->Command({"XLEN", prefix_ + "offers"});
    EXPECT_TRUE(r.ok()) << r.status();
    int n = -1;
    EXPECT_TRUE(r.ok() && absl::SimpleAtoi(*r, &n));
    return n;
  }
  // XRANGE of the outbox: every id, field and value, one a line.
  std::string OutboxText() {
    absl::StatusOr<std::string> r =
        server_->Command({"XRANGE", prefix_ + "offers", "-", "+"});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : "";
  }

  double Counted(const std::string& rule, const std::string& outcome) {
    return registry_
        .AddCounter("recsys_triggered_offers_total", "", {"rule", "outcome"})
        ->Get({rule, outcome})
        ->Value();
  }

  RedisServer* server_ = nullptr;
  redis::Client* client_ = nullptr;
  std::string prefix_;
  std::unique_ptr<CouponStore> coupons_;
  std::unique_ptr<SegmentStore> segments_;
  experiments::PlanHolder plans_;
  FixedSignals signals_;
  metrics::Registry registry_;
};

TEST_F(TriggerEngineTest, CartAbandonedGivesOneOfferAfterTheDelay) {
  auto engine = Engine(kCartRule);
  const absl::Time t0 = Utc(5, 10);
  RECSYS_ASSERT_OK(engine->ObserveEvents(
      {Ev(EventType::kAddToCart, "alice", "sku-1", t0)}, kDeadline));
  TriggerRunAnswer early = Run(*engine, t0 + absl::Hours(4) - absl::Seconds(1));
  EXPECT_EQ(early.claimed, 0);
  EXPECT_EQ(OutboxLength(), 0);

  TriggerRunAnswer due = Run(*engine, t0 + absl::Hours(4));
  EXPECT_EQ(due.claimed, 1);
  EXPECT_EQ(due.written, 1);
  ASSERT_EQ(due.offers.size(), 1u);
  const Offer& offer = due.offers[0];
  EXPECT_EQ(offer.user_id, "alice");
  EXPECT_EQ(offer.rule, "cart_abandoned");
  EXPECT_EQ(offer.offer_id,
            TriggerEngine::OfferId("cart_abandoned", "alice", "", t0));
  ASSERT_EQ(OutboxLength(), 1);
  const std::vector<std::string> lines = absl::StrSplit(OutboxText(), '\n');
  // id, then the fields of docs/marketing.md in order.
  ASSERT_EQ(lines.size(), 21u);
  EXPECT_EQ(lines[0], offer.stream_id);
  EXPECT_THAT(
      std::vector<std::string>(lines.begin() + 1, lines.end()),
      ::testing::ElementsAre(
          "offer_id", offer.offer_id, "rule", "cart_abandoned", "trigger",
          "add_to_cart", "user_id", "alice", "campaign", "cart_abandoned",
          "coupon_id", "", "template_id", "cart_abandoned", "cause", "",
          "trigger_unix", absl::StrCat(absl::ToUnixSeconds(t0)), "send_unix",
          absl::StrCat(absl::ToUnixSeconds(t0 + absl::Hours(4)))));

  // Done: later passes find nothing.
  EXPECT_EQ(Run(*engine, t0 + absl::Hours(30)).claimed, 0);
  EXPECT_EQ(OutboxLength(), 1u);
  EXPECT_EQ(Counted("cart_abandoned", "written"), 1);
}

TEST_F(TriggerEngineTest, LaterAddToCartMovesTheTimer) {
  auto engine = Engine(kCartRule);
  const absl::Time t0 = Utc(5, 10);
  RECSYS_ASSERT_OK(engine->ObserveEvents(
      {Ev(EventType::kAddToCart, "bob", "a", t0),
       Ev(EventType::kAddToCart, "bob", "b", t0 + absl::Hours(2))},
      kDeadline));
  EXPECT_EQ(Run(*engine, t0 + absl::Hours(4)).claimed, 0);
  TriggerRunAnswer a = Run(*engine, t0 + absl::Hours(6));
  ASSERT_EQ(a.written, 1);
  EXPECT_EQ(a.offers[0].trigger_time, t0 + absl::Hours(2));
}

TEST_F(TriggerEngineTest, PurchaseCancelsThePendingOffer) {
  auto engine = Engine(kCartRule);
  const absl::Time t0 = Utc(5, 10);
  RECSYS_ASSERT_OK(engine->ObserveEvents(
      {Ev(EventType::kAddToCart, "carol", "sku-1", t0)}, kDeadline));
  RECSYS_ASSERT_OK(engine->ObserveEvents(
      {Ev(EventType::kPurchase, "carol", "sku-1", t0 + absl::Hours(1))},
      kDeadline));
  TriggerRunAnswer a = Run(*engine, t0 + absl::Hours(4));
  EXPECT_EQ(a.claimed, 1);
  EXPECT_EQ(a.cancelled, 1);
  EXPECT_EQ(a.written, 0);
  EXPECT_EQ(OutboxLength(), 0);
  EXPECT_EQ(Counted("cart_abandoned", "cancelled"), 1);
  // A purchase before the add-to-cart does not cancel it.
  RECSYS_ASSERT_OK(engine->ObserveEvents(
      {Ev(EventType::kAddToCart, "carol", "sku-2", t0 + absl::Hours(5))},
      kDeadline));
  EXPECT_EQ(Run(*engine, t0 + absl::Hours(9)).written, 1);
}

TEST_F(TriggerEngineTest, DuplicateEventsAndReplicasGiveOneOffer) {
  auto engine = Engine(kCartRule);
  auto replica = Engine(kCartRule);
  const absl::Time t0 = Utc(5, 10);
  const Event cart = Ev(EventType::kAddToCart, "dan", "sku-1", t0, "ev-1");
  RECSYS_ASSERT_OK(engine->ObserveEvents({cart, cart}, kDeadline));
  RECSYS_ASSERT_OK(replica->ObserveEvents({cart}, kDeadline));
  // The same add-to-cart under another id (the shop sent it twice).
  RECSYS_ASSERT_OK(engine->ObserveEvents(
      {Ev(EventType::kAddToCart, "dan", "sku-1", t0, "ev-2")}, kDeadline));
  const absl::Time due = t0 + absl::Hours(4);
  TriggerRunAnswer a = Run(*engine, due);
  TriggerRunAnswer b = Run(*replica, due);
  EXPECT_EQ(a.written + b.written, 1);
  EXPECT_EQ(OutboxLength(), 1u);

  // The check comes back (a replica died after writing, before finishing:
  // its lease ran out): the offer id's marker keeps it from being written
  // twice.
  const std::string member = absl::StrCat("cart_abandoned\x1f", "dan\x1f");
  RECSYS_ASSERT_OK(server_
                       ->Command({"HSET", prefix_ + "{trg}:at", member,
                                  absl::StrCat(absl::ToUnixSeconds(t0))})
                       .status());
  RECSYS_ASSERT_OK(
      server_
          ->Command({"ZADD", prefix_ + "{trg}:claimed",
                     absl::StrCat(absl::ToUnixSeconds(due)), member})
          .status());
  TriggerRunAnswer again = Run(*engine, due + absl::Minutes(10));
  EXPECT_EQ(again.claimed, 1);
  EXPECT_EQ(again.duplicates, 1);
  EXPECT_EQ(again.written, 0);
  for (const Offer& o : again.offers)
    ADD_FAILURE() << o.rule << " " << o.user_id << " " << o.cause;
  EXPECT_EQ(OutboxLength(), 1u);
  EXPECT_EQ(Counted("cart_abandoned", "duplicate"), 1);
}

TEST_F(TriggerEngineTest, ContactCapsBlockAndAreCounted) {
  auto engine = Engine(absl::StrCat(kCartRule, R"pb(
    rules { name: "review" on_event: "purchase" delay: "1h" }
    caps { per_day: 1 per_week: 2 }
  )pb"));
  const absl::Time t0 = Utc(5, 10);
  RECSYS_ASSERT_OK(engine->ObserveEvents(
      {Ev(EventType::kPurchase, "erin", "a", t0),
       Ev(EventType::kAddToCart, "erin", "b", t0 + absl::Minutes(1))},
      kDeadline));
  TriggerRunAnswer a = Run(*engine, t0 + absl::Hours(5));
  EXPECT_EQ(a.claimed, 2);
  EXPECT_EQ(a.written, 1);
  EXPECT_EQ(a.capped, 1);
  EXPECT_EQ(OutboxLength(), 1u);
  EXPECT_EQ(Counted("review", "capped") + Counted("cart_abandoned", "capped"),
            1);
  // Next day: one more (the weekly cap of 2 is then reached).
  RECSYS_ASSERT_OK(engine->ObserveEvents(
      {Ev(EventType::kAddToCart, "erin", "c", t0 + absl::Hours(24))},
      kDeadline));
  EXPECT_EQ(Run(*engine, t0 + absl::Hours(29)).written, 1);
  RECSYS_ASSERT_OK(engine->ObserveEvents(
      {Ev(EventType::kAddToCart, "erin", "d", t0 + absl::Hours(48))},
      kDeadline));
  TriggerRunAnswer week = Run(*engine, t0 + absl::Hours(53));
  EXPECT_EQ(week.capped, 1);
  EXPECT_EQ(OutboxLength(), 2u);
}

TEST_F(TriggerEngineTest, CouponBudgetBlocksAndIsCounted) {
  const absl::Time t0 = Utc(5, 10);
  CouponCatalog catalog;
  Coupon& c = catalog.coupons.emplace_back();
  c.id = "CART5";
  c.type = CouponType::kAmountOff;
  c.amount_off = 5;
  c.budget_count = 1;
  RECSYS_ASSERT_OK(coupons_->PutCoupons(catalog, kDeadline));
  auto engine = Engine(R"pb(
    rules {
      name: "cart_abandoned"
      on_event: "add_to_cart"
      delay: "4h"
      coupon_id: "CART5"
    }
  )pb");
  RECSYS_ASSERT_OK(engine->ObserveEvents(
      {Ev(EventType::kAddToCart, "fay", "a", t0)}, kDeadline));
  TriggerRunAnswer first = Run(*engine, t0 + absl::Hours(4));
  ASSERT_EQ(first.written, 1);
  EXPECT_EQ(first.offers[0].coupon_id, "CART5");
  RECSYS_ASSERT_OK_AND_ASSIGN(
      auto counts, coupons_->GetUserCounts("fay", {"CART5"}, kDeadline));
  EXPECT_EQ(counts[0].issued, 1);
  // The one redemption of the budget is used: the next trigger gets none.
  RECSYS_ASSERT_OK(
      coupons_->Redeem("fay", "CART5", 30, t0 + absl::Hours(5), kDeadline)
          .status());
  RECSYS_ASSERT_OK(engine->ObserveEvents(
      {Ev(EventType::kAddToCart, "gus", "a", t0)}, kDeadline));
  TriggerRunAnswer second = Run(*engine, t0 + absl::Hours(6));
  EXPECT_EQ(second.budget, 1);
  EXPECT_EQ(second.written, 0);
  EXPECT_EQ(OutboxLength(), 1u);
  EXPECT_EQ(Counted("cart_abandoned", "budget"), 1);
}

TEST_F(TriggerEngineTest, HoldoutUsersGetNone) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      auto plan, experiments::ExperimentPlan::Parse(R"pb(
        layers {
          name: "offers"
          experiments {
            name: "cart_holdout"
            traffic_share: 1
            campaigns: "cart_abandoned"
            control: "holdout"
            variants {
              name: "holdout"
              share: 0.5
              coupons { campaign: "cart_abandoned" holdout: true }
            }
            variants { name: "offer" share: 0.5 }
          }
        }
      )pb"));
  plans_.Set(plan);
  auto engine = Engine(kCartRule);
  const absl::Time t0 = Utc(5, 10);
  std::vector<std::string> held, offered;
  for (int i = 0; held.size() < 3 || offered.size() < 3; ++i) {
    const std::string user = absl::StrCat("user-", i);
    const auto a = plan->Assign(user, t0, {});
    ASSERT_EQ(a.size(), 1u);
    (a[0].variant->name == "holdout" ? held : offered).push_back(user);
  }
  std::vector<Event> events;
  for (const auto& u : held)
    events.push_back(Ev(EventType::kAddToCart, u, "a", t0));
  for (const auto& u : offered)
    events.push_back(Ev(EventType::kAddToCart, u, "a", t0));
  RECSYS_ASSERT_OK(engine->ObserveEvents(events, kDeadline));
  TriggerRunAnswer a = Run(*engine, t0 + absl::Hours(4));
  EXPECT_EQ(a.claimed, static_cast<int>(held.size() + offered.size()));
  EXPECT_EQ(a.holdout, static_cast<int>(held.size()));
  EXPECT_EQ(a.written, static_cast<int>(offered.size()));
  for (const Offer& o : a.offers) {
    EXPECT_THAT(offered, ::testing::Contains(o.user_id));
  }
}

TEST_F(TriggerEngineTest, QuietHoursDefer) {
  auto engine = Engine(
      absl::StrCat(kCartRule, "quiet_hours { start_hour: 22 end_hour: 7 }"));
  const absl::Time t0 = Utc(5, 19);  // due 23:00, inside the quiet hours
  RECSYS_ASSERT_OK(engine->ObserveEvents(
      {Ev(EventType::kAddToCart, "hal", "a", t0)}, kDeadline));
  TriggerRunAnswer at_due = Run(*engine, Utc(5, 23));
  EXPECT_EQ(at_due.deferred, 1);
  EXPECT_EQ(at_due.written, 0);
  EXPECT_EQ(OutboxLength(), 0);
  EXPECT_EQ(Run(*engine, Utc(6, 6, 59, 59)).claimed, 0);
  TriggerRunAnswer morning = Run(*engine, Utc(6, 7));
  EXPECT_EQ(morning.written, 1);
  // The offer keeps its id: the cause is the add-to-cart.
  EXPECT_EQ(morning.offers[0].offer_id,
            TriggerEngine::OfferId("cart_abandoned", "hal", "", t0));
  EXPECT_EQ(Counted("cart_abandoned", "deferred"), 1);
}

TEST_F(TriggerEngineTest, SentAtTheUsualActiveHour) {
  auto engine = Engine(R"pb(
    rules {
      name: "review"
      on_event: "purchase"
      delay: "7d"
      at_active_hour: true
    }
  )pb");
  // Most of the user's events fall at 20:xx UTC; the purchase at 09:00.
  RECSYS_ASSERT_OK(
      engine->ObserveEvents({Ev(EventType::kView, "ivy", "a", Utc(1, 20, 5)),
                             Ev(EventType::kView, "ivy", "b", Utc(2, 20, 10)),
                             Ev(EventType::kPurchase, "ivy", "b", Utc(3, 9))},
                            kDeadline));
  EXPECT_EQ(Run(*engine, Utc(10, 9)).deferred, 1);
  EXPECT_EQ(Run(*engine, Utc(10, 19, 59)).claimed, 0);
  TriggerRunAnswer a = Run(*engine, Utc(10, 20));
  ASSERT_EQ(a.written, 1);
  EXPECT_EQ(a.offers[0].cause, "b");
  EXPECT_EQ(a.offers[0].send_time, Utc(10, 20));
}

TEST_F(TriggerEngineTest, WinBackFromSignalsOrTheSegment) {
  auto engine = Engine(R"pb(
    rules {
      name: "win_back"
      on_signal: "win_back"
      min_churn_risk: 0.6
      min_monetary: 100
    }
    rules { name: "refill" on_signal: "replenishment" }
  )pb");
  const absl::Time now = Utc(5, 12);
  std::vector<UserSegment> records(3);
  records[0].user_id = "at-risk";
  records[0].segment = Segment::kAtRisk;
  records[0].monetary = 300;
  records[0].last_purchase_unix = absl::ToUnixSeconds(Utc(1, 9)) - 60 * 86400;
  records[1].user_id = "core";
  records[1].segment = Segment::kCore;
  records[1].monetary = 900;
  records[2].user_id = "small";
  records[2].segment = Segment::kAtRisk;
  records[2].monetary = 20;
  RECSYS_ASSERT_OK(segments_->PutSegments(records));
  // Signals win over the segment: "core" has a high churn risk.
  signals_.by_user["core"] = {.churn_risk = 0.8,
                              .next_due_unix = absl::ToUnixSeconds(now) - 10};
  signals_.by_user["due-later"] = {.next_due_unix =
                                       absl::ToUnixSeconds(now) + 86400};
  const std::vector<std::string> users = {"at-risk", "core", "small",
                                          "due-later", "nobody"};
  TriggerRunAnswer a = Run(*engine, now, users);
  EXPECT_EQ(a.scheduled, 3);  // win-back: at-risk, core; refill: core
  EXPECT_EQ(a.written, 3);
  std::vector<std::string> got;
  for (const Offer& o : a.offers) got.push_back(o.rule + ":" + o.user_id);
  EXPECT_THAT(got, ::testing::UnorderedElementsAre(
                       "win_back:at-risk", "win_back:core", "refill:core"));
  // The nightly pass again: same causes, same ids, nothing written twice;
  // "due-later" is due now.
  TriggerRunAnswer again = Run(*engine, now + absl::Hours(24), users);
  EXPECT_EQ(again.duplicates, 3);
  ASSERT_EQ(again.written, 1);
  EXPECT_EQ(again.offers[0].user_id, "due-later");
  EXPECT_EQ(OutboxLength(), 4u);
}

TEST_F(TriggerEngineTest, BirthdayOfferOncePerBirthdayFromDaysBefore) {
  auto engine = Engine(R"pb(
    rules { name: "birthday" on_signal: "birthday" days_before: 2 at_active_hour: true }
    default_active_hour: 10
  )pb");
  // Birthdays on March 4, March 7 and March 9; none.
  signals_.by_user["today"] = {.birthday_month = 3, .birthday_day = 4};
  signals_.by_user["soon"] = {.birthday_month = 3, .birthday_day = 7};
  signals_.by_user["late"] = {.birthday_month = 3, .birthday_day = 9};
  signals_.by_user["unknown"] = {};
  // ("late" joins the passes only on its birthday.)
  const std::vector<std::string> users = {"today", "soon", "unknown", "nobody"};
  // March 4, 08:00: "today" is due, sent at its active hour (10:00); "soon"
  // waits for its window (from March 5).
  TriggerRunAnswer a = Run(*engine, Utc(4, 8), users);
  EXPECT_EQ(a.scheduled, 1);
  EXPECT_EQ(a.written, 0);
  a = Run(*engine, Utc(4, 10), users);
  ASSERT_EQ(a.written, 1);
  EXPECT_EQ(a.offers[0].user_id, "today");
  EXPECT_EQ(a.offers[0].cause, "birthday:2024-03-04");
  EXPECT_EQ(a.offers[0].trigger_time, Utc(2, 0));
  // March 5, 09:00: "soon" enters its window and is sent at 10:00; "today"
  // is a year away.
  a = Run(*engine, Utc(5, 9), users);
  EXPECT_EQ(a.written, 0);
  a = Run(*engine, Utc(5, 10), users);
  ASSERT_EQ(a.written, 1);
  EXPECT_EQ(a.offers[0].user_id, "soon");
  EXPECT_EQ(a.offers[0].cause, "birthday:2024-03-07");
  // Later passes in the window: the same offer ids, nothing new.
  a = Run(*engine, Utc(6, 10), users);
  EXPECT_EQ(a.written, 0);
  a = Run(*engine, Utc(7, 10), users);
  EXPECT_EQ(a.written, 0);
  // A first pass on the birthday after the active hour: never a belated
  // greeting.
  a = Run(*engine, Utc(9, 12), {"late"});
  EXPECT_EQ(a.written, 0);
  a = Run(*engine, Utc(10, 10), {});
  EXPECT_EQ(a.written, 0);
  EXPECT_EQ(Counted("birthday", "late"), 1);
  EXPECT_EQ(OutboxLength(), 2);
}

TEST_F(TriggerEngineTest, KeySchemaMatchesDocumentation) {
  auto engine = Engine(absl::StrCat(kCartRule, "caps { per_day: 5 }"));
  const absl::Time t0 = Utc(5, 10);
  const int64_t t = absl::ToUnixSeconds(t0);
  RECSYS_ASSERT_OK(
      engine->ObserveEvents({Ev(EventType::kAddToCart, "kim", "a", t0, "e1"),
                             Ev(EventType::kView, "kim", "b", t0)},
                            kDeadline));
  auto cmd = [&](std::vector<std::string> argv) {
    absl::StatusOr<std::string> r = server_->Command(argv);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : "";
  };
  // The timers share the {trg} slot; the user's keys the user's slot.
  const std::string p = prefix_ + "{trg}:";
  const std::string u = prefix_ + "trg:{kim}:";
  const std::string member = absl::StrCat("cart_abandoned\x1f", "kim\x1f");
  EXPECT_EQ(cmd({"TYPE", u + "u"}), "hash");
  EXPECT_EQ(cmd({"HMGET", u + "u", "h:10", "last:add_to_cart", "last:view"}),
            absl::StrCat("2\n", t, "\n", t));
  EXPECT_EQ(cmd({"GET", u + "ev:id:e1"}), "1");
  EXPECT_GT(std::stoll(cmd({"TTL", u + "ev:id:e1"})), 86400 - 60);
  EXPECT_EQ(cmd({"ZSCORE", p + "pending", member}), absl::StrCat(t + 4 * 3600));
  EXPECT_EQ(cmd({"HGET", p + "at", member}), absl::StrCat(t));

  // Deferred by quiet hours? No: written at the due time.
  TriggerRunAnswer a = Run(*engine, t0 + absl::Hours(4));
  ASSERT_EQ(a.written, 1);
  const std::string id = a.offers[0].offer_id;
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(cmd({"ZCARD", p + "pending"}), "0");
  EXPECT_EQ(cmd({"ZCARD", p + "claimed"}), "0");
  EXPECT_EQ(cmd({"HLEN", p + "at"}), "0");
  EXPECT_EQ(cmd({"HLEN", p + "due"}), "0");
  EXPECT_EQ(cmd({"GET", u + "offer:" + id}), a.offers[0].stream_id);
  EXPECT_GT(std::stoll(cmd({"TTL", u + "offer:" + id})), 30 * 86400 - 60);
  EXPECT_EQ(cmd({"ZSCORE", u + "sent", id}), absl::StrCat(t + 4 * 3600));
  EXPECT_EQ(cmd({"TYPE", prefix_ + "offers"}), "stream");
}

// An entry written while its marker was not (a failure between the two):
// the retry after the lease writes the entry again (at least once; the
// offer id lets the consumer drop the repeat) and then marks it.
TEST_F(TriggerEngineTest, AReservedOfferIsWrittenAgainAfterAFailure) {
  auto engine = Engine(kCartRule);
  const absl::Time t0 = Utc(5, 10);
  RECSYS_ASSERT_OK(engine->ObserveEvents(
      {Ev(EventType::kAddToCart, "lee", "a", t0)}, kDeadline));
  const std::string id =
      TriggerEngine::OfferId("cart_abandoned", "lee", "", t0);
  // As if a pass had reserved the id and died before the entry.
  RECSYS_ASSERT_OK(server_
                       ->Command({"SET", prefix_ + "trg:{lee}:offer:" + id,
                                  "pending", "EX", "600"})
                       .status());
  TriggerRunAnswer a = Run(*engine, t0 + absl::Hours(4));
  ASSERT_EQ(a.written, 1);
  EXPECT_EQ(OutboxLength(), 1);
  EXPECT_EQ(
      server_->Command({"GET", prefix_ + "trg:{lee}:offer:" + id}).value_or(""),
      a.offers[0].stream_id);
}

TEST_F(TriggerEngineTest, RejectsACouponRuleWithoutACouponStore) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      TriggersConfig config, ParseTriggersConfig(R"pb(
        rules { name: "c" on_event: "add_to_cart" delay: "1h" coupon_id: "X" }
      )pb"));
  TriggerEngineOptions options;
  options.config = config;
  EXPECT_EQ(TriggerEngine::Create(client_, nullptr, nullptr, nullptr, nullptr,
                                  options)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// The same engine on a Redis Cluster: every script's keys share a slot
// (the timers {trg}, each user's keys the user's), so events, the signal
// pass and the offers work across nodes.
TEST(TriggerEngineOnRedisClusterTest, OffersAcrossNodes) {
  RECSYS_ASSERT_OK_AND_ASSIGN(redis::Client * client,
                              test::SharedRedisClusterClient());
  const std::string prefix = test::UniqueKeyPrefix();
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<CouponStore> coupons,
      NewRedisCouponStore(client, {.key_prefix = prefix}));
  CouponCatalog catalog;
  Coupon& c = catalog.coupons.emplace_back();
  c.id = "BACK5";
  c.type = CouponType::kAmountOff;
  c.amount_off = 5;
  RECSYS_ASSERT_OK(coupons->PutCoupons(catalog, kDeadline));
  RECSYS_ASSERT_OK_AND_ASSIGN(TriggersConfig config, ParseTriggersConfig(R"pb(
                                rules {
                                  name: "cart_abandoned"
                                  on_event: "add_to_cart"
                                  cancel_on: "purchase"
                                  delay: "4h"
                                }
                                rules {
                                  name: "win_back"
                                  on_signal: "win_back"
                                  min_churn_risk: 0.5
                                  coupon_id: "BACK5"
                                }
                              )pb"));
  FixedSignals signals;
  TriggerEngineOptions options;
  options.config = config;
  options.key_prefix = prefix;
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<TriggerEngine> engine,
      TriggerEngine::Create(client, coupons.get(), nullptr, nullptr, &signals,
                            options));
  const absl::Time t0 = Utc(5, 10);
  // Users over every node (3 masters): carts, one ended by a purchase.
  std::vector<Event> events;
  std::vector<std::string> users;
  for (int i = 0; i < 12; ++i) {
    const std::string u = absl::StrCat("cluster-user-", i);
    users.push_back(u);
    events.push_back(Ev(EventType::kAddToCart, u, "a", t0, u + "/cart"));
    signals.by_user[u] = {.churn_risk = i % 2 == 0 ? 0.9 : 0.1};
  }
  events.push_back(
      Ev(EventType::kPurchase, users[0], "a", t0 + absl::Hours(1)));
  RECSYS_ASSERT_OK(engine->ObserveEvents(events, kDeadline));
  RECSYS_ASSERT_OK(engine->ObserveEvents(events, kDeadline));  // sent again

  absl::StatusOr<TriggerRunAnswer> a =
      engine->Run({.now = t0 + absl::Hours(4), .user_ids = users}, kDeadline);
  RECSYS_ASSERT_OK(a.status());
  EXPECT_EQ(a->errors, 0);
  EXPECT_EQ(a->scheduled, 6);     // win-back: the even users
  EXPECT_EQ(a->cancelled, 1);     // users[0]'s cart
  EXPECT_EQ(a->written, 11 + 6);  // the other carts, every win-back
  // The same pass again: nothing new.
  a = engine->Run({.now = t0 + absl::Hours(5), .user_ids = users}, kDeadline);
  RECSYS_ASSERT_OK(a.status());
  EXPECT_EQ(a->written, 0);
  EXPECT_EQ(a->duplicates, 6);
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::vector<redis::Value> len,
      client->Execute({{"XLEN", prefix + "offers"}}, kDeadline,
                      redis::CallKind::kRead));
  EXPECT_EQ(len[0].integer, 17);
}

}  // namespace
}  // namespace recsys::marketing
