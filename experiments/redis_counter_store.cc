// The Redis CounterStore: one Lua script per (event, experiment) does the
// event-id check and every increment atomically; a batch is one pipelined
// round trip. Keys (docs/redis_keys.md), all under the hash tag {<exp>}:
//   <prefix>x:{<exp>}:c            HASH  "<variant>|<slot>|<counter>" and
//                                        "<variant>||<sum>" -> number
//   <prefix>x:{<exp>}:s            HASH  "<variant>|<segment>|<sum>" -> number
//                                        (SegmentSums)
//   <prefix>x:{<exp>}:u:<user>     HASH  v (variant), first, last, x, y,
//                                        i (impressions), k (clicks), cv,
//                                        sg (segment), d (discounts)
//   <prefix>x:{<exp>}:e:<event id> STRING, expires after the event-id TTL
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "experiments/counter_store.h"

namespace recsys::experiments {
namespace {

// KEYS: counters, user, event id (a dummy key when ARGV[9] is '0'),
//       segment sums.
// ARGV: type, variant, slot, time, value, pre_spend, window (s), ttl (s),
//       has event id, segment (used on first exposure; '' = none).
// Returns the Outcome.
const char kCountScript[] = R"lua(
if ARGV[9] == '1' then
  if not redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[8]) then return 0 end
end
local c, u = KEYS[1], KEYS[2]
local typ, v, t = ARGV[1], ARGV[2], tonumber(ARGV[4])
local vs = v .. '|' .. ARGV[3] .. '|'
local vm = v .. '||'
local uv = redis.call('HGET', u, 'v')
if uv and uv ~= v then return 3 end
-- The segment sums' field prefix, nil when the user's segment is unknown.
local sp = nil
local sg = ARGV[10]
if uv then sg = redis.call('HGET', u, 'sg') or '' end
if sg ~= '' then sp = v .. '|' .. sg .. '|' end
if typ == '4' then
  if not uv then
    redis.call('HINCRBY', c, vs .. 'unattributed_purchases', 1)
    return 2
  end
  local first = tonumber(redis.call('HGET', u, 'first'))
  local last = tonumber(redis.call('HGET', u, 'last'))
  if t < first or t > last + tonumber(ARGV[7]) then
    redis.call('HINCRBY', c, vs .. 'unattributed_purchases', 1)
    return 2
  end
  local val = tonumber(ARGV[5])
  local y = tonumber(redis.call('HGET', u, 'y'))
  local x = tonumber(redis.call('HGET', u, 'x'))
  redis.call('HINCRBY', c, vs .. 'conversions', 1)
  redis.call('HINCRBYFLOAT', c, vs .. 'gmv', val)
  redis.call('HINCRBYFLOAT', c, vm .. 'sum_y', val)
  redis.call('HINCRBYFLOAT', c, vm .. 'sum_y2', 2 * y * val + val * val)
  redis.call('HINCRBYFLOAT', c, vm .. 'sum_xy', x * val)
  if sp then
    local d = tonumber(redis.call('HGET', u, 'd') or '0')
    redis.call('HINCRBYFLOAT', KEYS[4], sp .. 'sum_y', val)
    redis.call('HINCRBYFLOAT', KEYS[4], sp .. 'sum_y2', 2 * y * val + val * val)
    redis.call('HINCRBYFLOAT', KEYS[4], sp .. 'sum_yd', d * val)
  end
  redis.call('HSET', u, 'y', tostring(y + val))
  if redis.call('HSETNX', u, 'cv', '1') == 1 then
    redis.call('HINCRBY', c, vm .. 'converted_users', 1)
    if sp then redis.call('HINCRBY', KEYS[4], sp .. 'converted_users', 1) end
  end
  return 1
end
if not uv then
  local x = tonumber(ARGV[6])
  redis.call('HSET', u, 'v', v, 'first', ARGV[4], 'last', ARGV[4], 'x', ARGV[6],
             'y', '0', 'i', '0', 'k', '0', 'd', '0', 'sg', ARGV[10])
  redis.call('HINCRBY', c, vm .. 'exposed_users', 1)
  if sp then redis.call('HINCRBY', KEYS[4], sp .. 'exposed_users', 1) end
  redis.call('HINCRBYFLOAT', c, vm .. 'sum_x', x)
  redis.call('HINCRBYFLOAT', c, vm .. 'sum_x2', x * x)
elseif t > tonumber(redis.call('HGET', u, 'last')) then
  redis.call('HSET', u, 'last', ARGV[4])
end
if typ == '1' then
  local i = tonumber(redis.call('HGET', u, 'i'))
  local k = tonumber(redis.call('HGET', u, 'k'))
  redis.call('HINCRBY', c, vs .. 'impressions', 1)
  redis.call('HINCRBYFLOAT', c, vm .. 'sum_den', 1)
  redis.call('HINCRBYFLOAT', c, vm .. 'sum_den2', 2 * i + 1)
  redis.call('HINCRBYFLOAT', c, vm .. 'sum_num_den', k)
  redis.call('HINCRBY', u, 'i', 1)
elseif typ == '2' then
  local i = tonumber(redis.call('HGET', u, 'i'))
  local k = tonumber(redis.call('HGET', u, 'k'))
  redis.call('HINCRBY', c, vs .. 'clicks', 1)
  redis.call('HINCRBYFLOAT', c, vm .. 'sum_num', 1)
  redis.call('HINCRBYFLOAT', c, vm .. 'sum_num2', 2 * k + 1)
  redis.call('HINCRBYFLOAT', c, vm .. 'sum_num_den', i)
  redis.call('HINCRBY', u, 'k', 1)
elseif typ == '3' then
  redis.call('HINCRBY', c, vs .. 'add_to_carts', 1)
elseif typ == '5' then
  redis.call('HINCRBY', c, vs .. 'coupons_issued', 1)
elseif typ == '6' then
  redis.call('HINCRBY', c, vs .. 'coupons_redeemed', 1)
  local w = tonumber(ARGV[5])
  redis.call('HINCRBYFLOAT', c, vs .. 'discount', w)
  local d = tonumber(redis.call('HGET', u, 'd') or '0')
  if sp then
    local y = tonumber(redis.call('HGET', u, 'y'))
    redis.call('HINCRBYFLOAT', KEYS[4], sp .. 'sum_d', w)
    redis.call('HINCRBYFLOAT', KEYS[4], sp .. 'sum_d2', 2 * d * w + w * w)
    redis.call('HINCRBYFLOAT', KEYS[4], sp .. 'sum_yd', y * w)
  end
  redis.call('HSET', u, 'd', tostring(d + w))
end
return 1
)lua";

// Shortest text that reads back as the same double.
std::string Num(double x) { return absl::StrCat(x); }

bool SetSlotCounter(SlotCounts* s, absl::string_view name, double value) {
  const auto i = static_cast<int64_t>(value);
  if (name == "impressions")
    s->impressions = i;
  else if (name == "clicks")
    s->clicks = i;
  else if (name == "add_to_carts")
    s->add_to_carts = i;
  else if (name == "conversions")
    s->conversions = i;
  else if (name == "gmv")
    s->gmv = value;
  else if (name == "coupons_issued")
    s->coupons_issued = i;
  else if (name == "coupons_redeemed")
    s->coupons_redeemed = i;
  else if (name == "discount")
    s->discount = value;
  else if (name == "unattributed_purchases")
    s->unattributed_purchases = i;
  else
    return false;
  return true;
}

bool SetSegmentSum(SegmentSums* s, absl::string_view name, double value) {
  if (name == "exposed_users")
    s->exposed_users = static_cast<int64_t>(value);
  else if (name == "converted_users")
    s->converted_users = static_cast<int64_t>(value);
  else if (name == "sum_y")
    s->sum_y = value;
  else if (name == "sum_y2")
    s->sum_y2 = value;
  else if (name == "sum_d")
    s->sum_d = value;
  else if (name == "sum_d2")
    s->sum_d2 = value;
  else if (name == "sum_yd")
    s->sum_yd = value;
  else
    return false;
  return true;
}

bool SetSum(VariantSums* s, absl::string_view name, double value) {
  if (name == "exposed_users")
    s->exposed_users = static_cast<int64_t>(value);
  else if (name == "converted_users")
    s->converted_users = static_cast<int64_t>(value);
  else if (name == "sum_y")
    s->sum_y = value;
  else if (name == "sum_y2")
    s->sum_y2 = value;
  else if (name == "sum_x")
    s->sum_x = value;
  else if (name == "sum_x2")
    s->sum_x2 = value;
  else if (name == "sum_xy")
    s->sum_xy = value;
  else if (name == "sum_num")
    s->sum_num = value;
  else if (name == "sum_den")
    s->sum_den = value;
  else if (name == "sum_num2")
    s->sum_num2 = value;
  else if (name == "sum_den2")
    s->sum_den2 = value;
  else if (name == "sum_num_den")
    s->sum_num_den = value;
  else
    return false;
  return true;
}

class RedisCounterStore final : public CounterStore {
 public:
  RedisCounterStore(const redis::Client* client,
                    const RedisCounterStoreOptions& options)
      : client_(client), options_(options) {}

  absl::StatusOr<std::vector<Outcome>> Record(
      absl::Span<const ExperimentEvent> events, const CountRules& rules,
      absl::Time deadline) override {
    std::vector<redis::Command> commands;
    commands.reserve(events.size());
    const std::string window =
        absl::StrCat(absl::ToInt64Seconds(rules.attribution_window));
    const std::string ttl = absl::StrCat(
        std::max<int64_t>(1, absl::ToInt64Seconds(rules.event_id_ttl)));
    for (const ExperimentEvent& e : events) {
      const std::string base = Base(e.experiment);
      std::vector<std::string> keys = {
          base + "c", absl::StrCat(base, "u:", e.user_id),
          absl::StrCat(base, "e:", e.event_id), base + "s"};
      std::vector<std::string> args = {
          absl::StrCat(static_cast<int>(e.type)),
          e.variant,
          e.slot,
          absl::StrCat(absl::ToUnixSeconds(e.time)),
          Num(e.value),
          Num(e.pre_spend),
          window,
          ttl,
          e.event_id.empty() ? "0" : "1",
          e.segment};
      auto command = client_->ScriptCommand(script_, keys, args, deadline);
      if (!command.ok()) return command.status();
      commands.push_back(*std::move(command));
    }
    auto replies =
        client_->Execute(commands, deadline, redis::CallKind::kWrite);
    if (!replies.ok()) return replies.status();
    std::vector<Outcome> out;
    out.reserve(replies->size());
    for (const redis::Value& r : *replies) {
      const auto code = r.AsInt();
      if (!code.has_value() || *code < 0 || *code > 3) {
        return absl::InternalError(
            "experiment counter script: unexpected reply");
      }
      out.push_back(static_cast<Outcome>(*code));
    }
    return out;
  }

  absl::StatusOr<ExperimentCounts> Read(absl::string_view experiment,
                                        absl::Time deadline) const override {
    const std::string base = Base(experiment);
    const redis::Command hgetall[2] = {{"HGETALL", base + "c"},
                                       {"HGETALL", base + "s"}};
    auto replies = client_->Execute(hgetall, deadline, redis::CallKind::kRead);
    if (!replies.ok()) return replies.status();
    ExperimentCounts out;
    for (int h = 0; h < 2; ++h) {
      const redis::Value& all = (*replies)[h];
      for (size_t i = 0; i + 1 < all.elements.size(); i += 2) {
        const std::vector<absl::string_view> field =
            absl::StrSplit(all.elements[i].text, '|');
        double value = 0;
        if (field.size() != 3 ||
            !absl::SimpleAtod(all.elements[i + 1].text, &value)) {
          return absl::InternalError(
              absl::StrCat("experiment counters of ", experiment,
                           ": unexpected field '", all.elements[i].text, "'"));
        }
        VariantCounts& v = out[std::string(field[0])];
        bool known = false;
        if (h == 1) {
          known = SetSegmentSum(&v.segments[std::string(field[1])], field[2],
                                value);
        } else if (field[1].empty()) {
          known = SetSum(&v.sums, field[2], value);
        } else {
          known =
              SetSlotCounter(&v.slots[std::string(field[1])], field[2], value);
        }
        if (!known) {
          return absl::InternalError(
              absl::StrCat("experiment counters of ", experiment,
                           ": unknown counter '", field[2], "'"));
        }
      }
    }
    return out;
  }

 private:
  std::string Base(absl::string_view experiment) const {
    return absl::StrCat(options_.key_prefix, "x:{", experiment, "}:");
  }

  const redis::Client* const client_;
  const RedisCounterStoreOptions options_;
  const redis::Script script_{kCountScript};
};

}  // namespace

absl::StatusOr<std::unique_ptr<CounterStore>> NewRedisCounterStore(
    const redis::Client* client, const RedisCounterStoreOptions& options) {
  if (client == nullptr)
    return absl::InvalidArgumentError("client: must not be null");
  return std::unique_ptr<CounterStore>(new RedisCounterStore(client, options));
}

}  // namespace recsys::experiments
