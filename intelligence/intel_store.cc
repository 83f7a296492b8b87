#include "intelligence/intel_store.h"

#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "common/validation.h"

namespace recsys::intelligence {
namespace {

using redis::CallKind;
using redis::Value;

absl::Status CheckUsers(absl::Span<const UserIntel> users) {
  for (size_t i = 0; i < users.size(); ++i) {
    RECSYS_RETURN_IF_ERROR(::recsys::CheckId(
        absl::StrCat("users[", i, "].user_id"), users[i].user_id));
  }
  return absl::OkStatus();
}

absl::Status CheckIds(absl::Span<const std::string> user_ids) {
  for (size_t i = 0; i < user_ids.size(); ++i) {
    RECSYS_RETURN_IF_ERROR(
        ::recsys::CheckId(absl::StrCat("user_ids[", i, "]"), user_ids[i]));
  }
  return absl::OkStatus();
}

absl::Status CheckEvents(absl::Span<const LiveEvent> events) {
  for (size_t i = 0; i < events.size(); ++i) {
    RECSYS_RETURN_IF_ERROR(::recsys::CheckId(
        absl::StrCat("events[", i, "].user_id"), events[i].user_id));
  }
  return absl::OkStatus();
}

absl::Status NoRecord(absl::string_view user_id) {
  return absl::NotFoundError(
      absl::StrCat("no intelligence record for user '", user_id, "'"));
}

class InMemoryIntelStore final : public IntelStore {
 public:
  std::string Describe() const override { return "in-memory"; }

  absl::Status PutIntel(absl::Span<const UserIntel> users) override {
    RECSYS_RETURN_IF_ERROR(CheckUsers(users));
    absl::MutexLock lock(&mu_);
    for (const UserIntel& u : users) {
      users_[u.user_id] = u;
      applied_.erase(u.user_id);
    }
    return absl::OkStatus();
  }

  absl::Status ApplyLiveEvents(absl::Span<const LiveEvent> events,
                               absl::Time) override {
    RECSYS_RETURN_IF_ERROR(CheckEvents(events));
    absl::MutexLock lock(&mu_);
    for (const LiveEvent& e : events) {
      auto it = users_.find(e.user_id);
      if (it == users_.end() || e.category.empty() ||
          e.time_unix <= it->second.as_of_unix) {
        continue;
      }
      if (!applied_[e.user_id].insert(e.dedup_key).second) continue;
      for (const std::string& tag : ApplyLiveEvent(e, &it->second)) {
        live_members_[tag].insert(e.user_id);
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> LiveTagUsers(
      absl::string_view tag, absl::Time) const override {
    RECSYS_RETURN_IF_ERROR(::recsys::CheckId("tag", tag));
    std::vector<std::string> out;
    absl::MutexLock lock(&mu_);
    auto members = live_members_.find(tag);
    if (members == live_members_.end()) return out;
    for (const std::string& id : members->second) {
      auto it = users_.find(id);
      if (it != users_.end() && it->second.HasTag(tag)) out.push_back(id);
    }
    return out;
  }

  absl::StatusOr<UserIntel> GetIntel(absl::string_view user_id,
                                     absl::Time) const override {
    RECSYS_RETURN_IF_ERROR(::recsys::CheckId("user_id", user_id));
    absl::MutexLock lock(&mu_);
    auto it = users_.find(user_id);
    if (it == users_.end()) return NoRecord(user_id);
    return it->second;
  }

  absl::StatusOr<std::vector<std::optional<UserIntel>>> GetIntels(
      absl::Span<const std::string> user_ids, absl::Time) const override {
    RECSYS_RETURN_IF_ERROR(CheckIds(user_ids));
    std::vector<std::optional<UserIntel>> out;
    out.reserve(user_ids.size());
    absl::MutexLock lock(&mu_);
    for (const std::string& id : user_ids) {
      auto it = users_.find(id);
      out.push_back(it == users_.end() ? std::nullopt : std::optional<UserIntel>(it->second));
    }
    return out;
  }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, UserIntel> users_ ABSL_GUARDED_BY(mu_);
  // Per user, the dedup keys of the live events applied to the record.
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> applied_
      ABSL_GUARDED_BY(mu_);
  // Per tag, the users a live event tagged (checked against the record on
  // reading).
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>>
      live_members_ ABSL_GUARDED_BY(mu_);
};

// The live event script (live_tags.h's ApplyLiveEvent on the record's hash;
// docs/redis_keys.md). KEYS[1] the record; ARGV: the marker field
// ("ev:" + dedup key), the category, 'p' (purchase) or 'v' (view or cart),
// the spend, the event's unix time. Returns the tags live events gave the
// record ('|'-joined), nil without a record.
const redis::Script& LiveScript() {
  static const redis::Script* script = new redis::Script(R"lua(
local live = redis.call('HGET', KEYS[1], 'live')
if not live then return false end
local added = redis.call('HGET', KEYS[1], 'live_tags') or ''
local as_of = tonumber(redis.call('HGET', KEYS[1], 'as_of'))
if live == '' or as_of == nil or tonumber(ARGV[5]) <= as_of then return added end
local entries, hit = {}, false
for entry in string.gmatch(live, '[^|]+') do
  local f = {string.match(entry,
    '^([^@]+)@([^@]+)@([^@]+)@([^@]+)@([^@]+)@([^@]+)@([^@]+)@([^@]+)$')}
  if #f == 8 and f[2] == ARGV[2] then hit = true end
  table.insert(entries, {entry, f})
end
if not hit then return added end
if redis.call('HSETNX', KEYS[1], ARGV[1], '1') == 0 then return added end
local kept, reached = {}, {}
for _, e in ipairs(entries) do
  local f = e[2]
  if #f == 8 and f[2] == ARGV[2] then
    local p, s, v = tonumber(f[6]), tonumber(f[7]), tonumber(f[8])
    if ARGV[3] == 'p' then p = p + 1; s = s + tonumber(ARGV[4]) else v = v + 1 end
    local mp, ms, mv = tonumber(f[3]), tonumber(f[4]), tonumber(f[5])
    if (mp <= 0 or p >= mp) and (ms <= 0 or s >= ms) and (mv <= 0 or v >= mv) then
      table.insert(reached, f[1])
    else
      table.insert(kept, table.concat({f[1], f[2], f[3], f[4], f[5], string.format('%d', p),
                                       string.format('%.17g', s), string.format('%d', v)}, '@'))
    end
  else
    table.insert(kept, e[1])
  end
end
redis.call('HSET', KEYS[1], 'live', table.concat(kept, '|'))
if #reached > 0 then
  local tags = redis.call('HGET', KEYS[1], 'tags') or ''
  for _, t in ipairs(reached) do
    tags = (tags == '' and t) or (tags .. '|' .. t)
    added = (added == '' and t) or (added .. '|' .. t)
  end
  redis.call('HSET', KEYS[1], 'tags', tags, 'live_tags', added)
end
return added
)lua");
  return *script;
}

class RedisIntelStore final : public IntelStore {
 public:
  RedisIntelStore(redis::Client* client, const RedisIntelStoreOptions& options)
      : client_(client), options_(options) {}

  std::string Describe() const override { return client_->Describe(); }

  absl::Status PutIntel(absl::Span<const UserIntel> users) override {
    RECSYS_RETURN_IF_ERROR(CheckUsers(users));
    const std::vector<std::string>& names = IntelFieldNames();
    std::vector<redis::Command> batch;
    int records = 0;
    for (const UserIntel& u : users) {
      const std::string key = Key(u.user_id);
      const std::vector<std::string> fields = EncodeIntelFields(u);
      redis::Command hset = {"HSET", key};
      for (int i = 0; i < kIntelFields; ++i) {
        hset.push_back(names[i]);
        hset.push_back(fields[i]);
      }
      // MULTI/EXEC: a reader never sees half a record.
      batch.push_back({"MULTI"});
      batch.push_back({"DEL", key});
      batch.push_back(std::move(hset));
      batch.push_back({"EXEC"});
      if (++records >= options_.bulk_batch) {
        RECSYS_RETURN_IF_ERROR(
            client_->Execute(batch, absl::InfiniteFuture()).status());
        batch.clear();
        records = 0;
      }
    }
    if (!batch.empty()) {
      RECSYS_RETURN_IF_ERROR(
          client_->Execute(batch, absl::InfiniteFuture()).status());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<UserIntel> GetIntel(absl::string_view user_id,
                                     absl::Time deadline) const override {
    RECSYS_RETURN_IF_ERROR(::recsys::CheckId("user_id", user_id));
    RECSYS_ASSIGN_OR_RETURN(
        std::vector<Value> replies,
        client_->RoundTrip({Read(user_id)}, deadline, CallKind::kRead));
    std::optional<UserIntel> u = Decode(user_id, replies[0]);
    if (!u.has_value()) return NoRecord(user_id);
    return *std::move(u);
  }

  absl::Status ApplyLiveEvents(absl::Span<const LiveEvent> events,
                               absl::Time deadline) override {
    RECSYS_RETURN_IF_ERROR(CheckEvents(events));
    std::vector<redis::Command> commands;
    std::vector<const LiveEvent*> sent;
    for (const LiveEvent& e : events) {
      if (e.category.empty()) continue;
      const std::vector<std::string> keys = {Key(e.user_id)};
      const std::vector<std::string> args = {
          absl::StrCat("ev:", e.dedup_key), e.category, e.purchase ? "p" : "v",
          absl::StrFormat("%.17g", e.spend), absl::StrCat(e.time_unix)};
      RECSYS_ASSIGN_OR_RETURN(
          redis::Command command,
          client_->ScriptCommand(LiveScript(), keys, args, deadline));
      commands.push_back(std::move(command));
      sent.push_back(&e);
    }
    if (commands.empty()) return absl::OkStatus();
    // Idempotent (each event's marker field), so it may be re-sent.
    RECSYS_ASSIGN_OR_RETURN(std::vector<Value> replies,
                            client_->Execute(commands, deadline, CallKind::kRead));
    // The audiences of the tags the records gained live (all of them, so
    // a batch sent again after a failure here completes them).
    std::vector<redis::Command> audiences;
    absl::flat_hash_set<std::string> seen;
    for (size_t i = 0; i < replies.size(); ++i) {
      if (replies[i].type != Value::Type::kString) continue;
      for (absl::string_view tag :
           absl::StrSplit(replies[i].text, '|', absl::SkipEmpty())) {
        const std::string key = LiveKey(tag);
        if (seen.insert(absl::StrCat(key, "\n", sent[i]->user_id)).second) {
          audiences.push_back({"SADD", key, sent[i]->user_id});
        }
      }
    }
    if (audiences.empty()) return absl::OkStatus();
    return client_->Execute(audiences, deadline, CallKind::kRead).status();
  }

  absl::StatusOr<std::vector<std::string>> LiveTagUsers(
      absl::string_view tag, absl::Time deadline) const override {
    RECSYS_RETURN_IF_ERROR(::recsys::CheckId("tag", tag));
    const std::string key = LiveKey(tag);
    RECSYS_ASSIGN_OR_RETURN(
        std::vector<Value> replies,
        client_->RoundTrip({{"SMEMBERS", key}}, deadline, CallKind::kRead));
    std::vector<std::string> members;
    if (replies[0].type == Value::Type::kArray) {
      for (const Value& v : replies[0].elements) {
        if (v.type == Value::Type::kString) members.push_back(v.text);
      }
    }
    std::vector<std::string> out;
    if (members.empty()) return out;
    RECSYS_ASSIGN_OR_RETURN(std::vector<std::optional<UserIntel>> records,
                            GetIntels(members, deadline));
    redis::Command stale = {"SREM", key};
    for (size_t i = 0; i < members.size(); ++i) {
      if (records[i].has_value() && records[i]->HasTag(tag)) {
        out.push_back(members[i]);
      } else {
        stale.push_back(members[i]);
      }
    }
    // A record replaced by a run: its live tags are gone. Best effort (the
    // next reader drops them again).
    if (stale.size() > 2) {
      (void)client_->RoundTrip({stale}, deadline, CallKind::kRead);
    }
    return out;
  }

  absl::StatusOr<std::vector<std::optional<UserIntel>>> GetIntels(
      absl::Span<const std::string> user_ids, absl::Time deadline) const override {
    RECSYS_RETURN_IF_ERROR(CheckIds(user_ids));
    std::vector<std::optional<UserIntel>> out;
    if (user_ids.empty()) return out;
    std::vector<redis::Command> commands;
    commands.reserve(user_ids.size());
    for (const std::string& id : user_ids) commands.push_back(Read(id));
    RECSYS_ASSIGN_OR_RETURN(std::vector<Value> replies,
                            client_->RoundTrip(commands, deadline, CallKind::kRead));
    out.reserve(user_ids.size());
    for (size_t i = 0; i < user_ids.size(); ++i) out.push_back(Decode(user_ids[i], replies[i]));
    return out;
  }

 private:
  redis::Command Read(absl::string_view user_id) const {
    redis::Command command = {"HMGET", Key(user_id)};
    for (const std::string& name : IntelFieldNames()) command.push_back(name);
    return command;
  }

  // The record in an HMGET reply; nullopt for none (or another layout).
  static std::optional<UserIntel> Decode(absl::string_view user_id, const Value& r) {
    if (r.type != Value::Type::kArray || r.elements.size() != kIntelFields) {
      return std::nullopt;
    }
    std::vector<absl::string_view> fields;
    for (size_t i = 0; i < r.elements.size(); ++i) {
      const Value& v = r.elements[i];
      // A record written before the birthday or the live field has none.
      if (i >= kIntelFields - 2 && v.type == Value::Type::kNil && !fields.empty()) {
        fields.push_back("");
        continue;
      }
      // A missing record answers nil fields; a record of another layout
      // counts as none.
      if (v.type != Value::Type::kString) return std::nullopt;
      fields.push_back(v.text);
    }
    auto decoded = DecodeIntelFields(user_id, fields);
    if (!decoded.ok()) return std::nullopt;
    return *std::move(decoded);
  }

  std::string Key(absl::string_view user_id) const {
    return absl::StrCat(options_.key_prefix, "u:", user_id, ":intel");
  }
  std::string LiveKey(absl::string_view tag) const {
    return absl::StrCat(options_.key_prefix, "tag_live:", tag);
  }

  // Immutable after construction.
  redis::Client* const client_;  // borrowed; thread-safe
  const RedisIntelStoreOptions options_;
};

}  // namespace

std::unique_ptr<IntelStore> NewInMemoryIntelStore() {
  return std::make_unique<InMemoryIntelStore>();
}

absl::StatusOr<std::unique_ptr<IntelStore>> NewRedisIntelStore(
    redis::Client* client, const RedisIntelStoreOptions& options) {
  if (client == nullptr)
    return absl::InvalidArgumentError("client: must not be null");
  if (options.bulk_batch < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("bulk_batch: must be >= 1, got ", options.bulk_batch));
  }
  return std::unique_ptr<IntelStore>(new RedisIntelStore(client, options));
}

}  // namespace recsys::intelligence
