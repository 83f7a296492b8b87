// Walking a node's keyspace with SCAN: the one loop that every keyspace-wide
// operation of the Redis library shares (generation counts and pruning in
// generation.h, the key migration in migrate.h).
//
// SCAN is a per-node command: in a Redis Cluster every master has its own
// keyspace and cursor, so a caller walks each node of Client::DataNodes.
//
// Thread safety: pure functions over a thread-safe Client.
#ifndef RECSYS_REDIS_SCAN_H_
#define RECSYS_REDIS_SCAN_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "redis/client.h"

namespace recsys::redis {

// `text` with the glob characters of SCAN MATCH (`*`, `?`, `[`, `]`, `\`)
// escaped, so EscapeGlob(prefix) + "*" matches exactly the keys that start
// with `prefix`.
std::string EscapeGlob(absl::string_view text);

// Calls `each` with every non-empty batch of keys that `SCAN cursor MATCH
// pattern COUNT count` returns on `node` (a name from Client::DataNodes),
// from cursor 0 until the cursor comes back to 0. SCAN's guarantees hold:
// a key present during the whole walk is seen at least once (a rehash may
// return it twice), a key added or removed meanwhile may or may not be.
// Each SCAN call is bounded by `call_timeout` from its start
// (absl::InfiniteDuration(): the client's default_timeout); the walk as a
// whole has no deadline, as its length grows with the node's keyspace (a
// node of 20M keys takes 20,000 calls of COUNT 1000). Stops at the first
// error: of a
// SCAN call (as Client::RoundTripOnNode; Internal for a reply that is not
// a SCAN reply) or the first non-OK status `each` returns, which is
// returned as is. REQUIRES: count >= 1.
absl::Status ScanNode(
    const Client& client, const std::string& node, absl::string_view pattern,
    int count, absl::Duration call_timeout,
    const std::function<absl::Status(std::vector<std::string> keys)>& each);

}  // namespace recsys::redis

#endif  // RECSYS_REDIS_SCAN_H_
