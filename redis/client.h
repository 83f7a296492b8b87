// redis::Client: the process's one pool of connections to one Redis, shared
// by every store that keeps data there (feature_store/redis_feature_store.h,
// marketing/coupon_store.h, marketing/segment_store.h). The only code that
// links hiredis; hiredis types never leave redis/*.cc.
//
// Create one Client per process (the composition root, e.g. the server's
// main) and lend it to the stores as a raw pointer; it must outlive them.
//
// Policy, the same for every user of the pool:
//   - A bounded pool: at most Options::pool_size connections are open (a
//     hiredis redisContext is not thread-safe, so each call borrows one
//     exclusively); callers beyond it wait for a free one until their
//     deadline.
//   - Each call's socket timeout is the time left until its deadline
//     (absl::InfiniteFuture(): default_timeout from now). A connection that
//     saw an error, or timed out with replies in flight, is closed, never
//     returned to the pool.
//   - Connect backoff: after a failed connect, calls fail fast with
//     Unavailable for reconnect_backoff instead of each paying the connect
//     timeout, so a dead Redis costs the request path almost nothing.
//   - Stall breaker: after stall_trip calls in a row got no answer before
//     their timeout, calls fail fast the same way for reconnect_backoff. A
//     hung Redis (it accepts connections but answers nothing) would
//     otherwise hold every request for its whole timeout. One answered call
//     resets the count.
//   - Stale connections: a call marked CallKind::kRead whose pooled (idle)
//     connection fails before any reply arrives (EOF or reset, e.g. Redis
//     restarted) is sent once more on a new connection, so the caller never
//     sees the restart. The other idle connections, opened before the
//     failure, are closed too. A CallKind::kWrite call is never re-sent: it
//     reports Unavailable and may or may not have been applied.
//   - SIGPIPE: hiredis writes with write(2), so a reset connection raises
//     SIGPIPE, whose default action kills the process. Every call blocks
//     SIGPIPE in the calling thread while it does I/O and discards one
//     raised meanwhile.
//   - Authentication: with Options::password set, every new connection
//     (including one replacing a stale connection after a Redis restart)
//     sends AUTH before SELECT, so the pool re-authenticates by itself.
//   - Scripts run by SHA (EVALSHA); a NOSCRIPT reply (Redis restarted empty,
//     or SCRIPT FLUSH) makes the client load the script again and re-run
//     that command once, on the same connection. See Script.
//
// Status codes of every call:
//   - Unavailable: Redis unreachable (connect failed, connection reset), or
//     failing fast (connect backoff, stall breaker, refused AUTH); the
//     message says which.
//   - PermissionDenied: Redis refused the connection's AUTH (wrong user or
//     password; the connect then backs off like a failed connect), or
//     answered NOAUTH (it requires a password and Options has none; also
//     when it reset the connection instead, as Redis does to a large
//     unauthenticated command, and a probe PING answers NOAUTH). The
//     message names the address and user, never the password.
//   - DeadlineExceeded: no free connection, or no answer, before the
//     deadline (also for a deadline already passed).
//   - Internal (Execute only): an error reply, naming the command.
//   - Writes that end Unavailable or DeadlineExceeded may have been partly
//     applied (a pipeline is not a transaction).
//
// Thread safety: Client is safe for concurrent use from any number of
// threads. Script is safe for concurrent use.
#ifndef RECSYS_REDIS_CLIENT_H_
#define RECSYS_REDIS_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "metrics/metrics.h"

namespace recsys::redis {

struct Options {
  // Server address.
  std::string host = "127.0.0.1";
  int port = 6379;
  // Logical database (SELECT) of every connection.
  int db = 0;
  // Credentials sent on every new connection, before SELECT: empty password
  // sends no AUTH (a Redis without requirepass); a password alone sends
  // `AUTH <password>` (the default user); user and password send
  // `AUTH <user> <password>` (a Redis 6+ ACL user). The password never
  // appears in a Status message, Describe(), Stats or a log line. Fill it
  // from ReadPassword (password.h) in main, never from a flag value.
  std::string user;
  std::string password;
  // Maximum open connections; callers beyond it wait (until their deadline)
  // for a free one. Shared by every store using the client.
  int pool_size = 8;
  // Upper bound on connecting; a call's deadline may shorten it.
  absl::Duration connect_timeout = absl::Milliseconds(200);
  // Timeout of calls whose deadline is absl::InfiniteFuture() (bulk writes
  // use it per pipelined batch).
  absl::Duration default_timeout = absl::Seconds(2);
  // After a failed connect, or a tripped stall breaker, calls fail fast for
  // this long before trying Redis again.
  absl::Duration reconnect_backoff = absl::Milliseconds(500);
  // After this many calls in a row end unanswered (timed out), fail fast for
  // reconnect_backoff. 0: never. One slow answer (a scheduling stall) does
  // not trip it; a hung Redis does within a few calls.
  int stall_trip = 3;
  // Where the client records its metrics (borrowed; must outlive the
  // client): recsys_redis_call_duration_seconds, recsys_redis_call_errors_total
  // by code, and a scrape-time collector of the pool's Stats (connections,
  // failing_fast, stall trips), registered by Create. The client must then
  // outlive the registry's last scrape. Default null: no metrics.
  metrics::Registry* metrics = nullptr;
};

// OK, or InvalidArgument naming the bad field: empty host, port outside
// 1..65535, db < 0, a user without a password, pool_size < 1, non-positive connect_timeout or
// default_timeout, negative reconnect_backoff or stall_trip.
absl::Status ValidateOptions(const Options& options);

// Parses "host:port", "host" (port 6379), "[v6]:port" or "[v6]" into
// options (the other fields keep their defaults). InvalidArgument names the
// malformed part.
absl::StatusOr<Options> ParseAddress(absl::string_view address);

// One reply. Arrays hold their elements.
struct Value {
  enum class Type { kNil, kString, kStatus, kInteger, kError, kArray };
  Type type = Type::kNil;
  // kString, kStatus, kError: the text (binary-safe).
  std::string text;
  // kInteger.
  int64_t integer = 0;
  // kArray.
  std::vector<Value> elements;

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
  bool is_string() const { return type == Type::kString; }
  // kString or kStatus text, kInteger in decimal; nullopt otherwise.
  std::optional<std::string> AsText() const;
  // kInteger, or kString parsed as an integer; nullopt when missing or
  // malformed.
  std::optional<int64_t> AsInt() const;
};

// One command and its binary-safe arguments, e.g. {"HGET", key, field}.
using Command = std::vector<std::string>;

// What a round trip may do when its pooled connection turns out dead.
enum class CallKind {
  // May change data: never re-sent. A failure is reported; the commands may
  // have been applied.
  kWrite,
  // Read-only or idempotent: re-sent once on a new connection when a
  // connection taken from the pool fails before any reply arrives.
  kRead,
};

// A Lua script. Holds the source and, once loaded, the SHA Redis gave it
// (SCRIPT LOAD); calls then send EVALSHA with the SHA only. Typically a
// function-local static or a member of the store that runs it.
//
// Thread safety: safe for concurrent use.
class Script {
 public:
  explicit Script(std::string source) : source_(std::move(source)) {}
  Script(const Script&) = delete;
  Script& operator=(const Script&) = delete;

  const std::string& source() const { return source_; }

 private:
  friend class Client;

  // Immutable after construction.
  const std::string source_;
  // The SHA from SCRIPT LOAD; empty until loaded once.
  mutable absl::Mutex mu_;
  mutable std::string sha_ ABSL_GUARDED_BY(mu_);
};

// A read-only snapshot of the pool, for health reports and logs.
struct Stats {
  // "host:port" and database.
  std::string address;
  int db = 0;
  int pool_size = 0;
  // Connections open (idle, lent out or connecting) and idle among them.
  int open_connections = 0;
  int idle_connections = 0;
  // True while calls fail fast (connect backoff or stall breaker), for
  // another fail_fast_remaining; fail_fast_reason says why.
  bool failing_fast = false;
  absl::Duration fail_fast_remaining = absl::ZeroDuration();
  std::string fail_fast_reason;
  // Calls since the last answered one that got no answer in time.
  int stalled_in_a_row = 0;
  // Since creation: times the stall breaker tripped, reads re-sent after a
  // stale pooled connection, scripts loaded again after NOSCRIPT.
  int64_t stall_trips = 0;
  int64_t stale_retries = 0;
  int64_t script_reloads = 0;

  // One line, e.g. "redis 127.0.0.1:6379 db 0: 3/8 connections (2 idle)".
  std::string ToString() const;
};

class Client {
 public:
  // InvalidArgument for bad options (ValidateOptions). Does not connect: a
  // Redis that is down makes calls fail with Unavailable until it is back.
  static absl::StatusOr<std::unique_ptr<Client>> Create(const Options& options);

  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Options& options() const { return options_; }
  // "host:port".
  const std::string& address() const { return address_; }
  // "redis host:port db N", the form the stores' Describe() returns.
  std::string Describe() const;

  // Sends `commands` pipelined on one pooled connection and returns one
  // reply per command (error replies are replies, not failures): one round
  // trip. `kind` says whether a stale pooled connection may be retried (see
  // the file comment). An EVALSHA of a Script obtained from ScriptCommand
  // that meets NOSCRIPT is loaded again and re-run once, after the rest of
  // the pipeline (Redis did not run it the first time): so a script in a
  // pipeline must not have to run before the commands that follow it, and
  // must not be inside MULTI/EXEC. No commands: OK, no replies, no I/O.
  absl::StatusOr<std::vector<Value>> RoundTrip(
      absl::Span<const Command> commands, absl::Time deadline,
      CallKind kind = CallKind::kWrite) const;

  // RoundTrip, then Internal for the first error reply (naming the command)
  // and for an aborted MULTI/EXEC transaction or a failed command inside it.
  absl::StatusOr<std::vector<Value>> Execute(
      absl::Span<const Command> commands, absl::Time deadline,
      CallKind kind = CallKind::kWrite) const;

  // The EVALSHA command running `script` with `keys` and `args`, to send in
  // a pipeline (RoundTrip / Execute). The first use of a script in this
  // process loads it (SCRIPT LOAD: one round trip, bounded by `deadline`);
  // later uses do no I/O. Errors: as RoundTrip; Internal when Redis rejects
  // the script (e.g. a Lua syntax error).
  absl::StatusOr<Command> ScriptCommand(const Script& script,
                                        absl::Span<const std::string> keys,
                                        absl::Span<const std::string> args,
                                        absl::Time deadline) const;

  // Runs `script` alone (ScriptCommand + RoundTrip) and returns its reply;
  // a Lua error is an error reply, not a failure. Scripts that change data
  // are kWrite.
  absl::StatusOr<Value> Eval(const Script& script,
                             absl::Span<const std::string> keys,
                             absl::Span<const std::string> args,
                             absl::Time deadline,
                             CallKind kind = CallKind::kWrite) const;

  // OK when Redis answers PING before `deadline`; Unavailable while failing
  // fast. Internal for an unexpected reply.
  absl::Status Ping(absl::Time deadline) const;

  // A snapshot of the pool; no I/O.
  Stats GetStats() const;

 private:
  class Pool;
  explicit Client(const Options& options);
  // RoundTrip without the metrics.
  absl::StatusOr<std::vector<Value>> RoundTripUnmeasured(
      absl::Span<const Command> commands, absl::Time deadline,
      CallKind kind) const;

  // Immutable after construction.
  const Options options_;
  const std::string address_;
  // Null without Options::metrics.
  metrics::Histogram* call_seconds_ = nullptr;
  metrics::Family<metrics::Counter>* call_errors_ = nullptr;
  int64_t collector_id_ = 0;  // of the pool-stats collector; 0: none
  // Thread-safe; holds every connection and the failure policy.
  const std::unique_ptr<Pool> pool_;
};

}  // namespace recsys::redis

#endif  // RECSYS_REDIS_CLIENT_H_
