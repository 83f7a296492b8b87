#include "marketing/segment_store.h"

#include <charconv>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "marketing/coupon_store_internal.h"
#include "redis/bulk_writer.h"
#include "redis/generation.h"

namespace recsys::marketing {
namespace {

using redis::CallKind;
using redis::Value;
using RedisCommand = redis::Command;

// Fields of {p}u:{user_id}:seg, in the order GetSegment asks for them.
constexpr const char* kFields[] = {"segment",
                                   "tier",
                                   "lifecycle",
                                   "recency_days",
                                   "frequency",
                                   "monetary",
                                   "trailing_spend",
                                   "first_purchase",
                                   "last_purchase",
                                   "r",
                                   "f",
                                   "m",
                                   "as_of"};
constexpr size_t kNumFields = sizeof(kFields) / sizeof(kFields[0]);

std::string FormatDouble(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (ec != std::errc()) return "0";
  return std::string(buffer, end);
}

class InMemorySegmentStore final : public SegmentStore {
 public:
  std::string Describe() const override { return "in-memory"; }

  absl::Status PutSegments(absl::Span<const UserSegment> users) override {
    for (size_t i = 0; i < users.size(); ++i) {
      RECSYS_RETURN_IF_ERROR(::recsys::CheckId(absl::StrCat("users[", i, "].user_id"),
                                         users[i].user_id));
    }
    absl::MutexLock lock(&mu_);
    for (const UserSegment& u : users) users_[u.user_id] = u;
    return absl::OkStatus();
  }

  absl::StatusOr<UserSegment> GetSegment(absl::string_view user_id,
                                         absl::Time) const override {
    RECSYS_RETURN_IF_ERROR(::recsys::CheckId("user_id", user_id));
    absl::MutexLock lock(&mu_);
    auto it = users_.find(user_id);
    if (it == users_.end()) {
      return absl::NotFoundError(
          absl::StrCat("no segment record for user '", user_id, "'"));
    }
    return it->second;
  }

  absl::StatusOr<std::vector<std::optional<UserSegment>>> GetSegments(
      absl::Span<const std::string> user_ids, absl::Time) const override {
    for (size_t i = 0; i < user_ids.size(); ++i) {
      RECSYS_RETURN_IF_ERROR(
          ::recsys::CheckId(absl::StrCat("user_ids[", i, "]"), user_ids[i]));
    }
    std::vector<std::optional<UserSegment>> out(user_ids.size());
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < user_ids.size(); ++i) {
      auto it = users_.find(user_ids[i]);
      if (it != users_.end()) out[i] = it->second;
    }
    return out;
  }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, UserSegment> users_ ABSL_GUARDED_BY(mu_);
};

class RedisSegmentStore final : public SegmentStore {
 public:
  RedisSegmentStore(redis::Client* client,
                    const RedisSegmentStoreOptions& options)
      : client_(client),
        options_(options),
        generations_(client, options.key_prefix, options.generation_refresh) {}

  std::string Describe() const override { return client_->Describe(); }

  absl::Status PutSegments(absl::Span<const UserSegment> users) override {
    for (size_t i = 0; i < users.size(); ++i) {
      RECSYS_RETURN_IF_ERROR(::recsys::CheckId(absl::StrCat("users[", i, "].user_id"),
                                         users[i].user_id));
    }
    // bulk_threads lanes; each user's writes go on the lane of its id, so a
    // user given twice keeps its last record (one lane sends in order).
    redis::BulkWriter writer(client_, options_.bulk_threads);
    std::vector<std::vector<RedisCommand>> batches(writer.lanes());
    // Generation 0 is read live: MULTI/EXEC, so that a reader never sees
    // half a record. A load's generation N > 0 is read by nobody until the
    // flip and never written after it: DEL and HSET alone, the same key and
    // fields (as RedisFeatureStore::PutUsers).
    const bool transactions = options_.load_generation == 0;
    for (const UserSegment& u : users) {
      const int lane = writer.LaneFor(u.user_id);
      std::vector<RedisCommand>& batch = batches[lane];
      const std::string key = Key(options_.load_generation, u.user_id);
      if (transactions) batch.push_back({"MULTI"});
      batch.push_back({"DEL", key});
      batch.push_back({"HSET",      key,
                       kFields[0],  std::string(SegmentName(u.segment)),
                       kFields[1],  std::string(TierName(u.tier)),
                       kFields[2],  std::string(LifecycleName(u.lifecycle)),
                       kFields[3],  absl::StrCat(u.recency_days),
                       kFields[4],  absl::StrCat(u.frequency),
                       kFields[5],  FormatDouble(u.monetary),
                       kFields[6],  FormatDouble(u.trailing_spend),
                       kFields[7],  absl::StrCat(u.first_purchase_unix),
                       kFields[8],  absl::StrCat(u.last_purchase_unix),
                       kFields[9],  absl::StrCat(u.r_score),
                       kFields[10], absl::StrCat(u.f_score),
                       kFields[11], absl::StrCat(u.m_score),
                       kFields[12], absl::StrCat(u.as_of_unix)});
      if (transactions) batch.push_back({"EXEC"});
      if (batch.size() >= static_cast<size_t>(options_.bulk_batch)) {
        RECSYS_RETURN_IF_ERROR(writer.Send(lane, std::move(batch)));
        batch = std::vector<RedisCommand>();
      }
    }
    for (int lane = 0; lane < writer.lanes(); ++lane) {
      if (!batches[lane].empty()) {
        RECSYS_RETURN_IF_ERROR(writer.Send(lane, std::move(batches[lane])));
      }
    }
    return writer.Finish();
  }

  absl::StatusOr<UserSegment> GetSegment(absl::string_view user_id,
                                         absl::Time deadline) const override {
    const std::string ids[] = {std::string(user_id)};
    RECSYS_RETURN_IF_ERROR(::recsys::CheckId("user_id", user_id));
    RECSYS_ASSIGN_OR_RETURN(std::vector<std::optional<UserSegment>> found,
                            GetSegments(ids, deadline));
    if (!found[0].has_value()) {
      return absl::NotFoundError(
          absl::StrCat("no segment record for user '", user_id, "'"));
    }
    return *std::move(found[0]);
  }

  absl::StatusOr<std::vector<std::optional<UserSegment>>> GetSegments(
      absl::Span<const std::string> user_ids,
      absl::Time deadline) const override {
    for (size_t i = 0; i < user_ids.size(); ++i) {
      RECSYS_RETURN_IF_ERROR(
          ::recsys::CheckId(absl::StrCat("user_ids[", i, "]"), user_ids[i]));
    }
    std::vector<std::optional<UserSegment>> out(user_ids.size());
    if (user_ids.empty()) return out;
    // All of one generation (redis/generation.h).
    auto build = [&](const redis::GenerationView& view) {
      std::vector<RedisCommand> commands;
      commands.reserve(user_ids.size());
      for (const std::string& id : user_ids) {
        RedisCommand command = {"HMGET", Key(view.generation, id)};
        for (const char* field : kFields) command.push_back(field);
        commands.push_back(std::move(command));
      }
      return commands;
    };
    RECSYS_ASSIGN_OR_RETURN(auto read, generations_.RoundTrip(build, deadline));
    const std::vector<Value>& replies = read.second;
    for (size_t i = 0; i < user_ids.size(); ++i) {
      out[i] = Parse(user_ids[i], replies[i]);
    }
    return out;
  }

 private:
  // nullopt for a missing or unreadable record (a key of another type, an
  // unknown segment name, a malformed number).
  static std::optional<UserSegment> Parse(const std::string& user_id,
                                          const Value& r) {
    if (r.type != Value::Type::kArray || r.elements.size() != kNumFields) {
      return std::nullopt;
    }
    std::string f[kNumFields];
    for (size_t j = 0; j < kNumFields; ++j) {
      if (r.elements[j].type != Value::Type::kString) return std::nullopt;
      f[j] = r.elements[j].text;
    }
    UserSegment u;
    u.user_id = user_id;
    std::optional<Segment> segment = SegmentFromName(f[0]);
    std::optional<Tier> tier = TierFromName(f[1]);
    std::optional<Lifecycle> stage = LifecycleFromName(f[2]);
    if (!segment || !tier || !stage) return std::nullopt;
    u.segment = *segment;
    u.tier = *tier;
    u.lifecycle = *stage;
    if (!absl::SimpleAtoi(f[3], &u.recency_days) ||
        !absl::SimpleAtoi(f[4], &u.frequency) ||
        !absl::SimpleAtod(f[5], &u.monetary) ||
        !absl::SimpleAtod(f[6], &u.trailing_spend) ||
        !absl::SimpleAtoi(f[7], &u.first_purchase_unix) ||
        !absl::SimpleAtoi(f[8], &u.last_purchase_unix) ||
        !absl::SimpleAtoi(f[9], &u.r_score) ||
        !absl::SimpleAtoi(f[10], &u.f_score) ||
        !absl::SimpleAtoi(f[11], &u.m_score) ||
        !absl::SimpleAtoi(f[12], &u.as_of_unix)) {
      return std::nullopt;
    }
    return u;
  }

  // The one key builder: the record of `user_id` in `generation` (0: the
  // layout before generations).
  std::string Key(int64_t generation, absl::string_view user_id) const {
    return absl::StrCat(
        redis::GenerationKeyPrefix(options_.key_prefix, generation), "u:",
        user_id, ":seg");
  }

  // Immutable after construction.
  redis::Client* const client_;  // borrowed; thread-safe
  const RedisSegmentStoreOptions options_;
  const redis::GenerationCache generations_;  // thread-safe
};

}  // namespace

std::unique_ptr<SegmentStore> NewInMemorySegmentStore() {
  return std::make_unique<InMemorySegmentStore>();
}

absl::StatusOr<std::unique_ptr<SegmentStore>> NewRedisSegmentStore(
    redis::Client* client, const RedisSegmentStoreOptions& options) {
  if (client == nullptr) {
    return absl::InvalidArgumentError("client: must not be null");
  }
  if (options.bulk_batch < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("bulk_batch: must be >= 1, got ", options.bulk_batch));
  }
  if (options.bulk_threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("bulk_threads: must be >= 1, got ", options.bulk_threads));
  }
  if (options.load_generation < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "load_generation: must be >= 0, got ", options.load_generation));
  }
  if (options.generation_refresh < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("generation_refresh: must be >= 0, got ",
                     absl::FormatDuration(options.generation_refresh)));
  }
  return std::unique_ptr<SegmentStore>(new RedisSegmentStore(client, options));
}

}  // namespace recsys::marketing
