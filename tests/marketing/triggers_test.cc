// The triggers configuration: parsing, validation naming the field, and the
// send-time arithmetic (active hour, quiet hours).
#include "marketing/triggers.h"

#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace recsys::marketing {
namespace {

using ::testing::HasSubstr;

absl::Time Utc(int y, int m, int d, int hh, int mm = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0),
                         absl::UTCTimeZone());
}

std::string ErrorOf(const std::string& text) {
  absl::StatusOr<TriggersConfig> c = ParseTriggersConfig(text);
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(c.status().message());
}

TEST(TriggersConfigTest, ParsesRulesWithDefaults) {
  RECSYS_ASSERT_OK_AND_ASSIGN(TriggersConfig c, ParseTriggersConfig(R"pb(
                                rules {
                                  name: "cart_abandoned"
                                  on_event: "add_to_cart"
                                  cancel_on: "purchase"
                                  delay: "4h"
                                  coupon_id: "CART5"
                                }
                                rules {
                                  name: "review"
                                  on_event: "purchase"
                                  delay: "7d"
                                  at_active_hour: true
                                }
                                rules {
                                  name: "win_back"
                                  on_signal: "win_back"
                                  fallback_segments: "at_risk"
                                  fallback_segments: "dormant"
                                  min_monetary: 100
                                }
                                caps { per_day: 1 per_week: 3 }
                                quiet_hours { start_hour: 22 end_hour: 7 }
                              )pb"));
  ASSERT_EQ(c.rules.size(), 3u);
  EXPECT_EQ(c.rules[0].event, feature_store::EventType::kAddToCart);
  EXPECT_EQ(c.rules[0].delay, absl::Hours(4));
  EXPECT_EQ(c.rules[0].campaign, "cart_abandoned");
  EXPECT_EQ(c.rules[0].template_id, "cart_abandoned");
  ASSERT_EQ(c.rules[0].cancel_on.size(), 1u);
  EXPECT_EQ(c.rules[1].delay, absl::Hours(24 * 7));
  EXPECT_EQ(c.rules[2].signal, TriggerSignal::kWinBack);
  EXPECT_EQ(c.rules[2].fallback_segments.size(), 2u);
  EXPECT_EQ(c.per_day_cap, 1);
  EXPECT_EQ(c.default_active_hour, 18);
  EXPECT_EQ(c.stream, "offers");
  EXPECT_EQ(c.offer_id_ttl, absl::Hours(24 * 30));
}

TEST(TriggersConfigTest, ErrorsNameTheField) {
  EXPECT_THAT(
      ErrorOf(R"pb(rules { name: "a" on_event: "cart" delay: "4h" })pb"),
      HasSubstr("rules[0].on_event: unknown event type 'cart'"));
  EXPECT_THAT(ErrorOf(R"pb(rules { name: "a" on_event: "view" delay: "1h" }
                           rules {})pb"),
              HasSubstr("rules[1]: empty rule"));
  EXPECT_THAT(ErrorOf(R"pb(rules { name: "a" })pb"),
              HasSubstr("rules[0]: empty rule"));
  EXPECT_THAT(
      ErrorOf(R"pb(rules { name: "a" on_event: "view" delay: "4 hours" })pb"),
      HasSubstr("rules[0].delay: bad duration '4 hours'"));
  EXPECT_THAT(
      ErrorOf(R"pb(rules { name: "a" on_event: "view" delay: "-1h" })pb"),
      HasSubstr("rules[0].delay: must not be negative"));
  EXPECT_THAT(ErrorOf(R"pb(rules { name: "a" on_event: "view" })pb"),
              HasSubstr("rules[0].delay: an on_event rule needs a delay > 0"));
  EXPECT_THAT(
      ErrorOf(R"pb(rules { name: "a" on_event: "view" delay: "91d" })pb"),
      HasSubstr("rules[0].delay: must be at most 90d"));
  EXPECT_THAT(
      ErrorOf(R"pb(rules { name: "a" on_signal: "win_back" delay: "1h" })pb"),
      HasSubstr("rules[0].delay: an on_signal rule takes no delay"));
  EXPECT_THAT(ErrorOf(R"pb(rules { name: "a" on_signal: "lapse" })pb"),
              HasSubstr("rules[0].on_signal: unknown signal 'lapse'"));
  EXPECT_THAT(ErrorOf(R"pb(rules {
                             name: "a"
                             on_event: "view"
                             delay: "1h"
                             cancel_on: "purchase"
                             cancel_on: "refund"
                           })pb"),
              HasSubstr("rules[0].cancel_on[1]: unknown event type 'refund'"));
  EXPECT_THAT(
      ErrorOf(R"pb(rules { name: "a" on_event: "view" delay: "1h" }
                   rules { name: "a" on_event: "click" delay: "1h" })pb"),
      HasSubstr("rules[1].name: duplicate name 'a' (also rules[0])"));
  EXPECT_THAT(
      ErrorOf(R"pb(rules { name: "a b" on_event: "view" delay: "1h" })pb"),
      HasSubstr("rules[0].name:"));
  EXPECT_THAT(
      ErrorOf(R"pb(rules {
                     name: "a"
                     on_signal: "win_back"
                     fallback_segments: "sleepy"
                   })pb"),
      HasSubstr("rules[0].fallback_segments[0]: unknown segment 'sleepy'"));
  EXPECT_THAT(ErrorOf(R"pb(rules { name: "a" on_signal: "birthday" days_before: 31 })pb"),
              HasSubstr("rules[0].days_before: must be in [0, 30], got 31"));
  EXPECT_THAT(ErrorOf(R"pb(rules { name: "a" on_signal: "win_back" days_before: 2 })pb"),
              HasSubstr("rules[0].days_before: applies to on_signal: \"birthday\" only"));
  EXPECT_THAT(ErrorOf(R"pb(quiet_hours { start_hour: 24 })pb"),
              HasSubstr("quiet_hours.start_hour: must be in [0, 23], got 24"));
  EXPECT_THAT(ErrorOf(R"pb(caps { per_day: -1 })pb"),
              HasSubstr("caps.per_day"));
  EXPECT_THAT(ErrorOf(R"pb(offer_id_ttl: "soon")pb"),
              HasSubstr("offer_id_ttl: bad duration"));
  EXPECT_THAT(ErrorOf(R"pb(claim_lease: "0s")pb"),
              HasSubstr("claim_lease: must be at least 1s"));
  EXPECT_THAT(ErrorOf(R"pb(rules { name: "a" on_event: "view" delay: "1h")pb"),
              HasSubstr("line 1"));
}

TEST(TriggersConfigTest, DeployedConfigLoads) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      TriggersConfig c,
      LoadTriggersConfig(RECSYS_DEPLOY_DIR "/triggers.textproto"));
  EXPECT_NE(c.Find("cart_abandoned"), nullptr);
}

TEST(TriggersConfigTest, BirthdayRule) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      TriggersConfig c,
      ParseTriggersConfig(R"pb(rules { name: "bday" on_signal: "birthday" days_before: 3 })pb"));
  ASSERT_EQ(c.rules.size(), 1u);
  EXPECT_EQ(c.rules[0].signal, TriggerSignal::kBirthday);
  EXPECT_EQ(c.rules[0].days_before, 3);
  EXPECT_EQ(TriggerSignalName(TriggerSignal::kBirthday), "birthday");
}

TEST(NextBirthdayTest, ThisYearOrNextAndFebruary29) {
  EXPECT_EQ(NextBirthday(3, 7, Utc(2024, 3, 5, 23)), absl::CivilDay(2024, 3, 7));
  EXPECT_EQ(NextBirthday(3, 5, Utc(2024, 3, 5, 23)), absl::CivilDay(2024, 3, 5));  // today
  EXPECT_EQ(NextBirthday(3, 4, Utc(2024, 3, 5, 0)), absl::CivilDay(2025, 3, 4));
  EXPECT_EQ(NextBirthday(1, 2, Utc(2024, 12, 31, 12)), absl::CivilDay(2025, 1, 2));
  // February 29: itself in a leap year, February 28 otherwise.
  EXPECT_EQ(NextBirthday(2, 29, Utc(2024, 2, 1, 0)), absl::CivilDay(2024, 2, 29));
  EXPECT_EQ(NextBirthday(2, 29, Utc(2025, 2, 1, 0)), absl::CivilDay(2025, 2, 28));
  EXPECT_EQ(NextBirthday(2, 29, Utc(2025, 3, 1, 0)), absl::CivilDay(2026, 2, 28));
  EXPECT_EQ(NextBirthday(12, 31, Utc(2025, 12, 31, 23)), absl::CivilDay(2025, 12, 31));
}

TEST(SendTimeTest, ActiveHourAndQuietHours) {
  TriggersConfig c;
  c.quiet_start = 22;
  c.quiet_end = 7;
  // Not at the active hour, outside the quiet hours: as due.
  EXPECT_EQ(SendTime(c, Utc(2024, 3, 5, 10, 30), false, 18),
            Utc(2024, 3, 5, 10, 30));
  // At the active hour: the next 18:00, or now when inside the hour.
  EXPECT_EQ(SendTime(c, Utc(2024, 3, 5, 10, 30), true, 18),
            Utc(2024, 3, 5, 18));
  EXPECT_EQ(SendTime(c, Utc(2024, 3, 5, 18, 40), true, 18),
            Utc(2024, 3, 5, 18, 40));
  EXPECT_EQ(SendTime(c, Utc(2024, 3, 5, 19, 0), true, 18), Utc(2024, 3, 6, 18));
  // Quiet hours wrap past midnight and end at 07:00.
  EXPECT_TRUE(InQuietHours(c, Utc(2024, 3, 5, 23)));
  EXPECT_TRUE(InQuietHours(c, Utc(2024, 3, 5, 6, 59)));
  EXPECT_FALSE(InQuietHours(c, Utc(2024, 3, 5, 7)));
  EXPECT_EQ(SendTime(c, Utc(2024, 3, 5, 23, 15), false, 18),
            Utc(2024, 3, 6, 7));
  EXPECT_EQ(SendTime(c, Utc(2024, 3, 6, 2, 0), false, 18), Utc(2024, 3, 6, 7));
  // An active hour inside the quiet hours moves to their end.
  EXPECT_EQ(SendTime(c, Utc(2024, 3, 5, 10), true, 23), Utc(2024, 3, 6, 7));
  c.quiet_start = c.quiet_end = 0;
  EXPECT_FALSE(InQuietHours(c, Utc(2024, 3, 5, 23)));
}

}  // namespace
}  // namespace recsys::marketing
