// Triggered offers: the validated configuration (recsys.v1.TriggersConfig,
// proto/recsys/v1/triggers.proto) in the form the trigger engine
// (trigger_engine.h) uses, and the time arithmetic of sending (active hour,
// quiet hours).
//
//   absl::StatusOr<TriggersConfig> config =
//       LoadTriggersConfig("deploy/triggers.textproto");
//
// Parse / Load fail with InvalidArgument naming the field by its path
// ("rules[1].on_event: unknown event type 'cart' (expected one of view,
// add_to_cart, purchase, click)", "rules[0]: empty rule (needs on_event or
// on_signal)", "rules[2].delay: bad duration '4 hours'") or, for syntax
// errors, by line and column. Defaults: docs/marketing.md ("Triggered
// offers").
//
// Thread safety: plain values and free functions.
#ifndef RECSYS_MARKETING_TRIGGERS_H_
#define RECSYS_MARKETING_TRIGGERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "feature_store/feature_store.h"
#include "marketing/segments.h"

namespace recsys::marketing {

// What starts a rule.
enum class TriggerSignal {
  kNone = 0,           // an event (TriggerRule::on_event)
  kWinBack = 1,        // an at-risk valuable customer, or an intent drop
  kReplenishment = 2,  // a repurchase due
  kBirthday = 3,       // the customer's birthday (once a year)
};

struct TriggerRule {
  std::string name;
  // Set for event rules; kNone with signal rules.
  bool on_event = false;
  feature_store::EventType event = feature_store::EventType::kAddToCart;
  TriggerSignal signal = TriggerSignal::kNone;
  std::vector<feature_store::EventType> cancel_on;
  // Event rules: > 0.
  absl::Duration delay = absl::ZeroDuration();
  bool at_active_hour = false;
  std::string coupon_id;    // empty: no coupon
  std::string campaign;     // the name when not configured
  std::string template_id;  // the name when not configured
  // Win-back: least churn risk [0.5]; the segments standing in without
  // signals [at_risk]; least spend [0].
  double min_churn_risk = 0.5;
  std::vector<Segment> fallback_segments = {Segment::kAtRisk};
  double min_monetary = 0;
  // Birthday: due this many days before the birthday [0].
  int days_before = 0;
};

struct TriggersConfig {
  std::vector<TriggerRule> rules;
  // Offers per user per rolling day / week over every rule; 0: no cap.
  int per_day_cap = 0;
  int per_week_cap = 0;
  // UTC hours [quiet_start, quiet_end), wrapping; equal: no quiet hours.
  int quiet_start = 0;
  int quiet_end = 0;
  int default_active_hour = 18;
  std::string stream = "offers";
  int64_t stream_maxlen = 100000;
  absl::Duration offer_id_ttl = absl::Hours(24 * 30);
  int claim_batch = 500;
  absl::Duration claim_lease = absl::Minutes(5);

  // nullptr for an unknown name.
  const TriggerRule* Find(absl::string_view name) const;
};

// "win_back", "replenishment", "birthday" ("" for kNone).
absl::string_view TriggerSignalName(TriggerSignal signal);

// Parses protobuf text format; `origin` names the source in messages.
absl::StatusOr<TriggersConfig> ParseTriggersConfig(
    absl::string_view text, absl::string_view origin = "triggers config");
// Reads and parses a file; NotFound when it cannot be read.
absl::StatusOr<TriggersConfig> LoadTriggersConfig(const std::string& path);

// "4h", "30m", "90s", "7d" (d = 24 h), or combinations absl::ParseDuration
// accepts ("1h30m"); InvalidArgument naming `field` otherwise or when
// negative.
absl::StatusOr<absl::Duration> ParseTriggerDuration(absl::string_view field,
                                                    absl::string_view text);

// True when `t`'s UTC hour lies in the quiet hours.
bool InQuietHours(const TriggersConfig& config, absl::Time t);

// When an offer that is due at `due` is sent: at the next time from `due`
// whose UTC hour is `active_hour` (the start of that hour, or `due` itself
// inside it) when `at_active_hour`, else `due`; then, when that falls in the
// quiet hours, the end of the quiet hours. Never before `due`.
absl::Time SendTime(const TriggersConfig& config, absl::Time due,
                    bool at_active_hour, int active_hour);

// The next birthday (UTC date) on or after `now`'s UTC date for a birthday
// on `month`-`day` (1..12, 1..31); 02-29 falls on 02-28 in common years.
absl::CivilDay NextBirthday(int month, int day, absl::Time now);

}  // namespace recsys::marketing

#endif  // RECSYS_MARKETING_TRIGGERS_H_
