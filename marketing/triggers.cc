#include "marketing/triggers.h"

#include <cmath>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "marketing/text_proto.h"
#include "recsys/v1/triggers.pb.h"

namespace recsys::marketing {
namespace {

using feature_store::EventType;

constexpr absl::string_view kEventChoices =
    "view, add_to_cart, purchase, click";
constexpr absl::Duration kMaxDelay = absl::Hours(24 * 90);

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// 1 to 64 bytes of [A-Za-z0-9_-].
absl::Status CheckRuleName(absl::string_view field, absl::string_view name) {
  if (name.empty() || name.size() > 64) {
    return Invalid(field,
                   absl::StrCat("must be 1 to 64 bytes, got ", name.size()));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' &&
        c != '-') {
      return Invalid(field,
                     absl::StrCat("'", name, "' may hold only [A-Za-z0-9_-]"));
    }
  }
  return absl::OkStatus();
}

// No whitespace or control bytes; may be empty.
absl::Status CheckToken(absl::string_view field, absl::string_view text) {
  if (text.size() > 256) return Invalid(field, "must be at most 256 bytes");
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return Invalid(field,
                     absl::StrCat("'", text, "' must not hold whitespace"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<EventType> ParseEventName(absl::string_view field,
                                         absl::string_view name) {
  std::optional<EventType> type = feature_store::EventTypeFromName(name);
  if (!type.has_value() || *type == EventType::kImpression ||
      *type == EventType::kCouponIssued ||
      *type == EventType::kCouponRedeemed) {
    return Invalid(
        field, absl::StrCat("unknown event type '", name, "' (expected one of ",
                            kEventChoices, ")"));
  }
  return *type;
}

absl::Status CheckHour(absl::string_view field, int hour) {
  if (hour < 0 || hour > 23)
    return Invalid(field, absl::StrCat("must be in [0, 23], got ", hour));
  return absl::OkStatus();
}

absl::StatusOr<TriggerRule> RuleFromProto(const std::string& field,
                                          const recsys::v1::TriggerRule& in) {
  TriggerRule rule;
  if (in.name().empty() && in.on_event().empty() && in.on_signal().empty()) {
    return Invalid(field,
                   "empty rule (needs a name and on_event or on_signal)");
  }
  RECSYS_RETURN_IF_ERROR(CheckRuleName(field + ".name", in.name()));
  rule.name = in.name();
  if (in.on_event().empty() == in.on_signal().empty()) {
    return Invalid(field, in.on_event().empty()
                              ? "empty rule (needs on_event or on_signal)"
                              : "on_event and on_signal are exclusive");
  }
  if (!in.on_event().empty()) {
    rule.on_event = true;
    RECSYS_ASSIGN_OR_RETURN(rule.event,
                            ParseEventName(field + ".on_event", in.on_event()));
  } else if (in.on_signal() == "win_back") {
    rule.signal = TriggerSignal::kWinBack;
  } else if (in.on_signal() == "replenishment") {
    rule.signal = TriggerSignal::kReplenishment;
  } else if (in.on_signal() == "birthday") {
    rule.signal = TriggerSignal::kBirthday;
  } else {
    return Invalid(field + ".on_signal",
                   absl::StrCat("unknown signal '", in.on_signal(),
                                "' (expected one of win_back, replenishment, birthday)"));
  }
  for (int i = 0; i < in.cancel_on_size(); ++i) {
    RECSYS_ASSIGN_OR_RETURN(
        EventType type,
        ParseEventName(absl::StrCat(field, ".cancel_on[", i, "]"),
                       in.cancel_on(i)));
    rule.cancel_on.push_back(type);
  }
  if (!in.delay().empty()) {
    RECSYS_ASSIGN_OR_RETURN(rule.delay,
                            ParseTriggerDuration(field + ".delay", in.delay()));
  }
  if (rule.on_event) {
    if (rule.delay <= absl::ZeroDuration()) {
      return Invalid(field + ".delay",
                     "an on_event rule needs a delay > 0, e.g. \"4h\"");
    }
    if (rule.delay > kMaxDelay) {
      return Invalid(
          field + ".delay",
          absl::StrCat("must be at most 90d, got '", in.delay(), "'"));
    }
  } else if (rule.delay != absl::ZeroDuration()) {
    return Invalid(field + ".delay", "an on_signal rule takes no delay");
  }
  rule.at_active_hour = in.at_active_hour();
  RECSYS_RETURN_IF_ERROR(CheckToken(field + ".coupon_id", in.coupon_id()));
  rule.coupon_id = in.coupon_id();
  RECSYS_RETURN_IF_ERROR(CheckToken(field + ".campaign", in.campaign()));
  rule.campaign = in.campaign().empty() ? rule.name : in.campaign();
  RECSYS_RETURN_IF_ERROR(CheckToken(field + ".template_id", in.template_id()));
  rule.template_id = in.template_id().empty() ? rule.name : in.template_id();
  if (!std::isfinite(in.min_churn_risk()) || in.min_churn_risk() < 0 ||
      in.min_churn_risk() > 1) {
    return Invalid(
        field + ".min_churn_risk",
        absl::StrCat("must be in [0, 1], got ", in.min_churn_risk()));
  }
  if (in.min_churn_risk() > 0) rule.min_churn_risk = in.min_churn_risk();
  if (!std::isfinite(in.min_monetary()) || in.min_monetary() < 0) {
    return Invalid(
        field + ".min_monetary",
        absl::StrCat("must be finite and >= 0, got ", in.min_monetary()));
  }
  rule.min_monetary = in.min_monetary();
  if (in.fallback_segments_size() > 0) rule.fallback_segments.clear();
  for (int i = 0; i < in.fallback_segments_size(); ++i) {
    std::optional<Segment> s = SegmentFromName(in.fallback_segments(i));
    if (!s.has_value()) {
      return Invalid(
          absl::StrCat(field, ".fallback_segments[", i, "]"),
          absl::StrCat("unknown segment '", in.fallback_segments(i), "'"));
    }
    rule.fallback_segments.push_back(*s);
  }
  if (rule.signal != TriggerSignal::kWinBack &&
      (in.min_churn_risk() > 0 || in.fallback_segments_size() > 0 ||
       in.min_monetary() > 0)) {
    return Invalid(
        field,
        "min_churn_risk, fallback_segments and min_monetary apply to "
        "on_signal: \"win_back\" only");
  }
  if (in.days_before() != 0) {
    if (rule.signal != TriggerSignal::kBirthday) {
      return Invalid(field + ".days_before", "applies to on_signal: \"birthday\" only");
    }
    if (in.days_before() < 0 || in.days_before() > 30) {
      return Invalid(field + ".days_before",
                     absl::StrCat("must be in [0, 30], got ", in.days_before()));
    }
  }
  rule.days_before = in.days_before();
  return rule;
}

absl::StatusOr<TriggersConfig> FromProto(const recsys::v1::TriggersConfig& in) {
  TriggersConfig config;
  absl::flat_hash_map<std::string, int> names;
  for (int i = 0; i < in.rules_size(); ++i) {
    const std::string field = absl::StrCat("rules[", i, "]");
    RECSYS_ASSIGN_OR_RETURN(TriggerRule rule,
                            RuleFromProto(field, in.rules(i)));
    auto [it, inserted] = names.try_emplace(rule.name, i);
    if (!inserted) {
      return Invalid(field + ".name",
                     absl::StrCat("duplicate name '", rule.name,
                                  "' (also rules[", it->second, "])"));
    }
    config.rules.push_back(std::move(rule));
  }
  if (in.caps().per_day() < 0) {
    return Invalid("caps.per_day",
                   absl::StrCat("must be >= 0, got ", in.caps().per_day()));
  }
  if (in.caps().per_week() < 0) {
    return Invalid("caps.per_week",
                   absl::StrCat("must be >= 0, got ", in.caps().per_week()));
  }
  config.per_day_cap = in.caps().per_day();
  config.per_week_cap = in.caps().per_week();
  RECSYS_RETURN_IF_ERROR(
      CheckHour("quiet_hours.start_hour", in.quiet_hours().start_hour()));
  RECSYS_RETURN_IF_ERROR(
      CheckHour("quiet_hours.end_hour", in.quiet_hours().end_hour()));
  config.quiet_start = in.quiet_hours().start_hour();
  config.quiet_end = in.quiet_hours().end_hour();
  if (in.has_quiet_hours() || in.default_active_hour() != 0) {
    RECSYS_RETURN_IF_ERROR(
        CheckHour("default_active_hour", in.default_active_hour()));
  }
  // 0 is a valid hour, but also the unset value: a file that sets quiet
  // hours may still leave it at the default.
  if (in.default_active_hour() != 0)
    config.default_active_hour = in.default_active_hour();
  if (!in.stream().empty()) {
    RECSYS_RETURN_IF_ERROR(CheckRuleName("stream", in.stream()));
    config.stream = in.stream();
  }
  if (in.stream_maxlen() < 0) {
    return Invalid("stream_maxlen",
                   absl::StrCat("must be >= 0, got ", in.stream_maxlen()));
  }
  if (in.stream_maxlen() > 0) config.stream_maxlen = in.stream_maxlen();
  if (!in.offer_id_ttl().empty()) {
    RECSYS_ASSIGN_OR_RETURN(
        config.offer_id_ttl,
        ParseTriggerDuration("offer_id_ttl", in.offer_id_ttl()));
    if (config.offer_id_ttl < absl::Hours(1)) {
      return Invalid("offer_id_ttl", absl::StrCat("must be at least 1h, got '",
                                                  in.offer_id_ttl(), "'"));
    }
  }
  if (in.claim_batch() < 0 || in.claim_batch() > 100000) {
    return Invalid("claim_batch", absl::StrCat("must be in [0, 100000], got ",
                                               in.claim_batch()));
  }
  if (in.claim_batch() > 0) config.claim_batch = in.claim_batch();
  if (!in.claim_lease().empty()) {
    RECSYS_ASSIGN_OR_RETURN(
        config.claim_lease,
        ParseTriggerDuration("claim_lease", in.claim_lease()));
    if (config.claim_lease < absl::Seconds(1)) {
      return Invalid("claim_lease", absl::StrCat("must be at least 1s, got '",
                                                 in.claim_lease(), "'"));
    }
  }
  return config;
}

int UtcHour(absl::Time t) {
  return absl::ToCivilHour(t, absl::UTCTimeZone()).hour();
}

// The start of the first hour at or after `t` (t itself when inside it)
// whose UTC hour is `hour`.
absl::Time NextHour(absl::Time t, int hour) {
  if (UtcHour(t) == hour) return t;
  const absl::CivilHour now = absl::ToCivilHour(t, absl::UTCTimeZone());
  absl::CivilHour next = now + ((hour - now.hour() + 24) % 24);
  return absl::FromCivil(next, absl::UTCTimeZone());
}

}  // namespace

const TriggerRule* TriggersConfig::Find(absl::string_view name) const {
  for (const TriggerRule& r : rules) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

absl::string_view TriggerSignalName(TriggerSignal signal) {
  switch (signal) {
    case TriggerSignal::kWinBack:
      return "win_back";
    case TriggerSignal::kReplenishment:
      return "replenishment";
    case TriggerSignal::kBirthday:
      return "birthday";
    case TriggerSignal::kNone:
      break;
  }
  return "";
}

absl::StatusOr<absl::Duration> ParseTriggerDuration(absl::string_view field,
                                                    absl::string_view text) {
  absl::Duration d;
  int64_t days = 0;
  if (absl::EndsWith(text, "d") &&
      absl::SimpleAtoi(text.substr(0, text.size() - 1), &days) && days >= 0 &&
      days <= 3650) {
    d = absl::Hours(24 * days);
  } else if (!absl::ParseDuration(text, &d) || d == absl::InfiniteDuration()) {
    return Invalid(field,
                   absl::StrCat("bad duration '", text,
                                "' (expected e.g. \"30m\", \"4h\", \"7d\")"));
  }
  if (d < absl::ZeroDuration()) {
    return Invalid(field,
                   absl::StrCat("must not be negative, got '", text, "'"));
  }
  return d;
}

absl::StatusOr<TriggersConfig> ParseTriggersConfig(absl::string_view text,
                                                   absl::string_view origin) {
  recsys::v1::TriggersConfig proto;
  RECSYS_RETURN_IF_ERROR(ParseTextProto(text, origin, &proto));
  absl::StatusOr<TriggersConfig> config = FromProto(proto);
  if (!config.ok()) return Prefixed(origin, config.status());
  return config;
}

absl::StatusOr<TriggersConfig> LoadTriggersConfig(const std::string& path) {
  RECSYS_ASSIGN_OR_RETURN(std::string text,
                          ReadTextFile(path, "triggers config"));
  return ParseTriggersConfig(text, path);
}

bool InQuietHours(const TriggersConfig& config, absl::Time t) {
  if (config.quiet_start == config.quiet_end) return false;
  const int h = UtcHour(t);
  if (config.quiet_start < config.quiet_end) {
    return h >= config.quiet_start && h < config.quiet_end;
  }
  return h >= config.quiet_start || h < config.quiet_end;
}

absl::Time SendTime(const TriggersConfig& config, absl::Time due,
                    bool at_active_hour, int active_hour) {
  absl::Time t = at_active_hour ? NextHour(due, active_hour) : due;
  if (InQuietHours(config, t)) t = NextHour(t, config.quiet_end);
  return t;
}

absl::CivilDay NextBirthday(int month, int day, absl::Time now) {
  const absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
  // absl normalises Feb 29 of a common year to Mar 1: step back to Feb 28.
  auto in_year = [&](absl::civil_year_t year) {
    const absl::CivilDay d(year, month, day);
    return d.month() == month ? d : absl::CivilDay(year, month + 1, 1) - 1;
  };
  const absl::CivilDay this_year = in_year(today.year());
  return this_year >= today ? this_year : in_year(today.year() + 1);
}

}  // namespace recsys::marketing
