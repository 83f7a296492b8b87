#include "redis/client.h"

// sds.h (hiredis's string type, the output buffer's) declares C functions
// without extern "C"; included before hiredis.h, which includes it
// outside its own extern "C" block.
extern "C" {
#include <hiredis/sds.h>
}
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
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
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "redis/sigpipe.h"
#include "redis/slot.h"

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

bool IsReadOnly(const Value& reply) {
  return reply.is_error() && absl::StartsWith(reply.text, "READONLY");
}

std::string EndpointAddress(const Endpoint& endpoint) {
  return absl::StrCat(endpoint.host, ":", endpoint.port);
}

}  // namespace

namespace internal {

// SHA -> source of every script loaded through one Client, shared by its
// pools (a cluster node, or a restarted Redis, that answers NOSCRIPT gets
// the script from here).
//
// Thread safety: safe for concurrent use.
class ScriptRegistry {
 public:
  void Register(const std::string& sha, const std::string& source) {
    absl::MutexLock lock(&mu_);
    if (!scripts_.contains(sha)) scripts_.emplace(sha, source);
  }
  std::optional<std::string> Source(absl::string_view sha) const {
    absl::MutexLock lock(&mu_);
    auto it = scripts_.find(sha);
    if (it == scripts_.end()) return std::nullopt;
    return it->second;
  }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> scripts_ ABSL_GUARDED_BY(mu_);
};

// Finds the address to connect to (sentinel mode: the current master).
using Resolver = std::function<absl::StatusOr<Endpoint>(absl::Time deadline)>;

// The connections to one Redis and their failure policy (see client.h).
//
// Thread safety: safe for concurrent use. A connection handed out by Acquire
// belongs to the caller until passed back to Release.
class Pool {
 public:
  // `scripts` is borrowed and must outlive the pool. `resolve`, when set,
  // is asked for the address of every new connection instead of `endpoint`.
  Pool(const Options& options, Endpoint endpoint, std::string address,
       const ScriptRegistry* scripts, Resolver resolve = nullptr)
      : options_(options),
        address_(std::move(address)),
        scripts_(scripts),
        resolve_(std::move(resolve)),
        target_(std::move(endpoint)) {}

  const std::string& address() const { return address_; }
  // True in sentinel mode: connections follow the master's address.
  bool follows_failover() const { return resolve_ != nullptr; }

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

  // The source registered for `sha`; nullopt when unknown.
  std::optional<std::string> ScriptSource(absl::string_view sha) const {
    return scripts_->Source(sha);
  }

  // After a pipeline on `context` got its replies: loads again every
  // registered script whose EVALSHA met NOSCRIPT and re-runs those commands
  // once (one more round trip), replacing their replies. I/O errors as
  // Pipeline.
  absl::Status RerunNoScript(redisContext* context,
                             absl::Span<const Command* const> commands,
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
    const Endpoint target = Target();
    Context context(redisConnectWithTimeout(
        target.host.c_str(), target.port,
        absl::ToTimeval(std::min(options_.connect_timeout, left))));
    if (context == nullptr || context->err != 0) return false;
    redisSetTimeout(context.get(), TimeoutUntil(deadline));
    Reply reply(static_cast<redisReply*>(redisCommand(context.get(), "PING")));
    return reply != nullptr && reply->type == REDIS_REPLY_ERROR &&
           absl::StartsWith(absl::string_view(reply->str, reply->len),
                            "NOAUTH");
  }

  // The address the last connection went to (sentinel mode: the master
  // last resolved).
  Endpoint Target() const {
    absl::MutexLock lock(&mu_);
    return target_;
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
    Endpoint target;
    if (resolve_ != nullptr) {
      absl::StatusOr<Endpoint> resolved = resolve_(deadline);
      if (!resolved.ok()) {
        back_off = resolved.status().code() == absl::StatusCode::kUnavailable;
        return resolved.status();
      }
      target = *std::move(resolved);
      absl::MutexLock lock(&mu_);
      target_ = target;
    } else {
      target = Target();
    }
    // In sentinel mode the label names the master; say where it was.
    const std::string where =
        resolve_ == nullptr
            ? address_
            : absl::StrCat(address_, " at ", EndpointAddress(target));
    const absl::Duration timeout =
        std::min(options_.connect_timeout, deadline - absl::Now());
    Context context(redisConnectWithTimeout(target.host.c_str(), target.port,
                                            absl::ToTimeval(timeout)));
    if (context == nullptr) {
      return absl::ResourceExhaustedError("cannot allocate a redis context");
    }
    if (context->err != 0) {
      if (timeout < options_.connect_timeout && absl::Now() >= deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("connect to redis ", where, ": ", context->errstr));
      }
      back_off = true;
      return absl::UnavailableError(
          absl::StrCat("connect to redis ", where, ": ", context->errstr));
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
  const ScriptRegistry* const scripts_;
  const Resolver resolve_;

  mutable absl::Mutex mu_;
  // Where connections go (sentinel mode: the master last resolved).
  Endpoint target_ ABSL_GUARDED_BY(mu_);
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

// Pointers to the commands of `commands`, the form the pipeline functions
// take (a cluster pipeline sends each node its commands in place, without
// copying them into a batch of its own).
std::vector<const Command*> CommandRefs(absl::Span<const Command> commands) {
  std::vector<const Command*> refs;
  refs.reserve(commands.size());
  for (const Command& command : commands) refs.push_back(&command);
  return refs;
}

// Decimal digits of `n`.
size_t DecimalDigits(size_t n) {
  size_t digits = 1;
  while (n >= 10) {
    n /= 10;
    ++digits;
  }
  return digits;
}

// Writes `n` in decimal at `out`; returns the end. `digits` is
// DecimalDigits(n).
char* WriteDecimal(char* out, size_t n, size_t digits) {
  char* end = out + digits;
  for (char* p = end; p != out; n /= 10) *--p = static_cast<char>('0' + n % 10);
  return end;
}

// Bytes of `command` in the Redis protocol (RESP): "*<argc>\r\n", then per
// argument "$<length>\r\n<bytes>\r\n".
size_t EncodedSize(const Command& command) {
  size_t size = 1 + DecimalDigits(command.size()) + 2;
  for (const std::string& arg : command) {
    size += 1 + DecimalDigits(arg.size()) + 2 + arg.size() + 2;
  }
  return size;
}

// Encodes `command` at `out` (EncodedSize(command) bytes); returns the end.
// The same bytes as hiredis's redisFormatCommandArgv.
char* Encode(const Command& command, char* out) {
  *out++ = '*';
  out = WriteDecimal(out, command.size(), DecimalDigits(command.size()));
  *out++ = '\r';
  *out++ = '\n';
  for (const std::string& arg : command) {
    *out++ = '$';
    out = WriteDecimal(out, arg.size(), DecimalDigits(arg.size()));
    *out++ = '\r';
    *out++ = '\n';
    if (!arg.empty()) std::memcpy(out, arg.data(), arg.size());
    out += arg.size();
    *out++ = '\r';
    *out++ = '\n';
  }
  return out;
}

// Appends `commands` to `context`'s output buffer and writes all of it to
// the socket (blocking, bounded by `deadline`), without reading any reply:
// the first half of Pipeline, so that one caller can send to several nodes
// before waiting for any of them. Redis buffers its replies meanwhile. Each
// command is encoded once, straight into the output buffer (grown once for
// the whole pipeline), not formatted apart and then copied.
absl::Status SendPipeline(const std::string& address, redisContext* context,
                          absl::Span<const Command* const> commands,
                          absl::Time deadline) {
  errno = 0;
  if (redisSetTimeout(context, TimeoutUntil(deadline)) != REDIS_OK) {
    return IoError(address, context, errno, deadline);
  }
  size_t total = 0;
  for (const Command* command : commands) total += EncodedSize(*command);
  sds grown = sdsMakeRoomFor(context->obuf, total);
  if (grown == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("redis ", address, ": out of memory for a pipeline of ",
                     total, " bytes"));
  }
  context->obuf = grown;
  char* out = context->obuf + sdslen(context->obuf);
  for (const Command* command : commands) {
    char* end = Encode(*command, out);
    // One command at a time: sdsIncrLen takes an int.
    sdsIncrLen(context->obuf, static_cast<int>(end - out));
    out = end;
  }
  for (int done = 0; !done;) {
    errno = 0;
    if (redisBufferWrite(context, &done) != REDIS_OK) {
      return IoError(address, context, errno, deadline);
    }
  }
  return absl::OkStatus();
}

// Reads `n` replies from `context` and appends them to `replies`, stopping
// at the first failure (so replies->size() tells how many arrived): the
// second half of Pipeline.
absl::Status ReceivePipeline(const std::string& address, redisContext* context,
                             size_t n, absl::Time deadline,
                             std::vector<Value>* replies) {
  replies->reserve(replies->size() + n);
  for (size_t i = 0; i < n; ++i) {
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

// Sends `commands` pipelined on `context` and appends one reply per command
// to `replies`, stopping at the first failure (so replies->size() tells how
// many arrived).
absl::Status Pipeline(const std::string& address, redisContext* context,
                      absl::Span<const Command* const> commands,
                      absl::Time deadline, std::vector<Value>* replies) {
  RECSYS_RETURN_IF_ERROR(SendPipeline(address, context, commands, deadline));
  return ReceivePipeline(address, context, commands.size(), deadline, replies);
}

}  // namespace

absl::Status Pool::RerunNoScript(redisContext* context,
                                 absl::Span<const Command* const> commands,
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
    if (!IsNoScript(replies[i]) || commands[i]->size() < 2 ||
        (*commands[i])[0] != "EVALSHA") {
      continue;
    }
    const std::string& sha = (*commands[i])[1];
    if (!loaded.contains(sha)) {
      std::optional<std::string> source = ScriptSource(sha);
      if (!source.has_value()) continue;  // not loaded through this client
      loaded.insert(sha);
      again.push_back({"SCRIPT", "LOAD", *std::move(source)});
    }
    rerun.push_back(i);
    reply_of.push_back(again.size());
    again.push_back(*commands[i]);
  }
  if (rerun.empty()) return absl::OkStatus();
  CountScriptReloads(static_cast<int>(loaded.size()));
  std::vector<Value> again_replies;
  RECSYS_RETURN_IF_ERROR(Pipeline(address_, context, CommandRefs(again),
                                  deadline, &again_replies));
  for (size_t k = 0; k < rerun.size(); ++k) {
    replies[rerun[k]] = std::move(again_replies[reply_of[k]]);
  }
  return absl::OkStatus();
}

// The first attempt of a round trip on one pool, started by StartOnPool:
// a connection acquired and the commands written to it, no reply read yet.
// Finish it with RoundTripOnPool, which returns the connection to its pool.
struct SentPipeline {
  // Acquire's error (then `lease` is empty and nothing was sent).
  absl::Status acquired;
  Pool::Lease lease;
  // SendPipeline's.
  absl::Status sent;
};

// Acquires a connection of `pool` and writes `commands` to it.
// REQUIRES: SIGPIPE blocked.
SentPipeline StartOnPool(Pool& pool, absl::Span<const Command* const> commands,
                         absl::Time deadline) {
  SentPipeline out;
  absl::StatusOr<Pool::Lease> lease = pool.Acquire(deadline);
  if (!lease.ok()) {
    out.acquired = lease.status();
    return out;
  }
  out.lease = *std::move(lease);
  out.sent =
      SendPipeline(pool.address(), out.lease.context.get(), commands, deadline);
  return out;
}

// One round trip of `commands` on `pool`, with the policy of client.h:
// a stale pooled connection re-sent once for kRead, NOAUTH reported as
// PermissionDenied, and (sentinel mode) a READONLY answer from a demoted
// master re-sent once on a new connection. With `started` (StartOnPool of
// the same pool and commands), its first attempt is that one: the replies
// are read from its connection. REQUIRES: SIGPIPE blocked.
absl::StatusOr<std::vector<Value>> RoundTripOnPool(
    Pool& pool, absl::Span<const Command* const> commands, absl::Time deadline,
    CallKind kind, SentPipeline* started = nullptr) {
  std::vector<Value> replies;
  if (commands.empty()) return replies;
  for (int attempt = 0;; ++attempt) {
    Pool::Lease lease;
    absl::Status status;
    if (attempt == 0 && started != nullptr) {
      RECSYS_RETURN_IF_ERROR(started->acquired);
      lease = std::move(started->lease);
      status = started->sent;
    } else {
      RECSYS_ASSIGN_OR_RETURN(lease, pool.Acquire(deadline));
      status =
          SendPipeline(pool.address(), lease.context.get(), commands, deadline);
    }
    replies.clear();
    if (status.ok()) {
      status = ReceivePipeline(pool.address(), lease.context.get(),
                               commands.size(), deadline, &replies);
    }
    if (status.ok()) {
      status =
          pool.RerunNoScript(lease.context.get(), commands, deadline, replies);
    }
    // A pooled connection that failed before any reply, other than by
    // timing out, was dead before this call (e.g. Redis restarted).
    const bool stale = lease.reused &&
                       status.code() == absl::StatusCode::kUnavailable &&
                       replies.empty();
    // The master was demoted (sentinel failover): this connection now
    // talks to a replica, which applied none of the writes.
    const Value* read_only = nullptr;
    if (status.ok() && pool.follows_failover()) {
      for (const Value& reply : replies) {
        if (IsReadOnly(reply)) {
          read_only = &reply;
          break;
        }
      }
    }
    pool.Release(std::move(lease.context), status.ok() && read_only == nullptr);
    if (stale) {
      pool.DropIdle();
      if (kind == CallKind::kRead && attempt == 0) {
        pool.CountStaleRetry();
        continue;
      }
    }
    if (read_only != nullptr) {
      pool.DropIdle();
      if (attempt == 0) continue;
      return absl::UnavailableError(
          absl::StrCat("redis ", pool.address(),
                       " answers as a read-only replica (failover in "
                       "progress?): ",
                       read_only->text));
    }
    pool.ReportCall(status.code() == absl::StatusCode::kDeadlineExceeded,
                    status.message());
    for (const Value& reply : replies) {
      // NOAUTH, or the answer Redis gives before closing a connection that
      // sent a large command unauthenticated.
      if (reply.is_error() &&
          (absl::StartsWith(reply.text, "NOAUTH") ||
           absl::StrContains(reply.text, "Protocol error: unauthenticated"))) {
        return NoAuthError(pool.address(), reply.text);
      }
    }
    if (status.code() == absl::StatusCode::kUnavailable &&
        pool.RequiresAuth(deadline)) {
      return NoAuthError(pool.address(), status.message());
    }
    if (!status.ok()) return status;
    return replies;
  }
}

// RoundTripOnPool of `commands` held in place.
absl::StatusOr<std::vector<Value>> RoundTripOnPool(
    Pool& pool, absl::Span<const Command> commands, absl::Time deadline,
    CallKind kind) {
  return RoundTripOnPool(pool, CommandRefs(commands), deadline, kind);
}

// Asks the sentinels of `options`, in order, for the address of
// options.sentinel_master. Unavailable naming each sentinel's failure when
// none knows it; DeadlineExceeded when the deadline passes first.
absl::StatusOr<Endpoint> AskSentinels(const Options& options,
                                      absl::Time deadline) {
  std::vector<std::string> errors;
  for (const Endpoint& sentinel : options.nodes) {
    const std::string address = EndpointAddress(sentinel);
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "deadline passed while asking the sentinels for master '",
          options.sentinel_master, "'"));
    }
    const absl::Duration timeout = std::min(options.connect_timeout, left);
    Context context(redisConnectWithTimeout(
        sentinel.host.c_str(), sentinel.port, absl::ToTimeval(timeout)));
    if (context == nullptr || context->err != 0) {
      errors.push_back(absl::StrCat(
          address, ": ", context == nullptr ? "no memory" : context->errstr));
      continue;
    }
    redisSetTimeout(context.get(), absl::ToTimeval(timeout));
    const char* argv[] = {"SENTINEL", "get-master-addr-by-name",
                          options.sentinel_master.c_str()};
    const size_t lengths[] = {8, 23, options.sentinel_master.size()};
    Reply reply(static_cast<redisReply*>(
        redisCommandArgv(context.get(), 3, argv, lengths)));
    if (reply == nullptr) {
      errors.push_back(absl::StrCat(address, ": ", context->errstr));
      continue;
    }
    int port = 0;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[0]->type == REDIS_REPLY_STRING &&
        reply->element[1]->type == REDIS_REPLY_STRING &&
        absl::SimpleAtoi(
            absl::string_view(reply->element[1]->str, reply->element[1]->len),
            &port)) {
      return Endpoint{
          std::string(reply->element[0]->str, reply->element[0]->len), port};
    }
    errors.push_back(absl::StrCat(
        address, ": knows no master '", options.sentinel_master, "'",
        reply->type == REDIS_REPLY_ERROR
            ? absl::StrCat(" (", absl::string_view(reply->str, reply->len), ")")
            : ""));
  }
  return absl::UnavailableError(absl::StrCat(
      "no sentinel gave the address of master '", options.sentinel_master,
      "': ", absl::StrJoin(errors, "; ")));
}

// The slot map of a Redis Cluster and one pool per node.
//
// Thread safety: safe for concurrent use. Pools are created on first use
// and never destroyed before the Cluster, so a Pool* stays valid.
class Cluster {
 public:
  // `scripts` is borrowed and must outlive the cluster.
  Cluster(const Options& options, const ScriptRegistry* scripts)
      : options_(options), scripts_(scripts), slot_node_(kClusterSlots, -1) {
    for (const Endpoint& seed : options.nodes) {
      seeds_.push_back(EndpointAddress(seed));
      absl::MutexLock lock(&mu_);
      NodeIndex(seed);
    }
  }

  // The pool of node `address` ("host:port"); created on first use.
  Pool* PoolOf(const std::string& address) {
    absl::MutexLock lock(&mu_);
    auto it = pools_.find(address);
    if (it != pools_.end()) return it->second.get();
    const size_t colon = address.rfind(':');
    int port = 0;  // unparsable: 0, and connecting to it fails
    if (!absl::SimpleAtoi(address.substr(colon + 1), &port)) port = 0;
    auto pool = std::make_unique<Pool>(
        options_, Endpoint{address.substr(0, colon), port}, address, scripts_);
    Pool* raw = pool.get();
    pools_.emplace(address, std::move(pool));
    return raw;
  }

  bool HasMap() const {
    absl::ReaderMutexLock lock(&mu_);
    return has_map_;
  }

  // The node serving `slot` ("host:port"); -1: any master. Empty when no
  // node is known to serve it.
  std::string NodeOf(int slot) const {
    absl::ReaderMutexLock lock(&mu_);
    if (slot >= 0) {
      const int node = slot_node_[slot];
      return node < 0 ? std::string() : nodes_[node];
    }
    for (const int node : slot_node_) {
      if (node >= 0) return nodes_[node];
    }
    return seeds_.empty() ? std::string() : seeds_[0];
  }

  // Per slot of `slots` (each in [0, kClusterSlots)), the index of the
  // node serving it (NodeName gives its address), -1 when none is known;
  // read under one lock, for a whole pipeline.
  std::vector<int> NodeIndices(absl::Span<const int> slots) const {
    std::vector<int> out(slots.size());
    absl::ReaderMutexLock lock(&mu_);
    for (size_t i = 0; i < slots.size(); ++i) out[i] = slot_node_[slots[i]];
    return out;
  }

  // The address of node `index` of NodeIndices (indices are never reused).
  std::string NodeName(int index) const {
    absl::ReaderMutexLock lock(&mu_);
    return nodes_[index];
  }

  // Records a MOVED answer: `slot` is served by `address` now.
  void SetSlot(int slot, const std::string& address) {
    if (slot < 0 || slot >= kClusterSlots) return;
    const size_t colon = address.rfind(':');
    int port = 0;
    if (colon == std::string::npos ||
        !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
      return;
    }
    absl::MutexLock lock(&mu_);
    slot_node_[slot] = NodeIndex(Endpoint{address.substr(0, colon), port});
  }

  // The masters of the slot map, each once, in slot order.
  std::vector<std::string> Masters() const {
    absl::ReaderMutexLock lock(&mu_);
    std::vector<std::string> masters;
    std::vector<bool> seen(nodes_.size(), false);
    for (const int node : slot_node_) {
      if (node >= 0 && !seen[node]) {
        seen[node] = true;
        masters.push_back(nodes_[node]);
      }
    }
    return masters;
  }

  // Fetches the slot map (CLUSTER SLOTS) from the first node that answers:
  // the masters of the current map, then the seeds. Does nothing (OK) when
  // the last fetch is younger than cluster_refresh_interval (unless there
  // is no map yet) or another thread is fetching it (unless there is no map
  // yet: then waits for that fetch). Unavailable when no node answered.
  // REQUIRES: SIGPIPE blocked.
  absl::Status Refresh(absl::Time deadline) {
    if (HasMap()) {
      if (!refresh_mu_.TryLock()) return absl::OkStatus();
    } else {
      refresh_mu_.Lock();
      if (HasMap()) {
        refresh_mu_.Unlock();
        return absl::OkStatus();
      }
    }
    absl::Status status = RefreshLocked(deadline);
    refresh_mu_.Unlock();
    return status;
  }

  // Sum of the pools of the current masters (all known nodes before the
  // first map).
  Stats GetStats(const std::string& address) const {
    std::vector<std::string> masters = Masters();
    if (masters.empty()) masters = seeds_;
    Stats total;
    total.address = address;
    total.db = 0;
    int counted = 0;
    for (const std::string& master : masters) {
      const Pool* pool = nullptr;
      {
        absl::ReaderMutexLock lock(&mu_);
        auto it = pools_.find(master);
        if (it != pools_.end()) pool = it->second.get();
      }
      ++counted;
      if (pool == nullptr) {
        total.pool_size += options_.pool_size;
        continue;
      }
      const Stats stats = pool->GetStats();
      total.pool_size += stats.pool_size;
      total.open_connections += stats.open_connections;
      total.idle_connections += stats.idle_connections;
      if (stats.failing_fast && !total.failing_fast) {
        total.failing_fast = true;
        total.fail_fast_remaining = stats.fail_fast_remaining;
        total.fail_fast_reason =
            absl::StrCat(master, ": ", stats.fail_fast_reason);
      }
      total.stalled_in_a_row =
          std::max(total.stalled_in_a_row, stats.stalled_in_a_row);
      total.stall_trips += stats.stall_trips;
      total.stale_retries += stats.stale_retries;
      total.script_reloads += stats.script_reloads;
    }
    total.address = absl::StrCat(address, " (", counted, " masters)");
    absl::MutexLock lock(&counts_mu_);
    total.moved_redirects = moved_;
    total.ask_redirects = asks_;
    total.slot_map_fetches = fetches_;
    return total;
  }

  void CountRedirect(bool moved) {
    absl::MutexLock lock(&counts_mu_);
    ++(moved ? moved_ : asks_);
  }

 private:
  absl::Status RefreshLocked(absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(refresh_mu_) {
    const absl::Time now = absl::Now();
    if (HasMap() && now - last_refresh_ < options_.cluster_refresh_interval) {
      return absl::OkStatus();
    }
    last_refresh_ = now;
    std::vector<std::string> candidates = Masters();
    for (const std::string& seed : seeds_) {
      if (std::find(candidates.begin(), candidates.end(), seed) ==
          candidates.end()) {
        candidates.push_back(seed);
      }
    }
    std::vector<std::string> errors;
    const Command command[] = {{"CLUSTER", "SLOTS"}};
    for (const std::string& candidate : candidates) {
      Pool* pool = PoolOf(candidate);
      absl::StatusOr<std::vector<Value>> replies =
          RoundTripOnPool(*pool, command, deadline, CallKind::kRead);
      if (!replies.ok()) {
        errors.push_back(std::string(replies.status().message()));
        if (replies.status().code() == absl::StatusCode::kDeadlineExceeded &&
            absl::Now() >= deadline) {
          break;
        }
        continue;
      }
      const Value& reply = (*replies)[0];
      if (reply.type != Value::Type::kArray) {
        errors.push_back(absl::StrCat(candidate, ": CLUSTER SLOTS answered '",
                                      reply.text, "'"));
        continue;
      }
      const Endpoint asked = pool->Target();
      std::vector<std::pair<std::pair<int, int>, Endpoint>> ranges;
      for (const Value& range : reply.elements) {
        if (range.type != Value::Type::kArray || range.elements.size() < 3 ||
            range.elements[2].type != Value::Type::kArray ||
            range.elements[2].elements.size() < 2) {
          continue;
        }
        const std::optional<int64_t> start = range.elements[0].AsInt();
        const std::optional<int64_t> end = range.elements[1].AsInt();
        const Value& master = range.elements[2];
        std::optional<int64_t> port = master.elements[1].AsInt();
        if (!start || !end || !port || *start < 0 || *end >= kClusterSlots ||
            *start > *end) {
          continue;
        }
        std::string host = master.elements[0].text;
        // "" or "?": the node does not know how it is reached; it is the
        // one asked.
        if (host.empty() || host == "?") host = asked.host;
        ranges.push_back({{static_cast<int>(*start), static_cast<int>(*end)},
                          Endpoint{host, static_cast<int>(*port)}});
      }
      if (ranges.empty()) {
        errors.push_back(absl::StrCat(candidate, ": serves no slots"));
        continue;
      }
      absl::MutexLock lock(&mu_);
      std::fill(slot_node_.begin(), slot_node_.end(), -1);
      for (const auto& [span, endpoint] : ranges) {
        const int node = NodeIndex(endpoint);
        for (int slot = span.first; slot <= span.second; ++slot) {
          slot_node_[slot] = node;
        }
      }
      has_map_ = true;
      absl::MutexLock counts_lock(&counts_mu_);
      ++fetches_;
      return absl::OkStatus();
    }
    return absl::UnavailableError(
        absl::StrCat("no node of the redis cluster answered CLUSTER SLOTS: ",
                     absl::StrJoin(errors, "; ")));
  }

  int NodeIndex(const Endpoint& endpoint) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string address = EndpointAddress(endpoint);
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i] == address) return static_cast<int>(i);
    }
    nodes_.push_back(address);
    return static_cast<int>(nodes_.size() - 1);
  }

  // Immutable after construction.
  const Options options_;
  const ScriptRegistry* const scripts_;
  std::vector<std::string> seeds_;

  // Held by the one thread fetching the map.
  absl::Mutex refresh_mu_;
  absl::Time last_refresh_ ABSL_GUARDED_BY(refresh_mu_) = absl::InfinitePast();

  mutable absl::Mutex mu_;
  // Every node ever seen ("host:port"); slot_node_ indexes it.
  std::vector<std::string> nodes_ ABSL_GUARDED_BY(mu_);
  // Per slot: index in nodes_ of its master, -1 when unknown.
  std::vector<int> slot_node_ ABSL_GUARDED_BY(mu_);
  bool has_map_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, std::unique_ptr<Pool>> pools_
      ABSL_GUARDED_BY(mu_);

  mutable absl::Mutex counts_mu_;
  int64_t moved_ ABSL_GUARDED_BY(counts_mu_) = 0;
  int64_t asks_ ABSL_GUARDED_BY(counts_mu_) = 0;
  int64_t fetches_ ABSL_GUARDED_BY(counts_mu_) = 0;
};

}  // namespace internal

namespace {

// The commands of a pipeline that must go to one node together: a
// MULTI...EXEC transaction, or one command with a key preceded by the
// keyless commands before it; always the consecutive commands [begin, end).
// `slot` is the first key's, -1 for none.
struct Unit {
  size_t begin = 0;
  size_t end = 0;
  int slot = -1;
  // Set after an ASK reply: the node to send the unit to, with ASKING.
  std::string ask_node;
};

bool NameIs(const Command& command, absl::string_view name) {
  return !command.empty() && command[0].size() == name.size() &&
         absl::EqualsIgnoreCase(command[0], name);
}

// Computes each command's slot once (a transaction's, up to its first key).
std::vector<Unit> SplitIntoUnits(absl::Span<const Command> commands) {
  std::vector<Unit> units;
  size_t begin = 0;
  int slot = -1;
  bool in_transaction = false;
  for (size_t i = 0; i < commands.size(); ++i) {
    if (in_transaction) {
      if (slot < 0) slot = CommandSlot(commands[i]);
      if (NameIs(commands[i], "EXEC") || NameIs(commands[i], "DISCARD")) {
        in_transaction = false;
        units.push_back(Unit{begin, i + 1, slot, {}});
        begin = i + 1;
        slot = -1;
      }
      continue;
    }
    if (NameIs(commands[i], "MULTI")) {
      in_transaction = true;
      continue;
    }
    const int command_slot = CommandSlot(commands[i]);
    if (command_slot >= 0) {
      units.push_back(Unit{begin, i + 1, command_slot, {}});
      begin = i + 1;
      slot = -1;
    }
  }
  if (begin < commands.size()) {
    if (!in_transaction && !units.empty()) {
      // Trailing keyless commands go with the last command that has a key.
      units.back().end = commands.size();
    } else {
      units.push_back(Unit{begin, commands.size(), slot, {}});
    }
  }
  return units;
}

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381": slot and node.
bool ParseRedirect(absl::string_view text, absl::string_view kind, int* slot,
                   std::string* node) {
  if (!absl::ConsumePrefix(&text, kind) || !absl::ConsumePrefix(&text, " ")) {
    return false;
  }
  const size_t space = text.find(' ');
  if (space == absl::string_view::npos) return false;
  if (!absl::SimpleAtoi(text.substr(0, space), slot)) return false;
  *node = std::string(text.substr(space + 1));
  return !node->empty();
}

}  // namespace

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
  if (slot_map_fetches > 0) {
    absl::StrAppend(&out, "; slot maps fetched ", slot_map_fetches, ", MOVED ",
                    moved_redirects, ", ASK ", ask_redirects);
  }
  return out;
}

namespace {

std::unique_ptr<internal::Pool> MakePool(
    const Options& options, const std::string& address,
    const internal::ScriptRegistry* scripts) {
  switch (options.topology) {
    case Topology::kSingle:
      return std::make_unique<internal::Pool>(
          options, Endpoint{options.host, options.port}, address, scripts);
    case Topology::kSentinel:
      return std::make_unique<internal::Pool>(
          options, Endpoint{}, address, scripts,
          [options](absl::Time deadline) {
            return internal::AskSentinels(options, deadline);
          });
    case Topology::kCluster:
      return nullptr;
  }
  return nullptr;
}

}  // namespace

Client::Client(const Options& options)
    : options_(options),
      address_(FormatAddress(options)),
      scripts_(std::make_unique<internal::ScriptRegistry>()),
      pool_(MakePool(options_, address_, scripts_.get())),
      cluster_(
          options.topology == Topology::kCluster
              ? std::make_unique<internal::Cluster>(options_, scripts_.get())
              : nullptr) {
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
  if (commands.empty()) return std::vector<Value>();
  internal::ScopedSigpipeBlock sigpipe_block;
  if (cluster_ != nullptr) return ClusterRoundTrip(commands, deadline, kind);
  return internal::RoundTripOnPool(*pool_, commands, deadline, kind);
}

absl::StatusOr<std::vector<Value>> Client::ClusterRoundTrip(
    absl::Span<const Command> commands, absl::Time deadline,
    CallKind kind) const {
  if (!cluster_->HasMap()) {
    RECSYS_RETURN_IF_ERROR(cluster_->Refresh(deadline));
  }
  std::vector<Value> replies(commands.size());
  std::vector<Unit> pending = SplitIntoUnits(commands);
  for (int round = 0;; ++round) {
    // Units per node, nodes in the order of their first unit. The slot map
    // is read once for the whole pipeline.
    std::vector<std::pair<std::string, std::vector<size_t>>> by_node;
    std::vector<int> group_of_index;  // node index -> entry of by_node
    auto group_of = [&](const std::string& node) -> size_t {
      for (size_t g = 0; g < by_node.size(); ++g) {
        if (by_node[g].first == node) return g;
      }
      by_node.push_back({node, {}});
      return by_node.size() - 1;
    };
    std::vector<int> slots(pending.size());
    for (size_t u = 0; u < pending.size(); ++u) {
      slots[u] = std::max(pending[u].slot, 0);
    }
    const std::vector<int> indices = cluster_->NodeIndices(slots);
    for (size_t u = 0; u < pending.size(); ++u) {
      const int index = indices[u];
      if (pending[u].ask_node.empty() && pending[u].slot >= 0 && index >= 0) {
        if (static_cast<size_t>(index) >= group_of_index.size()) {
          group_of_index.resize(index + 1, -1);
        }
        if (group_of_index[index] < 0) {
          group_of_index[index] =
              static_cast<int>(group_of(cluster_->NodeName(index)));
        }
        by_node[group_of_index[index]].second.push_back(u);
        continue;
      }
      std::string node = pending[u].ask_node;
      if (node.empty()) node = cluster_->NodeOf(pending[u].slot);
      if (node.empty()) {
        RECSYS_RETURN_IF_ERROR(cluster_->Refresh(deadline));
        node = cluster_->NodeOf(pending[u].slot);
        if (node.empty()) {
          return absl::UnavailableError(
              absl::StrCat("redis cluster ", address_, ": no node serves slot ",
                           pending[u].slot, " (cluster down?)"));
        }
      }
      by_node[group_of(node)].second.push_back(u);
    }
    // The batch of each node (the caller's commands in place), and per
    // batch entry the command's index (npos for an ASKING).
    static const Command* const kAsking = new Command{"ASKING"};
    std::vector<std::vector<const Command*>> batches(by_node.size());
    std::vector<std::vector<size_t>> origins(by_node.size());
    for (size_t n = 0; n < by_node.size(); ++n) {
      std::vector<const Command*>& batch = batches[n];
      std::vector<size_t>& origin = origins[n];
      for (const size_t u : by_node[n].second) {
        const Unit& unit = pending[u];
        const bool asking = !unit.ask_node.empty();
        const bool transaction = NameIs(commands[unit.begin], "MULTI");
        for (size_t i = unit.begin; i < unit.end; ++i) {
          // ASKING holds for the next command, or for a whole transaction.
          if (asking && (!transaction || i == unit.begin)) {
            batch.push_back(kAsking);
            origin.push_back(std::string::npos);
          }
          batch.push_back(&commands[i]);
          origin.push_back(i);
        }
      }
    }
    // Every node's batch is written before any reply is read, so the nodes
    // work on their batches at the same time: one round trip in all, not
    // one per node. Connections are acquired in address order (and a retry
    // below takes a connection of a node later in that order than every
    // connection still held), so two calls never wait for each other's
    // connections.
    std::vector<absl::StatusOr<std::vector<Value>>> results(by_node.size());
    if (by_node.size() == 1) {
      results[0] = internal::RoundTripOnPool(
          *cluster_->PoolOf(by_node[0].first), batches[0], deadline, kind);
    } else {
      std::vector<size_t> order(by_node.size());
      for (size_t n = 0; n < order.size(); ++n) order[n] = n;
      std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return by_node[a].first < by_node[b].first;
      });
      std::vector<internal::SentPipeline> started(by_node.size());
      for (const size_t n : order) {
        started[n] = internal::StartOnPool(*cluster_->PoolOf(by_node[n].first),
                                           batches[n], deadline);
      }
      for (auto it = order.rbegin(); it != order.rend(); ++it) {
        results[*it] = internal::RoundTripOnPool(
            *cluster_->PoolOf(by_node[*it].first), batches[*it], deadline, kind,
            &started[*it]);
      }
    }
    std::vector<Unit> again;
    bool moved = false;
    bool wait = false;
    for (size_t n = 0; n < by_node.size(); ++n) {
      const std::vector<size_t>& unit_indices = by_node[n].second;
      const std::vector<const Command*>& batch = batches[n];
      const std::vector<size_t>& origin = origins[n];
      absl::StatusOr<std::vector<Value>>& got = results[n];
      if (!got.ok()) {
        // The node may have failed over: learn the new map for the next
        // calls (failures are the call's own error, already reported).
        cluster_->Refresh(deadline).IgnoreError();
        return got.status();
      }
      for (size_t b = 0; b < batch.size(); ++b) {
        if (origin[b] != std::string::npos) {
          replies[origin[b]] = std::move((*got)[b]);
        }
      }
      for (const size_t u : unit_indices) {
        Unit unit = pending[u];
        bool redirect = false;
        for (size_t i = unit.begin; i < unit.end; ++i) {
          const Value& reply = replies[i];
          if (!reply.is_error()) continue;
          int slot = 0;
          std::string to;
          if (ParseRedirect(reply.text, "MOVED", &slot, &to)) {
            cluster_->SetSlot(slot, to);
            cluster_->CountRedirect(/*moved=*/true);
            unit.ask_node.clear();
            moved = redirect = true;
            break;
          }
          if (ParseRedirect(reply.text, "ASK", &slot, &to)) {
            unit.ask_node = to;
            cluster_->CountRedirect(/*moved=*/false);
            redirect = true;
            break;
          }
          if (absl::StartsWith(reply.text, "TRYAGAIN") ||
              absl::StartsWith(reply.text, "CLUSTERDOWN")) {
            wait = redirect = true;
            break;
          }
        }
        if (redirect) again.push_back(std::move(unit));
      }
    }
    if (again.empty()) return replies;
    if (round + 1 >= options_.max_redirects) {
      return absl::UnavailableError(
          absl::StrCat("redis cluster ", address_, ": still redirected after ",
                       options_.max_redirects,
                       " rounds (resharding or failover in "
                       "progress?): ",
                       replies[again[0].end - 1].text));
    }
    if (moved) cluster_->Refresh(deadline).IgnoreError();
    if (wait) {
      absl::SleepFor(
          std::min(absl::Milliseconds(20),
                   std::max(absl::ZeroDuration(), deadline - absl::Now())));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("redis cluster ", address_,
                       ": deadline passed while following "
                       "redirects"));
    }
    pending = std::move(again);
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
  scripts_->Register(sha, script.source_);
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
  if (cluster_ != nullptr) {
    if (deadline == absl::InfiniteFuture()) {
      deadline = absl::Now() + options_.default_timeout;
    }
    internal::ScopedSigpipeBlock sigpipe_block;
    RECSYS_RETURN_IF_ERROR(cluster_->Refresh(deadline));
    for (const std::string& master : cluster_->Masters()) {
      RECSYS_ASSIGN_OR_RETURN(
          std::vector<Value> replies,
          internal::RoundTripOnPool(*cluster_->PoolOf(master), commands,
                                    deadline, CallKind::kRead));
      if (replies[0].type != Value::Type::kStatus ||
          replies[0].text != "PONG") {
        return absl::InternalError(absl::StrCat("redis ", master,
                                                ": unexpected PING reply '",
                                                replies[0].text, "'"));
      }
    }
    return absl::OkStatus();
  }
  RECSYS_ASSIGN_OR_RETURN(std::vector<Value> replies,
                          RoundTrip(commands, deadline, CallKind::kRead));
  if (replies[0].type == Value::Type::kStatus && replies[0].text == "PONG") {
    return absl::OkStatus();
  }
  return absl::InternalError(absl::StrCat(
      "redis ", address_, ": unexpected PING reply '", replies[0].text, "'"));
}

Stats Client::GetStats() const {
  if (cluster_ != nullptr) return cluster_->GetStats(address_);
  return pool_->GetStats();
}

absl::StatusOr<std::vector<std::string>> Client::DataNodes(
    absl::Time deadline) const {
  if (cluster_ == nullptr) return std::vector<std::string>{address_};
  if (deadline == absl::InfiniteFuture()) {
    deadline = absl::Now() + options_.default_timeout;
  }
  internal::ScopedSigpipeBlock sigpipe_block;
  RECSYS_RETURN_IF_ERROR(cluster_->Refresh(deadline));
  return cluster_->Masters();
}

absl::StatusOr<std::vector<Value>> Client::RoundTripOnNode(
    const std::string& node, absl::Span<const Command> commands,
    absl::Time deadline, CallKind kind) const {
  if (cluster_ == nullptr) return RoundTrip(commands, deadline, kind);
  const std::vector<std::string> masters = cluster_->Masters();
  if (std::find(masters.begin(), masters.end(), node) == masters.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "node: ", node, " is not a master of the cluster's slot map"));
  }
  if (deadline == absl::InfiniteFuture()) {
    deadline = absl::Now() + options_.default_timeout;
  }
  if (absl::Now() >= deadline) {
    return absl::DeadlineExceededError(
        absl::StrCat("deadline passed before calling redis ", node));
  }
  if (commands.empty()) return std::vector<Value>();
  internal::ScopedSigpipeBlock sigpipe_block;
  return internal::RoundTripOnPool(*cluster_->PoolOf(node), commands, deadline,
                                   kind);
}

std::vector<std::string> Client::ClusterMasters() const {
  if (cluster_ == nullptr) return {};
  return cluster_->Masters();
}

}  // namespace recsys::redis
