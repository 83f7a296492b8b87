// Marketer's argument checks, which run before any store or model is read:
// the Marketer is built without stores.
#include "marketing/marketer.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace recsys::marketing {
namespace {

std::unique_ptr<Marketer> MakeWithoutStores(MarketerOptions options = {}) {
  auto m = Marketer::Create(nullptr, nullptr, nullptr, nullptr, options);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *std::move(m) : nullptr;
}

void ExpectField(const absl::Status& st, const std::string& field) {
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_EQ(st.message().find(field), 0u) << st;
}

absl::Status Find(const Marketer& m, const AudienceQuery& q) {
  return m.FindAudience(q, [](const std::vector<AudienceEntry>&, const MarketingMeta&) { return true; }).status();
}

TEST(MarketerInputTest, AudienceItemIdsAreLimitedAndChecked) {
  MarketerOptions options;
  options.max_audience_items = 3;
  auto m = MakeWithoutStores(options);
  ASSERT_NE(m, nullptr);
  AudienceQuery q;
  q.item_ids = {"i1", "i2", "i3", "i4"};
  ExpectField(Find(*m, q), "items.item_ids:");
  q.item_ids = {"i1", "i\x01"};
  ExpectField(Find(*m, q), "items.item_ids[1]:");
  EXPECT_EQ(MarketerOptions().max_audience_items, 1000);
}

TEST(MarketerInputTest, OfferIdsAndRequestTimeAreChecked) {
  auto m = MakeWithoutStores();
  ASSERT_NE(m, nullptr);
  AudienceQuery coupon;
  coupon.coupon_id = "C\n1";
  ExpectField(Find(*m, coupon), "coupon_id:");
  AudienceQuery category;
  category.category = "\xff";
  ExpectField(Find(*m, category), "category:");
  category.category = "c0";
  category.campaign = std::string(257, 'x');
  ExpectField(Find(*m, category), "campaign:");
  category.campaign.clear();
  category.now = absl::FromUnixSeconds(-5);
  ExpectField(Find(*m, category), "context.request_time_unix:");

  ExpectField(m->RecommendCoupons("u\x7f", 3, absl::InfinitePast(), absl::InfiniteFuture())
                  .status(),
              "user_id:");
  ExpectField(m->RecommendCoupons("u1", 3, absl::FromUnixSeconds(86400), absl::InfiniteFuture())
                  .status(),
              "context.request_time_unix:");
}

TEST(MarketerInputTest, ZeroAudienceItemLimitIsRefused) {
  MarketerOptions options;
  options.max_audience_items = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(
      Marketer::Create(nullptr, nullptr, nullptr, nullptr, options).status()));
}

}  // namespace
}  // namespace recsys::marketing
