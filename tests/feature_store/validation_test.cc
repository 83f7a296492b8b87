#include "feature_store/validation.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/feature_store/test_util.h"
#include "tests/testing/status_matchers.h"

namespace recsys::feature_store::internal {
namespace {

using test::MakeEvent;
using test::Purchase;
using test::T;
using test::View;

TEST(ValidateEventsTest, AcceptsItemEvents) {
  const Event events[] = {
      View("u", "a", T(1)),
      Purchase("u", "a", T(2)),
      MakeEvent(EventType::kAddToCart, "u", "a", T(3)),
      MakeEvent(EventType::kClick, "u", "a", T(4)),
      MakeEvent(EventType::kImpression, "u", "a", T(5)),
      // Times before 1970 are fine.
      View("u", "a", absl::FromUnixSeconds(-100)),
  };
  RECSYS_EXPECT_OK(ValidateEvents(events));
  RECSYS_EXPECT_OK(ValidateEvents({}));
}

TEST(ValidateEventsTest, FirstProblemWinsAndIsNamed) {
  const Event events[] = {View("u", "a", T(1)), View("u", "", T(2)),
                          View("", "a", T(3))};
  absl::Status status = ValidateEvents(events);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "events[1].item_id is empty");
}

TEST(ValidateEventsTest, CouponIsUnimplemented) {
  const Event events[] = {MakeEvent(EventType::kCouponRedeemed, "u", "", T(1))};
  absl::Status status = ValidateEvents(events);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(status.message().find("coupon_redeemed"), absl::string_view::npos)
      << status;
}

TEST(ValidateEventsTest, InfiniteTimesAreInvalid) {
  const Event events[] = {View("u", "a", absl::InfinitePast())};
  EXPECT_EQ(ValidateEvents(events).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidateUsersTest, NamesTheBadField) {
  const UserFeatures users[] = {{.user_id = "u",
                                 .purchases = {{.item_id = "a", .count = 1},
                                               {.item_id = "", .count = 1}}}};
  absl::Status status = ValidateUsers(users);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "users[0].purchases[1].item_id is empty");
}

TEST(ValidateItemsTest, NamesTheBadIndex) {
  const ItemFeatures items[] = {{.item_id = "a"}, {.item_id = ""}};
  EXPECT_EQ(ValidateItems(items).message(), "items[1].item_id is empty");
  const std::string ids[] = {"", "a"};
  EXPECT_EQ(ValidateItemIds(ids).message(), "item_ids[0] is empty");
  EXPECT_EQ(ValidateUserId("").code(), absl::StatusCode::kInvalidArgument);
  RECSYS_EXPECT_OK(ValidateUserId("u"));
}

TEST(TruncateToSecondsTest, RoundsDown) {
  EXPECT_EQ(TruncateToSeconds(T(5) + absl::Milliseconds(999)), T(5));
  EXPECT_EQ(TruncateToSeconds(T(5)), T(5));
  EXPECT_EQ(TruncateToSeconds(absl::FromUnixMillis(-1500)),
            absl::FromUnixSeconds(-2));
  EXPECT_EQ(TruncateToSeconds(absl::InfinitePast()), absl::InfinitePast());
  EXPECT_EQ(TruncateToSeconds(absl::InfiniteFuture()), absl::InfiniteFuture());
}

}  // namespace
}  // namespace recsys::feature_store::internal
