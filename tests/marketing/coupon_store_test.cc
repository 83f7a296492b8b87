// The CouponStore contract, run against the in-memory store and the Redis
// store on a real redis-server.
#include "marketing/coupon_store.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "marketing/coupons.h"
#include "tests/marketing/test_util.h"
#include "tests/testing/status_matchers.h"

namespace recsys::marketing {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1700000000;
constexpr absl::Time kDeadline = absl::InfiniteFuture();

absl::Time At(int64_t unix_seconds) {
  return absl::FromUnixSeconds(unix_seconds);
}

Coupon AmountOff(absl::string_view id, double amount) {
  Coupon c;
  c.id = std::string(id);
  c.type = CouponType::kAmountOff;
  c.amount_off = amount;
  return c;
}

CouponCatalog Catalog(std::initializer_list<Coupon> coupons) {
  CouponCatalog catalog;
  for (const Coupon& c : coupons) catalog.coupons.push_back(c);
  return catalog;
}

class CouponStoreContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { store_ = Make({.free_shipping_value = 4.95}); }

  std::unique_ptr<CouponStore> Make(const CouponStoreOptions& options) {
    absl::StatusOr<std::unique_ptr<CouponStore>> store;
    if (GetParam() == "redis" || GetParam() == "redis_cluster") {
      absl::StatusOr<redis::Client*> client =
          GetParam() == "redis" ? test::SharedRedisClient()
                                : test::SharedRedisClusterClient();
      EXPECT_TRUE(client.ok()) << client.status();
      if (!client.ok()) return nullptr;
      store = NewRedisCouponStore(
          *client, {.key_prefix = test::UniqueKeyPrefix(), .coupons = options});
    } else {
      store = NewInMemoryCouponStore(options);
    }
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  void Put(std::initializer_list<Coupon> coupons) {
    RECSYS_ASSERT_OK(store_->PutCoupons(Catalog(coupons), kDeadline));
  }

  CouponWithState Get(absl::string_view id) {
    absl::StatusOr<std::vector<CouponWithState>> all =
        store_->ListCoupons(kDeadline);
    EXPECT_TRUE(all.ok()) << all.status();
    if (all.ok()) {
      for (const CouponWithState& c : *all) {
        if (c.coupon.id == id) return c;
      }
    }
    ADD_FAILURE() << "no coupon " << id;
    return {};
  }

  // Issue then Redeem; the status of whichever failed.
  absl::StatusOr<double> IssueAndRedeem(absl::string_view user,
                                        absl::string_view coupon, double order,
                                        int64_t t = kNow) {
    absl::StatusOr<int64_t> issued =
        store_->Issue(user, coupon, At(t), kDeadline);
    if (!issued.ok()) return issued.status();
    return store_->Redeem(user, coupon, order, At(t), kDeadline);
  }

  std::unique_ptr<CouponStore> store_;
};

TEST_P(CouponStoreContractTest, PutAndListCoupons) {
  ASSERT_NE(store_, nullptr);
  Coupon b = AmountOff("b", 5);
  b.budget_count = 10;
  b.budget_money = 100;
  b.description = "five off";
  Put({b, AmountOff("a", 3)});
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<CouponWithState> all,
                              store_->ListCoupons(kDeadline));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].coupon.id, "a");
  EXPECT_EQ(all[1].coupon.id, "b");
  EXPECT_EQ(all[1].coupon.description, "five off");
  EXPECT_EQ(all[0].state.remaining_count, -1);
  EXPECT_EQ(all[0].state.remaining_money, -1);
  EXPECT_EQ(all[1].state.issued, 0);
  EXPECT_EQ(all[1].state.remaining_count, 10);
  EXPECT_DOUBLE_EQ(all[1].state.remaining_money, 100);
  RECSYS_EXPECT_OK(store_->Ping(kDeadline));
  EXPECT_FALSE(store_->Describe().empty());
}

TEST_P(CouponStoreContractTest, InvalidCatalogStoresNothing) {
  ASSERT_NE(store_, nullptr);
  Coupon bad = AmountOff("bad", 5);
  bad.percent_off = 10;
  const absl::Status s =
      store_->PutCoupons(Catalog({AmountOff("good", 1), bad}), kDeadline);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("coupons[1].percent_off"));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<CouponWithState> all,
                              store_->ListCoupons(kDeadline));
  EXPECT_TRUE(all.empty());
}

TEST_P(CouponStoreContractTest,
       UpsertKeepsStateAndBudgetChangesAdjustRemaining) {
  ASSERT_NE(store_, nullptr);
  Coupon c = AmountOff("c", 5);
  c.budget_count = 10;
  c.budget_money = 100;
  Put({c});
  for (int i = 0; i < 3; ++i) {
    RECSYS_ASSERT_OK(IssueAndRedeem(absl::StrCat("u", i), "c", 50));
  }
  CouponWithState got = Get("c");
  EXPECT_EQ(got.state.issued, 3);
  EXPECT_EQ(got.state.redeemed, 3);
  EXPECT_DOUBLE_EQ(got.state.discount_spent, 15);
  EXPECT_EQ(got.state.remaining_count, 7);
  EXPECT_DOUBLE_EQ(got.state.remaining_money, 85);

  c.budget_count = 2;  // below what is used: nothing remains, never negative
  c.budget_money = 10;
  c.description = "changed";
  Put({c});
  got = Get("c");
  EXPECT_EQ(got.coupon.description, "changed");
  EXPECT_EQ(got.state.redeemed, 3);
  EXPECT_EQ(got.state.remaining_count, 0);
  EXPECT_DOUBLE_EQ(got.state.remaining_money, 0);
  EXPECT_EQ(IssueAndRedeem("u9", "c", 50).status().code(),
            absl::StatusCode::kResourceExhausted);

  c.budget_count = 20;
  c.budget_money = 0;  // unlimited
  Put({c});
  got = Get("c");
  EXPECT_EQ(got.state.remaining_count, 17);
  EXPECT_EQ(got.state.remaining_money, -1);
  RECSYS_EXPECT_OK(IssueAndRedeem("u10", "c", 50));
}

TEST_P(CouponStoreContractTest, DeleteCoupon) {
  ASSERT_NE(store_, nullptr);
  Coupon c = AmountOff("gone", 5);
  c.per_user_cap = 1;
  Put({c, AmountOff("kept", 1)});
  RECSYS_ASSERT_OK(store_->Issue("u1", "gone", At(kNow), kDeadline));
  RECSYS_ASSERT_OK(store_->DeleteCoupon("gone", kDeadline));
  EXPECT_EQ(store_->DeleteCoupon("gone", kDeadline).code(),
            absl::StatusCode::kNotFound);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<CouponWithState> all,
                              store_->ListCoupons(kDeadline));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].coupon.id, "kept");
  EXPECT_EQ(store_->Issue("u1", "gone", At(kNow), kDeadline).status().code(),
            absl::StatusCode::kNotFound);
  // The id is retired (DeletedIdCannotBeReused); the user's count stays.
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::vector<UserCouponCounts> counts,
      store_->GetUserCounts("u1", std::vector<std::string>{"gone"}, kDeadline));
  EXPECT_EQ(counts[0].issued, 1);
}

TEST_P(CouponStoreContractTest, DeletedIdCannotBeReused) {
  ASSERT_NE(store_, nullptr);
  Coupon c = AmountOff("spent", 5);
  c.budget_count = 5;
  Put({c, AmountOff("other", 1)});
  for (int i = 0; i < 5; ++i) {
    RECSYS_ASSERT_OK(IssueAndRedeem(absl::StrCat("u", i), "spent", 50));
  }
  EXPECT_EQ(Get("spent").state.remaining_count, 0);
  RECSYS_ASSERT_OK(store_->DeleteCoupon("spent", kDeadline));

  // Putting the deleted id again (alone, or inside a catalog) is refused,
  // naming the entry, and writes nothing: the 5 redemptions cannot be reset
  // to 0 that way.
  absl::Status again = store_->PutCoupons(Catalog({c}), kDeadline);
  EXPECT_EQ(again.code(), absl::StatusCode::kInvalidArgument) << again;
  EXPECT_THAT(std::string(again.message()),
              ::testing::HasSubstr("coupons[0].id"));
  EXPECT_THAT(std::string(again.message()),
              ::testing::HasSubstr("was deleted; use a new id"));
  Coupon fresh = AmountOff("fresh", 2);
  Coupon other = AmountOff("other", 3);
  absl::Status mixed =
      store_->PutCoupons(Catalog({fresh, c, other}), kDeadline);
  EXPECT_EQ(mixed.code(), absl::StatusCode::kInvalidArgument) << mixed;
  EXPECT_THAT(std::string(mixed.message()),
              ::testing::HasSubstr("coupons[1].id"));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<CouponWithState> all,
                              store_->ListCoupons(kDeadline));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].coupon.id, "other");
  EXPECT_EQ(all[0].coupon.amount_off, 1);  // the refused catalog wrote nothing
  EXPECT_EQ(store_->Issue("u9", "spent", At(kNow), kDeadline).status().code(),
            absl::StatusCode::kNotFound);
  // A new id is fine; deleting twice still says NotFound.
  Coupon renamed = c;
  renamed.id = "spent-v2";
  Put({renamed});
  EXPECT_EQ(Get("spent-v2").state.remaining_count, 5);
  EXPECT_EQ(store_->DeleteCoupon("spent", kDeadline).code(),
            absl::StatusCode::kNotFound);
}

TEST_P(CouponStoreContractTest, IssueChecksWindowAndCountsPerUser) {
  ASSERT_NE(store_, nullptr);
  Coupon c = AmountOff("w", 5);
  c.valid_from_unix = kNow - 100;
  c.valid_until_unix = kNow + 100;
  c.per_user_cap = 2;
  Put({c, AmountOff("other", 1)});
  absl::StatusOr<int64_t> early =
      store_->Issue("u1", "w", At(kNow - 101), kDeadline);
  EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(early.status().message()),
              HasSubstr("not valid before"));
  absl::StatusOr<int64_t> late =
      store_->Issue("u1", "w", At(kNow + 100), kDeadline);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(late.status().message()), HasSubstr("expired"));

  RECSYS_ASSERT_OK_AND_ASSIGN(
      int64_t n, store_->Issue("u1", "w", At(kNow - 100), kDeadline));
  EXPECT_EQ(n, 1);
  RECSYS_ASSERT_OK_AND_ASSIGN(
      n, store_->Issue("u1", "w", At(kNow + 99), kDeadline));
  EXPECT_EQ(n, 2);
  absl::StatusOr<int64_t> capped =
      store_->Issue("u1", "w", At(kNow), kDeadline);
  EXPECT_EQ(capped.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(capped.status().message()),
              HasSubstr("per-user cap 2"));
  RECSYS_EXPECT_OK(store_->Issue("u2", "w", At(kNow), kDeadline));

  const std::vector<std::string> ids = {"w", "other", "unknown"};
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<UserCouponCounts> counts,
                              store_->GetUserCounts("u1", ids, kDeadline));
  ASSERT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts[0].issued, 2);
  EXPECT_EQ(counts[0].redeemed, 0);
  EXPECT_EQ(counts[1].issued, 0);
  EXPECT_EQ(counts[2].issued, 0);
  EXPECT_EQ(Get("w").state.issued, 3);
  RECSYS_ASSERT_OK_AND_ASSIGN(counts,
                              store_->GetUserCounts("nobody", ids, kDeadline));
  EXPECT_EQ(counts[0].issued, 0);
  RECSYS_ASSERT_OK_AND_ASSIGN(counts,
                              store_->GetUserCounts("u1", {}, kDeadline));
  EXPECT_TRUE(counts.empty());
}

TEST_P(CouponStoreContractTest, IssueRecordsCampaignContacts) {
  ASSERT_NE(store_, nullptr);
  Coupon a = AmountOff("a", 5);
  a.campaign = "win_back";
  Coupon b = AmountOff("b", 5);
  b.campaign = "win_back";
  Put({a, b, AmountOff("solo", 1)});  // solo's campaign is its id
  RECSYS_ASSERT_OK(store_->Issue("u1", "a", At(kNow), kDeadline));
  RECSYS_ASSERT_OK(store_->Issue("u2", "b", At(kNow + 50), kDeadline));
  RECSYS_ASSERT_OK(
      store_->Issue("u1", "b", At(kNow - 1000), kDeadline));  // older: kept
  RECSYS_ASSERT_OK(store_->Issue("u3", "solo", At(kNow + 7), kDeadline));
  const std::vector<std::string> users = {"u1", "u2", "u3", "u4"};
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::vector<int64_t> last,
      store_->LastContacts("win_back", users, kDeadline));
  EXPECT_THAT(last, ::testing::ElementsAre(kNow, kNow + 50, 0, 0));
  RECSYS_ASSERT_OK_AND_ASSIGN(last,
                              store_->LastContacts("solo", users, kDeadline));
  EXPECT_THAT(last, ::testing::ElementsAre(0, 0, kNow + 7, 0));
  RECSYS_ASSERT_OK_AND_ASSIGN(last,
                              store_->LastContacts("win_back", {}, kDeadline));
  EXPECT_TRUE(last.empty());
}

TEST_P(CouponStoreContractTest, RedeemNeedsAnUnredeemedIssuance) {
  ASSERT_NE(store_, nullptr);
  Put({AmountOff("c", 5)});
  absl::StatusOr<double> not_issued =
      store_->Redeem("u1", "c", 50, At(kNow), kDeadline);
  EXPECT_EQ(not_issued.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(not_issued.status().message()),
              HasSubstr("no unredeemed issuance"));
  RECSYS_ASSERT_OK(store_->Issue("u1", "c", At(kNow), kDeadline));
  RECSYS_ASSERT_OK_AND_ASSIGN(
      double discount, store_->Redeem("u1", "c", 50, At(kNow), kDeadline));
  EXPECT_DOUBLE_EQ(discount, 5);
  EXPECT_EQ(store_->Redeem("u1", "c", 50, At(kNow), kDeadline).status().code(),
            absl::StatusCode::kFailedPrecondition);
  const std::vector<std::string> ids = {"c"};
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<UserCouponCounts> counts,
                              store_->GetUserCounts("u1", ids, kDeadline));
  EXPECT_EQ(counts[0].issued, 1);
  EXPECT_EQ(counts[0].redeemed, 1);
  EXPECT_EQ(
      store_->Redeem("u1", "nope", 50, At(kNow), kDeadline).status().code(),
      absl::StatusCode::kNotFound);
}

TEST_P(CouponStoreContractTest, RedeemAfterExpiryFails) {
  ASSERT_NE(store_, nullptr);
  Coupon c = AmountOff("c", 5);
  c.valid_until_unix = kNow;
  Put({c});
  RECSYS_ASSERT_OK(store_->Issue("u1", "c", At(kNow - 10), kDeadline));
  EXPECT_EQ(store_->Redeem("u1", "c", 50, At(kNow), kDeadline).status().code(),
            absl::StatusCode::kFailedPrecondition);
  RECSYS_EXPECT_OK(store_->Redeem("u1", "c", 50, At(kNow - 1), kDeadline));
}

TEST_P(CouponStoreContractTest, DiscountOfEveryType) {
  ASSERT_NE(store_, nullptr);
  Coupon amount = AmountOff("amount", 5);
  Coupon percent;
  percent.id = "percent";
  percent.type = CouponType::kPercentOff;
  percent.percent_off = 12.5;
  percent.max_discount = 20;
  Coupon odd = percent;
  odd.id = "odd";
  odd.percent_off = 33.33;
  odd.max_discount = 0;
  Coupon threshold;
  threshold.id = "threshold";
  threshold.type = CouponType::kThreshold;
  threshold.amount_off = 10;
  threshold.threshold_spend = 60;
  Coupon shipping;
  shipping.id = "ship";
  shipping.type = CouponType::kFreeShipping;
  Put({amount, percent, odd, threshold, shipping});

  EXPECT_DOUBLE_EQ(*IssueAndRedeem("u1", "amount", 50), 5);
  EXPECT_DOUBLE_EQ(*IssueAndRedeem("u2", "amount", 3.5),
                   3.5);  // at most the order
  EXPECT_DOUBLE_EQ(*IssueAndRedeem("u1", "percent", 80), 10);
  EXPECT_DOUBLE_EQ(*IssueAndRedeem("u2", "percent", 500), 20);  // capped
  EXPECT_DOUBLE_EQ(*IssueAndRedeem("u3", "percent", 33.35),
                   4.16);  // 4.16875 rounded down
  for (double order : {0.0, 0.01, 1.0, 12.34, 99.99, 123456.78}) {
    const std::string user = absl::StrCat("odd", order);
    RECSYS_ASSERT_OK_AND_ASSIGN(double d, IssueAndRedeem(user, "odd", order));
    EXPECT_DOUBLE_EQ(d, FromCents(DiscountCents(odd, ToCents(order), 0)))
        << order;
  }
  absl::StatusOr<double> below = IssueAndRedeem("u1", "threshold", 59.99);
  EXPECT_EQ(below.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(below.status().message()),
              HasSubstr("below the threshold 60.00"));
  // The issuance is still unredeemed, so a bigger order may use it.
  RECSYS_ASSERT_OK_AND_ASSIGN(
      double d, store_->Redeem("u1", "threshold", 60, At(kNow), kDeadline));
  EXPECT_DOUBLE_EQ(d, 10);
  EXPECT_DOUBLE_EQ(*IssueAndRedeem("u1", "ship", 10), 4.95);
  EXPECT_DOUBLE_EQ(Get("percent").state.discount_spent, 34.16);
}

TEST_P(CouponStoreContractTest, BudgetsStopIssuanceAndRedemption) {
  ASSERT_NE(store_, nullptr);
  Coupon count = AmountOff("count", 5);
  count.budget_count = 2;
  Coupon money = AmountOff("money", 5);
  money.budget_money = 12;
  Put({count, money});
  RECSYS_ASSERT_OK(IssueAndRedeem("u1", "count", 50));
  // Issued to two more users while one redemption remains.
  RECSYS_ASSERT_OK(store_->Issue("u2", "count", At(kNow), kDeadline));
  RECSYS_ASSERT_OK(store_->Issue("u3", "count", At(kNow), kDeadline));
  RECSYS_ASSERT_OK(store_->Redeem("u2", "count", 50, At(kNow), kDeadline));
  absl::StatusOr<double> over =
      store_->Redeem("u3", "count", 50, At(kNow), kDeadline);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(over.status().message()),
              HasSubstr("2 of 2 redemptions used"));
  EXPECT_EQ(store_->Issue("u4", "count", At(kNow), kDeadline).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Get("count").state.remaining_count, 0);

  RECSYS_ASSERT_OK(IssueAndRedeem("u1", "money", 50));
  RECSYS_ASSERT_OK(IssueAndRedeem("u2", "money", 50));
  // 2.00 left, the discount is 5.00.
  absl::StatusOr<double> short_money = IssueAndRedeem("u3", "money", 50);
  EXPECT_EQ(short_money.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(short_money.status().message()),
              HasSubstr("has 2.00 of its money budget left"));
  // A smaller order, a smaller discount that fits.
  RECSYS_ASSERT_OK_AND_ASSIGN(
      double d, store_->Redeem("u3", "money", 2, At(kNow), kDeadline));
  EXPECT_DOUBLE_EQ(d, 2);
  const CouponWithState state = Get("money");
  EXPECT_DOUBLE_EQ(state.state.remaining_money, 0);
  EXPECT_DOUBLE_EQ(state.state.discount_spent, 12);
  absl::StatusOr<int64_t> exhausted =
      store_->Issue("u5", "money", At(kNow), kDeadline);
  EXPECT_EQ(exhausted.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(exhausted.status().message()),
              HasSubstr("money budget exhausted"));
}

TEST_P(CouponStoreContractTest, InvalidArguments) {
  ASSERT_NE(store_, nullptr);
  Put({AmountOff("c", 5)});
  EXPECT_EQ(store_->Issue("", "c", At(kNow), kDeadline).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Issue("u\n1", "c", At(kNow), kDeadline).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Issue("u1", "", At(kNow), kDeadline).status().code(),
            absl::StatusCode::kInvalidArgument);
  RECSYS_ASSERT_OK(store_->Issue("user with spaces", "c", At(kNow), kDeadline));
  EXPECT_EQ(store_->Redeem("user with spaces", "c", -1, At(kNow), kDeadline)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Redeem("user with spaces", "c", NAN, At(kNow), kDeadline)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  RECSYS_EXPECT_OK(
      store_->Redeem("user with spaces", "c", 10, At(kNow), kDeadline));
  const std::vector<std::string> bad = {"ok", ""};
  EXPECT_EQ(store_->GetUserCounts("u1", bad, kDeadline).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->LastContacts("", {}, kDeadline).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->DeleteCoupon("", kDeadline).code(),
            absl::StatusCode::kInvalidArgument);
}

// Many threads issue and redeem concurrently; the budgets hold exactly.
TEST_P(CouponStoreContractTest, ConcurrentRedemptionNeverOverspends) {
  ASSERT_NE(store_, nullptr);
  Coupon money_bound = AmountOff("money_bound", 5);
  money_bound.budget_count = 100;
  money_bound.budget_money = 400;  // 80 redemptions of 5.00
  Coupon count_bound = AmountOff("count_bound", 5);
  count_bound.budget_count = 100;
  count_bound.budget_money = 1000;
  Put({money_bound, count_bound});

  constexpr int kThreads = 16;
  constexpr int kAttempts = 25;  // per thread and coupon: 400 attempts each
  std::atomic<int> redeemed_money{0}, redeemed_count{0}, unexpected{0};
  absl::Mutex mu;
  std::string first_unexpected;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int j = 0; j < kAttempts; ++j) {
        for (const char* coupon : {"money_bound", "count_bound"}) {
          absl::StatusOr<double> r =
              IssueAndRedeem(absl::StrCat("t", t, "_", j), coupon, 40);
          if (r.ok()) {
            if (*r != 5) ++unexpected;
            ++(coupon[0] == 'm' ? redeemed_money : redeemed_count);
          } else if (r.status().code() !=
                     absl::StatusCode::kResourceExhausted) {
            ++unexpected;
            absl::MutexLock lock(&mu);
            if (first_unexpected.empty())
              first_unexpected = r.status().ToString();
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(unexpected.load(), 0) << first_unexpected;
  EXPECT_EQ(redeemed_money.load(), 80);
  EXPECT_EQ(redeemed_count.load(), 100);
  const CouponWithState m = Get("money_bound");
  EXPECT_EQ(m.state.redeemed, 80);
  EXPECT_DOUBLE_EQ(m.state.discount_spent, 400);
  EXPECT_DOUBLE_EQ(m.state.remaining_money, 0);
  EXPECT_EQ(m.state.remaining_count, 20);
  const CouponWithState c = Get("count_bound");
  EXPECT_EQ(c.state.redeemed, 100);
  EXPECT_DOUBLE_EQ(c.state.discount_spent, 500);
  EXPECT_EQ(c.state.remaining_count, 0);
  EXPECT_DOUBLE_EQ(c.state.remaining_money, 500);
}

// Many threads issue the same coupon to one user; the cap holds exactly.
TEST_P(CouponStoreContractTest, ConcurrentIssuanceRespectsPerUserCap) {
  ASSERT_NE(store_, nullptr);
  Coupon c = AmountOff("capped", 5);
  c.per_user_cap = 3;
  Put({c});
  std::atomic<int> issued{0}, exhausted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int j = 0; j < 10; ++j) {
        absl::StatusOr<int64_t> r =
            store_->Issue("shared_user", "capped", At(kNow), kDeadline);
        if (r.ok()) ++issued;
        if (r.status().code() == absl::StatusCode::kResourceExhausted)
          ++exhausted;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(issued.load(), 3);
  EXPECT_EQ(exhausted.load(), 77);
  EXPECT_EQ(Get("capped").state.issued, 3);
}

// Operations with an op id apply once: the retry of a redemption answered
// "unavailable" (applied or not) succeeds and spends the budget once.
TEST_P(CouponStoreContractTest, RedemptionRetriedWithItsIdSpendsTheBudgetOnce) {
  ASSERT_NE(store_, nullptr);
  Coupon c = AmountOff("once", 10);
  c.budget_count = 1;  // a second application would be refused
  c.budget_money = 100;
  Put({c});
  RECSYS_ASSERT_OK_AND_ASSIGN(IssueResult issued,
                              store_->IssueOnce("u1", "once", At(kNow), "id:iss-1", kDeadline));
  EXPECT_EQ(issued.issued, 1);
  EXPECT_FALSE(issued.duplicate);
  RECSYS_ASSERT_OK_AND_ASSIGN(IssueResult issued_again,
                              store_->IssueOnce("u1", "once", At(kNow), "id:iss-1", kDeadline));
  EXPECT_TRUE(issued_again.duplicate);
  EXPECT_EQ(issued_again.issued, 1);
  EXPECT_EQ(Get("once").state.issued, 1);

  RECSYS_ASSERT_OK_AND_ASSIGN(
      RedeemResult first, store_->RedeemOnce("u1", "once", 50, At(kNow), "id:red-1", kDeadline));
  EXPECT_DOUBLE_EQ(first.discount, 10);
  EXPECT_FALSE(first.duplicate);
  RECSYS_ASSERT_OK_AND_ASSIGN(
      RedeemResult retry, store_->RedeemOnce("u1", "once", 50, At(kNow), "id:red-1", kDeadline));
  EXPECT_TRUE(retry.duplicate);
  EXPECT_DOUBLE_EQ(retry.discount, 10);
  const CouponWithState state = Get("once");
  EXPECT_EQ(state.state.redeemed, 1);
  EXPECT_DOUBLE_EQ(state.state.discount_spent, 10);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<UserCouponCounts> counts,
                              store_->GetUserCounts("u1", {"once"}, kDeadline));
  EXPECT_EQ(counts[0].redeemed, 1);
  // Another redemption (a new id) is a new operation: refused, the budget
  // is spent.
  EXPECT_EQ(store_->RedeemOnce("u1", "once", 50, At(kNow), "id:red-2", kDeadline).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(CouponStoreContractTest, RefusedOperationRemembersNoId) {
  ASSERT_NE(store_, nullptr);
  Coupon c = AmountOff("later", 5);
  c.valid_from_unix = kNow + 100;
  Put({c});
  EXPECT_EQ(store_->IssueOnce("u1", "later", At(kNow), "id:x", kDeadline).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // The same id once the coupon is valid: applied, not a duplicate.
  RECSYS_ASSERT_OK_AND_ASSIGN(IssueResult r,
                              store_->IssueOnce("u1", "later", At(kNow + 100), "id:x", kDeadline));
  EXPECT_FALSE(r.duplicate);
  EXPECT_EQ(Get("later").state.issued, 1);
  // Without an op id nothing is deduplicated.
  RECSYS_ASSERT_OK(store_->Issue("u2", "later", At(kNow + 100), kDeadline));
  RECSYS_ASSERT_OK(store_->Issue("u2", "later", At(kNow + 100), kDeadline));
  EXPECT_EQ(Get("later").state.issued, 3);
  EXPECT_EQ(
      store_->IssueOnce("u1", "later", At(kNow + 100), std::string(513, 'x'), kDeadline)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Stores, CouponStoreContractTest,
                         ::testing::Values("in_memory", "redis", "redis_cluster"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST(CouponStoreTest, MakeCouponState) {
  Coupon c = AmountOff("c", 5);
  CouponState s = MakeCouponState(c, 4, 2, 1000);
  EXPECT_EQ(s.issued, 4);
  EXPECT_EQ(s.redeemed, 2);
  EXPECT_DOUBLE_EQ(s.discount_spent, 10);
  EXPECT_EQ(s.remaining_count, -1);
  EXPECT_EQ(s.remaining_money, -1);
  c.budget_count = 5;
  c.budget_money = 8;
  s = MakeCouponState(c, 4, 2, 1000);
  EXPECT_EQ(s.remaining_count, 3);
  EXPECT_DOUBLE_EQ(s.remaining_money, 0);
}

TEST(CouponStoreTest, BadOptions) {
  EXPECT_EQ(NewInMemoryCouponStore({.free_shipping_value = -1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<redis::Client> client,
                              redis::Client::Create({}));
  EXPECT_EQ(NewRedisCouponStore(client.get(),
                                {.coupons = {.free_shipping_value = NAN}})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NewRedisCouponStore(nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Bad client options are refused where the client is made.
  EXPECT_EQ(redis::Client::Create({.port = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(InMemoryCouponStoreTest, OpIdsAreForgottenAfterTheWindow) {
  absl::Time now = At(kNow);
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<CouponStore> store,
      NewInMemoryCouponStore({.op_dedup_window = absl::Seconds(10),
                              .clock = [&now] { return now; }}));
  RECSYS_ASSERT_OK(store->PutCoupons(Catalog({AmountOff("c", 1)}), kDeadline));
  RECSYS_ASSERT_OK(store->IssueOnce("u", "c", At(kNow), "id:1", kDeadline));
  now += absl::Seconds(9);
  RECSYS_ASSERT_OK_AND_ASSIGN(IssueResult r, store->IssueOnce("u", "c", At(kNow), "id:1", kDeadline));
  EXPECT_TRUE(r.duplicate);
  now += absl::Seconds(1);
  RECSYS_ASSERT_OK_AND_ASSIGN(r, store->IssueOnce("u", "c", At(kNow), "id:1", kDeadline));
  EXPECT_FALSE(r.duplicate);
  EXPECT_EQ(r.issued, 2);
  EXPECT_EQ(NewInMemoryCouponStore({.op_dedup_window = absl::ZeroDuration()}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recsys::marketing
