// Copying a deployment's keys from one Redis to another, of any topology:
// one Redis, a Sentinel-managed master or a Redis Cluster, in either
// direction (docs/scaling.md, "Moving to a cluster"). The key layout is the
// same on all three (docs/redis_keys.md), so keys keep their names.
//
//   MigrateKeys(source, target, options): walks every node of the source
//   holding keys (Client::DataNodes: each master of a cluster) with SCAN
//   MATCH <prefix>*; per batch of keys, one pipelined round trip to the
//   source reads `PEXPIRETIME key` and `DUMP key` of each, and one to the
//   target writes `RESTORE key <expiry> <payload> ABSTTL [REPLACE]` (the
//   client splits a cluster pipeline per node: one round trip in all). The
//   absolute expiry keeps a key's expiry time exactly (event dedup markers
//   expire on the target when they would have on the source).
//   VerifyKeys(source, target, options): compares the two key sets under
//   the prefix, and each key's value and expiry.
//
// Live writers: a key written on the source after its batch was copied is
// not copied again (without replace, a rerun leaves it alone too); stop the
// writers first, or copy again with replace (docs/scaling.md).
//
// Requires Redis >= 7.0 on the source (PEXPIRETIME) and a target that reads
// the source's DUMP format (the same or a newer Redis).
//
// Thread safety: the functions are safe to call concurrently (the clients
// are); two migrations into the same target race on the same keys.
#ifndef RECSYS_REDIS_MIGRATE_H_
#define RECSYS_REDIS_MIGRATE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "redis/client.h"

namespace recsys::redis {

// Counts of one source node (MigrateResult::per_node) and of the whole run.
struct MigrateCounts {
  // Keys SCAN returned under the prefix. A key SCAN returns twice (it may,
  // while the source rehashes) counts twice; its second copy counts as
  // existing (or is written again with replace).
  int64_t scanned = 0;
  // Keys written on the target (dry_run: keys that would be written).
  int64_t copied = 0;
  // Keys left alone because the target holds them already (not replace).
  int64_t skipped_existing = 0;
  // Keys gone from the source between SCAN and DUMP (expired or deleted):
  // counted, not an error.
  int64_t expired = 0;
  // Bytes of the DUMP payloads read (dry_run included).
  int64_t bytes = 0;
};

// Progress after each batch, for MigrateOptions::progress.
struct MigrateProgress {
  // The source node being walked (as Client::DataNodes names it), and its
  // position among the source's nodes (0-based) and their number.
  std::string node;
  int node_index = 0;
  int nodes = 0;
  // Totals of the run so far.
  MigrateCounts totals;
};

struct MigrateOptions {
  // Only keys starting with this prefix are copied (verified); the
  // deployment prefix, --redis_prefix. Empty: every key of the source.
  std::string prefix = "rs:";
  // Keys per batch: SCAN's COUNT hint, and at most this many keys per
  // pipelined DUMP / RESTORE round trip. >= 1.
  int batch_size = 500;
  // false (default): a key the target already holds is left alone and
  // counted in skipped_existing (RESTORE answers BUSYKEY), so a rerun after
  // an interrupted run copies only what is missing. true: RESTORE ...
  // REPLACE overwrites it with the source's value and expiry.
  bool replace = false;
  // true: nothing is written; the target is asked which keys it holds
  // (EXISTS), so copied and skipped_existing say what a real run would do.
  bool dry_run = false;
  // Bound of each batch's round trip to the source and to the target
  // (SCAN calls are bounded by the source client's default_timeout). > 0.
  absl::Duration call_timeout = absl::Seconds(30);
  // Called after each batch (from the calling thread); returning false
  // stops the run after that batch (MigrateResult::complete is then false).
  // Empty: never stops.
  std::function<bool(const MigrateProgress&)> progress;
  // VerifyKeys: how many keys of each kind of difference it names. >= 0.
  int examples = 5;
};

struct MigrateResult {
  MigrateCounts totals;
  // Per source node (Client::DataNodes names): each master of a source
  // cluster, or the one node of a single / Sentinel source.
  std::map<std::string, MigrateCounts> per_node;
  // false when MigrateOptions::progress stopped the run.
  bool complete = true;
  absl::Duration elapsed = absl::ZeroDuration();
  // One line: "scanned N, copied N, existing N, expired N, B bytes, in S s
  // (K keys/s)".
  std::string ToString() const;
};

// Copies every key under options.prefix from `source` to `target` (see the
// file comment). Returns the counts; a key that vanished from the source
// between SCAN and DUMP is counted as expired, not an error.
// Errors: InvalidArgument naming the option (batch_size < 1,
// call_timeout <= 0, examples < 0); FailedPrecondition when source and target
// are the same server (one of the target's nodes has the run_id of one of the
// source's, INFO server, with the same database), or when the source does
// not know PEXPIRETIME (Redis < 7.0); the clients' errors otherwise
// (Unavailable, DeadlineExceeded, PermissionDenied), and Internal for an
// error reply of DUMP or RESTORE (e.g. a target that cannot read the
// source's DUMP format), naming the key (escaped). Keys copied before an
// error stay copied: run again (without replace it copies only what is
// missing).
absl::StatusOr<MigrateResult> MigrateKeys(const Client& source,
                                          const Client& target,
                                          const MigrateOptions& options);

struct VerifyResult {
  // Keys under the prefix on each side, SCAN-counted (the target per node,
  // Client::DataNodes names).
  int64_t source_keys = 0;
  int64_t target_keys = 0;
  std::map<std::string, int64_t> target_per_node;
  // Source keys the target lacks; source keys whose value or expiry
  // differs on the target; target keys the source lacks; source keys that
  // vanished during the check (not compared).
  int64_t missing = 0;
  int64_t different = 0;
  int64_t extra = 0;
  int64_t expired = 0;
  // The first few keys of each kind (at most MigrateOptions::examples),
  // C-escaped (binary-safe: "\000", "\n", "\377").
  std::vector<std::string> missing_examples;
  std::vector<std::string> different_examples;
  std::vector<std::string> extra_examples;

  // No missing, different or extra key.
  bool ok() const { return missing == 0 && different == 0 && extra == 0; }
  // One line: "source N keys, target N keys: missing N, different N, extra
  // N" and the examples.
  std::string ToString() const;
};

// Compares the keys under options.prefix (options.batch_size and
// call_timeout and examples apply; replace, dry_run and progress are
// ignored): each
// source key must exist on the target with the same value and expiry, and
// each target key must exist on the source. Values: equal DUMP payloads,
// else (the payloads of equal values may differ: another encoding or a
// hash table's order) the same type and the same content read by type
// (GET; HGETALL, SMEMBERS sorted; LRANGE; ZRANGE WITHSCORES; a stream
// compares as different unless its payloads are equal). Expiry: both
// without one, or both with the same PEXPIRETIME. Read-only on both sides.
// Errors: as MigrateKeys (InvalidArgument, FailedPrecondition for the same
// server, the clients' errors).
absl::StatusOr<VerifyResult> VerifyKeys(const Client& source,
                                        const Client& target,
                                        const MigrateOptions& options);

}  // namespace recsys::redis

#endif  // RECSYS_REDIS_MIGRATE_H_
