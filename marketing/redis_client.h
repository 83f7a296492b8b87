// RedisClient: the connection handling shared by the marketing Redis stores
// (coupon_store.h, segment_store.h). Internal to marketing/; hiredis types
// stay in the .cc files.
//
// The policy follows feature_store/redis_feature_store.h: a bounded pool of
// connections (a hiredis redisContext is not thread-safe, so each call
// borrows one exclusively); the socket timeout of a call is the time left
// until its deadline (default_timeout for absl::InfiniteFuture()); a
// connection that saw an error is closed instead of returned; after a failed
// connect, calls fail fast with Unavailable for reconnect_backoff. SIGPIPE is
// blocked in the calling thread while it does I/O.
//
// Thread safety: safe for concurrent use.
#ifndef RECSYS_MARKETING_REDIS_CLIENT_H_
#define RECSYS_MARKETING_REDIS_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace recsys::marketing {

struct RedisClientOptions {
  // Server address.
  std::string host = "127.0.0.1";
  int port = 6379;
  // Logical database (SELECT) of every connection.
  int db = 0;
  // Prefix of every key (the same default as the feature store's, so one
  // --redis_key_prefix flag covers both).
  std::string key_prefix = "rs:";
  // Maximum open connections; callers beyond it wait (until their deadline).
  int pool_size = 8;
  // Upper bound on connecting; a call's deadline may shorten it.
  absl::Duration connect_timeout = absl::Milliseconds(200);
  // Timeout of calls whose deadline is absl::InfiniteFuture().
  absl::Duration default_timeout = absl::Seconds(2);
  // After a failed connect, fail fast for this long before trying again.
  absl::Duration reconnect_backoff = absl::Milliseconds(500);
  // Commands per pipelined batch of bulk writes.
  int bulk_batch = 1000;
};

// InvalidArgument naming the bad option: empty host, port outside
// 1..65535, db < 0, pool_size or bulk_batch < 1, non-positive timeouts,
// negative backoff.
absl::Status ValidateRedisClientOptions(const RedisClientOptions& options);

namespace internal {

// One reply, converted from hiredis. Arrays hold their elements.
struct RedisValue {
  enum class Type { kNil, kString, kStatus, kInteger, kError, kArray };
  Type type = Type::kNil;
  // kString, kStatus, kError: the text.
  std::string text;
  // kInteger.
  int64_t integer = 0;
  // kArray.
  std::vector<RedisValue> elements;

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
  // kString or kStatus text, kInteger in decimal; nullopt otherwise.
  std::optional<std::string> AsText() const;
  // AsText parsed as an integer; nullopt when missing or malformed.
  std::optional<int64_t> AsInt() const;
};

// One command and its (binary-safe) arguments.
using RedisCommand = std::vector<std::string>;

class RedisClient {
 public:
  // InvalidArgument for bad options. Does not connect.
  static absl::StatusOr<std::unique_ptr<RedisClient>> Create(
      const RedisClientOptions& options);

  virtual ~RedisClient() = default;

  const RedisClientOptions& options() const { return options_; }
  // "host:port".
  const std::string& address() const { return address_; }

  // Sends `commands` pipelined on one pooled connection and returns one
  // reply per command (error replies are replies): one round trip.
  // Unavailable / DeadlineExceeded when Redis cannot be reached or does not
  // answer before `deadline`; writes may then have been partly applied.
  virtual absl::StatusOr<std::vector<RedisValue>> RoundTrip(
      absl::Span<const RedisCommand> commands, absl::Time deadline) const = 0;

  // RoundTrip, then Internal for the first error reply (naming the command)
  // and for an aborted or failed MULTI/EXEC transaction.
  absl::StatusOr<std::vector<RedisValue>> Execute(
      absl::Span<const RedisCommand> commands, absl::Time deadline) const;

 protected:
  explicit RedisClient(const RedisClientOptions& options);

 private:
  const RedisClientOptions options_;
  const std::string address_;
};

}  // namespace internal
}  // namespace recsys::marketing

#endif  // RECSYS_MARKETING_REDIS_CLIENT_H_
