#include "intelligence/intel_store.h"

#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
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
    for (const UserIntel& u : users) users_[u.user_id] = u;
    return absl::OkStatus();
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
};

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
      // A record written before the birthday field has none.
      if (i + 1 == r.elements.size() && v.type == Value::Type::kNil && !fields.empty()) {
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
