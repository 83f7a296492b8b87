// The Redis CouponStore. Key schema: docs/redis_keys.md ("Marketing keys").
//
//   {p}coupons                  SET   of coupon ids
//   {p}coupons:deleted          SET   ids of deleted coupons (tombstones:
//                                     PutCoupons refuses them)
//   {p}coupon:{coupon_id}       HASH  definition (the serialized
//                                     recsys.v1.Coupon + the fields the
//                                     scripts read) and state counters
//   {p}u:{user_id}:cpn          HASH  i:{coupon_id} / r:{coupon_id} ->
//                                     the user's issuances / redemptions
//   {p}u:{user_id}:contact      HASH  campaign -> last contact (unix s)
//
// PutCoupons, DeleteCoupon, Issue and Redeem are one script each (EVALSHA,
// redis::Script): Redis runs a script atomically, so the checks and the
// writes cannot interleave with another client's.
//
// The stored definition ("def") is the protobuf serialization of
// recsys.v1.Coupon, as every earlier version of this store wrote it; the
// domain Coupon is converted at this edge (marketing_proto.h) on both ways.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "marketing/coupon_store.h"
#include "marketing/coupon_store_internal.h"
#include "marketing/coupons.h"
#include "marketing/marketing_proto.h"
#include "recsys/v1/marketing.pb.h"
#include "redis/client.h"

namespace recsys::marketing {
namespace {

using internal::CheckId;
using internal::CouponOutcome;
using internal::OutcomeStatus;
using redis::CallKind;
using redis::Value;
using RedisCommand = redis::Command;

// Coupon hash fields.
constexpr char kDef[] = "def";
constexpr char kType[] = "type";
constexpr char kAmountCents[] = "amount_cents";
constexpr char kPercent[] = "percent";
constexpr char kThresholdCents[] = "threshold_cents";
constexpr char kMaxCents[] = "max_cents";
constexpr char kFrom[] = "from";
constexpr char kUntil[] = "until";
constexpr char kBudgetCount[] = "budget_count";
constexpr char kBudgetCents[] = "budget_cents";
constexpr char kCap[] = "cap";
constexpr char kCampaign[] = "campaign";
constexpr char kIssued[] = "issued";
constexpr char kRedeemed[] = "redeemed";
constexpr char kSpentCents[] = "spent_cents";

// Issue. KEYS: coupon hash, the user's counts, the user's contacts, and
// with an op id its marker ({p}cop:{op_id}). ARGV: coupon id, now (unix
// seconds), the marker's TTL in seconds.
// Returns {outcome, a, b} (internal::CouponOutcome); on success a = the
// user's issuances after this one. A marker present: {0, its value, 0, 1}
// (applied before; nothing changed). The marker is written with the
// counters, so it exists exactly when the issuance was applied.
constexpr absl::string_view kIssueScript = R"lua(
if KEYS[4] then
  local done = redis.call('GET', KEYS[4])
  if done then return {0, tonumber(done) or 0, 0, 1} end
end
local d = redis.call('HMGET', KEYS[1], 'def', 'from', 'until', 'budget_count',
                     'budget_cents', 'cap', 'campaign', 'redeemed', 'spent_cents')
if not d[1] then return {1, 0, 0} end
local now = tonumber(ARGV[2])
local from = tonumber(d[2]) or 0
local untl = tonumber(d[3]) or 0
if from > 0 and now < from then return {2, from, 0} end
if untl > 0 and now >= untl then return {3, untl, 0} end
local bc = tonumber(d[4]) or 0
local redeemed = tonumber(d[8]) or 0
if bc > 0 and redeemed >= bc then return {4, redeemed, bc} end
local bm = tonumber(d[5]) or 0
local spent = tonumber(d[9]) or 0
if bm > 0 and spent >= bm then return {5, spent, bm} end
local field = 'i:' .. ARGV[1]
local cap = tonumber(d[6]) or 0
local held = tonumber(redis.call('HGET', KEYS[2], field)) or 0
if cap > 0 and held >= cap then return {6, held, cap} end
redis.call('HINCRBY', KEYS[1], 'issued', 1)
local n = redis.call('HINCRBY', KEYS[2], field, 1)
local campaign = d[7] or ARGV[1]
local last = tonumber(redis.call('HGET', KEYS[3], campaign)) or 0
if now > last then redis.call('HSET', KEYS[3], campaign, ARGV[2]) end
if KEYS[4] then redis.call('SET', KEYS[4], n, 'EX', ARGV[3]) end
return {0, n, 0}
)lua";

// Redeem. KEYS: coupon hash, the user's counts, and with an op id its
// marker. ARGV: coupon id, now, order value in cents, free-shipping value
// in cents, the marker's TTL in seconds.
// Returns {outcome, a, b}; on success a = the discount in cents. The
// discount follows DiscountCents (coupons.cc) step by step. A marker
// present: {0, the discount it recorded, 0, 1}; it is written with the
// budget counters.
constexpr absl::string_view kRedeemScript = R"lua(
if KEYS[3] then
  local done = redis.call('GET', KEYS[3])
  if done then return {0, tonumber(done) or 0, 0, 1} end
end
local d = redis.call('HMGET', KEYS[1], 'def', 'from', 'until', 'budget_count',
                     'budget_cents', 'type', 'amount_cents', 'percent',
                     'threshold_cents', 'max_cents', 'redeemed', 'spent_cents')
if not d[1] then return {1, 0, 0} end
local now = tonumber(ARGV[2])
local from = tonumber(d[2]) or 0
local untl = tonumber(d[3]) or 0
if from > 0 and now < from then return {2, from, 0} end
if untl > 0 and now >= untl then return {3, untl, 0} end
local ifield = 'i:' .. ARGV[1]
local rfield = 'r:' .. ARGV[1]
local u = redis.call('HMGET', KEYS[2], ifield, rfield)
local issued = tonumber(u[1]) or 0
local used = tonumber(u[2]) or 0
if used >= issued then return {7, issued, used} end
local order = tonumber(ARGV[3])
local t = tonumber(d[6]) or 0
local disc = 0
if t == 1 then
  disc = math.min(tonumber(d[7]) or 0, order)
elseif t == 2 then
  disc = math.floor(order * (tonumber(d[8]) or 0) / 100 + 1e-9)
  local cap = tonumber(d[10]) or 0
  if cap > 0 and disc > cap then disc = cap end
elseif t == 3 then
  local threshold = tonumber(d[9]) or 0
  if order < threshold then return {8, order, threshold} end
  disc = math.min(tonumber(d[7]) or 0, order)
elseif t == 4 then
  disc = tonumber(ARGV[4])
end
local bc = tonumber(d[4]) or 0
local redeemed = tonumber(d[11]) or 0
if bc > 0 and redeemed >= bc then return {4, redeemed, bc} end
local bm = tonumber(d[5]) or 0
local spent = tonumber(d[12]) or 0
if bm > 0 and spent + disc > bm then return {9, math.max(0, bm - spent), disc} end
redis.call('HINCRBY', KEYS[1], 'redeemed', 1)
redis.call('HINCRBY', KEYS[1], 'spent_cents', disc)
redis.call('HINCRBY', KEYS[2], rfield, 1)
if KEYS[3] then redis.call('SET', KEYS[3], disc, 'EX', ARGV[5]) end
return {0, disc, 0}
)lua";

// KEYS[1] = the deleted ids set, KEYS[2] = the ids set, KEYS[2 + i] = coupon
// i's hash. ARGV, per coupon: id, n, then n hash field/value arguments.
// Returns the 1-based position of the first coupon whose id was deleted
// (nothing written), or 0 after writing every coupon.
constexpr absl::string_view kPutScript = R"lua(
local n = #KEYS - 2
local ids = {}
local from = {}
local count = {}
local pos = 1
for i = 1, n do
  ids[i] = ARGV[pos]
  count[i] = tonumber(ARGV[pos + 1])
  from[i] = pos + 2
  pos = pos + 2 + count[i]
  if redis.call('SISMEMBER', KEYS[1], ids[i]) == 1 then return i end
end
for i = 1, n do
  redis.call('SADD', KEYS[2], ids[i])
  redis.call('HSET', KEYS[2 + i], unpack(ARGV, from[i], from[i] + count[i] - 1))
end
return 0
)lua";

// KEYS[1] = the coupon's hash, KEYS[2] = the ids set, KEYS[3] = the deleted
// ids set; ARGV[1] = the id. 1 when deleted (and the id retired), 0 when
// unknown.
constexpr absl::string_view kDeleteScript = R"lua(
local a = redis.call('DEL', KEYS[1])
local b = redis.call('SREM', KEYS[2], ARGV[1])
if a == 0 and b == 0 then return 0 end
redis.call('SADD', KEYS[3], ARGV[1])
return 1
)lua";

// Shortest text that reads back as the same double (Lua's tonumber included).
std::string FormatDouble(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (ec != std::errc()) return "0";
  return std::string(buffer, end);
}

class RedisCouponStore final : public CouponStore {
 public:
  RedisCouponStore(redis::Client* client,
                   const RedisCouponStoreOptions& options)
      : client_(client),
        key_prefix_(options.key_prefix),
        shipping_cents_(ToCents(options.coupons.free_shipping_value)),
        op_window_seconds_(absl::StrCat(
            absl::ToInt64Seconds(options.coupons.op_dedup_window))),
        replica_acks_(options.replica_acks),
        replica_ack_timeout_(options.replica_ack_timeout) {}

  std::string Describe() const override { return client_->Describe(); }

  absl::Status PutCoupons(const CouponCatalog& catalog,
                          absl::Time deadline) override {
    RECSYS_RETURN_IF_ERROR(ValidateCatalog(catalog));
    if (catalog.coupons.empty()) return absl::OkStatus();
    // One script: the tombstone check and the writes are atomic.
    std::vector<std::string> keys = {DeletedKey(), IdsKey()};
    std::vector<std::string> args;
    for (const Coupon& c : catalog.coupons) {
      std::string def;
      if (!ToProto(c).SerializeToString(&def)) {
        return absl::InternalError(
            absl::StrCat("cannot serialize coupon '", c.id, "'"));
      }
      keys.push_back(CouponKey(c.id));
      RedisCommand fields = {kDef,
                             std::move(def),
                             kType,
                             absl::StrCat(static_cast<int>(c.type)),
                             kAmountCents,
                             absl::StrCat(ToCents(c.amount_off)),
                             kPercent,
                             FormatDouble(c.percent_off),
                             kThresholdCents,
                             absl::StrCat(ToCents(c.threshold_spend)),
                             kMaxCents,
                             absl::StrCat(ToCents(c.max_discount)),
                             kFrom,
                             absl::StrCat(c.valid_from_unix),
                             kUntil,
                             absl::StrCat(c.valid_until_unix),
                             kBudgetCount,
                             absl::StrCat(c.budget_count),
                             kBudgetCents,
                             absl::StrCat(ToCents(c.budget_money)),
                             kCap,
                             absl::StrCat(c.per_user_cap),
                             kCampaign,
                             c.campaign.empty() ? c.id : c.campaign};
      args.push_back(c.id);
      args.push_back(absl::StrCat(fields.size()));
      for (std::string& f : fields) args.push_back(std::move(f));
    }
    RECSYS_ASSIGN_OR_RETURN(Value r,
                            client_->Eval(put_script_, keys, args, deadline));
    if (r.is_error()) {
      return absl::InternalError(absl::StrCat(
          "redis ", client_->address(), ": PutCoupons script failed: ", r.text));
    }
    if (r.type != Value::Type::kInteger || r.integer < 0 ||
        r.integer > static_cast<int64_t>(catalog.coupons.size())) {
      return absl::InternalError(absl::StrCat(
          "redis ", client_->address(), ": unexpected PutCoupons reply"));
    }
    if (r.integer > 0) {
      const size_t i = static_cast<size_t>(r.integer - 1);
      return internal::DeletedIdStatus(i, catalog.coupons[i].id);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<CouponWithState>> ListCoupons(
      absl::Time deadline) const override {
    const RedisCommand members[] = {{"SMEMBERS", IdsKey()}};
    RECSYS_ASSIGN_OR_RETURN(std::vector<Value> ids,
                            client_->Execute(members, deadline, CallKind::kRead));
    std::vector<std::string> sorted;
    for (const Value& id : ids[0].elements) {
      if (id.type == Value::Type::kString) sorted.push_back(id.text);
    }
    std::sort(sorted.begin(), sorted.end());
    std::vector<CouponWithState> out;
    if (sorted.empty()) return out;
    std::vector<RedisCommand> commands;
    commands.reserve(sorted.size());
    for (const std::string& id : sorted) {
      commands.push_back(
          {"HMGET", CouponKey(id), kDef, kIssued, kRedeemed, kSpentCents});
    }
    RECSYS_ASSIGN_OR_RETURN(std::vector<Value> replies,
                            client_->RoundTrip(commands, deadline, CallKind::kRead));
    out.reserve(sorted.size());
    for (size_t i = 0; i < sorted.size(); ++i) {
      const Value& r = replies[i];
      // Deleted meanwhile, or not a hash: skipped.
      if (r.type != Value::Type::kArray || r.elements.size() != 4 ||
          r.elements[0].type != Value::Type::kString) {
        continue;
      }
      recsys::v1::Coupon def;
      if (!def.ParseFromString(r.elements[0].text)) {
        return absl::DataLossError(
            absl::StrCat("redis ", client_->address(),
                         ": corrupt definition of coupon '", sorted[i], "'"));
      }
      CouponWithState& c = out.emplace_back();
      c.coupon = FromProto(def);
      c.state = MakeCouponState(c.coupon, r.elements[1].AsInt().value_or(0),
                                r.elements[2].AsInt().value_or(0),
                                r.elements[3].AsInt().value_or(0));
    }
    return out;
  }

  absl::Status DeleteCoupon(absl::string_view coupon_id,
                            absl::Time deadline) override {
    RECSYS_RETURN_IF_ERROR(CheckId("coupon_id", coupon_id));
    const std::string keys[] = {CouponKey(coupon_id), IdsKey(), DeletedKey()};
    const std::string args[] = {std::string(coupon_id)};
    RECSYS_ASSIGN_OR_RETURN(
        Value r, client_->Eval(delete_script_, keys, args, deadline));
    if (r.is_error()) {
      return absl::InternalError(absl::StrCat(
          "redis ", client_->address(), ": DeleteCoupon script failed: ", r.text));
    }
    if (r.type != Value::Type::kInteger) {
      return absl::InternalError(absl::StrCat(
          "redis ", client_->address(), ": unexpected DeleteCoupon reply"));
    }
    if (r.integer == 0) {
      return OutcomeStatus(CouponOutcome::kNotFound, "", coupon_id, 0, 0);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<UserCouponCounts>> GetUserCounts(
      absl::string_view user_id, absl::Span<const std::string> coupon_ids,
      absl::Time deadline) const override {
    RECSYS_RETURN_IF_ERROR(::recsys::CheckId("user_id", user_id));
    for (size_t i = 0; i < coupon_ids.size(); ++i) {
      RECSYS_RETURN_IF_ERROR(
          CheckId(absl::StrCat("coupon_ids[", i, "]"), coupon_ids[i]));
    }
    std::vector<UserCouponCounts> out(coupon_ids.size());
    if (coupon_ids.empty()) return out;
    RedisCommand command = {"HMGET", UserKey(user_id, "cpn")};
    command.reserve(2 + 2 * coupon_ids.size());
    for (const std::string& id : coupon_ids) {
      command.push_back(absl::StrCat("i:", id));
      command.push_back(absl::StrCat("r:", id));
    }
    const RedisCommand commands[] = {std::move(command)};
    RECSYS_ASSIGN_OR_RETURN(std::vector<Value> replies,
                            client_->RoundTrip(commands, deadline, CallKind::kRead));
    const Value& r = replies[0];
    // A key of another type (an error reply) reads as no counts.
    if (r.type != Value::Type::kArray ||
        r.elements.size() != 2 * coupon_ids.size()) {
      return out;
    }
    for (size_t i = 0; i < coupon_ids.size(); ++i) {
      out[i].issued =
          std::max<int64_t>(0, r.elements[2 * i].AsInt().value_or(0));
      out[i].redeemed =
          std::max<int64_t>(0, r.elements[2 * i + 1].AsInt().value_or(0));
    }
    return out;
  }

  absl::StatusOr<std::vector<int64_t>> LastContacts(
      absl::string_view campaign, absl::Span<const std::string> user_ids,
      absl::Time deadline) const override {
    RECSYS_RETURN_IF_ERROR(CheckId("campaign", campaign));
    for (size_t i = 0; i < user_ids.size(); ++i) {
      RECSYS_RETURN_IF_ERROR(
          ::recsys::CheckId(absl::StrCat("user_ids[", i, "]"), user_ids[i]));
    }
    std::vector<int64_t> out(user_ids.size(), 0);
    if (user_ids.empty()) return out;
    std::vector<RedisCommand> commands;
    commands.reserve(user_ids.size());
    for (const std::string& user : user_ids) {
      commands.push_back(
          {"HGET", UserKey(user, "contact"), std::string(campaign)});
    }
    RECSYS_ASSIGN_OR_RETURN(std::vector<Value> replies,
                            client_->RoundTrip(commands, deadline, CallKind::kRead));
    for (size_t i = 0; i < user_ids.size(); ++i) {
      out[i] = std::max<int64_t>(0, replies[i].AsInt().value_or(0));
    }
    return out;
  }

  absl::StatusOr<IssueResult> IssueOnce(absl::string_view user_id,
                                        absl::string_view coupon_id, absl::Time time,
                                        absl::string_view op_id,
                                        absl::Time deadline) override {
    RECSYS_RETURN_IF_ERROR(::recsys::CheckId("user_id", user_id));
    RECSYS_RETURN_IF_ERROR(CheckId("coupon_id", coupon_id));
    RECSYS_RETURN_IF_ERROR(internal::CheckOpId(op_id));
    std::vector<std::string> keys = {CouponKey(coupon_id), UserKey(user_id, "cpn"),
                                     UserKey(user_id, "contact")};
    if (!op_id.empty()) keys.push_back(OpKey(op_id));
    RECSYS_ASSIGN_OR_RETURN(
        ScriptResult result,
        RunScript(issue_script_, keys,
                  {std::string(coupon_id), absl::StrCat(absl::ToUnixSeconds(time)),
                   op_window_seconds_},
                  deadline, op_id.empty() ? CallKind::kWrite : CallKind::kRead));
    RECSYS_RETURN_IF_ERROR(
        OutcomeStatus(result.outcome, user_id, coupon_id, result.a, result.b));
    return IssueResult{.issued = result.a, .duplicate = result.duplicate};
  }

  absl::StatusOr<RedeemResult> RedeemOnce(absl::string_view user_id,
                                          absl::string_view coupon_id, double order_value,
                                          absl::Time time, absl::string_view op_id,
                                          absl::Time deadline) override {
    RECSYS_RETURN_IF_ERROR(::recsys::CheckId("user_id", user_id));
    RECSYS_RETURN_IF_ERROR(CheckId("coupon_id", coupon_id));
    RECSYS_RETURN_IF_ERROR(internal::CheckOpId(op_id));
    if (!std::isfinite(order_value) || order_value < 0 || order_value > 1e12) {
      return absl::InvalidArgumentError(
          absl::StrCat("order_value: must be in [0, 1e12], got ", order_value));
    }
    std::vector<std::string> keys = {CouponKey(coupon_id), UserKey(user_id, "cpn")};
    if (!op_id.empty()) keys.push_back(OpKey(op_id));
    RECSYS_ASSIGN_OR_RETURN(
        ScriptResult result,
        RunScript(redeem_script_, keys,
                  {std::string(coupon_id), absl::StrCat(absl::ToUnixSeconds(time)),
                   absl::StrCat(ToCents(order_value)), absl::StrCat(shipping_cents_),
                   op_window_seconds_},
                  deadline, op_id.empty() ? CallKind::kWrite : CallKind::kRead));
    RECSYS_RETURN_IF_ERROR(
        OutcomeStatus(result.outcome, user_id, coupon_id, result.a, result.b));
    return RedeemResult{.discount = FromCents(result.a), .duplicate = result.duplicate};
  }

  absl::Status Ping(absl::Time deadline) const override {
    return client_->Ping(deadline);
  }

 private:
  struct ScriptResult {
    CouponOutcome outcome = CouponOutcome::kOk;
    int64_t a = 0;
    int64_t b = 0;
    // The op id's marker was present: applied before, nothing changed.
    bool duplicate = false;
  };

  // Runs one of the coupon scripts: kWrite (never re-sent) without an op
  // id; kRead with one (the marker makes it idempotent). Internal for a
  // Lua error or a reply of the wrong shape.
  absl::StatusOr<ScriptResult> RunScript(const redis::Script& script,
                                         absl::Span<const std::string> keys,
                                         absl::Span<const std::string> args,
                                         absl::Time deadline, CallKind kind) const {
    RECSYS_ASSIGN_OR_RETURN(
        redis::Command command,
        client_->ScriptCommand(script, keys, args, deadline));
    std::vector<redis::Command> commands = {std::move(command)};
    if (replica_acks_ > 0) {
      // WAIT has no key: the client sends it after the script, on the same
      // connection (in a cluster: to the same node).
      commands.push_back(
          {"WAIT", absl::StrCat(replica_acks_),
           absl::StrCat(std::max<int64_t>(
               1, absl::ToInt64Milliseconds(replica_ack_timeout_)))});
    }
    RECSYS_ASSIGN_OR_RETURN(std::vector<Value> replies,
                            client_->RoundTrip(commands, deadline, kind));
    Value& r = replies[0];
    if (r.is_error()) {
      return absl::InternalError(absl::StrCat(
          "redis ", client_->address(), ": coupon script failed: ", r.text));
    }
    if (r.type != Value::Type::kArray ||
        (r.elements.size() != 3 && r.elements.size() != 4) ||
        r.elements[0].type != Value::Type::kInteger ||
        r.elements[0].integer < static_cast<int>(CouponOutcome::kOk) ||
        r.elements[0].integer > static_cast<int>(CouponOutcome::kMoneyShort)) {
      return absl::InternalError(absl::StrCat(
          "redis ", client_->address(), ": unexpected coupon script reply"));
    }
    ScriptResult result{static_cast<CouponOutcome>(r.elements[0].integer),
                        r.elements[1].integer, r.elements[2].integer,
                        r.elements.size() == 4};
    if (replica_acks_ > 0 && result.outcome == CouponOutcome::kOk &&
        !result.duplicate) {
      const std::optional<int64_t> acked = replies[1].AsInt();
      if (!acked.has_value() || *acked < replica_acks_) {
        return absl::UnavailableError(absl::StrCat(
            "redis ", client_->address(),
            ": coupon operation applied on the master but confirmed by ",
            acked.value_or(0), " of ", replica_acks_, " replicas within ",
            absl::FormatDuration(replica_ack_timeout_),
            "; retry with the same id (it is applied at most once)"));
      }
    }
    return result;
  }

  // Every coupon key holds the hash tag {coupons}: the scripts check a
  // coupon's budget, the user's cap and the operation's marker together
  // (and PutCoupons the whole catalog), so in a Redis Cluster they all live
  // in one slot (docs/redis_keys.md, docs/scaling.md).
  std::string IdsKey() const { return absl::StrCat(key_prefix_, "{coupons}"); }
  std::string DeletedKey() const {
    return absl::StrCat(key_prefix_, "{coupons}:deleted");
  }
  std::string CouponKey(absl::string_view id) const {
    return absl::StrCat(key_prefix_, "{coupons}:coupon:", id);
  }
  std::string UserKey(absl::string_view user_id,
                      absl::string_view suffix) const {
    return absl::StrCat(key_prefix_, "{coupons}:u:", user_id, ":", suffix);
  }
  std::string OpKey(absl::string_view op_id) const {
    return absl::StrCat(key_prefix_, "{coupons}:op:", op_id);
  }

  // Immutable after construction.
  redis::Client* const client_;  // borrowed; thread-safe
  const std::string key_prefix_;
  const int64_t shipping_cents_;
  // The op markers' TTL, in whole seconds (decimal).
  const std::string op_window_seconds_;
  // RedisCouponStoreOptions::replica_acks and replica_ack_timeout.
  const int replica_acks_;
  const absl::Duration replica_ack_timeout_;
  const redis::Script issue_script_{std::string(kIssueScript)};
  const redis::Script redeem_script_{std::string(kRedeemScript)};
  const redis::Script put_script_{std::string(kPutScript)};
  const redis::Script delete_script_{std::string(kDeleteScript)};
};

}  // namespace

absl::StatusOr<std::unique_ptr<CouponStore>> NewRedisCouponStore(
    redis::Client* client, const RedisCouponStoreOptions& options) {
  const double shipping = options.coupons.free_shipping_value;
  if (!std::isfinite(shipping) || shipping < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "free_shipping_value: must be >= 0, got ", shipping));
  }
  if (options.replica_acks < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("replica_acks: must be >= 0, got ", options.replica_acks));
  }
  if (options.replica_acks > 0 &&
      options.replica_ack_timeout < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError(
        "replica_ack_timeout: must be at least 1ms");
  }
  if (options.coupons.op_dedup_window < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("op_dedup_window: must be at least 1s, got ",
                     absl::FormatDuration(options.coupons.op_dedup_window)));
  }
  if (client == nullptr) {
    return absl::InvalidArgumentError("client: must not be null");
  }
  return std::unique_ptr<CouponStore>(new RedisCouponStore(client, options));
}

}  // namespace recsys::marketing
