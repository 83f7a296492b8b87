// The trigger signals read from the customer-intelligence records.
#include "marketing/intel_signals.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "intelligence/intel.h"
#include "intelligence/intel_store.h"
#include "tests/testing/status_matchers.h"

namespace recsys::marketing {
namespace {

intelligence::UserIntel Record(const std::string& user) {
  intelligence::UserIntel u;
  u.user_id = user;
  u.purchase_intent = 0.2;
  u.churn_risk = 0.7;
  u.next_purchase_unix = 1'700'000'000;
  return u;
}

TEST(IntelSignalsTest, MapsScoresAndTheEarliestDueItem) {
  intelligence::UserIntel u = Record("a");
  UserSignals s = SignalsFromIntel(u);
  EXPECT_DOUBLE_EQ(s.churn_risk, 0.7);
  EXPECT_DOUBLE_EQ(s.intent, 0.2);
  // No due item: no replenishment (next_purchase_unix is not used).
  EXPECT_EQ(s.next_due_unix, 0);
  EXPECT_EQ(s.due_item_id, "");
  EXPECT_LT(s.monetary, 0);
  EXPECT_LT(s.usual_active_hour, 0);

  u.due_items = {{"tea", 1'600'000'000, 30}, {"cups", 1'650'000'000, 90}};
  s = SignalsFromIntel(u);
  EXPECT_EQ(s.next_due_unix, 1'600'000'000);
  EXPECT_EQ(s.due_item_id, "tea");
  EXPECT_EQ(s.birthday_month, 0);

  u.birthday = "02-29";
  s = SignalsFromIntel(u);
  EXPECT_EQ(s.birthday_month, 2);
  EXPECT_EQ(s.birthday_day, 29);
  u.birthday = "bad";
  EXPECT_EQ(SignalsFromIntel(u).birthday_month, 0);
}

TEST(IntelSignalsTest, NoFittedModelMeansUnknownRisk) {
  intelligence::UserIntel u = Record("a");
  u.purchase_intent = -1;
  u.churn_risk = 0;
  u.next_purchase_unix = 0;
  const UserSignals s = SignalsFromIntel(u);
  EXPECT_LT(s.churn_risk, 0);
  EXPECT_LT(s.intent, 0);
  EXPECT_EQ(s.next_due_unix, 0);
}

TEST(IntelSignalsTest, UsersWithoutARecordHaveNoSignals) {
  std::unique_ptr<intelligence::IntelStore> store =
      intelligence::NewInMemoryIntelStore();
  RECSYS_ASSERT_OK(store->PutIntel({Record("known")}));
  const IntelSignals signals(store.get());
  RECSYS_ASSERT_OK_AND_ASSIGN(
      auto got, signals.Get({"known", "unknown"}, absl::InfiniteFuture()));
  ASSERT_EQ(got.size(), 2u);
  ASSERT_TRUE(got[0].has_value());
  EXPECT_DOUBLE_EQ(got[0]->churn_risk, 0.7);
  EXPECT_FALSE(got[1].has_value());
  // A bad id is the store's InvalidArgument, not "no signals".
  EXPECT_EQ(signals.Get({"bad\nid"}, absl::InfiniteFuture()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recsys::marketing
