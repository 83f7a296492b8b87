#include "marketing/trigger_engine.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "common/status_macros.h"

namespace recsys::marketing {
namespace {

using feature_store::Event;
using feature_store::EventType;

// Separates rule, user and cause in a pending check's member (ids hold no
// control characters: common/validation.h).
constexpr char kSep = '\x1f';

// The user's part of observing an event (keys in the user's slot). KEYS:
// event marker, user hash. ARGV: marker ttl, event type name, unix time,
// UTC hour. Returns 0 for an event already observed.
const redis::Script& ObserveScript() {
  static const redis::Script* script = new redis::Script(R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HINCRBY', KEYS[2], 'h:' .. ARGV[4], 1)
local f = 'last:' .. ARGV[2]
local old = tonumber(redis.call('HGET', KEYS[2], f))
if old == nil or old < tonumber(ARGV[3]) then redis.call('HSET', KEYS[2], f, ARGV[3]) end
redis.call('EXPIRE', KEYS[2], 7776000)
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
return 1
)lua");
  return *script;
}

// The timers' part (keys in the {trg} slot): schedules the checks an event
// starts. Idempotent: a trigger no newer than the pending one changes
// nothing. KEYS: pending, at. ARGV: (member, due, trigger) per rule.
const redis::Script& ScheduleScript() {
  static const redis::Script* script = new redis::Script(R"lua(
for i = 1, #ARGV, 3 do
  local m, due, trig = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local at = tonumber(redis.call('HGET', KEYS[2], m))
  if at == nil or at < trig then
    redis.call('HSET', KEYS[2], m, ARGV[i + 2])
    redis.call('ZADD', KEYS[1], due, m)
  end
end
return 1
)lua");
  return *script;
}

// KEYS: pending, claimed, at, due. ARGV: now, lease until, limit. Returns
// (member, trigger, due) triples: expired leases first, then due checks.
const redis::Script& ClaimScript() {
  static const redis::Script* script = new redis::Script(R"lua(
local now, lease, limit = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local out = {}
local function take(m, due)
  redis.call('ZADD', KEYS[2], lease, m)
  out[#out + 1] = m
  out[#out + 1] = redis.call('HGET', KEYS[3], m) or '0'
  out[#out + 1] = due
end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)) do
  take(m, redis.call('HGET', KEYS[4], m) or ARGV[1])
end
local left = limit - #out / 3
if left > 0 then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, left)
  for i = 1, #due, 2 do
    redis.call('ZREM', KEYS[1], due[i])
    redis.call('HSET', KEYS[4], due[i], due[i + 1])
    take(due[i], due[i + 1])
  end
end
return out
)lua");
  return *script;
}

// Reserves an offer id for a user (keys in the user's slot). KEYS: offer
// marker, sent. ARGV: now, marker ttl, per-day cap, per-week cap, offer
// id. Returns {0, stream id}: already written (a duplicate); {2}: capped;
// {1}: reserved, write the entry (the marker says 'pending' until the
// entry's id replaces it; a reservation found 'pending', after a failure
// between the two, is answered {1} again and the entry written again).
const redis::Script& ReserveScript() {
  static const redis::Script* script = new redis::Script(R"lua(
local v = redis.call('GET', KEYS[1])
if v and v ~= 'pending' then return {0, v} end
if v then return {1} end
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 604800)
local pd, pw = tonumber(ARGV[3]), tonumber(ARGV[4])
if pd > 0 and redis.call('ZCOUNT', KEYS[2], '(' .. (now - 86400), '+inf') >= pd then
  return {2}
end
if pw > 0 and redis.call('ZCARD', KEYS[2]) >= pw then return {2} end
redis.call('SET', KEYS[1], 'pending', 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[5])
redis.call('EXPIRE', KEYS[2], 691200)
return {1}
)lua");
  return *script;
}

// Ends a claimed check (keys in the {trg} slot). KEYS: claimed, at, due,
// pending. ARGV: mode (defer, or done), member, trigger, rule delay
// seconds, the new due time (defer). A trigger newer than the one ended (it
// arrived meanwhile) goes back to pending.
const redis::Script& FinishScript() {
  static const redis::Script* script = new redis::Script(R"lua(
local mode, m, trig = ARGV[1], ARGV[2], ARGV[3]
redis.call('ZREM', KEYS[1], m)
redis.call('HDEL', KEYS[3], m)
if mode == 'defer' then
  redis.call('ZADD', KEYS[4], 'GT', ARGV[5], m)
  return 3
end
local at = redis.call('HGET', KEYS[2], m)
if at == false or at == trig then
  redis.call('HDEL', KEYS[2], m)
else
  redis.call('ZADD', KEYS[4], 'NX', tonumber(at) + tonumber(ARGV[4]), m)
end
return 4
)lua");
  return *script;
}

int64_t Seconds(absl::Time t) { return absl::ToUnixSeconds(t); }

// The end (UTC) of the birthday a check's cause names ("birthday:<date>");
// InfiniteFuture when it names none.
absl::Time BirthdayEnd(absl::string_view cause) {
  absl::CivilDay day;
  if (!absl::ConsumePrefix(&cause, "birthday:") || !absl::ParseCivilTime(cause, &day)) {
    return absl::InfiniteFuture();
  }
  return absl::FromCivil(day + 1, absl::UTCTimeZone());
}

// A key of one user's trigger state: {p}trg:{<user>}:<suffix>, in the
// user's Redis Cluster slot (the hash tag is the user id).
std::string UserKey(absl::string_view prefix, absl::string_view user,
                    absl::string_view suffix) {
  return absl::StrCat(prefix, "trg:{", user, "}:", suffix);
}

int UtcHour(absl::Time t) {
  return absl::ToCivilHour(t, absl::UTCTimeZone()).hour();
}

std::string Member(absl::string_view rule, absl::string_view user,
                   absl::string_view cause) {
  return absl::StrCat(rule, std::string(1, kSep), user, std::string(1, kSep),
                      cause);
}

// The most frequent hour of the user's hash (`h:<hour>` fields), ties to
// the earlier hour; -1 without any.
int UsualHour(const absl::flat_hash_map<std::string, int64_t>& fields) {
  int best = -1;
  int64_t best_count = 0;
  for (int h = 0; h < 24; ++h) {
    auto it = fields.find(absl::StrCat("h:", h));
    if (it != fields.end() && it->second > best_count) {
      best = h;
      best_count = it->second;
    }
  }
  return best;
}

}  // namespace

struct TriggerEngine::Check {
  std::string member;
  std::string rule;
  std::string user_id;
  std::string cause;
  int64_t trigger = 0;
  int64_t due = 0;
};

std::string TriggerEngine::OfferId(absl::string_view rule,
                                   absl::string_view user_id,
                                   absl::string_view cause,
                                   absl::Time trigger_time) {
  std::string content;
  for (absl::string_view part : {rule, user_id, cause}) {
    absl::StrAppend(&content, part.size(), ":", part, ";");
  }
  absl::StrAppend(&content, Seconds(trigger_time));
  const XXH128_hash_t h = XXH3_128bits(content.data(), content.size());
  char hex[33];
  std::snprintf(hex, sizeof(hex), "%016llx%016llx",
                static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return std::string(hex, 32);
}

absl::StatusOr<std::unique_ptr<TriggerEngine>> TriggerEngine::Create(
    redis::Client* client, CouponStore* coupons, const SegmentStore* segments,
    const experiments::PlanHolder* plans, const UserSignalsSource* signals,
    const TriggerEngineOptions& options) {
  if (client == nullptr)
    return absl::InvalidArgumentError("trigger engine: needs Redis");
  for (size_t i = 0; i < options.config.rules.size(); ++i) {
    if (!options.config.rules[i].coupon_id.empty() && coupons == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("rules[", i, "].coupon_id: needs a coupon store"));
    }
  }
  if (options.event_dedup_window < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        "event_dedup_window: must be at least 1s");
  }
  return std::unique_ptr<TriggerEngine>(
      new TriggerEngine(client, coupons, segments, plans, signals, options));
}

TriggerEngine::TriggerEngine(redis::Client* client, CouponStore* coupons,
                             const SegmentStore* segments,
                             const experiments::PlanHolder* plans,
                             const UserSignalsSource* signals,
                             const TriggerEngineOptions& options)
    : client_(client),
      coupons_(coupons),
      segments_(segments),
      plans_(plans),
      signals_(signals),
      options_(options) {
  if (options_.metrics != nullptr) {
    outcomes_ = options_.metrics->AddCounter(
        "recsys_triggered_offers_total",
        "Claimed trigger checks by rule and outcome (written, duplicate, "
        "cancelled, holdout, "
        "deferred, capped, budget, coupon_refused, unknown_rule, error).",
        {"rule", "outcome"});
  }
}

absl::Time TriggerEngine::StoreDeadline(absl::Time deadline) const {
  return std::min(deadline, absl::Now() + options_.store_timeout);
}

// The timers: {p}{trg}:<suffix>, all in one Redis Cluster slot.
std::string TriggerEngine::Key(absl::string_view suffix) const {
  return absl::StrCat(options_.key_prefix, "{trg}:", suffix);
}

void TriggerEngine::Count(absl::string_view rule,
                          absl::string_view outcome) const {
  if (outcomes_ != nullptr) outcomes_->Get({rule, outcome})->Increment();
}

absl::Status TriggerEngine::ObserveEvents(absl::Span<const Event> events,
                                          absl::Time deadline) const {
  const absl::Time store_deadline = StoreDeadline(deadline);
  const std::string pending = Key("pending");
  const std::string at = Key("at");
  const std::string ttl =
      absl::StrCat(absl::ToInt64Seconds(options_.event_dedup_window));
  std::vector<redis::Command> commands;
  for (const Event& e : events) {
    if (e.type == EventType::kImpression ||
        e.type == EventType::kCouponIssued ||
        e.type == EventType::kCouponRedeemed) {
      continue;
    }
    const int64_t t = Seconds(e.time);
    std::vector<std::string> schedule;
    for (const TriggerRule& rule : options_.config.rules) {
      if (!rule.on_event || rule.event != e.type) continue;
      // One pending check per rule and user; a purchase-started rule (a
      // review request) keeps one per item bought.
      const std::string cause = e.type == EventType::kPurchase ? e.item_id : "";
      schedule.push_back(Member(rule.name, e.user_id, cause));
      schedule.push_back(absl::StrCat(Seconds(e.time + rule.delay)));
      schedule.push_back(absl::StrCat(t));
    }
    // The timers first: scheduling is idempotent, so a batch sent again
    // after a failure between the two finds its checks whatever happened.
    if (!schedule.empty()) {
      const std::vector<std::string> timer_keys = {pending, at};
      RECSYS_ASSIGN_OR_RETURN(
          redis::Command command,
          client_->ScriptCommand(ScheduleScript(), timer_keys, schedule,
                                 store_deadline));
      commands.push_back(std::move(command));
    }
    const std::vector<std::string> keys = {
        UserKey(options_.key_prefix, e.user_id,
                absl::StrCat("ev:", feature_store::EventDedupKey(e))),
        UserKey(options_.key_prefix, e.user_id, "u")};
    const std::vector<std::string> args = {
        ttl, std::string(feature_store::EventTypeName(e.type)), absl::StrCat(t),
        absl::StrCat(UtcHour(e.time))};
    RECSYS_ASSIGN_OR_RETURN(
        redis::Command command,
        client_->ScriptCommand(ObserveScript(), keys, args, store_deadline));
    commands.push_back(std::move(command));
  }
  if (commands.empty()) return absl::OkStatus();
  // Idempotent (each event's marker), so a stale connection may re-send it.
  auto replies =
      client_->Execute(commands, store_deadline, redis::CallKind::kRead);
  if (!replies.ok()) return replies.status();
  return absl::OkStatus();
}

absl::Status TriggerEngine::SignalPass(const TriggerRunRequest& request,
                                       absl::Time deadline,
                                       TriggerRunAnswer* answer) const {
  bool any = false;
  for (const TriggerRule& r : options_.config.rules) any = any || !r.on_event;
  if (!any || request.user_ids.empty()) return absl::OkStatus();
  const std::vector<std::string>& users = request.user_ids;
  std::vector<std::optional<UserSignals>> signals(users.size());
  if (signals_ != nullptr) {
    RECSYS_ASSIGN_OR_RETURN(signals, signals_->Get(users, deadline));
  }
  std::vector<std::optional<UserSegment>> records(users.size());
  if (segments_ != nullptr) {
    RECSYS_ASSIGN_OR_RETURN(records, segments_->GetSegments(users, deadline));
  }
  const int64_t now = Seconds(request.now);
  // Without a last purchase, a win-back's cause is the current UTC week.
  const int64_t week = now - now % (7 * 86400);
  std::vector<redis::Command> commands;
  for (size_t i = 0; i < users.size(); ++i) {
    const std::optional<UserSignals>& s = signals[i];
    const std::optional<UserSegment>& seg = records[i];
    for (const TriggerRule& rule : options_.config.rules) {
      int64_t trigger = 0;
      std::string cause;
      if (rule.signal == TriggerSignal::kWinBack) {
        bool at_risk = false;
        if (s.has_value() && s->churn_risk >= 0) {
          at_risk = s->churn_risk >= rule.min_churn_risk;
        } else if (seg.has_value()) {
          at_risk = std::find(rule.fallback_segments.begin(),
                              rule.fallback_segments.end(),
                              seg->segment) != rule.fallback_segments.end();
        }
        const double spend = s.has_value() && s->monetary >= 0 ? s->monetary
                             : seg.has_value()                 ? seg->monetary
                                                               : 0;
        if (!at_risk || spend < rule.min_monetary) continue;
        trigger = seg.has_value() && seg->last_purchase_unix > 0
                      ? seg->last_purchase_unix
                      : week;
        cause = absl::StrCat("lapse:", trigger);
      } else if (rule.signal == TriggerSignal::kReplenishment) {
        if (!s.has_value() || s->next_due_unix <= 0 || s->next_due_unix > now)
          continue;
        trigger = s->next_due_unix;
        cause = absl::StrCat("due:", trigger);
        if (!s->due_item_id.empty())
          absl::StrAppend(&cause, ":", s->due_item_id);
      } else if (rule.signal == TriggerSignal::kBirthday) {
        if (!s.has_value() || s->birthday_month == 0) continue;
        const absl::CivilDay birthday =
            NextBirthday(s->birthday_month, s->birthday_day, request.now);
        const absl::CivilDay from = birthday - rule.days_before;
        if (absl::ToCivilDay(request.now, absl::UTCTimeZone()) < from) continue;
        // One offer per birthday: the cause names the date.
        trigger = Seconds(absl::FromCivil(from, absl::UTCTimeZone()));
        cause = absl::StrCat("birthday:", absl::FormatCivilTime(birthday));
      } else {
        continue;
      }
      const std::string member = Member(rule.name, users[i], cause);
      commands.push_back({"HSETNX", Key("at"), member, absl::StrCat(trigger)});
      commands.push_back(
          {"ZADD", Key("pending"), "NX", absl::StrCat(now), member});
    }
  }
  if (commands.empty()) return absl::OkStatus();
  RECSYS_ASSIGN_OR_RETURN(
      std::vector<redis::Value> replies,
      client_->Execute(commands, deadline, redis::CallKind::kRead));
  for (size_t i = 1; i < replies.size(); i += 2)
    answer->scheduled += replies[i].integer > 0;
  return absl::OkStatus();
}

absl::StatusOr<int> TriggerEngine::ScheduleSignals(absl::Span<const std::string> user_ids,
                                                   absl::Time now, absl::Time deadline) const {
  TriggerRunRequest request;
  request.now = now;
  request.user_ids.assign(user_ids.begin(), user_ids.end());
  TriggerRunAnswer answer;
  RECSYS_RETURN_IF_ERROR(SignalPass(request, StoreDeadline(deadline), &answer));
  return answer.scheduled;
}

absl::StatusOr<TriggerRunAnswer> TriggerEngine::Run(
    const TriggerRunRequest& request, absl::Time deadline) const {
  const TriggersConfig& config = options_.config;
  const absl::Time store_deadline = StoreDeadline(deadline);
  TriggerRunAnswer answer;
  RECSYS_RETURN_IF_ERROR(SignalPass(request, store_deadline, &answer));

  const int64_t now = Seconds(request.now);
  const std::vector<std::string> claim_keys = {Key("pending"), Key("claimed"),
                                               Key("at"), Key("due")};
  RECSYS_ASSIGN_OR_RETURN(
      redis::Value claimed,
      client_->Eval(
          ClaimScript(), claim_keys,
          {absl::StrCat(now),
           absl::StrCat(now + absl::ToInt64Seconds(config.claim_lease)),
           absl::StrCat(config.claim_batch)},
          store_deadline));
  if (claimed.is_error())
    return absl::InternalError(absl::StrCat("claim: ", claimed.text));
  std::vector<Check> checks;
  for (size_t i = 0; i + 2 < claimed.elements.size(); i += 3) {
    Check c;
    c.member = claimed.elements[i].text;
    std::vector<std::string> parts =
        absl::StrSplit(c.member, absl::MaxSplits(kSep, 2));
    if (parts.size() == 3) {
      c.rule = parts[0];
      c.user_id = parts[1];
      c.cause = parts[2];
    }
    c.trigger = claimed.elements[i + 1].AsInt().value_or(0);
    c.due = claimed.elements[i + 2].AsInt().value_or(now);
    checks.push_back(std::move(c));
  }
  answer.claimed = static_cast<int>(checks.size());
  if (checks.empty()) return answer;

  // One round trip: each user's hours and latest events, and contacts.
  std::vector<redis::Command> reads;
  for (const Check& c : checks) {
    const std::string sent = UserKey(options_.key_prefix, c.user_id, "sent");
    reads.push_back({"HGETALL", UserKey(options_.key_prefix, c.user_id, "u")});
    reads.push_back({"ZCOUNT", sent, absl::StrCat("(", now - 86400), "+inf"});
    reads.push_back(
        {"ZCOUNT", sent, absl::StrCat("(", now - 7 * 86400), "+inf"});
  }
  RECSYS_ASSIGN_OR_RETURN(
      std::vector<redis::Value> user_state,
      client_->Execute(reads, store_deadline, redis::CallKind::kRead));

  const std::shared_ptr<const experiments::ExperimentPlan> plan =
      plans_ != nullptr ? plans_->Get() : experiments::EmptyPlan();
  // Interest tags of the users a targeted experiment may hold out: one
  // batched read of the signals, only when some user needs them. A failed
  // read fails the pass (the claims come back after their lease), so no
  // offer goes out unchecked against a holdout.
  absl::flat_hash_map<std::string, std::vector<std::string>> tags_of;
  if (signals_ != nullptr) {
    std::vector<std::string> targeted;
    for (const Check& c : checks) {
      if (!tags_of.contains(c.user_id) && plan->NeedsTags(c.user_id, request.now)) {
        tags_of[c.user_id];
        targeted.push_back(c.user_id);
      }
    }
    if (!targeted.empty()) {
      RECSYS_ASSIGN_OR_RETURN(std::vector<std::optional<UserSignals>> got,
                              signals_->Get(targeted, store_deadline));
      for (size_t i = 0; i < targeted.size() && i < got.size(); ++i) {
        if (got[i].has_value()) tags_of[targeted[i]] = std::move(got[i]->tags);
      }
    }
  }
  static const std::vector<std::string> kNoTags;
  for (size_t n = 0; n < checks.size(); ++n) {
    const Check& c = checks[n];
    const TriggerRule* rule = config.Find(c.rule);
    absl::flat_hash_map<std::string, int64_t> fields;
    const redis::Value& hash = user_state[3 * n];
    for (size_t i = 0; i + 1 < hash.elements.size(); i += 2) {
      int64_t v = 0;
      if (absl::SimpleAtoi(hash.elements[i + 1].text, &v))
        fields[hash.elements[i].text] = v;
    }
    const int64_t day_count = user_state[3 * n + 1].integer;
    const int64_t week_count = user_state[3 * n + 2].integer;

    std::string outcome;
    std::string mode = "drop";
    absl::Time defer_to;
    if (rule == nullptr) {
      outcome = "unknown_rule";
    } else {
      for (EventType type : rule->cancel_on) {
        auto it = fields.find(
            absl::StrCat("last:", feature_store::EventTypeName(type)));
        if (it != fields.end() && it->second >= c.trigger)
          outcome = "cancelled";
      }
      if (outcome.empty()) {
        auto tags = tags_of.find(c.user_id);
        for (const experiments::Assignment& a : plan->Assign(
                 c.user_id, request.now,
                 tags == tags_of.end() ? kNoTags : tags->second)) {
          const experiments::CouponPolicy* policy =
              a.variant->PolicyFor(rule->campaign);
          if (policy != nullptr && policy->holdout) outcome = "holdout";
        }
      }
      if (outcome.empty()) {
        int hour = UsualHour(fields);
        if (hour < 0) hour = config.default_active_hour;
        absl::Time send = SendTime(config, absl::FromUnixSeconds(c.due),
                                   rule->at_active_hour, hour);
        if (send <= request.now && InQuietHours(config, request.now)) {
          send = SendTime(config, request.now, false, hour);
        }
        if (rule->signal == TriggerSignal::kBirthday && send >= BirthdayEnd(c.cause)) {
          // A birthday greeting is never sent after the birthday.
          outcome = "late";
        } else if (send > request.now) {
          outcome = "deferred";
          mode = "defer";
          defer_to = send;
        }
      }
      if (outcome.empty() &&
          ((config.per_day_cap > 0 && day_count >= config.per_day_cap) ||
           (config.per_week_cap > 0 && week_count >= config.per_week_cap))) {
        outcome = "capped";
      }
    }
    const absl::Time trigger_time = absl::FromUnixSeconds(c.trigger);
    const std::string offer_id =
        rule == nullptr ? ""
                        : OfferId(c.rule, c.user_id, c.cause, trigger_time);
    if (outcome.empty() && !rule->coupon_id.empty()) {
      absl::StatusOr<IssueResult> issued =
          coupons_->IssueOnce(c.user_id, rule->coupon_id, request.now,
                              absl::StrCat("offer:", offer_id), store_deadline);
      if (!issued.ok()) {
        if (absl::IsResourceExhausted(issued.status())) {
          outcome = "budget";
        } else if (absl::IsUnavailable(issued.status()) ||
                   absl::IsDeadlineExceeded(issued.status())) {
          // Left claimed: tried again once the lease ends.
          ++answer.errors;
          Count(c.rule, "error");
          continue;
        } else {
          outcome = "coupon_refused";
        }
      }
    }
    Offer offer;
    std::vector<std::string> entry;  // the entry's field/value pairs
    if (outcome.empty()) {
      offer.offer_id = offer_id;
      offer.rule = rule->name;
      offer.user_id = c.user_id;
      offer.campaign = rule->campaign;
      offer.coupon_id = rule->coupon_id;
      offer.template_id = rule->template_id;
      offer.cause = c.cause;
      offer.trigger_time = trigger_time;
      offer.send_time = request.now;
      const std::string kind =
          rule->on_event
              ? std::string(feature_store::EventTypeName(rule->event))
              : std::string(TriggerSignalName(rule->signal));
      for (const auto& [f, v] :
           std::vector<std::pair<std::string, std::string>>{
               {"offer_id", offer.offer_id},
               {"rule", offer.rule},
               {"trigger", kind},
               {"user_id", offer.user_id},
               {"campaign", offer.campaign},
               {"coupon_id", offer.coupon_id},
               {"template_id", offer.template_id},
               {"cause", offer.cause},
               {"trigger_unix", absl::StrCat(c.trigger)},
               {"send_unix", absl::StrCat(now)}}) {
        entry.push_back(f);
        entry.push_back(v);
      }
    }
    // A failed store call leaves the check claimed (tried again after the
    // lease); true when the pass goes on.
    absl::Status fatal;
    auto failed = [&](const absl::Status& st, bool error_reply) {
      if (st.ok() && !error_reply) return false;
      ++answer.errors;
      Count(c.rule, "error");
      if (!st.ok() && !absl::IsUnavailable(st) &&
          !absl::IsDeadlineExceeded(st)) {
        fatal = st;
      }
      return true;
    };
    if (outcome.empty()) {
      // The user's slot: the caps again and the offer id's reservation;
      // then the entry; then the marker takes the entry's id.
      const std::string marker = UserKey(options_.key_prefix, c.user_id,
                                         absl::StrCat("offer:", offer_id));
      const std::vector<std::string> user_keys = {
          marker, UserKey(options_.key_prefix, c.user_id, "sent")};
      absl::StatusOr<redis::Value> reserved = client_->Eval(
          ReserveScript(), user_keys,
          {absl::StrCat(now),
           absl::StrCat(absl::ToInt64Seconds(config.offer_id_ttl)),
           absl::StrCat(config.per_day_cap), absl::StrCat(config.per_week_cap),
           offer_id},
          store_deadline);
      if (failed(reserved.status(),
                 reserved.ok() &&
                     (reserved->is_error() || reserved->elements.empty()))) {
        if (!fatal.ok()) return fatal;
        continue;
      }
      const int64_t code = reserved->elements[0].integer;
      if (code == 0) {
        outcome = "duplicate";
      } else if (code == 2) {
        outcome = "capped";
      } else {
        redis::Command xadd = {"XADD",
                               absl::StrCat(options_.key_prefix, config.stream),
                               "MAXLEN",
                               "~",
                               absl::StrCat(config.stream_maxlen),
                               "*"};
        xadd.insert(xadd.end(), entry.begin(), entry.end());
        absl::StatusOr<std::vector<redis::Value>> added =
            client_->Execute({xadd}, store_deadline, redis::CallKind::kWrite);
        if (failed(added.status(), false)) {
          if (!fatal.ok()) return fatal;
          continue;
        }
        offer.stream_id = (*added)[0].text;
        absl::StatusOr<std::vector<redis::Value>> marked = client_->Execute(
            {{"SET", marker, offer.stream_id, "XX", "KEEPTTL"}}, store_deadline,
            redis::CallKind::kRead);
        if (failed(marked.status(), false)) {
          // The entry is written; the retry after the lease writes it
          // again (at least once: the offer id drops the repeat).
          if (!fatal.ok()) return fatal;
          continue;
        }
        outcome = "written";
        answer.offers.push_back(offer);
      }
    }
    // The {trg} slot: the check is done (or deferred).
    const std::vector<std::string> timer_keys = {Key("claimed"), Key("at"),
                                                 Key("due"), Key("pending")};
    absl::StatusOr<redis::Value> done = client_->Eval(
        FinishScript(), timer_keys,
        {mode == "defer" ? "defer" : "done", c.member, absl::StrCat(c.trigger),
         absl::StrCat(rule == nullptr ? 0 : absl::ToInt64Seconds(rule->delay)),
         absl::StrCat(mode == "defer" ? Seconds(defer_to) : now)},
        store_deadline);
    if (outcome != "written" &&
        failed(done.status(), done.ok() && done->is_error())) {
      if (!fatal.ok()) return fatal;
      continue;
    }
    Count(c.rule, outcome);
    if (outcome == "written") ++answer.written;
    if (outcome == "duplicate") ++answer.duplicates;
    if (outcome == "cancelled") ++answer.cancelled;
    if (outcome == "holdout") ++answer.holdout;
    if (outcome == "deferred") ++answer.deferred;
    if (outcome == "capped") ++answer.capped;
    if (outcome == "budget") ++answer.budget;
    if (outcome == "coupon_refused" || outcome == "unknown_rule")
      ++answer.errors;
  }
  return answer;
}

}  // namespace recsys::marketing
