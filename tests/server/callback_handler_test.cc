// The invalid-UTF-8 walker of the callback handler (server/callback_handler.h),
// without gRPC: protobuf wire bytes in, dropped fields and their paths out.
// tests/server/server_test.cc sends the same kind of bytes through gRPC.
#include "server/callback_handler.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recsys/v1/marketing.pb.h"
#include "recsys/v1/recommender.pb.h"

namespace recsys::server {
namespace {

namespace v1 = recsys::v1;
using ::testing::ElementsAre;

// A 6-byte marker put into string fields and replaced, in the serialized
// bytes, by 6 bytes that are not UTF-8 (the length prefix stays right).
constexpr char kMarker[] = "@BAD@!";
const std::string kInvalid("\xff\xfe\xc0\x80\xed\xa0", 6);

std::string WithInvalidUtf8(const google::protobuf::Message& message) {
  std::string wire = message.SerializeAsString();
  for (size_t at = wire.find(kMarker); at != std::string::npos;
       at = wire.find(kMarker, at)) {
    wire.replace(at, 6, kInvalid);
  }
  return wire;
}

TEST(DropInvalidUtf8Test, ValidBytesAreKeptAsTheyAre) {
  v1::RecordEventsRequest request;
  for (int i = 0; i < 3; ++i) {
    v1::Event* e = request.add_events();
    e->set_user_id("u" + std::to_string(i));
    e->set_item_id("é-item-日本");
    e->set_timestamp_unix(1700000000 + i);
  }
  std::string cleaned;
  std::vector<std::string> fields;
  ASSERT_TRUE(DropInvalidUtf8(*v1::RecordEventsRequest::descriptor(),
                              request.SerializeAsString(), &cleaned, &fields));
  EXPECT_TRUE(fields.empty());
  v1::RecordEventsRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(cleaned));
  EXPECT_EQ(parsed.SerializeAsString(), request.SerializeAsString());
}

TEST(DropInvalidUtf8Test, NestedRepeatedFieldIsNamedWithItsIndexAndDropped) {
  v1::RecordEventsRequest request;
  for (int i = 0; i < 5; ++i) {
    v1::Event* e = request.add_events();
    e->set_type(v1::EVENT_VIEW);
    e->set_user_id("u" + std::to_string(i));
    e->set_item_id(i == 3 ? kMarker : "i" + std::to_string(i));
    e->set_price(2.5);
  }
  const std::string wire = WithInvalidUtf8(request);
  v1::RecordEventsRequest strict;
  ASSERT_FALSE(strict.ParseFromString(wire))
      << "protobuf accepted invalid UTF-8";

  std::string cleaned;
  std::vector<std::string> fields;
  ASSERT_TRUE(DropInvalidUtf8(*v1::RecordEventsRequest::descriptor(), wire,
                              &cleaned, &fields));
  EXPECT_THAT(fields, ElementsAre("events[3].item_id"));
  v1::RecordEventsRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(cleaned));
  ASSERT_EQ(parsed.events_size(), 5);
  EXPECT_EQ(parsed.events(3).item_id(), "");
  EXPECT_EQ(parsed.events(3).user_id(), "u3");
  EXPECT_EQ(parsed.events(3).price(), 2.5);
  EXPECT_EQ(parsed.events(4).item_id(), "i4");
}

TEST(DropInvalidUtf8Test, EveryBadFieldIsListedInWireOrder) {
  v1::RecommendProductsRequest request;
  request.set_user_id(kMarker);
  request.add_slots()->set_name("homepage");
  request.mutable_filters()->add_categories("books");
  request.mutable_filters()->add_categories(kMarker);
  request.mutable_filters()->add_exclude_item_ids(kMarker);
  std::string cleaned;
  std::vector<std::string> fields;
  ASSERT_TRUE(DropInvalidUtf8(*v1::RecommendProductsRequest::descriptor(),
                              WithInvalidUtf8(request), &cleaned, &fields));
  EXPECT_THAT(fields, ElementsAre("user_id", "filters.categories[1]",
                                  "filters.exclude_item_ids[0]"));
  v1::RecommendProductsRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(cleaned));
  EXPECT_EQ(parsed.user_id(), "");
  EXPECT_EQ(parsed.slots(0).name(), "homepage");
  ASSERT_EQ(parsed.filters().categories_size(), 1);
  EXPECT_EQ(parsed.filters().categories(0), "books");
  EXPECT_EQ(InvalidUtf8Message(fields),
            "user_id: invalid UTF-8 (and 2 more string fields)");
}

TEST(DropInvalidUtf8Test, MessagesOfTheMarketingProtoAreWalkedToo) {
  v1::CouponCatalog catalog;
  catalog.add_coupons()->set_id("ok");
  catalog.add_coupons()->set_id(kMarker);
  std::string cleaned;
  std::vector<std::string> fields;
  ASSERT_TRUE(DropInvalidUtf8(*v1::CouponCatalog::descriptor(),
                              WithInvalidUtf8(catalog), &cleaned, &fields));
  EXPECT_THAT(fields, ElementsAre("coupons[1].id"));
  EXPECT_EQ(InvalidUtf8Message(fields), "coupons[1].id: invalid UTF-8");
}

TEST(DropInvalidUtf8Test, BytesThatAreNotAMessageAreRefused) {
  std::string cleaned;
  std::vector<std::string> fields;
  // user_id announces 5 bytes, 2 follow.
  EXPECT_FALSE(DropInvalidUtf8(*v1::GetUserProfileRequest::descriptor(),
                               std::string("\x0a\x05"
                                           "ab",
                                           4),
                               &cleaned, &fields));
  // A nested message (events[0]) whose own bytes are truncated.
  EXPECT_FALSE(DropInvalidUtf8(*v1::RecordEventsRequest::descriptor(),
                               std::string("\x0a\x02\x12\x05", 4), &cleaned,
                               &fields));
}

TEST(MethodIndexTest, FollowsTheDeclarationOrderOfTheService) {
  const auto* file = v1::RecommendProductsRequest::descriptor()->file();
  const auto& recommender = *file->FindServiceByName("Recommender");
  EXPECT_EQ(MethodIndex(recommender, "RecommendProducts"), 0);
  EXPECT_EQ(MethodIndex(recommender, "RecordEvents"), 4);
  EXPECT_EQ(MethodIndex(recommender, "NoSuchMethod"), -1);
  EXPECT_EQ(MethodIndex(*file->FindServiceByName("Admin"), "DeleteCoupon"), 7);
}

TEST(CallCounterTest, CountsAddsAndRemoves) {
  CallCounter counter;
  EXPECT_EQ(counter.Add(), 1);
  EXPECT_EQ(counter.Add(), 2);
  counter.Remove();
  EXPECT_EQ(counter.in_flight(), 1);
  {
    CallMessages<v1::GetUserProfileRequest, v1::UserProfile, 256>* messages =
        new CallMessages<v1::GetUserProfileRequest, v1::UserProfile, 256>(
            &counter);
    EXPECT_EQ(messages->in_flight_at_start(), 2);
    EXPECT_EQ(counter.in_flight(), 2);
    messages->Release();
  }
  EXPECT_EQ(counter.in_flight(), 1);
}

}  // namespace
}  // namespace recsys::server
