#include "marketing/audience.h"

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "marketing/coupon_store.h"
#include "tests/testing/status_matchers.h"

namespace recsys::marketing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1700000000;
constexpr int64_t kDay = 86400;
const absl::Time kAt = absl::FromUnixSeconds(kNow);

struct Collected {
  std::vector<std::string> ids;
  std::vector<float> scores;
  std::vector<size_t> chunk_sizes;
  std::vector<AudienceMember> members;
};

AudienceSink CollectInto(Collected* out) {
  return [out](absl::Span<const AudienceMember> chunk) {
    out->chunk_sizes.push_back(chunk.size());
    for (const AudienceMember& m : chunk) {
      out->ids.emplace_back(m.user_id);
      out->scores.push_back(m.score);
      out->members.push_back(m);
    }
    return true;
  };
}

// Users u0..u{n-1} in 2 dims; user i's vector is (i, 1), so with target
// (1, 0) the score is i.
std::unique_ptr<const AudienceTable> Line(
    int n, const std::vector<AudienceUser>& attrs = {}) {
  std::vector<float> vectors;
  std::vector<AudienceUser> users;
  for (int i = 0; i < n; ++i) {
    vectors.push_back(static_cast<float>(i));
    vectors.push_back(1);
    AudienceUser u =
        i < static_cast<int>(attrs.size()) ? attrs[i] : AudienceUser();
    u.user_id = absl::StrCat("u", i);
    users.push_back(u);
  }
  absl::StatusOr<std::unique_ptr<const AudienceTable>> table =
      AudienceTable::Create(2, std::move(vectors), std::move(users));
  EXPECT_TRUE(table.ok()) << table.status();
  return table.ok() ? *std::move(table) : nullptr;
}

const std::vector<float> kTarget = {1, 0};

TEST(AudienceTableTest, CreateChecks) {
  EXPECT_EQ(AudienceTable::Create(0, {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<AudienceUser> users(2);
  users[0].user_id = "a";
  users[1].user_id = "b";
  EXPECT_THAT(
      std::string(
          AudienceTable::Create(2, {1, 2, 3}, users).status().message()),
      HasSubstr("vectors: 3 values for 2 users x dim 2"));
  EXPECT_THAT(
      std::string(AudienceTable::Create(1, {1, NAN}, users).status().message()),
      HasSubstr("non-finite value for user row 1"));
  users[1].user_id = "a";
  EXPECT_THAT(
      std::string(AudienceTable::Create(1, {1, 2}, users).status().message()),
      HasSubstr("users[1].user_id: duplicate 'a'"));
  users[1].user_id = "";
  EXPECT_THAT(
      std::string(AudienceTable::Create(1, {1, 2}, users).status().message()),
      HasSubstr("users[1].user_id: empty"));
  users[1].user_id = "b";
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<const AudienceTable> table,
                              AudienceTable::Create(1, {1, 2}, users));
  EXPECT_EQ(table->size(), 2);
  EXPECT_EQ(table->dim(), 1);
  EXPECT_EQ(table->vector(1)[0], 2);
  EXPECT_EQ(table->user(1).user_id, "b");
}

TEST(ScanAudienceTest, SortedAndChunked) {
  std::unique_ptr<const AudienceTable> table = Line(10);
  Collected got;
  RECSYS_ASSERT_OK_AND_ASSIGN(
      AudienceStats stats, ScanAudience(*table, kTarget, {}, kAt, nullptr,
                                        {.chunk_size = 4}, CollectInto(&got)));
  EXPECT_THAT(got.ids, ElementsAre("u9", "u8", "u7", "u6", "u5", "u4", "u3",
                                   "u2", "u1", "u0"));
  EXPECT_THAT(got.chunk_sizes, ElementsAre(4, 4, 2));
  EXPECT_FLOAT_EQ(got.scores[0], 9);
  EXPECT_FLOAT_EQ(got.scores[9], 0);
  EXPECT_EQ(got.members[0].row, 9);
  EXPECT_EQ(stats.scanned, 10);
  EXPECT_EQ(stats.matched, 10);
  EXPECT_EQ(stats.delivered, 10);
  EXPECT_FALSE(stats.stopped);
}

TEST(ScanAudienceTest, TiesBreakByRowAndNegativeScoresSortBelow) {
  // Scores: 1, -2, 1, 0, -0.5, 1 (target (1, 0)).
  std::vector<float> vectors = {1, 0, -2, 0, 1, 0, 0, 5, -0.5, 0, 1, 0};
  std::vector<AudienceUser> users(6);
  for (int i = 0; i < 6; ++i) users[i].user_id = absl::StrCat("u", i);
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<const AudienceTable> table,
      AudienceTable::Create(2, std::move(vectors), std::move(users)));
  Collected got;
  RECSYS_ASSERT_OK(
      ScanAudience(*table, kTarget, {}, kAt, nullptr, {}, CollectInto(&got))
          .status());
  EXPECT_THAT(got.ids, ElementsAre("u0", "u2", "u5", "u3", "u4", "u1"));
  EXPECT_THAT(got.scores, ElementsAre(1, 1, 1, 0, -0.5, -2));
  EXPECT_THAT(got.chunk_sizes, ElementsAre(6));
}

TEST(ScanAudienceTest, SegmentTierAndRecencyFilters) {
  std::vector<AudienceUser> attrs(8);
  const Segment segments[] = {Segment::kDormant,     Segment::kCore,
                              Segment::kDeepDormant, Segment::kDormant,
                              Segment::kNew,         Segment::kDormant,
                              Segment::kAtRisk,      Segment::kDeepDormant};
  const Tier tiers[] = {Tier::kGold, Tier::kGold, Tier::kNone, Tier::kSilver,
                        Tier::kGold, Tier::kGold, Tier::kGold, Tier::kGold};
  const int days[] = {90, 10, 200, 95, 3, 89, -1, 400};  // -1: no order
  for (int i = 0; i < 8; ++i) {
    attrs[i].segment = segments[i];
    attrs[i].tier = tiers[i];
    attrs[i].last_purchase_unix = days[i] < 0 ? 0 : kNow - days[i] * kDay;
  }
  std::unique_ptr<const AudienceTable> table = Line(8, attrs);

  Collected dormant;
  AudienceFilter filter;
  filter.segments = {Segment::kDormant, Segment::kDeepDormant};
  RECSYS_ASSERT_OK_AND_ASSIGN(
      AudienceStats stats, ScanAudience(*table, kTarget, filter, kAt, nullptr,
                                        {}, CollectInto(&dormant)));
  EXPECT_THAT(dormant.ids, ElementsAre("u7", "u5", "u3", "u2", "u0"));
  EXPECT_EQ(stats.matched, 5);

  Collected gold_dormant;
  filter.tiers = {Tier::kGold};
  RECSYS_ASSERT_OK(ScanAudience(*table, kTarget, filter, kAt, nullptr, {},
                                CollectInto(&gold_dormant))
                       .status());
  EXPECT_THAT(gold_dormant.ids, ElementsAre("u7", "u5", "u0"));

  // At least 90 days since the last order: 90 passes, 89 does not, users
  // without orders never do.
  Collected long_ago;
  AudienceFilter recency;
  recency.min_days_since_purchase = 90;
  RECSYS_ASSERT_OK(ScanAudience(*table, kTarget, recency, kAt, nullptr, {},
                                CollectInto(&long_ago))
                       .status());
  EXPECT_THAT(long_ago.ids, ElementsAre("u7", "u3", "u2", "u0"));
  for (const AudienceMember& m : long_ago.members)
    EXPECT_GE(m.days_since_purchase, 90);
  EXPECT_EQ(long_ago.members.back().days_since_purchase, 90);
  EXPECT_EQ(long_ago.members.back().segment, Segment::kDormant);
  EXPECT_EQ(long_ago.members.back().tier, Tier::kGold);

  Collected all;
  RECSYS_ASSERT_OK(
      ScanAudience(*table, kTarget, {}, kAt, nullptr, {}, CollectInto(&all))
          .status());
  EXPECT_EQ(all.members[1].days_since_purchase, -1);  // u6, no order
}

TEST(ScanAudienceTest, ContactCapUsesTheLookupAndKeepsLimit) {
  std::unique_ptr<const AudienceTable> table = Line(10);
  // u9, u7 and u4 were contacted 3 days ago, u8 20 days ago.
  std::map<std::string, int64_t> contacts = {{"u9", kNow - 3 * kDay},
                                             {"u7", kNow - 3 * kDay},
                                             {"u4", kNow - 3 * kDay},
                                             {"u8", kNow - 20 * kDay}};
  std::vector<size_t> lookups;
  ContactLookup lookup = [&](absl::Span<const std::string> ids)
      -> absl::StatusOr<std::vector<int64_t>> {
    lookups.push_back(ids.size());
    std::vector<int64_t> out;
    for (const std::string& id : ids) {
      auto it = contacts.find(id);
      out.push_back(it == contacts.end() ? 0 : it->second);
    }
    return out;
  };
  AudienceFilter filter;
  filter.contact_cap_days = 14;
  Collected got;
  RECSYS_ASSERT_OK_AND_ASSIGN(
      AudienceStats stats, ScanAudience(*table, kTarget, filter, kAt, lookup,
                                        {.chunk_size = 3}, CollectInto(&got)));
  EXPECT_THAT(got.ids, ElementsAre("u8", "u6", "u5", "u3", "u2", "u1", "u0"));
  EXPECT_THAT(got.chunk_sizes, ElementsAre(3, 3, 1));
  EXPECT_EQ(stats.contact_capped, 3);
  EXPECT_EQ(stats.delivered, 7);
  EXPECT_THAT(lookups, ElementsAre(3, 3, 3, 1));

  // With a limit, lookups stop once enough users are found.
  Collected top;
  lookups.clear();
  RECSYS_ASSERT_OK_AND_ASSIGN(
      stats, ScanAudience(*table, kTarget, filter, kAt, lookup,
                          {.limit = 2, .chunk_size = 3}, CollectInto(&top)));
  EXPECT_THAT(top.ids, ElementsAre("u8", "u6"));
  EXPECT_THAT(lookups, ElementsAre(3, 3));

  // A failing lookup fails the scan.
  ContactLookup broken = [](absl::Span<const std::string>)
      -> absl::StatusOr<std::vector<int64_t>> {
    return absl::UnavailableError("redis down");
  };
  Collected none;
  EXPECT_EQ(
      ScanAudience(*table, kTarget, filter, kAt, broken, {}, CollectInto(&none))
          .status()
          .code(),
      absl::StatusCode::kUnavailable);
  EXPECT_TRUE(none.ids.empty());
}

TEST(ScanAudienceTest, ContactCapWithCouponStore) {
  absl::StatusOr<std::unique_ptr<CouponStore>> store = NewInMemoryCouponStore();
  ASSERT_TRUE(store.ok());
  CouponCatalog catalog;
  Coupon* c = &catalog.coupons.emplace_back();
  c->id = "recall";
  c->type = CouponType::kAmountOff;
  c->amount_off = 5;
  c->campaign = "win_back";
  RECSYS_ASSERT_OK((*store)->PutCoupons(catalog, absl::InfiniteFuture()));
  RECSYS_ASSERT_OK((*store)->Issue("u2", "recall", kAt - absl::Hours(24),
                                   absl::InfiniteFuture()));
  std::unique_ptr<const AudienceTable> table = Line(4);
  AudienceFilter filter;
  filter.contact_cap_days = 7;
  Collected got;
  RECSYS_ASSERT_OK(ScanAudience(
                       *table, kTarget, filter, kAt,
                       [&](absl::Span<const std::string> ids) {
                         return (*store)->LastContacts("win_back", ids,
                                                       absl::InfiniteFuture());
                       },
                       {}, CollectInto(&got))
                       .status());
  EXPECT_THAT(got.ids, ElementsAre("u3", "u1", "u0"));
}

TEST(ScanAudienceTest, LimitAndEarlyStop) {
  std::unique_ptr<const AudienceTable> table = Line(10);
  Collected top;
  RECSYS_ASSERT_OK_AND_ASSIGN(
      AudienceStats stats,
      ScanAudience(*table, kTarget, {}, kAt, nullptr,
                   {.limit = 3, .chunk_size = 2}, CollectInto(&top)));
  EXPECT_THAT(top.ids, ElementsAre("u9", "u8", "u7"));
  EXPECT_THAT(top.chunk_sizes, ElementsAre(2, 1));
  EXPECT_EQ(stats.delivered, 3);

  int calls = 0;
  RECSYS_ASSERT_OK_AND_ASSIGN(
      stats, ScanAudience(*table, kTarget, {}, kAt, nullptr, {.chunk_size = 4},
                          [&](absl::Span<const AudienceMember>) {
                            ++calls;
                            return false;
                          }));
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(stats.stopped);
  EXPECT_EQ(stats.delivered, 4);
}

TEST(ScanAudienceTest, ThreadsGiveTheSameAnswer) {
  constexpr int kUsers = 5000, kDim = 16;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> value(-1, 1);
  std::vector<float> vectors(kUsers * kDim);
  for (float& x : vectors) x = value(rng);
  std::vector<AudienceUser> users(kUsers);
  for (int i = 0; i < kUsers; ++i) {
    users[i].user_id = absl::StrCat("u", i);
    users[i].segment = static_cast<Segment>(i % kNumSegments);
    users[i].last_purchase_unix = kNow - (i % 300) * kDay;
  }
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<const AudienceTable> table,
      AudienceTable::Create(kDim, std::move(vectors), std::move(users)));
  std::vector<float> target(kDim);
  for (float& x : target) x = value(rng);
  AudienceFilter filter;
  filter.segments = {Segment::kDormant, Segment::kDeepDormant};
  filter.min_days_since_purchase = 90;
  Collected one, three;
  RECSYS_ASSERT_OK(ScanAudience(*table, target, filter, kAt, nullptr,
                                {.threads = 1}, CollectInto(&one))
                       .status());
  RECSYS_ASSERT_OK(ScanAudience(*table, target, filter, kAt, nullptr,
                                {.threads = 3}, CollectInto(&three))
                       .status());
  EXPECT_EQ(one.ids, three.ids);
  ASSERT_FALSE(one.ids.empty());
  EXPECT_TRUE(std::is_sorted(one.scores.begin(), one.scores.end(),
                             std::greater<float>()));
  for (const AudienceMember& m : one.members) {
    EXPECT_TRUE(IsDormant(m.segment));
    EXPECT_GE(m.days_since_purchase, 90);
  }
  // Every matching user is delivered exactly once.
  int expected = 0;
  for (int i = 0; i < kUsers; ++i) {
    const Segment s = static_cast<Segment>(i % kNumSegments);
    expected += IsDormant(s) && (i % 300) >= 90;
  }
  EXPECT_EQ(static_cast<int>(one.ids.size()), expected);
  std::vector<std::string> sorted = one.ids;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::unique(sorted.begin(), sorted.end()), sorted.end());
}

TEST(ScanAudienceTest, BadArguments) {
  std::unique_ptr<const AudienceTable> table = Line(3);
  Collected got;
  const std::vector<float> wrong = {1, 2, 3};
  EXPECT_THAT(std::string(ScanAudience(*table, wrong, {}, kAt, nullptr, {},
                                       CollectInto(&got))
                              .status()
                              .message()),
              HasSubstr("target: has 3 values, the table's dim is 2"));
  const std::vector<float> nan = {NAN, 0};
  EXPECT_EQ(ScanAudience(*table, nan, {}, kAt, nullptr, {}, CollectInto(&got))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  AudienceFilter capped;
  capped.contact_cap_days = 3;
  EXPECT_THAT(std::string(ScanAudience(*table, kTarget, capped, kAt, nullptr,
                                       {}, CollectInto(&got))
                              .status()
                              .message()),
              HasSubstr("no last-contact lookup"));
  AudienceFilter negative;
  negative.min_days_since_purchase = -1;
  EXPECT_EQ(ScanAudience(*table, kTarget, negative, kAt, nullptr, {},
                         CollectInto(&got))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ScanAudience(*table, kTarget, {}, kAt, nullptr, {.chunk_size = 0},
                         CollectInto(&got))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ScanAudience(*table, kTarget, {}, kAt, nullptr, {.limit = -1},
                         CollectInto(&got))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ScanAudience(*table, kTarget, {}, kAt, nullptr, {.threads = 0},
                         CollectInto(&got))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(got.ids.empty());
  // An empty table delivers nothing.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<const AudienceTable> empty,
                              AudienceTable::Create(2, {}, {}));
  RECSYS_ASSERT_OK_AND_ASSIGN(
      AudienceStats stats,
      ScanAudience(*empty, kTarget, {}, kAt, nullptr, {}, CollectInto(&got)));
  EXPECT_EQ(stats.delivered, 0);
  EXPECT_TRUE(got.chunk_sizes.empty());
}

}  // namespace
}  // namespace recsys::marketing
