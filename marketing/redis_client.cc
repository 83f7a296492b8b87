#include "marketing/redis_client.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"

namespace recsys::marketing {
namespace internal {
namespace {

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

// hiredis 0.14 writes with write(2), so a reset connection raises SIGPIPE.
// While alive, this blocks SIGPIPE in the calling thread; on destruction it
// discards a SIGPIPE raised meanwhile (unless one was already pending) and
// restores the mask. (Same as in feature_store/redis_feature_store.cc.)
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

RedisValue Convert(const redisReply* reply) {
  RedisValue value;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
      value.type = RedisValue::Type::kString;
      value.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_STATUS:
      value.type = RedisValue::Type::kStatus;
      value.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ERROR:
      value.type = RedisValue::Type::kError;
      value.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_INTEGER:
      value.type = RedisValue::Type::kInteger;
      value.integer = reply->integer;
      break;
    case REDIS_REPLY_ARRAY:
      value.type = RedisValue::Type::kArray;
      value.elements.reserve(reply->elements);
      for (size_t i = 0; i < reply->elements; ++i) {
        value.elements.push_back(Convert(reply->element[i]));
      }
      break;
    default:
      value.type = RedisValue::Type::kNil;
      break;
  }
  return value;
}

// The pooled client. See redis_client.h for the policy.
class PooledRedisClient final : public RedisClient {
 public:
  explicit PooledRedisClient(const RedisClientOptions& options)
      : RedisClient(options) {}

  absl::StatusOr<std::vector<RedisValue>> RoundTrip(
      absl::Span<const RedisCommand> commands,
      absl::Time deadline) const override;

 private:
  // An idle connection, a new one if fewer than pool_size are open, or one
  // freed before `deadline` (DeadlineExceeded after it). Unavailable while
  // backing off after a failed connect, or when the connect fails.
  absl::StatusOr<Context> Acquire(absl::Time deadline) const;
  // Returns a connection; an unhealthy one is closed and its slot freed.
  void Release(Context context, bool healthy) const;
  // Opens one connection. Sets `back_off` when Redis looks unreachable.
  absl::StatusOr<Context> Connect(absl::Time deadline, bool& back_off) const;
  absl::Status IoError(const redisContext* context, int saved_errno,
                       absl::Time deadline) const;

  mutable absl::Mutex mu_;
  // Signalled when a connection or a slot is freed, or a connect failed.
  mutable absl::CondVar cv_;
  mutable std::vector<Context> idle_ ABSL_GUARDED_BY(mu_);
  // Connections open: idle, lent out, or being connected.
  mutable int open_ ABSL_GUARDED_BY(mu_) = 0;
  // Until then, Acquire fails fast instead of connecting.
  mutable absl::Time retry_after_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  mutable std::string last_connect_error_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<Context> PooledRedisClient::Acquire(absl::Time deadline) const {
  {
    absl::MutexLock lock(&mu_);
    while (true) {
      if (!idle_.empty()) {
        Context context = std::move(idle_.back());
        idle_.pop_back();
        return context;
      }
      const absl::Time now = absl::Now();
      if (now < retry_after_) {
        return absl::UnavailableError(absl::StrCat(
            "redis ", address(), " unreachable (", last_connect_error_,
            "); in reconnect backoff for another ",
            absl::FormatDuration(retry_after_ - now)));
      }
      if (open_ < options().pool_size) {
        ++open_;
        break;
      }
      if (now >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "no free redis connection to ", address(), " before deadline"));
      }
      cv_.WaitWithDeadline(&mu_, deadline);
    }
  }
  bool back_off = false;
  absl::StatusOr<Context> context = Connect(deadline, back_off);
  if (!context.ok()) {
    absl::MutexLock lock(&mu_);
    --open_;
    if (back_off) {
      retry_after_ = absl::Now() + options().reconnect_backoff;
      last_connect_error_ = std::string(context.status().message());
    }
    cv_.SignalAll();
  }
  return context;
}

void PooledRedisClient::Release(Context context, bool healthy) const {
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

absl::StatusOr<Context> PooledRedisClient::Connect(absl::Time deadline,
                                                   bool& back_off) const {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError(
        absl::StrCat("deadline passed before connecting to redis ", address()));
  }
  const absl::Duration timeout = std::min(options().connect_timeout, left);
  Context context(redisConnectWithTimeout(
      options().host.c_str(), options().port, absl::ToTimeval(timeout)));
  if (context == nullptr) {
    return absl::ResourceExhaustedError("cannot allocate a redis context");
  }
  if (context->err != 0) {
    if (timeout < options().connect_timeout && absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("connect to redis ", address(), ": ", context->errstr));
    }
    back_off = true;
    return absl::UnavailableError(
        absl::StrCat("connect to redis ", address(), ": ", context->errstr));
  }
  if (options().db != 0) {
    redisSetTimeout(context.get(),
                    absl::ToTimeval(std::max(deadline - absl::Now(),
                                             absl::Milliseconds(1))));
    const std::string db = absl::StrCat(options().db);
    const char* argv[] = {"SELECT", db.c_str()};
    const size_t lengths[] = {6, db.size()};
    Reply reply(static_cast<redisReply*>(
        redisCommandArgv(context.get(), 2, argv, lengths)));
    if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
      back_off = reply != nullptr || absl::Now() < deadline;
      return absl::UnavailableError(
          absl::StrCat("SELECT ", db, " on redis ", address(), " failed"));
    }
  }
  return context;
}

absl::Status PooledRedisClient::IoError(const redisContext* context,
                                        int saved_errno,
                                        absl::Time deadline) const {
  const bool timed_out =
      (context->err == REDIS_ERR_IO &&
       (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)) ||
      absl::Now() >= deadline;
  std::string message =
      absl::StrCat("redis ", address(), ": ",
                   context->err != 0 ? context->errstr : "I/O error");
  if (timed_out) return absl::DeadlineExceededError(message);
  return absl::UnavailableError(message);
}

absl::StatusOr<std::vector<RedisValue>> PooledRedisClient::RoundTrip(
    absl::Span<const RedisCommand> commands, absl::Time deadline) const {
  if (deadline == absl::InfiniteFuture())
    deadline = absl::Now() + options().default_timeout;
  if (absl::Now() >= deadline) {
    return absl::DeadlineExceededError(
        absl::StrCat("deadline passed before calling redis ", address()));
  }
  std::vector<RedisValue> values;
  if (commands.empty()) return values;
  ScopedSigpipeBlock sigpipe_block;
  RECSYS_ASSIGN_OR_RETURN(Context context, Acquire(deadline));

  absl::Status status;
  errno = 0;
  if (redisSetTimeout(context.get(), absl::ToTimeval(std::max(
                                         deadline - absl::Now(),
                                         absl::Milliseconds(1)))) != REDIS_OK) {
    status = IoError(context.get(), errno, deadline);
  }
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (size_t i = 0; status.ok() && i < commands.size(); ++i) {
    argv.clear();
    lengths.clear();
    for (const std::string& arg : commands[i]) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    errno = 0;
    if (redisAppendCommandArgv(context.get(), static_cast<int>(argv.size()),
                               argv.data(), lengths.data()) != REDIS_OK) {
      status = IoError(context.get(), errno, deadline);
    }
  }
  values.reserve(commands.size());
  for (size_t i = 0; status.ok() && i < commands.size(); ++i) {
    void* raw = nullptr;
    errno = 0;
    if (redisGetReply(context.get(), &raw) != REDIS_OK || raw == nullptr) {
      status = IoError(context.get(), errno, deadline);
      break;
    }
    Reply reply(static_cast<redisReply*>(raw));
    values.push_back(Convert(reply.get()));
  }
  Release(std::move(context), status.ok());
  if (!status.ok()) return status;
  return values;
}

}  // namespace

std::optional<std::string> RedisValue::AsText() const {
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

std::optional<int64_t> RedisValue::AsInt() const {
  if (type == Type::kInteger) return integer;
  if (type != Type::kString) return std::nullopt;
  int64_t v = 0;
  if (!absl::SimpleAtoi(text, &v)) return std::nullopt;
  return v;
}

RedisClient::RedisClient(const RedisClientOptions& options)
    : options_(options),
      address_(absl::StrCat(options.host, ":", options.port)) {}

absl::StatusOr<std::unique_ptr<RedisClient>> RedisClient::Create(
    const RedisClientOptions& options) {
  RECSYS_RETURN_IF_ERROR(ValidateRedisClientOptions(options));
  return std::unique_ptr<RedisClient>(new PooledRedisClient(options));
}

absl::StatusOr<std::vector<RedisValue>> RedisClient::Execute(
    absl::Span<const RedisCommand> commands, absl::Time deadline) const {
  RECSYS_ASSIGN_OR_RETURN(std::vector<RedisValue> replies,
                          RoundTrip(commands, deadline));
  for (size_t i = 0; i < replies.size(); ++i) {
    if (replies[i].is_error()) {
      return absl::InternalError(absl::StrCat("redis ", address_, ": ",
                                              commands[i][0],
                                              " failed: ", replies[i].text));
    }
    if (commands[i][0] == "EXEC") {
      if (replies[i].type != RedisValue::Type::kArray) {
        return absl::InternalError(
            absl::StrCat("redis ", address_, ": transaction aborted"));
      }
      for (const RedisValue& element : replies[i].elements) {
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

}  // namespace internal

absl::Status ValidateRedisClientOptions(const RedisClientOptions& options) {
  if (options.host.empty()) return absl::InvalidArgumentError("host: empty");
  if (options.port < 1 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("port: must be in 1..65535, got ", options.port));
  }
  if (options.db < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("db: must be >= 0, got ", options.db));
  }
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("pool_size: must be >= 1, got ", options.pool_size));
  }
  if (options.bulk_batch < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("bulk_batch: must be >= 1, got ", options.bulk_batch));
  }
  if (options.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("connect_timeout: must be positive");
  }
  if (options.default_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("default_timeout: must be positive");
  }
  if (options.reconnect_backoff < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("reconnect_backoff: must be >= 0");
  }
  return absl::OkStatus();
}

}  // namespace recsys::marketing
