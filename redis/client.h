// redis::Client: the process's one pool of connections to Redis, shared
// by every store that keeps data there (feature_store/redis_feature_store.h,
// marketing/coupon_store.h, marketing/segment_store.h). The only code that
// links hiredis; hiredis types never leave redis/*.cc.
//
// Three topologies (Options::topology), one interface for the callers:
//   - kSingle: one Redis at host:port.
//   - kCluster: a Redis Cluster. The client learns which master serves each
//     of the 16384 slots (redis/slot.h) from CLUSTER SLOTS of any node it
//     knows (the seeds in Options::nodes, then the masters it learnt), and
//     keeps one bounded pool per master. A pipeline is split per node: the
//     commands of one MULTI/EXEC go together to the node of their first
//     key, a command without a key (PING, SCRIPT LOAD) goes with the next
//     command that has one; the replies come back in the caller's order.
//     Every node's commands are written before any reply is read, so the
//     nodes of one pipeline work at the same time (one round trip in all,
//     not one per node), and a pipeline whose keys share a slot (one user's
//     keys, one script's keys) is one round trip to one node. A MOVED reply (the slot moved for
//     good) updates the slot, refreshes the map (at most once per
//     cluster_refresh_interval) and re-sends that command (or its whole
//     transaction) to the new owner; an ASK reply (the slot is being
//     migrated and this key has moved already) re-sends it once to the
//     named node, preceded by ASKING; TRYAGAIN and CLUSTERDOWN (a
//     migration touching several keys, a failover in progress) re-send
//     after a short pause; at most max_redirects rounds, then Unavailable.
//     A node that cannot be reached fails the call with Unavailable (the
//     path callers already treat as degraded) and refreshes the map, so
//     once the cluster promotes its replica the calls go there.
//   - kSentinel: a master found through Redis Sentinel. Every new
//     connection asks the sentinels (Options::nodes, in order; the first
//     that answers) for sentinel_master's address
//     (SENTINEL get-master-addr-by-name). A failover is followed because
//     connections to the old master break (reset, or they answer READONLY
//     once it is demoted): they are closed and the next connection asks
//     the sentinels again. A pipeline answered READONLY was applied
//     nowhere (a replica refuses every write, and Redis 7 refuses a script
//     up front), so it is re-sent once to the new master.
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
//     or SCRIPT FLUSH, or a cluster node that never saw the script) makes
//     the client load the script again and re-run that command once, on the
//     same connection. See Script.
//   - In a cluster the policy above holds per node (one pool, one backoff,
//     one stall breaker per master; pool_size connections per master).
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

namespace internal {
class Pool;
class Cluster;
class ScriptRegistry;
}  // namespace internal

// One "host:port".
struct Endpoint {
  std::string host;
  int port = 6379;
};

enum class Topology {
  // One Redis at Options::host:port.
  kSingle,
  // A Redis Cluster reached through the seed nodes Options::nodes.
  kCluster,
  // The master named Options::sentinel_master, found through the sentinels
  // Options::nodes.
  kSentinel,
};

struct Options {
  // kSingle (default), kCluster or kSentinel; see the file comment.
  Topology topology = Topology::kSingle;
  // kSingle: the server address.
  std::string host = "127.0.0.1";
  int port = 6379;
  // kCluster: seed nodes (any nodes of the cluster; one answering suffices).
  // kSentinel: the sentinels, asked in order. Unused by kSingle.
  std::vector<Endpoint> nodes;
  // kSentinel: the master's name in the sentinels' configuration.
  std::string sentinel_master;
  // Logical database (SELECT) of every connection. Must be 0 in a cluster.
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
  // kCluster: rounds of MOVED / ASK / TRYAGAIN / CLUSTERDOWN re-sends per
  // call before it fails with Unavailable.
  int max_redirects = 5;
  // kCluster: the slot map is fetched again (CLUSTER SLOTS) at most this
  // often, on a MOVED reply or an unreachable node.
  absl::Duration cluster_refresh_interval = absl::Milliseconds(100);
  // Where the client records its metrics (borrowed; must outlive the
  // client): recsys_redis_call_duration_seconds, recsys_redis_call_errors_total
  // by code, and a scrape-time collector of the pool's Stats (connections,
  // failing_fast, stall trips), registered by Create. The client must then
  // outlive the registry's last scrape. Default null: no metrics.
  metrics::Registry* metrics = nullptr;
};

// OK, or InvalidArgument naming the bad field: empty host, port outside
// 1..65535 (also of each node), db < 0 (or not 0 in a cluster), a user
// without a password, pool_size < 1, non-positive connect_timeout or
// default_timeout, negative reconnect_backoff or stall_trip, no nodes for
// kCluster / kSentinel, no sentinel_master for kSentinel, max_redirects < 1,
// negative cluster_refresh_interval.
absl::Status ValidateOptions(const Options& options);

// Parses the --redis flag of every program into options (the other fields
// keep their defaults):
//   "host:port", "host" (port 6379), "[v6]:port", "[v6]"   one Redis;
//   "redis://[user@]host:port"                             one Redis;
//   "host:port,host:port,..." or
//   "redis://[user@]host:port,host:port,..."               a cluster (seeds);
//   "redis-cluster://[user@]host:port[,host:port...]"      a cluster (one
//                                                          seed is enough);
//   "redis-sentinel://[user@]host:port[,...]/master_name"  a master found
//                                                          through sentinels.
// The user of a URL is the ACL user of the data connections (sentinels are
// asked without credentials). A password in the URL
// ("redis://user:secret@...") is InvalidArgument, whose message does not
// repeat the address: passwords come from a file or the environment
// (password.h). InvalidArgument names the malformed part otherwise.
absl::StatusOr<Options> ParseAddress(absl::string_view address);

// The address of `options` as ParseAddress takes it back ("host:port", or a
// redis-cluster:// / redis-sentinel:// URL), without credentials.
std::string FormatAddress(const Options& options);

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
  // "host:port" and database; in a cluster the sums over the nodes' pools
  // (failing_fast when any node fails fast), address "cluster of N nodes".
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
  // Cluster only, since creation: commands re-sent after a MOVED or an ASK
  // reply, and slot maps fetched (CLUSTER SLOTS).
  int64_t moved_redirects = 0;
  int64_t ask_redirects = 0;
  int64_t slot_map_fetches = 0;

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
  // FormatAddress(options()): "host:port", or the cluster's or sentinels'
  // URL.
  const std::string& address() const { return address_; }
  // "redis <address> db N", the form the stores' Describe() returns.
  std::string Describe() const;

  // Sends `commands` pipelined on one pooled connection and returns one
  // reply per command (error replies are replies, not failures): one round
  // trip. `kind` says whether a stale pooled connection may be retried (see
  // the file comment). An EVALSHA of a Script obtained from ScriptCommand
  // that meets NOSCRIPT is loaded again and re-run once, after the rest of
  // the pipeline (Redis did not run it the first time): so a script in a
  // pipeline must not have to run before the commands that follow it, and
  // must not be inside MULTI/EXEC. No commands: OK, no replies, no I/O.
  // In a cluster the commands for one node keep their order, but commands
  // for different nodes have none (the nodes are asked at the same time,
  // and redirected commands are sent again later): a command that must
  // follow commands on other nodes goes in a later RoundTrip.
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
  // fast. Internal for an unexpected reply. In a cluster every master known
  // from the slot map is asked (one round trip each), and any that fails
  // fails the Ping: health reports a cluster that cannot serve some slots.
  absl::Status Ping(absl::Time deadline) const;

  // kCluster: the masters' "host:port" serving the slot map's slots, in
  // slot order (empty before the first call fetched the map); kSingle and
  // kSentinel: empty. No I/O.
  std::vector<std::string> ClusterMasters() const;

  // The nodes that hold keys, for commands that act on one node's whole
  // keyspace (SCAN, DBSIZE), each named as RoundTripOnNode takes it:
  // kCluster: every master of the slot map, in slot order (the map is
  // fetched first when older than cluster_refresh_interval, or missing:
  // one round trip); kSingle and kSentinel: one node, address(). Errors:
  // as RoundTrip.
  absl::StatusOr<std::vector<std::string>> DataNodes(absl::Time deadline) const;

  // Sends `commands` pipelined to the one node `node` (from DataNodes),
  // whatever their keys: one round trip. kSingle and kSentinel: RoundTrip.
  // kCluster: no redirect is followed (a key command for a slot the node
  // does not serve answers MOVED, an error reply), so send keyless commands
  // (SCAN) this way and key commands through RoundTrip. InvalidArgument for
  // a node that is not a master of the current slot map.
  absl::StatusOr<std::vector<Value>> RoundTripOnNode(
      const std::string& node, absl::Span<const Command> commands,
      absl::Time deadline, CallKind kind = CallKind::kRead) const;

  // A snapshot of the pool; no I/O.
  Stats GetStats() const;

 private:
  explicit Client(const Options& options);
  // RoundTrip without the metrics.
  absl::StatusOr<std::vector<Value>> RoundTripUnmeasured(
      absl::Span<const Command> commands, absl::Time deadline,
      CallKind kind) const;
  // The cluster's RoundTripUnmeasured: split per node, follow redirects.
  absl::StatusOr<std::vector<Value>> ClusterRoundTrip(
      absl::Span<const Command> commands, absl::Time deadline,
      CallKind kind) const;

  // Immutable after construction.
  const Options options_;
  const std::string address_;
  // Null without Options::metrics.
  metrics::Histogram* call_seconds_ = nullptr;
  metrics::Family<metrics::Counter>* call_errors_ = nullptr;
  int64_t collector_id_ = 0;  // of the pool-stats collector; 0: none
  // Thread-safe: the sources of the scripts loaded through this client,
  // shared by every pool (for the NOSCRIPT fallback).
  const std::unique_ptr<internal::ScriptRegistry> scripts_;
  // kSingle / kSentinel: holds every connection and the failure policy.
  // Null in a cluster. Thread-safe.
  const std::unique_ptr<internal::Pool> pool_;
  // kCluster: the slot map and a pool per node. Null otherwise.
  // Thread-safe.
  const std::unique_ptr<internal::Cluster> cluster_;
};

}  // namespace recsys::redis

#endif  // RECSYS_REDIS_CLIENT_H_
