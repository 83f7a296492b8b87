#include "redis/client.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cerrno>
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
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "redis/sigpipe.h"

namespace recsys::redis {
namespace {

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

Value Convert(const redisReply* reply) {
  Value value;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
      value.type = Value::Type::kString;
      value.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_STATUS:
      value.type = Value::Type::kStatus;
      value.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ERROR:
      value.type = Value::Type::kError;
      value.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_INTEGER:
      value.type = Value::Type::kInteger;
      value.integer = reply->integer;
      break;
    case REDIS_REPLY_ARRAY:
      value.type = Value::Type::kArray;
      value.elements.reserve(reply->elements);
      for (size_t i = 0; i < reply->elements; ++i) {
        value.elements.push_back(Convert(reply->element[i]));
      }
      break;
    default:
      value.type = Value::Type::kNil;
      break;
  }
  return value;
}

// A zero timeval would mean "block forever"; keep at least 1ms.
struct timeval TimeoutUntil(absl::Time deadline) {
  return absl::ToTimeval(
      std::max(deadline - absl::Now(), absl::Milliseconds(1)));
}

bool IsNoScript(const Value& reply) {
  return reply.is_error() && absl::StartsWith(reply.text, "NOSCRIPT");
}

}  // namespace

// The connections and the failure policy of one Client (see client.h).
//
// Thread safety: safe for concurrent use. A connection handed out by Acquire
// belongs to the caller until passed back to Release.
class Client::Pool {
 public:
  Pool(const Options& options, const std::string& address)
      : options_(options), address_(address) {}

  // A connection lent by Acquire; `reused` when it had been used before
  // (taken from the idle list), so it may have gone stale meanwhile.
  struct Lease {
    Context context;
    bool reused = false;
  };

  // An idle connection, a new one if fewer than pool_size are open, or one
  // freed before `deadline` (DeadlineExceeded after it). Unavailable while
  // failing fast, or when the connect fails.
  absl::StatusOr<Lease> Acquire(absl::Time deadline) {
    {
      absl::MutexLock lock(&mu_);
      while (true) {
        const absl::Time now = absl::Now();
        if (now < retry_after_) {
          if (fail_fast_code_ == absl::StatusCode::kPermissionDenied) {
            return absl::PermissionDeniedError(absl::StrCat(
                fail_fast_reason_, "; not retrying AUTH for another ",
                absl::FormatDuration(retry_after_ - now)));
          }
          return absl::UnavailableError(absl::StrCat(
              "redis ", address_, " unreachable (", fail_fast_reason_,
              "); in reconnect backoff for another ",
              absl::FormatDuration(retry_after_ - now)));
        }
        if (!idle_.empty()) {
          Lease lease{std::move(idle_.back()), /*reused=*/true};
          idle_.pop_back();
          return lease;
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
        fail_fast_reason_ = std::string(context.status().message());
        fail_fast_code_ = context.status().code();
      }
      // Waiters either take the freed slot or see the backoff.
      cv_.SignalAll();
      return context.status();
    }
    return Lease{*std::move(context), /*reused=*/false};
  }

  // Returns a connection from Acquire. An unhealthy one (it saw an I/O or
  // protocol error, or has unread replies) is closed and its slot freed.
  void Release(Context context, bool healthy) {
    Context to_close;
    absl::MutexLock lock(&mu_);
    if (healthy) {
      idle_.push_back(std::move(context));
    } else {
      to_close = std::move(context);
      --open_;
    }
    cv_.Signal();
  }

  // Closes every idle connection: one of them turned out stale, and the
  // others were opened as long ago.
  void DropIdle() {
    std::vector<Context> to_close;
    absl::MutexLock lock(&mu_);
    to_close.swap(idle_);
    open_ -= static_cast<int>(to_close.size());
    cv_.SignalAll();
  }

  // Records how a call that reached Redis ended: `stalled` when Redis did
  // not answer before the call's timeout. After stall_trip stalled calls in
  // a row, calls fail fast for reconnect_backoff.
  void ReportCall(bool stalled, absl::string_view error) {
    absl::MutexLock lock(&mu_);
    if (!stalled) {
      stalled_in_a_row_ = 0;
      return;
    }
    if (options_.stall_trip > 0 && ++stalled_in_a_row_ >= options_.stall_trip) {
      stalled_in_a_row_ = 0;
      ++stall_trips_;
      retry_after_ = absl::Now() + options_.reconnect_backoff;
      fail_fast_code_ = absl::StatusCode::kUnavailable;
      fail_fast_reason_ = absl::StrCat(options_.stall_trip,
                                       " calls in a row unanswered: ", error);
    }
  }

  void CountStaleRetry() {
    absl::MutexLock lock(&mu_);
    ++stale_retries_;
  }
  void CountScriptReloads(int n) {
    absl::MutexLock lock(&mu_);
    script_reloads_ += n;
  }

  // Remembers the source of a loaded script, for the NOSCRIPT fallback.
  void RegisterScript(const std::string& sha, const std::string& source) {
    absl::MutexLock lock(&scripts_mu_);
    if (!scripts_.contains(sha)) scripts_.emplace(sha, source);
  }
  // The source registered for `sha`; nullopt when unknown.
  std::optional<std::string> ScriptSource(absl::string_view sha) const {
    absl::MutexLock lock(&scripts_mu_);
    auto it = scripts_.find(sha);
    if (it == scripts_.end()) return std::nullopt;
    return it->second;
  }

  // After a pipeline on `context` got its replies: loads again every
  // registered script whose EVALSHA met NOSCRIPT and re-runs those commands
  // once (one more round trip), replacing their replies. I/O errors as
  // Pipeline.
  absl::Status RerunNoScript(redisContext* context,
                             absl::Span<const Command> commands,
                             absl::Time deadline, std::vector<Value>& replies);

  // After a call failed with its connection reset: true when Redis
  // requires a password this client does not send. A Redis with
  // requirepass closes an unauthenticated connection that sends a large
  // command (a bulk load's pipeline) instead of answering NOAUTH, so the
  // caller would only see "connection reset". One PING on a fresh
  // connection tells; it runs only on this error path.
  bool RequiresAuth(absl::Time deadline) const {
    if (!options_.password.empty()) return false;
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    Context context(redisConnectWithTimeout(
        options_.host.c_str(), options_.port,
        absl::ToTimeval(std::min(options_.connect_timeout, left))));
    if (context == nullptr || context->err != 0) return false;
    redisSetTimeout(context.get(), TimeoutUntil(deadline));
    Reply reply(static_cast<redisReply*>(redisCommand(context.get(), "PING")));
    return reply != nullptr && reply->type == REDIS_REPLY_ERROR &&
           absl::StartsWith(absl::string_view(reply->str, reply->len),
                            "NOAUTH");
  }

  Stats GetStats() const {
    Stats stats;
    stats.address = address_;
    stats.db = options_.db;
    stats.pool_size = options_.pool_size;
    absl::MutexLock lock(&mu_);
    stats.open_connections = open_;
    stats.idle_connections = static_cast<int>(idle_.size());
    const absl::Time now = absl::Now();
    if (now < retry_after_) {
      stats.failing_fast = true;
      stats.fail_fast_remaining = retry_after_ - now;
      stats.fail_fast_reason = fail_fast_reason_;
    }
    stats.stalled_in_a_row = stalled_in_a_row_;
    stats.stall_trips = stall_trips_;
    stats.stale_retries = stale_retries_;
    stats.script_reloads = script_reloads_;
    return stats;
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
    if (!options_.password.empty()) {
      RECSYS_RETURN_IF_ERROR(Authenticate(context.get(), deadline, back_off));
    }
    if (options_.db != 0) {
      redisSetTimeout(context.get(), TimeoutUntil(deadline));
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
        return absl::UnavailableError(
            absl::StrCat("SELECT ", db, " on redis ", address_, ": ",
                         absl::string_view(reply->str, reply->len)));
      }
    }
    return context;
  }

  // Sends AUTH [user] password on a new connection. PermissionDenied (and
  // `back_off`) when Redis refuses it; Unavailable on an I/O error. No
  // message contains the password.
  absl::Status Authenticate(redisContext* context, absl::Time deadline,
                            bool& back_off) {
    redisSetTimeout(context, TimeoutUntil(deadline));
    std::vector<const char*> argv = {"AUTH"};
    std::vector<size_t> lengths = {4};
    if (!options_.user.empty()) {
      argv.push_back(options_.user.data());
      lengths.push_back(options_.user.size());
    }
    argv.push_back(options_.password.data());
    lengths.push_back(options_.password.size());
    const std::string who =
        options_.user.empty() ? std::string("the default user")
                              : absl::StrCat("user '", options_.user, "'");
    Reply reply(static_cast<redisReply*>(redisCommandArgv(
        context, static_cast<int>(argv.size()), argv.data(), lengths.data())));
    if (reply == nullptr) {
      back_off = absl::Now() < deadline;
      return absl::UnavailableError(absl::StrCat(
          "AUTH as ", who, " on redis ", address_, ": ", context->errstr));
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      back_off = true;
      // Redis's error text ("WRONGPASS invalid username-password pair...",
      // "ERR AUTH <password> called without any password configured...")
      // never echoes the password; it is kept for the operator.
      return absl::PermissionDeniedError(absl::StrCat(
          "redis ", address_, " refused AUTH as ", who,
          " (check --redis_user and the password file): ",
          absl::string_view(reply->str, reply->len)));
    }
    return absl::OkStatus();
  }

  // Immutable after construction.
  const Options options_;
  const std::string address_;

  mutable absl::Mutex mu_;
  // Signalled when a connection or a slot is freed, or a connect failed.
  absl::CondVar cv_;
  std::vector<Context> idle_ ABSL_GUARDED_BY(mu_);
  // Connections open: idle, lent out, or being connected.
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  // Until then, Acquire fails fast instead of connecting, because of
  // fail_fast_reason_.
  absl::Time retry_after_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string fail_fast_reason_ ABSL_GUARDED_BY(mu_);
  // PermissionDenied after a refused AUTH, else Unavailable.
  absl::StatusCode fail_fast_code_ ABSL_GUARDED_BY(mu_) =
      absl::StatusCode::kUnavailable;
  int stalled_in_a_row_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t stall_trips_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t stale_retries_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t script_reloads_ ABSL_GUARDED_BY(mu_) = 0;

  mutable absl::Mutex scripts_mu_;
  // SHA -> source of every script loaded through this client.
  absl::flat_hash_map<std::string, std::string> scripts_
      ABSL_GUARDED_BY(scripts_mu_);
};

namespace {

// PermissionDenied: Redis wants a password and Options has none; `what` is
// what Redis said (NOAUTH) or did (reset the connection).
absl::Status NoAuthError(const std::string& address, absl::string_view what) {
  return absl::PermissionDeniedError(absl::StrCat(
      "redis ", address, " requires authentication (", what,
      "); give a password (--redis_password_file or RECSYS_REDIS_PASSWORD)"));
}

// Status for a failed hiredis call on `context`.
absl::Status IoError(const std::string& address, const redisContext* context,
                     int saved_errno, absl::Time deadline) {
  const bool timed_out =
      (context->err == REDIS_ERR_IO &&
       (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)) ||
      absl::Now() >= deadline;
  std::string message =
      absl::StrCat("redis ", address, ": ",
                   context->err != 0 ? context->errstr : "I/O error");
  if (timed_out) return absl::DeadlineExceededError(message);
  return absl::UnavailableError(message);
}

// Sends `commands` pipelined on `context` and appends one reply per command
// to `replies`, stopping at the first failure (so replies->size() tells how
// many arrived).
absl::Status Pipeline(const std::string& address, redisContext* context,
                      absl::Span<const Command> commands, absl::Time deadline,
                      std::vector<Value>* replies) {
  errno = 0;
  if (redisSetTimeout(context, TimeoutUntil(deadline)) != REDIS_OK) {
    return IoError(address, context, errno, deadline);
  }
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const Command& command : commands) {
    argv.clear();
    lengths.clear();
    for (const std::string& arg : command) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    errno = 0;
    if (redisAppendCommandArgv(context, static_cast<int>(argv.size()),
                               argv.data(), lengths.data()) != REDIS_OK) {
      return IoError(address, context, errno, deadline);
    }
  }
  replies->reserve(replies->size() + commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    errno = 0;
    if (redisGetReply(context, &raw) != REDIS_OK || raw == nullptr) {
      return IoError(address, context, errno, deadline);
    }
    Reply reply(static_cast<redisReply*>(raw));
    replies->push_back(Convert(reply.get()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Client::Pool::RerunNoScript(redisContext* context,
                                         absl::Span<const Command> commands,
                                         absl::Time deadline,
                                         std::vector<Value>& replies) {
  // One more round trip for the EVALSHA commands of known scripts that met
  // NOSCRIPT: each script loaded once, then the commands again, in their
  // order.
  std::vector<size_t> rerun;
  std::vector<Command> again;
  std::vector<size_t> reply_of;  // index in `again` of each rerun's reply
  absl::flat_hash_set<std::string> loaded;
  for (size_t i = 0; i < replies.size(); ++i) {
    if (!IsNoScript(replies[i]) || commands[i].size() < 2 ||
        commands[i][0] != "EVALSHA") {
      continue;
    }
    const std::string& sha = commands[i][1];
    if (!loaded.contains(sha)) {
      std::optional<std::string> source = ScriptSource(sha);
      if (!source.has_value()) continue;  // not loaded through this client
      loaded.insert(sha);
      again.push_back({"SCRIPT", "LOAD", *std::move(source)});
    }
    rerun.push_back(i);
    reply_of.push_back(again.size());
    again.push_back(commands[i]);
  }
  if (rerun.empty()) return absl::OkStatus();
  CountScriptReloads(static_cast<int>(loaded.size()));
  std::vector<Value> again_replies;
  RECSYS_RETURN_IF_ERROR(
      Pipeline(address_, context, again, deadline, &again_replies));
  for (size_t k = 0; k < rerun.size(); ++k) {
    replies[rerun[k]] = std::move(again_replies[reply_of[k]]);
  }
  return absl::OkStatus();
}

std::optional<std::string> Value::AsText() const {
  switch (type) {
    case Type::kString:
    case Type::kStatus:
      return text;
    case Type::kInteger:
      return absl::StrCat(integer);
    default:
      return std::nullopt;
  }
}

std::optional<int64_t> Value::AsInt() const {
  if (type == Type::kInteger) return integer;
  if (type != Type::kString) return std::nullopt;
  int64_t v = 0;
  if (!absl::SimpleAtoi(text, &v)) return std::nullopt;
  return v;
}

std::string Stats::ToString() const {
  std::string out =
      absl::StrCat("redis ", address, " db ", db, ": ", open_connections, "/",
                   pool_size, " connections (", idle_connections, " idle)");
  if (failing_fast) {
    absl::StrAppend(&out, ", failing fast for another ",
                    absl::FormatDuration(fail_fast_remaining), " (",
                    fail_fast_reason, ")");
  }
  if (stalled_in_a_row > 0) {
    absl::StrAppend(&out, ", ", stalled_in_a_row, " unanswered in a row");
  }
  absl::StrAppend(&out, "; stall trips ", stall_trips, ", stale retries ",
                  stale_retries, ", script reloads ", script_reloads);
  return out;
}

Client::Client(const Options& options)
    : options_(options),
      address_(absl::StrCat(options.host, ":", options.port)),
      pool_(std::make_unique<Pool>(options_, address_)) {
  metrics::Registry* registry = options_.metrics;
  if (registry == nullptr) return;
  call_seconds_ =
      registry
          ->AddHistogram("recsys_redis_call_duration_seconds",
                         "Redis round trips (pipelines), from acquiring a "
                         "connection to the last reply.",
                         {}, metrics::LatencyBuckets())
          ->Get({});
  call_errors_ = registry->AddCounter(
      "recsys_redis_call_errors_total",
      "Redis round trips that failed, by status code (UNAVAILABLE includes "
      "calls refused fast while connecting backs off or the stall breaker is "
      "open).",
      {"code"});
  collector_id_ = registry->AddCollector([this] {
    const Stats stats = GetStats();
    using metrics::MakeFamily;
    using metrics::Type;
    return std::vector<metrics::FamilySnapshot>{
        MakeFamily("recsys_redis_pool_connections",
                   "Redis connections open (state=open) and idle among them.",
                   Type::kGauge, {"state"},
                   {{{"open"}, static_cast<double>(stats.open_connections)},
                    {{"idle"}, static_cast<double>(stats.idle_connections)}}),
        MakeFamily("recsys_redis_pool_size",
                   "Maximum Redis connections of the process.", Type::kGauge,
                   {}, {{{}, static_cast<double>(stats.pool_size)}}),
        MakeFamily("recsys_redis_failing_fast",
                   "1 while Redis calls fail fast (connect backoff or open "
                   "stall breaker), else 0.",
                   Type::kGauge, {}, {{{}, stats.failing_fast ? 1.0 : 0.0}}),
        MakeFamily("recsys_redis_stall_trips_total",
                   "Times the stall breaker opened.", Type::kCounter, {},
                   {{{}, static_cast<double>(stats.stall_trips)}}),
        MakeFamily("recsys_redis_stale_retries_total",
                   "Reads re-sent after a stale pooled connection.",
                   Type::kCounter, {},
                   {{{}, static_cast<double>(stats.stale_retries)}}),
    };
  });
}

Client::~Client() {
  if (collector_id_ != 0) options_.metrics->RemoveCollector(collector_id_);
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(const Options& options) {
  RECSYS_RETURN_IF_ERROR(ValidateOptions(options));
  return std::unique_ptr<Client>(new Client(options));
}

std::string Client::Describe() const {
  return absl::StrCat("redis ", address_, " db ", options_.db);
}

absl::StatusOr<std::vector<Value>> Client::RoundTrip(
    absl::Span<const Command> commands, absl::Time deadline,
    CallKind kind) const {
  if (call_seconds_ == nullptr || commands.empty()) {
    return RoundTripUnmeasured(commands, deadline, kind);
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Value>> replies =
      RoundTripUnmeasured(commands, deadline, kind);
  call_seconds_->Observe(absl::ToDoubleSeconds(absl::Now() - start));
  if (!replies.ok()) {
    call_errors_->Get({absl::StatusCodeToString(replies.status().code())})
        ->Increment();
  }
  return replies;
}

absl::StatusOr<std::vector<Value>> Client::RoundTripUnmeasured(
    absl::Span<const Command> commands, absl::Time deadline,
    CallKind kind) const {
  if (deadline == absl::InfiniteFuture()) {
    deadline = absl::Now() + options_.default_timeout;
  }
  if (absl::Now() >= deadline) {
    return absl::DeadlineExceededError(
        absl::StrCat("deadline passed before calling redis ", address_));
  }
  std::vector<Value> replies;
  if (commands.empty()) return replies;
  internal::ScopedSigpipeBlock sigpipe_block;
  for (int attempt = 0;; ++attempt) {
    RECSYS_ASSIGN_OR_RETURN(Pool::Lease lease, pool_->Acquire(deadline));
    replies.clear();
    absl::Status status =
        Pipeline(address_, lease.context.get(), commands, deadline, &replies);
    if (status.ok()) {
      status = pool_->RerunNoScript(lease.context.get(), commands, deadline,
                                    replies);
    }
    // A pooled connection that failed before any reply, other than by
    // timing out, was dead before this call (e.g. Redis restarted).
    const bool stale = lease.reused &&
                       status.code() == absl::StatusCode::kUnavailable &&
                       replies.empty();
    pool_->Release(std::move(lease.context), status.ok());
    if (stale) {
      pool_->DropIdle();
      if (kind == CallKind::kRead && attempt == 0) {
        pool_->CountStaleRetry();
        continue;
      }
    }
    pool_->ReportCall(status.code() == absl::StatusCode::kDeadlineExceeded,
                      status.message());
    for (const Value& reply : replies) {
      // NOAUTH, or the answer Redis gives before closing a connection that
      // sent a large command unauthenticated.
      if (reply.is_error() &&
          (absl::StartsWith(reply.text, "NOAUTH") ||
           absl::StrContains(reply.text, "Protocol error: unauthenticated"))) {
        return NoAuthError(address_, reply.text);
      }
    }
    if (status.code() == absl::StatusCode::kUnavailable &&
        pool_->RequiresAuth(deadline)) {
      return NoAuthError(address_, status.message());
    }
    if (!status.ok()) return status;
    return replies;
  }
}

absl::StatusOr<std::vector<Value>> Client::Execute(
    absl::Span<const Command> commands, absl::Time deadline,
    CallKind kind) const {
  RECSYS_ASSIGN_OR_RETURN(std::vector<Value> replies,
                          RoundTrip(commands, deadline, kind));
  for (size_t i = 0; i < replies.size(); ++i) {
    if (replies[i].is_error()) {
      return absl::InternalError(absl::StrCat("redis ", address_, ": ",
                                              commands[i][0],
                                              " failed: ", replies[i].text));
    }
    if (commands[i][0] == "EXEC") {
      if (replies[i].type != Value::Type::kArray) {
        return absl::InternalError(
            absl::StrCat("redis ", address_, ": transaction aborted"));
      }
      for (const Value& element : replies[i].elements) {
        if (element.is_error()) {
          return absl::InternalError(
              absl::StrCat("redis ", address_,
                           ": command in transaction failed: ", element.text));
        }
      }
    }
  }
  return replies;
}

absl::StatusOr<Command> Client::ScriptCommand(
    const Script& script, absl::Span<const std::string> keys,
    absl::Span<const std::string> args, absl::Time deadline) const {
  std::string sha;
  {
    absl::MutexLock lock(&script.mu_);
    sha = script.sha_;
  }
  if (sha.empty()) {
    const Command load[] = {{"SCRIPT", "LOAD", script.source_}};
    RECSYS_ASSIGN_OR_RETURN(std::vector<Value> replies,
                            RoundTrip(load, deadline, CallKind::kRead));
    if (!replies[0].is_string() || replies[0].text.empty()) {
      return absl::InternalError(absl::StrCat(
          "redis ", address_, ": SCRIPT LOAD failed: ", replies[0].text));
    }
    sha = replies[0].text;
    absl::MutexLock lock(&script.mu_);
    script.sha_ = sha;
  }
  pool_->RegisterScript(sha, script.source_);
  Command command;
  command.reserve(3 + keys.size() + args.size());
  command.push_back("EVALSHA");
  command.push_back(std::move(sha));
  command.push_back(absl::StrCat(keys.size()));
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  return command;
}

absl::StatusOr<Value> Client::Eval(const Script& script,
                                   absl::Span<const std::string> keys,
                                   absl::Span<const std::string> args,
                                   absl::Time deadline, CallKind kind) const {
  RECSYS_ASSIGN_OR_RETURN(Command command,
                          ScriptCommand(script, keys, args, deadline));
  const Command commands[] = {std::move(command)};
  RECSYS_ASSIGN_OR_RETURN(std::vector<Value> replies,
                          RoundTrip(commands, deadline, kind));
  return std::move(replies[0]);
}

absl::Status Client::Ping(absl::Time deadline) const {
  const Command commands[] = {{"PING"}};
  RECSYS_ASSIGN_OR_RETURN(std::vector<Value> replies,
                          RoundTrip(commands, deadline, CallKind::kRead));
  if (replies[0].type == Value::Type::kStatus && replies[0].text == "PONG") {
    return absl::OkStatus();
  }
  return absl::InternalError(absl::StrCat(
      "redis ", address_, ": unexpected PING reply '", replies[0].text, "'"));
}

Stats Client::GetStats() const { return pool_->GetStats(); }

}  // namespace recsys::redis
