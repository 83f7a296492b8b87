#include "intelligence/intel.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace recsys::intelligence {
namespace {

UserIntel Sample() {
  UserIntel u;
  u.user_id = "u1";
  u.as_of_unix = 1700000000;
  u.tags = {"coffee_lover", "likes:coffee_tea"};
  u.affinities = {{"coffee_tea", 0.75}, {"snacks", 0.25}};
  u.purchase_intent = 0.625;
  u.churn_risk = 0.125;
  u.cycle_days = 12.5;
  u.next_purchase_unix = 1700500000;
  u.relative_price_level = 1.5;
  u.discount_share = 0.5;
  u.growth_value = 321.25;
  u.growth_tier = "silver";
  u.due_items = {{"i1", 1700100000, 14}, {"i2", 1700200000, 30.5}};
  return u;
}

TEST(IntelTsvTest, RoundTrips) {
  const std::vector<UserIntel> users = {Sample()};
  int64_t dropped = -1;
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string tsv, IntelToTsv(users, &dropped));
  EXPECT_EQ(dropped, 0);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<UserIntel> back, ParseIntelTsv(tsv));
  ASSERT_EQ(back.size(), 1u);
  const UserIntel& b = back[0];
  EXPECT_EQ(b.user_id, "u1");
  EXPECT_EQ(b.as_of_unix, 1700000000);
  EXPECT_EQ(b.tags, users[0].tags);
  EXPECT_EQ(b.affinities, users[0].affinities);
  EXPECT_EQ(b.purchase_intent, 0.625);
  EXPECT_EQ(b.churn_risk, 0.125);
  EXPECT_EQ(b.cycle_days, 12.5);
  EXPECT_EQ(b.next_purchase_unix, 1700500000);
  EXPECT_EQ(b.relative_price_level, 1.5);
  EXPECT_EQ(b.discount_share, 0.5);
  EXPECT_EQ(b.growth_value, 321.25);
  EXPECT_EQ(b.growth_tier, "silver");
  ASSERT_EQ(b.due_items.size(), 2u);
  EXPECT_EQ(b.due_items[1].item_id, "i2");
  EXPECT_EQ(b.due_items[1].due_unix, 1700200000);
  EXPECT_EQ(b.due_items[1].cycle_days, 30.5);
  EXPECT_TRUE(b.HasTag("coffee_lover"));
  EXPECT_FALSE(b.HasTag("coffee"));
}

TEST(IntelTsvTest, LeavesOutEntriesThatCannotBeWritten) {
  UserIntel u = Sample();
  u.affinities.push_back({"a|b", 0.1});
  u.due_items.push_back({"x@y", 1, 1});
  int64_t dropped = 0;
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string tsv, IntelToTsv({u}, &dropped));
  EXPECT_EQ(dropped, 2);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<UserIntel> back, ParseIntelTsv(tsv));
  EXPECT_EQ(back[0].affinities.size(), 2u);
  EXPECT_EQ(back[0].due_items.size(), 2u);
  u.user_id = "a\tb";
  EXPECT_EQ(IntelToTsv({u}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(IntelTsvTest, NamesTheBadLine) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string tsv, IntelToTsv({Sample()}));
  const std::string broken =
      tsv + "u2\t1\t\t\tnot-a-number\t0\t0\t0\t-1\t-1\t0\t\t\n";
  EXPECT_EQ(ParseIntelTsv(broken).status().message(),
            "intel.tsv line 3: purchase_intent: malformed 'not-a-number'");
  EXPECT_EQ(ParseIntelTsv("user\n").status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace recsys::intelligence
