#include "feature_store/redis_feature_store.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/status_macros.h"
#include "feature_store/validation.h"

namespace recsys::feature_store {
namespace {

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

// One Redis command and its arguments; arguments are binary-safe.
using Command = std::vector<std::string>;

// Records a purchase of ARGV[1] at unix second ARGV[2]:
//   KEYS[1] (pc hash): count += 1; a corrupt (non-integer) count restarts at 1.
//   KEYS[2] (pt hash): set to ARGV[2] unless it already holds a later time,
//                      so the last purchase never moves backwards.
constexpr absl::string_view kPurchaseScript =
    "local c = redis.pcall('HINCRBY', KEYS[1], ARGV[1], 1)\n"
    "if type(c) == 'table' and c.err then\n"
    "  redis.call('HSET', KEYS[1], ARGV[1], 1)\n"
    "end\n"
    "local t = tonumber(redis.call('HGET', KEYS[2], ARGV[1]))\n"
    "if not t or t < tonumber(ARGV[2]) then\n"
    "  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])\n"
    "end\n"
    "return 1\n";

// Item hash fields, in the order GetItems asks for them (HMGET).
// Records a PutItems batch in the catalog change feed: raises the version
// counter (KEYS[1]) and scores each item (ARGV) in the change set (KEYS[2])
// with the new version. One script, so a reader sees the version together
// with all of its items.
constexpr absl::string_view kCatalogChangeScript =
    "local v = redis.call('INCR', KEYS[1]) "
    "for i = 1, #ARGV do redis.call('ZADD', KEYS[2], v, ARGV[i]) end "
    "return v";

constexpr absl::string_view kItemCategory = "category";
constexpr absl::string_view kItemPrice = "price";
constexpr absl::string_view kItemTitle = "title";
constexpr absl::string_view kItemStock = "stock";
constexpr absl::string_view kItemSlowMover = "slow";
constexpr absl::string_view kItemListed = "listed";

// Trial counter fields ({p}t:{item_id} hash).
constexpr absl::string_view kTrialImpressions = "impressions";
constexpr absl::string_view kTrialClicks = "clicks";
constexpr absl::string_view kTrialPurchases = "purchases";

// hiredis 0.14 writes with write(2), so a peer that reset the connection
// raises SIGPIPE, whose default action kills the process. While alive, this
// blocks SIGPIPE in the calling thread; on destruction it discards a SIGPIPE
// raised meanwhile (unless one was already pending) and restores the mask.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    was_pending_ = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    blocked_ = pthread_sigmask(SIG_BLOCK, &pipe_, &old_) == 0;
  }
  ~ScopedSigpipeBlock() {
    if (!blocked_) return;
    const int saved_errno = errno;
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
        const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_, nullptr, &zero) == -1 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    errno = saved_errno;
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
  bool blocked_ = false;
};

absl::string_view ReplyText(const redisReply* reply) {
  if (reply->str == nullptr) return absl::string_view();
  return absl::string_view(reply->str, reply->len);
}

bool IsString(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_STRING;
}

std::string FormatDouble(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (ec != std::errc()) return "0";
  return std::string(buffer, end);
}

// Parses "type|unix_seconds|item_id"; nullopt for a malformed entry.
std::optional<ActivityRecord> ParseActivity(absl::string_view entry) {
  const size_t first = entry.find('|');
  if (first == absl::string_view::npos) return std::nullopt;
  const size_t second = entry.find('|', first + 1);
  if (second == absl::string_view::npos) return std::nullopt;
  std::optional<EventType> type = EventTypeFromName(entry.substr(0, first));
  if (!type.has_value()) return std::nullopt;
  int64_t seconds = 0;
  if (!absl::SimpleAtoi(entry.substr(first + 1, second - first - 1),
                        &seconds)) {
    return std::nullopt;
  }
  absl::string_view item = entry.substr(second + 1);
  if (item.empty()) return std::nullopt;
  return ActivityRecord{.item_id = std::string(item),
                        .type = *type,
                        .time = absl::FromUnixSeconds(seconds)};
}

std::string FormatActivity(const Event& event) {
  return absl::StrCat(EventTypeName(event.type), "|",
                      absl::ToUnixSeconds(event.time), "|", event.item_id);
}

// Appends the parsable entries of an LRANGE reply to `out`.
void ParseActivityList(const redisReply* reply,
                       std::vector<ActivityRecord>& out) {
  if (reply->type != REDIS_REPLY_ARRAY) return;
  out.reserve(reply->elements);
  for (size_t i = 0; i < reply->elements; ++i) {
    const redisReply* element = reply->element[i];
    if (!IsString(element)) continue;
    std::optional<ActivityRecord> record = ParseActivity(ReplyText(element));
    if (record.has_value()) out.push_back(*std::move(record));
  }
}

// True unless `reply` is an empty array, i.e. the key exists (an error reply
// such as WRONGTYPE also means a key exists).
bool KeyExists(const redisReply* reply) {
  return !(reply->type == REDIS_REPLY_ARRAY && reply->elements == 0);
}

// A bounded pool of connections to one Redis. See the class comment of
// RedisFeatureStore in redis_feature_store.h for the policy.
//
// Thread safety: safe for concurrent use. A connection handed out by Acquire
// belongs to the caller until passed back to Release.
class ConnectionPool {
 public:
  explicit ConnectionPool(const RedisOptions& options)
      : options_(options),
        address_(absl::StrCat(options.host, ":", options.port)) {}

  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  const std::string& address() const { return address_; }

  // Returns an idle connection, or opens one if fewer than pool_size are
  // open, or waits for one until `deadline` (DeadlineExceeded after it).
  // Unavailable while backing off after a failed connect, or when the
  // connect fails.
  absl::StatusOr<Context> Acquire(absl::Time deadline) {
    {
      absl::MutexLock lock(&mu_);
      while (true) {
        const absl::Time now = absl::Now();
        if (now < retry_after_) {
          return absl::UnavailableError(absl::StrCat(
              "redis ", address_, " unreachable (", last_connect_error_,
              "); in reconnect backoff for another ",
              absl::FormatDuration(retry_after_ - now)));
        }
        if (!idle_.empty()) {
          Context context = std::move(idle_.back());
          idle_.pop_back();
          return context;
        }
        if (open_ < options_.pool_size) {
          ++open_;
          break;
        }
        if (now >= deadline) {
          return absl::DeadlineExceededError(absl::StrCat(
              "no free redis connection to ", address_, " before deadline"));
        }
        cv_.WaitWithDeadline(&mu_, deadline);
      }
    }
    // A slot is reserved; connect without holding the lock.
    bool back_off = false;
    absl::StatusOr<Context> context = Connect(deadline, back_off);
    if (!context.ok()) {
      absl::MutexLock lock(&mu_);
      --open_;
      if (back_off) {
        retry_after_ = absl::Now() + options_.reconnect_backoff;
        last_connect_error_ = std::string(context.status().message());
      }
      // Waiters either take the freed slot or see the backoff.
      cv_.SignalAll();
    }
    return context;
  }

  // Records how a call on a pooled connection ended: `stalled` when Redis
  // did not answer before the call's timeout. After options.stall_trip
  // stalled calls in a row, calls fail fast for reconnect_backoff, as after
  // a failed connect: a hung Redis (accepting connections, answering
  // nothing) then costs requests nothing instead of their whole timeout.
  void ReportCall(bool stalled, absl::string_view error) {
    absl::MutexLock lock(&mu_);
    if (!stalled) {
      stalled_in_a_row_ = 0;
      return;
    }
    if (options_.stall_trip > 0 && ++stalled_in_a_row_ >= options_.stall_trip) {
      stalled_in_a_row_ = 0;
      retry_after_ = absl::Now() + options_.reconnect_backoff;
      last_connect_error_ = absl::StrCat(options_.stall_trip, " calls in a row unanswered: ", error);
    }
  }

  // Returns a connection from Acquire. An unhealthy one (it saw an I/O or
  // protocol error, or has unread replies) is closed and its slot freed.
  void Release(Context context, bool healthy) {
    Context to_close;
    {
      absl::MutexLock lock(&mu_);
      if (healthy) {
        idle_.push_back(std::move(context));
      } else {
        to_close = std::move(context);
        --open_;
      }
      cv_.Signal();
    }
  }

 private:
  // Opens and prepares one connection. Sets `back_off` when the failure says
  // Redis is unreachable (not merely that the caller's deadline was short).
  absl::StatusOr<Context> Connect(absl::Time deadline, bool& back_off) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "deadline passed before connecting to redis ", address_));
    }
    const absl::Duration timeout = std::min(options_.connect_timeout, left);
    Context context(redisConnectWithTimeout(
        options_.host.c_str(), options_.port, absl::ToTimeval(timeout)));
    if (context == nullptr) {
      return absl::ResourceExhaustedError("cannot allocate a redis context");
    }
    if (context->err != 0) {
      if (timeout < options_.connect_timeout && absl::Now() >= deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("connect to redis ", address_, ": ", context->errstr));
      }
      back_off = true;
      return absl::UnavailableError(
          absl::StrCat("connect to redis ", address_, ": ", context->errstr));
    }
    if (options_.db != 0) {
      const absl::Duration select_left =
          std::max(deadline - absl::Now(), absl::Milliseconds(1));
      redisSetTimeout(context.get(), absl::ToTimeval(select_left));
      const std::string db = absl::StrCat(options_.db);
      const char* argv[] = {"SELECT", db.c_str()};
      const size_t lengths[] = {6, db.size()};
      Reply reply(static_cast<redisReply*>(
          redisCommandArgv(context.get(), 2, argv, lengths)));
      if (reply == nullptr) {
        back_off = absl::Now() < deadline;
        return absl::UnavailableError(absl::StrCat(
            "SELECT ", db, " on redis ", address_, ": ", context->errstr));
      }
      if (reply->type == REDIS_REPLY_ERROR) {
        back_off = true;
        return absl::UnavailableError(absl::StrCat("SELECT ", db, " on redis ",
                                                   address_, ": ",
                                                   ReplyText(reply.get())));
      }
    }
    return context;
  }

  // Immutable after construction.
  const RedisOptions options_;
  const std::string address_;

  absl::Mutex mu_;
  // Signalled when a connection or a slot is freed, or a connect failed.
  absl::CondVar cv_;
  std::vector<Context> idle_ ABSL_GUARDED_BY(mu_);
  // Connections open: idle, lent out, or being connected.
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  // Until then, Acquire fails fast instead of connecting.
  absl::Time retry_after_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int stalled_in_a_row_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_connect_error_ ABSL_GUARDED_BY(mu_);
};

class RedisFeatureStore final : public FeatureStore {
 public:
  explicit RedisFeatureStore(const RedisOptions& options)
      : options_(options), pool_(options) {}

  std::string Describe() const override {
    return absl::StrCat("redis ", pool_.address(), " db ", options_.db);
  }

  absl::StatusOr<UserFeatures> GetUser(absl::string_view user_id,
                                       absl::Time deadline) const override;
  absl::StatusOr<std::vector<std::optional<ItemFeatures>>> GetItems(
      absl::Span<const std::string> item_ids,
      absl::Time deadline) const override;
  absl::Status RecordEvents(absl::Span<const Event> events,
                            absl::Time deadline) override;
  absl::Status PutUsers(absl::Span<const UserFeatures> users) override;
  absl::Status PutItems(absl::Span<const ItemFeatures> items) override;
  absl::StatusOr<std::vector<ListedItem>> GetListedItems(
      int limit, absl::Time deadline) const override;
  absl::StatusOr<std::vector<TrialCounts>> GetTrialCounts(
      absl::Span<const std::string> item_ids,
      absl::Time deadline) const override;
  absl::StatusOr<ItemChanges> GetItemChanges(
      int64_t since, absl::Time deadline) const override;
  absl::Status Ping(absl::Time deadline) const override;

 private:
  std::string TrialKey(absl::string_view item_id) const {
    return absl::StrCat(options_.key_prefix, "t:", item_id);
  }
  std::string ListedKey() const {
    return absl::StrCat(options_.key_prefix, "listed");
  }
  std::string CatalogVersionKey() const {
    return absl::StrCat(options_.key_prefix, "catalog_version");
  }
  std::string CatalogChangesKey() const {
    return absl::StrCat(options_.key_prefix, "catalog_changes");
  }
  // The change-feed command for the items of one PutItems batch.
  Command CatalogChange(absl::Span<const ItemFeatures> items) const {
    Command command = {"EVAL", std::string(kCatalogChangeScript), "2",
                       CatalogVersionKey(), CatalogChangesKey()};
    command.reserve(command.size() + items.size());
    for (const ItemFeatures& item : items) command.push_back(item.item_id);
    return command;
  }
  std::string UserKey(absl::string_view user_id,
                      absl::string_view suffix) const {
    return absl::StrCat(options_.key_prefix, "u:", user_id, ":", suffix);
  }
  std::string ItemKey(absl::string_view item_id) const {
    return absl::StrCat(options_.key_prefix, "i:", item_id);
  }

  // Sends `commands` pipelined on one pooled connection and reads one reply
  // per command: a single round trip. Error replies are returned as replies.
  // Unavailable / DeadlineExceeded when Redis cannot be reached or does not
  // answer before `deadline` (InfiniteFuture: default_timeout from now); the
  // commands may then have been partly applied.
  absl::StatusOr<std::vector<Reply>> RoundTrip(
      absl::Span<const Command> commands, absl::Time deadline) const;

  // RoundTrip for writes: Internal when any reply (or any result inside an
  // EXEC reply) is an error.
  absl::Status Write(absl::Span<const Command> commands,
                     absl::Time deadline) const;

  // Status for a failed hiredis call on `context`.
  absl::Status IoError(const redisContext* context, int saved_errno,
                       absl::Time deadline) const;

  const RedisOptions options_;
  mutable ConnectionPool pool_;
};

absl::Status RedisFeatureStore::IoError(const redisContext* context,
                                        int saved_errno,
                                        absl::Time deadline) const {
  const bool timed_out =
      (context->err == REDIS_ERR_IO &&
       (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)) ||
      absl::Now() >= deadline;
  std::string message =
      absl::StrCat("redis ", pool_.address(), ": ",
                   context->err != 0 ? context->errstr : "I/O error");
  if (timed_out) return absl::DeadlineExceededError(message);
  return absl::UnavailableError(message);
}

absl::StatusOr<std::vector<Reply>> RedisFeatureStore::RoundTrip(
    absl::Span<const Command> commands, absl::Time deadline) const {
  if (deadline == absl::InfiniteFuture()) {
    deadline = absl::Now() + options_.default_timeout;
  }
  if (absl::Now() >= deadline) {
    return absl::DeadlineExceededError(
        absl::StrCat("deadline passed before calling redis ", pool_.address()));
  }
  ScopedSigpipeBlock sigpipe_block;
  RECSYS_ASSIGN_OR_RETURN(Context context, pool_.Acquire(deadline));

  absl::Status status;
  // A zero timeval would mean "block forever"; keep at least 1ms.
  const absl::Duration timeout =
      std::max(deadline - absl::Now(), absl::Milliseconds(1));
  errno = 0;
  if (redisSetTimeout(context.get(), absl::ToTimeval(timeout)) != REDIS_OK) {
    status = IoError(context.get(), errno, deadline);
  }

  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (size_t i = 0; status.ok() && i < commands.size(); ++i) {
    const Command& command = commands[i];
    argv.clear();
    lengths.clear();
    for (const std::string& arg : command) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    errno = 0;
    if (redisAppendCommandArgv(context.get(), static_cast<int>(argv.size()),
                               argv.data(), lengths.data()) != REDIS_OK) {
      status = IoError(context.get(), errno, deadline);
    }
  }

  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; status.ok() && i < commands.size(); ++i) {
    void* raw = nullptr;
    errno = 0;
    if (redisGetReply(context.get(), &raw) != REDIS_OK || raw == nullptr) {
      status = IoError(context.get(), errno, deadline);
      break;
    }
    replies.emplace_back(static_cast<redisReply*>(raw));
  }

  pool_.Release(std::move(context), status.ok());
  pool_.ReportCall(status.code() == absl::StatusCode::kDeadlineExceeded, status.message());
  if (!status.ok()) return status;
  return replies;
}

absl::Status RedisFeatureStore::Write(absl::Span<const Command> commands,
                                      absl::Time deadline) const {
  RECSYS_ASSIGN_OR_RETURN(std::vector<Reply> replies,
                          RoundTrip(commands, deadline));
  for (size_t i = 0; i < replies.size(); ++i) {
    const redisReply* reply = replies[i].get();
    if (reply->type == REDIS_REPLY_ERROR) {
      return absl::InternalError(absl::StrCat("redis ", pool_.address(), ": ",
                                              commands[i][0],
                                              " failed: ", ReplyText(reply)));
    }
    if (commands[i][0] == "EXEC") {
      if (reply->type != REDIS_REPLY_ARRAY) {
        return absl::InternalError(absl::StrCat("redis ", pool_.address(),
                                                ": transaction was aborted"));
      }
      for (size_t j = 0; j < reply->elements; ++j) {
        if (reply->element[j]->type == REDIS_REPLY_ERROR) {
          return absl::InternalError(absl::StrCat(
              "redis ", pool_.address(), ": command in transaction failed: ",
              ReplyText(reply->element[j])));
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<UserFeatures> RedisFeatureStore::GetUser(
    absl::string_view user_id, absl::Time deadline) const {
  RECSYS_RETURN_IF_ERROR(internal::ValidateUserId(user_id));
  const Command commands[] = {
      {"HGETALL", UserKey(user_id, "pc")},
      {"HGETALL", UserKey(user_id, "pt")},
      {"LRANGE", UserKey(user_id, "act"), "0",
       absl::StrCat(options_.recent_limit - 1)},
      {"LRANGE", UserKey(user_id, "imp"), "0",
       absl::StrCat(options_.impression_limit - 1)},
  };
  RECSYS_ASSIGN_OR_RETURN(std::vector<Reply> replies,
                          RoundTrip(commands, deadline));
  const redisReply* counts = replies[0].get();
  const redisReply* times = replies[1].get();
  const redisReply* recent = replies[2].get();
  const redisReply* impressions = replies[3].get();
  if (!KeyExists(counts) && !KeyExists(times) && !KeyExists(recent) &&
      !KeyExists(impressions)) {
    return absl::NotFoundError(
        absl::StrCat("no features for user '", user_id, "'"));
  }

  UserFeatures user;
  user.user_id = std::string(user_id);
  // Values that do not parse are skipped: one corrupt field must not make the
  // whole user unreadable.
  absl::flat_hash_map<absl::string_view, int64_t> last_purchase;
  if (times->type == REDIS_REPLY_ARRAY) {
    for (size_t i = 0; i + 1 < times->elements; i += 2) {
      const redisReply* field = times->element[i];
      const redisReply* value = times->element[i + 1];
      int64_t seconds = 0;
      if (IsString(field) && IsString(value) &&
          absl::SimpleAtoi(ReplyText(value), &seconds)) {
        last_purchase[ReplyText(field)] = seconds;
      }
    }
  }
  if (counts->type == REDIS_REPLY_ARRAY) {
    user.purchases.reserve(counts->elements / 2);
    for (size_t i = 0; i + 1 < counts->elements; i += 2) {
      const redisReply* field = counts->element[i];
      const redisReply* value = counts->element[i + 1];
      int64_t count = 0;
      if (!IsString(field) || ReplyText(field).empty() || !IsString(value) ||
          !absl::SimpleAtoi(ReplyText(value), &count) || count < 1) {
        continue;
      }
      PurchaseRecord purchase;
      purchase.item_id = std::string(ReplyText(field));
      purchase.count = static_cast<int32_t>(
          std::min<int64_t>(count, std::numeric_limits<int32_t>::max()));
      auto it = last_purchase.find(ReplyText(field));
      if (it != last_purchase.end()) {
        purchase.last_purchase = absl::FromUnixSeconds(it->second);
      }
      user.purchases.push_back(std::move(purchase));
    }
  }
  ParseActivityList(recent, user.recent);
  ParseActivityList(impressions, user.impressions);
  return user;
}

absl::StatusOr<std::vector<std::optional<ItemFeatures>>>
RedisFeatureStore::GetItems(absl::Span<const std::string> item_ids,
                            absl::Time deadline) const {
  RECSYS_RETURN_IF_ERROR(internal::ValidateItemIds(item_ids));
  std::vector<std::optional<ItemFeatures>> result;
  if (item_ids.empty()) return result;
  std::vector<Command> commands;
  commands.reserve(item_ids.size());
  for (const std::string& id : item_ids) {
    commands.push_back({"HMGET", ItemKey(id), std::string(kItemCategory),
                        std::string(kItemPrice), std::string(kItemTitle),
                        std::string(kItemStock), std::string(kItemSlowMover),
                        std::string(kItemListed)});
  }
  RECSYS_ASSIGN_OR_RETURN(std::vector<Reply> replies,
                          RoundTrip(commands, deadline));
  result.reserve(item_ids.size());
  for (size_t i = 0; i < item_ids.size(); ++i) {
    const redisReply* reply = replies[i].get();
    // Unknown item: every field nil. A key of another type (an error reply)
    // is treated as unknown too.
    bool any = false;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 6) {
      for (size_t j = 0; j < 6; ++j) any = any || IsString(reply->element[j]);
    }
    if (!any) {
      result.emplace_back(std::nullopt);
      continue;
    }
    ItemFeatures item;
    item.item_id = item_ids[i];
    // Fields missing or failing to parse keep their defaults.
    if (IsString(reply->element[0])) {
      item.category = std::string(ReplyText(reply->element[0]));
    }
    double price = 0;
    if (IsString(reply->element[1]) &&
        absl::SimpleAtod(ReplyText(reply->element[1]), &price)) {
      item.price = price;
    }
    if (IsString(reply->element[2])) {
      item.title = std::string(ReplyText(reply->element[2]));
    }
    int64_t stock = 0;
    if (IsString(reply->element[3]) &&
        absl::SimpleAtoi(ReplyText(reply->element[3]), &stock)) {
      item.stock = stock;
    }
    item.slow_mover = IsString(reply->element[4]) && ReplyText(reply->element[4]) == "1";
    int64_t listed = 0;
    if (IsString(reply->element[5]) &&
        absl::SimpleAtoi(ReplyText(reply->element[5]), &listed)) {
      item.listed = absl::FromUnixSeconds(listed);
    }
    result.emplace_back(std::move(item));
  }
  return result;
}

absl::Status RedisFeatureStore::RecordEvents(absl::Span<const Event> events,
                                             absl::Time deadline) {
  RECSYS_RETURN_IF_ERROR(internal::ValidateEvents(events));
  if (events.empty()) return absl::OkStatus();
  std::vector<Command> commands;
  commands.reserve(events.size() * 2 + 2);
  // Lists pushed to, trimmed once at the end of the batch, with their limit.
  std::vector<std::pair<std::string, int>> trims;
  absl::flat_hash_set<std::string> trimmed;
  auto push = [&](std::string key, std::string entry, int limit) {
    commands.push_back({"LPUSH", key, std::move(entry)});
    if (trimmed.insert(key).second) trims.emplace_back(std::move(key), limit);
  };
  for (const Event& event : events) {
    if (event.count_for_trial) {
      absl::string_view field;
      if (event.type == EventType::kImpression) field = kTrialImpressions;
      if (event.type == EventType::kClick) field = kTrialClicks;
      if (event.type == EventType::kPurchase) field = kTrialPurchases;
      if (!field.empty()) {
        commands.push_back({"HINCRBY", TrialKey(event.item_id),
                            std::string(field), "1"});
      }
    }
    std::string entry = FormatActivity(event);
    switch (event.type) {
      case EventType::kPurchase:
        commands.push_back({"EVAL", std::string(kPurchaseScript), "2",
                            UserKey(event.user_id, "pc"),
                            UserKey(event.user_id, "pt"), event.item_id,
                            absl::StrCat(absl::ToUnixSeconds(event.time))});
        push(UserKey(event.user_id, "act"), std::move(entry),
             options_.recent_limit);
        break;
      case EventType::kImpression:
        push(UserKey(event.user_id, "imp"), std::move(entry),
             options_.impression_limit);
        break;
      default:  // view, add_to_cart, click (others were rejected above).
        push(UserKey(event.user_id, "act"), std::move(entry),
             options_.recent_limit);
        break;
    }
  }
  for (auto& [key, limit] : trims) {
    commands.push_back({"LTRIM", std::move(key), "0", absl::StrCat(limit - 1)});
  }
  return Write(commands, deadline);
}

absl::Status RedisFeatureStore::PutUsers(absl::Span<const UserFeatures> users) {
  RECSYS_RETURN_IF_ERROR(internal::ValidateUsers(users));
  std::vector<Command> batch;
  batch.reserve(options_.bulk_batch + 8);
  for (const UserFeatures& user : users) {
    const std::string counts_key = UserKey(user.user_id, "pc");
    const std::string times_key = UserKey(user.user_id, "pt");
    // MULTI/EXEC so that a concurrent GetUser never sees the history
    // half-replaced.
    batch.push_back({"MULTI"});
    batch.push_back({"DEL", counts_key, times_key});
    if (!user.purchases.empty()) {
      Command counts = {"HSET", counts_key};
      Command times = {"HSET", times_key};
      counts.reserve(2 + 2 * user.purchases.size());
      times.reserve(2 + 2 * user.purchases.size());
      for (const PurchaseRecord& purchase : user.purchases) {
        counts.push_back(purchase.item_id);
        counts.push_back(absl::StrCat(purchase.count));
        if (purchase.last_purchase != absl::InfinitePast() &&
            purchase.last_purchase != absl::InfiniteFuture()) {
          times.push_back(purchase.item_id);
          times.push_back(
              absl::StrCat(absl::ToUnixSeconds(purchase.last_purchase)));
        }
      }
      batch.push_back(std::move(counts));
      if (times.size() > 2) batch.push_back(std::move(times));
    }
    batch.push_back({"EXEC"});
    if (batch.size() >= static_cast<size_t>(options_.bulk_batch)) {
      RECSYS_RETURN_IF_ERROR(Write(batch, absl::InfiniteFuture()));
      batch.clear();
    }
  }
  if (!batch.empty()) {
    RECSYS_RETURN_IF_ERROR(Write(batch, absl::InfiniteFuture()));
  }
  return absl::OkStatus();
}

absl::Status RedisFeatureStore::PutItems(absl::Span<const ItemFeatures> items) {
  RECSYS_RETURN_IF_ERROR(internal::ValidateItems(items));
  std::vector<Command> batch;
  batch.reserve(std::min<size_t>(items.size(), options_.bulk_batch) + 1);
  size_t batch_begin = 0;  // first item of `batch`
  for (size_t i = 0; i < items.size(); ++i) {
    const ItemFeatures& item = items[i];
    batch.push_back({"HSET", ItemKey(item.item_id), std::string(kItemCategory),
                     item.category, std::string(kItemPrice),
                     FormatDouble(item.price), std::string(kItemTitle),
                     item.title, std::string(kItemStock),
                     absl::StrCat(item.stock), std::string(kItemSlowMover),
                     item.slow_mover ? "1" : "0"});
    if (item.listed != absl::InfinitePast()) {
      const std::string listed = absl::StrCat(absl::ToUnixSeconds(item.listed));
      batch.push_back({"HSET", ItemKey(item.item_id), std::string(kItemListed), listed});
      batch.push_back({"ZADD", ListedKey(), listed, item.item_id});
    }
    if (batch.size() >= static_cast<size_t>(options_.bulk_batch) || i + 1 == items.size()) {
      // The change feed entry follows the features it announces, on the
      // same connection.
      batch.push_back(CatalogChange(items.subspan(batch_begin, i + 1 - batch_begin)));
      RECSYS_RETURN_IF_ERROR(Write(batch, absl::InfiniteFuture()));
      batch.clear();
      batch_begin = i + 1;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ItemChanges> RedisFeatureStore::GetItemChanges(
    int64_t since, absl::Time deadline) const {
  if (since < kLatestCatalogVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("since: must be a catalog version (>= 0) or ",
                     kLatestCatalogVersion, ", got ", since));
  }
  std::vector<Command> commands = {{"GET", CatalogVersionKey()}};
  if (since != kLatestCatalogVersion) {
    commands.push_back({"ZRANGEBYSCORE", CatalogChangesKey(),
                        absl::StrCat("(", since), "+inf", "WITHSCORES"});
  }
  RECSYS_ASSIGN_OR_RETURN(std::vector<Reply> replies,
                          RoundTrip(commands, deadline));
  ItemChanges changes;
  const redisReply* version = replies[0].get();
  if (version->type == REDIS_REPLY_ERROR) {
    return absl::InternalError(absl::StrCat("redis ", pool_.address(), ": GET ",
                                            CatalogVersionKey(),
                                            " failed: ", ReplyText(version)));
  }
  if (IsString(version) && !absl::SimpleAtoi(ReplyText(version), &changes.version)) {
    return absl::InternalError(absl::StrCat("redis ", pool_.address(), ": ",
                                            CatalogVersionKey(), " holds \"",
                                            ReplyText(version), "\", not a version"));
  }
  if (since == kLatestCatalogVersion) return changes;
  if (changes.version < since) {
    changes.reset = true;
    return changes;
  }
  // The GET ran first: items written between the two commands arrive with
  // versions above it. The highest score seen is the version reached.
  const redisReply* items = replies[1].get();
  if (items->type != REDIS_REPLY_ARRAY) {
    return absl::InternalError(absl::StrCat("redis ", pool_.address(), ": ",
                                            CatalogChangesKey(), " is not a sorted set"));
  }
  changes.item_ids.reserve(items->elements / 2);
  for (size_t i = 0; i + 1 < items->elements; i += 2) {
    double score = 0;
    if (!IsString(items->element[i]) || !IsString(items->element[i + 1]) ||
        !absl::SimpleAtod(ReplyText(items->element[i + 1]), &score)) {
      continue;
    }
    changes.item_ids.emplace_back(ReplyText(items->element[i]));
    changes.version = std::max(changes.version, static_cast<int64_t>(score));
  }
  return changes;
}

absl::StatusOr<std::vector<ListedItem>> RedisFeatureStore::GetListedItems(
    int limit, absl::Time deadline) const {
  if (limit < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: must be at least 1, got ", limit));
  }
  const Command commands[] = {{"ZREVRANGE", ListedKey(), "0",
                               absl::StrCat(limit - 1), "WITHSCORES"}};
  RECSYS_ASSIGN_OR_RETURN(std::vector<Reply> replies,
                          RoundTrip(commands, deadline));
  const redisReply* reply = replies[0].get();
  std::vector<ListedItem> result;
  if (reply->type != REDIS_REPLY_ARRAY) return result;  // wrong type: empty
  for (size_t i = 0; i + 1 < reply->elements; i += 2) {
    double score = 0;
    if (!IsString(reply->element[i]) || !IsString(reply->element[i + 1]) ||
        !absl::SimpleAtod(ReplyText(reply->element[i + 1]), &score)) {
      continue;
    }
    result.push_back({std::string(ReplyText(reply->element[i])),
                      absl::FromUnixSeconds(static_cast<int64_t>(score))});
  }
  return result;
}

absl::StatusOr<std::vector<TrialCounts>> RedisFeatureStore::GetTrialCounts(
    absl::Span<const std::string> item_ids, absl::Time deadline) const {
  RECSYS_RETURN_IF_ERROR(internal::ValidateItemIds(item_ids));
  std::vector<TrialCounts> result(item_ids.size());
  if (item_ids.empty()) return result;
  std::vector<Command> commands;
  commands.reserve(item_ids.size());
  for (const std::string& id : item_ids) {
    commands.push_back({"HMGET", TrialKey(id), std::string(kTrialImpressions),
                        std::string(kTrialClicks), std::string(kTrialPurchases)});
  }
  RECSYS_ASSIGN_OR_RETURN(std::vector<Reply> replies,
                          RoundTrip(commands, deadline));
  for (size_t i = 0; i < item_ids.size(); ++i) {
    const redisReply* reply = replies[i].get();
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) continue;
    int64_t* fields[] = {&result[i].impressions, &result[i].clicks,
                         &result[i].purchases};
    for (size_t j = 0; j < 3; ++j) {
      int64_t value = 0;
      if (IsString(reply->element[j]) &&
          absl::SimpleAtoi(ReplyText(reply->element[j]), &value)) {
        *fields[j] = value;
      }
    }
  }
  return result;
}

absl::Status RedisFeatureStore::Ping(absl::Time deadline) const {
  const Command commands[] = {{"PING"}};
  RECSYS_ASSIGN_OR_RETURN(std::vector<Reply> replies,
                          RoundTrip(commands, deadline));
  const redisReply* reply = replies[0].get();
  if (reply->type == REDIS_REPLY_STATUS && ReplyText(reply) == "PONG") {
    return absl::OkStatus();
  }
  return absl::InternalError(absl::StrCat("redis ", pool_.address(),
                                          ": unexpected PING reply '",
                                          ReplyText(reply), "'"));
}

}  // namespace

absl::StatusOr<RedisOptions> ParseRedisAddress(absl::string_view address) {
  if (address.empty()) {
    return absl::InvalidArgumentError("redis address is empty");
  }
  absl::string_view host = address;
  absl::string_view port_text;
  bool has_port = false;
  if (address.front() == '[') {
    // "[v6 address]" or "[v6 address]:port".
    const size_t close = address.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("missing ']' in redis address '", address, "'"));
    }
    host = address.substr(1, close - 1);
    absl::string_view rest = address.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected '", rest, "' after ']' in redis address '",
                         address, "'"));
      }
      port_text = rest.substr(1);
      has_port = true;
    }
  } else {
    const size_t colon = address.find(':');
    if (colon != absl::string_view::npos) {
      if (address.find(':', colon + 1) != absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("redis address '", address,
                         "' has several ':'; write IPv6 hosts as [host]:port"));
      }
      host = address.substr(0, colon);
      port_text = address.substr(colon + 1);
      has_port = true;
    }
  }
  if (host.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("empty host in redis address '", address, "'"));
  }
  RedisOptions options;
  options.host = std::string(host);
  if (has_port) {
    int port = 0;
    if (!absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad port '", port_text, "' in redis address '", address, "'"));
    }
    options.port = port;
  }
  return options;
}

absl::StatusOr<std::unique_ptr<FeatureStore>> NewRedisFeatureStore(
    const RedisOptions& options) {
  if (options.host.empty()) {
    return absl::InvalidArgumentError("RedisOptions.host is empty");
  }
  if (options.port < 1 || options.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RedisOptions.port ", options.port, " is outside 1..65535"));
  }
  if (options.db < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("RedisOptions.db ", options.db, " is negative"));
  }
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RedisOptions.pool_size ", options.pool_size, " is below 1"));
  }
  if (options.recent_limit < 1 || options.impression_limit < 1) {
    return absl::InvalidArgumentError(
        "RedisOptions.recent_limit and impression_limit must be at least 1");
  }
  if (options.bulk_batch < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RedisOptions.bulk_batch ", options.bulk_batch, " is below 1"));
  }
  if (options.connect_timeout <= absl::ZeroDuration() ||
      options.default_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "RedisOptions.connect_timeout and default_timeout must be positive");
  }
  if (options.stall_trip < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RedisOptions.stall_trip ", options.stall_trip, " is negative"));
  }
  if (options.reconnect_backoff < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "RedisOptions.reconnect_backoff is negative");
  }
  return std::make_unique<RedisFeatureStore>(options);
}

}  // namespace recsys::feature_store
