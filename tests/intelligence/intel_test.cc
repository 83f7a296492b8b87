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
      tsv + "u2\t1\t\t\tnot-a-number\t0\t0\t0\t-1\t-1\t0\t\t\t\t\n";
  EXPECT_EQ(ParseIntelTsv(broken).status().message(),
            "intel.tsv line 3: purchase_intent: malformed 'not-a-number'");
  EXPECT_EQ(ParseIntelTsv("user\n").status().code(),
            absl::StatusCode::kDataLoss);
  const std::string bad_birthday = tsv + "u2\t1\t\t\t-1\t0\t0\t0\t-1\t-1\t0\t\t\t02-30\t\n";
  EXPECT_EQ(ParseIntelTsv(bad_birthday).status().message(),
            "intel.tsv line 3: birthday: malformed '02-30'");
}

TEST(IntelTsvTest, BatchesHandOverEveryRecordInOrderAndStopAtABadLine) {
  std::vector<UserIntel> users;
  std::string tsv(IntelTsvHeader());
  for (int i = 0; i < 7; ++i) {
    UserIntel u = Sample();
    u.user_id = "u" + std::to_string(i);
    users.push_back(u);
    RECSYS_ASSERT_OK(AppendIntelTsvLine(u, &tsv));
  }
  // One record at a time is the same text as IntelToTsv.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string whole, IntelToTsv(users));
  EXPECT_EQ(tsv, whole);

  std::vector<size_t> sizes;
  std::vector<std::string> ids;
  RECSYS_ASSERT_OK(ForEachIntelBatch(tsv, 3, [&](absl::Span<const UserIntel> batch) {
    sizes.push_back(batch.size());
    for (const UserIntel& u : batch) ids.push_back(u.user_id);
    return absl::OkStatus();
  }));
  EXPECT_EQ(sizes, (std::vector<size_t>{3, 3, 1}));
  EXPECT_EQ(ids, (std::vector<std::string>{"u0", "u1", "u2", "u3", "u4", "u5", "u6"}));

  // A bad line: the batches before it were handed over, the error names it.
  const std::string broken = tsv + "u7\t1\t\t\tnot-a-number\t0\t0\t0\t-1\t-1\t0\t\t\t\t\n";
  int handed = 0;
  absl::Status status = ForEachIntelBatch(broken, 4, [&](absl::Span<const UserIntel> batch) {
    handed += static_cast<int>(batch.size());
    return absl::OkStatus();
  });
  EXPECT_EQ(status.message(), "intel.tsv line 9: purchase_intent: malformed 'not-a-number'");
  EXPECT_EQ(handed, 4);
  // The callback's error stops the walk and is returned.
  int calls = 0;
  status = ForEachIntelBatch(tsv, 2, [&](absl::Span<const UserIntel>) {
    ++calls;
    return absl::UnavailableError("store down");
  });
  EXPECT_EQ(status, absl::UnavailableError("store down"));
  EXPECT_EQ(calls, 1);
  UserIntel bad = Sample();
  bad.user_id = "a\nb";
  std::string out = "x";
  EXPECT_EQ(AppendIntelTsvLine(bad, &out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(out, "x");
}

TEST(IntelTsvTest, BirthdayRoundTripsAndOlderFilesReadWithout) {
  UserIntel u = Sample();
  u.birthday = "1990-02-29";
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string tsv, IntelToTsv({u}));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<UserIntel> back, ParseIntelTsv(tsv));
  EXPECT_EQ(back[0].birthday, "02-29");
  // The layout before the birthday column.
  const std::string old =
      "user_id\tas_of\ttags\taffinities\tpurchase_intent\tchurn_risk\tcycle_days\t"
      "next_purchase_unix\trelative_price_level\tdiscount_share\tgrowth_value\tgrowth_tier\t"
      "due_items\n"
      "u9\t1\tvip\t\t0.5\t0\t0\t0\t-1\t-1\t10\tgold\t\n";
  RECSYS_ASSERT_OK_AND_ASSIGN(back, ParseIntelTsv(old));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].growth_tier, "gold");
  EXPECT_EQ(back[0].birthday, "");
  EXPECT_EQ(ParseIntelTsv(old + "u8\t1\t\t\t0\t0\t0\t0\t-1\t-1\t0\t\t\t04-01\n")
                .status()
                .message(),
            "intel.tsv line 3: 14 columns, expected 13");
  // An unreadable birthday is left out when writing (and counted).
  u.birthday = "13-01";
  int64_t dropped = 0;
  RECSYS_ASSERT_OK_AND_ASSIGN(tsv, IntelToTsv({u}, &dropped));
  EXPECT_EQ(dropped, 1);
  RECSYS_ASSERT_OK_AND_ASSIGN(back, ParseIntelTsv(tsv));
  EXPECT_EQ(back[0].birthday, "");
}

TEST(IntelTsvTest, LiveProgressRoundTripsAndOlderFilesReadWithout) {
  UserIntel u = Sample();
  u.live = {{.tag = "fitness_enthusiast",
             .category = "sports",
             .min_purchases = 3,
             .purchases = 1,
             .spend = 12.5},
            {.tag = "gamer",
             .category = "toys",
             .min_spend = 99.5,
             .min_views = 4,
             .spend = 10.25,
             .views = 2},
            {.tag = "bad|tag", .category = "toys", .min_views = 1}};
  int64_t dropped = 0;
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string tsv, IntelToTsv({u}, &dropped));
  EXPECT_EQ(dropped, 1);
  EXPECT_NE(tsv.find("fitness_enthusiast@sports@3@0@0@1@12.5@0|gamer@toys@0@99.5@4@0@10.25@2"),
            std::string::npos)
      << tsv;
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<UserIntel> back, ParseIntelTsv(tsv));
  ASSERT_EQ(back[0].live.size(), 2u);
  EXPECT_EQ(back[0].live[1].tag, "gamer");
  EXPECT_EQ(back[0].live[1].category, "toys");
  EXPECT_EQ(back[0].live[1].min_spend, 99.5);
  EXPECT_EQ(back[0].live[1].min_views, 4);
  EXPECT_EQ(back[0].live[1].spend, 10.25);
  EXPECT_EQ(back[0].live[1].views, 2);
  EXPECT_EQ(back[0].live[0].min_purchases, 3);
  EXPECT_EQ(back[0].live[0].purchases, 1);
  // The layout before the live column (with the birthday).
  const std::string old =
      "user_id\tas_of\ttags\taffinities\tpurchase_intent\tchurn_risk\tcycle_days\t"
      "next_purchase_unix\trelative_price_level\tdiscount_share\tgrowth_value\tgrowth_tier\t"
      "due_items\tbirthday\n"
      "u9\t1\tvip\t\t0.5\t0\t0\t0\t-1\t-1\t10\tgold\t\t04-01\n";
  RECSYS_ASSERT_OK_AND_ASSIGN(back, ParseIntelTsv(old));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].birthday, "04-01");
  EXPECT_TRUE(back[0].live.empty());
  // A malformed entry names the field.
  std::string bad = tsv;
  bad.replace(bad.find("@12.5@"), 6, "@x@");
  EXPECT_NE(ParseIntelTsv(bad).status().message().find("live: malformed"), std::string::npos)
      << ParseIntelTsv(bad).status();
}

TEST(ParseBirthdayTest, MonthDayOrFullDate) {
  int m = 0, d = 0;
  EXPECT_TRUE(ParseBirthday("04-12", &m, &d));
  EXPECT_EQ(m, 4);
  EXPECT_EQ(d, 12);
  EXPECT_TRUE(ParseBirthday("1985-12-31", &m, &d));
  EXPECT_EQ(m, 12);
  EXPECT_EQ(d, 31);
  EXPECT_TRUE(ParseBirthday("02-29", &m, &d));
  for (const char* bad : {"", "4-12", "04/12", "13-01", "00-10", "04-31", "02-30", "04-00",
                          "1985-4-12", "85-04-12", "x985-04-12", "04-1a", "+4-12"}) {
    EXPECT_FALSE(ParseBirthday(bad, &m, &d)) << bad;
  }
}

}  // namespace
}  // namespace recsys::intelligence
