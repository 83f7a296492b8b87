#include "common/validation.h"

#include <string>

#include "gtest/gtest.h"

namespace recsys {
namespace {

TEST(CheckIdTest, AcceptsOrdinaryIds) {
  EXPECT_TRUE(CheckId("user_id", "u000123").ok());
  EXPECT_TRUE(CheckId("user_id", "visitor-with-no-history").ok());
  EXPECT_TRUE(CheckId("item_id", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80").ok());
  EXPECT_TRUE(CheckId("item_id", std::string(kMaxIdLength, 'a')).ok());
}

TEST(CheckIdTest, RefusesEmptyLongControlAndBadUtf8NamingTheField) {
  const std::string bad[] = {"", std::string(kMaxIdLength + 1, 'a'), "u1\n", "u\x01", "u\x7f",
                             std::string("u\0x", 3), "\xff", "\xc3", "\xc0\xaf",
                             "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"};
  for (const std::string& id : bad) {
    const absl::Status st = CheckId("events[2].user_id", id);
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << id;
    EXPECT_EQ(st.message().find("events[2].user_id: "), 0u) << st.message();
  }
}

TEST(IsValidUtf8Test, Boundaries) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("\x7f"));
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe0\x9f\xbf"));     // overlong
  EXPECT_FALSE(IsValidUtf8("\x80"));
}

TEST(CheckClientTimeTest, Window) {
  const absl::Time now = absl::FromUnixSeconds(1750000000);
  EXPECT_TRUE(CheckClientTime("t", absl::FromUnixSeconds(kEarliestUnixSeconds), now).ok());
  EXPECT_TRUE(CheckClientTime("t", now + absl::Hours(23), now).ok());
  for (int64_t s : {int64_t{-5}, int64_t{0}, int64_t{86400}, kEarliestUnixSeconds - 1}) {
    const absl::Status st =
        CheckClientTime("events[0].timestamp_unix", absl::FromUnixSeconds(s), now);
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << s;
    EXPECT_EQ(st.message().find("events[0].timestamp_unix: "), 0u) << st.message();
  }
  EXPECT_TRUE(absl::IsInvalidArgument(CheckClientTime("t", now + absl::Hours(25), now)));
}

}  // namespace
}  // namespace recsys
