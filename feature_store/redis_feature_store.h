// Redis-backed FeatureStore (hiredis). The key schema is documented in
// docs/redis_keys.md; every key starts with RedisOptions::key_prefix.
//
// Connections come from a bounded pool (a hiredis redisContext is not
// thread-safe, so each call borrows one exclusively). Each call's socket
// timeout is the time left until its deadline (or default_timeout for
// absl::InfiniteFuture()). A connection that saw an error is dropped, not
// returned to the pool. After a failed connect, calls fail fast with
// Unavailable for `reconnect_backoff` instead of each paying the connect
// timeout, so a dead Redis costs the request path almost nothing. The same
// happens after `stall_trip` calls in a row got no answer before their
// timeout: a hung Redis (it accepts connections but answers nothing) would
// otherwise hold every request for its whole feature timeout.
//
// Every call is one pipelined round trip (PutUsers / PutItems: one per
// bulk_batch commands). Writes are not atomic across a batch: when a write
// fails with Unavailable or DeadlineExceeded it may have been partly applied.
// Redis errors on a write (e.g. a key of the wrong type) are Internal. Reads
// skip values that do not parse (a corrupt count, a malformed list entry)
// instead of failing. Times are stored at one-second resolution.
// Recent-activity and impression lists are ordered by recording (LPUSH), so
// "most recent first" means most recently recorded first.
//
// hiredis writes with write(2); to keep a reset connection from killing the
// process with SIGPIPE, each call blocks SIGPIPE in the calling thread while
// it does I/O and discards a SIGPIPE raised meanwhile.
//
// Thread safety: safe for concurrent use.
#ifndef RECSYS_FEATURE_STORE_REDIS_FEATURE_STORE_H_
#define RECSYS_FEATURE_STORE_REDIS_FEATURE_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "feature_store/feature_store.h"

namespace recsys::feature_store {

struct RedisOptions {
  // Server address.
  std::string host = "127.0.0.1";
  int port = 6379;
  // Logical database (SELECT) used for every connection.
  int db = 0;
  // Prefix of every key written or read, so several deployments can share
  // one Redis.
  std::string key_prefix = "rs:";
  // Maximum number of open connections; callers beyond it wait (until their
  // deadline) for a free one.
  int pool_size = 8;
  // Upper bound on connecting; the request deadline may shorten it.
  absl::Duration connect_timeout = absl::Milliseconds(200);
  // Timeout of calls whose deadline is absl::InfiniteFuture(), and of each
  // pipelined batch of PutUsers / PutItems.
  absl::Duration default_timeout = absl::Seconds(2);
  // After a failed connect, fail fast for this long before trying again.
  absl::Duration reconnect_backoff = absl::Milliseconds(500);
  // After this many calls in a row end unanswered (timed out), fail fast as
  // after a failed connect, for reconnect_backoff. 0: never. One slow answer
  // (a scheduling stall) does not trip it; a hung Redis does within a few
  // requests.
  int stall_trip = 3;
  // Lengths kept of the per-user recent-activity and impression lists.
  int recent_limit = 100;
  int impression_limit = 200;
  // Commands per pipelined batch in PutUsers / PutItems.
  int bulk_batch = 1000;
};

// Parses "host:port" (or "host", port 6379) into options (other fields keep
// their defaults). InvalidArgument names the malformed part.
absl::StatusOr<RedisOptions> ParseRedisAddress(absl::string_view address);

// Creates the store. Does not connect: a Redis that is down at start-up
// makes calls fail with Unavailable until it comes back. InvalidArgument for
// bad options (empty host, port outside 1..65535, db < 0, pool_size < 1,
// recent_limit / impression_limit / bulk_batch < 1, non-positive timeouts,
// negative reconnect_backoff).
absl::StatusOr<std::unique_ptr<FeatureStore>> NewRedisFeatureStore(
    const RedisOptions& options);

}  // namespace recsys::feature_store

#endif  // RECSYS_FEATURE_STORE_REDIS_FEATURE_STORE_H_
