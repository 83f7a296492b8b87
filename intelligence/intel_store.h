// IntelStore: each user's customer-intelligence record (intel.h), written
// by recsys_train and the nightly job, read by GetUserProfile.
//
// Implementations:
//   - NewInMemoryIntelStore: one process (tests, an embedded server seeded
//     from the model directory's intel.tsv).
//   - NewRedisIntelStore: key {p}u:{user_id}:intel, a HASH with the fields
//     of IntelFieldNames() and the live state (docs/redis_keys.md); the
//     live audiences are SETs {p}tag_live:<tag>.
//
// Live tags (live_tags.h): ApplyLiveEvents completes the live rules of the
// records from the server's events; PutIntel replaces a record, live state
// included. Race: an event applied to the old record after the run read
// its data and before PutIntel replaced the record is in neither (the
// following run counts it); an event later than the new record's as_of
// applied after the write counts in it.
//
// Error contract: InvalidArgument for a bad user id (CheckId); NotFound
// when the user has no record; Unavailable / DeadlineExceeded when the
// backend does not answer in time.
//
// Thread safety: every implementation is safe for concurrent calls.
#ifndef RECSYS_INTELLIGENCE_INTEL_STORE_H_
#define RECSYS_INTELLIGENCE_INTEL_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "intelligence/intel.h"
#include "intelligence/live_tags.h"
#include "redis/client.h"

namespace recsys::intelligence {

class IntelStore {
 public:
  virtual ~IntelStore() = default;
  virtual std::string Describe() const = 0;
  // Replaces the record of every given user (others are untouched); a
  // reader never sees half a record.
  virtual absl::Status PutIntel(absl::Span<const UserIntel> users) = 0;
  virtual absl::StatusOr<UserIntel> GetIntel(absl::string_view user_id,
                                             absl::Time deadline) const = 0;
  // The records of `user_ids`, in order; nullopt for a user without one.
  // One pipelined round trip (per node of a cluster) for Redis.
  // InvalidArgument names the first bad id (user_ids[i]); the backend's
  // errors as for GetIntel.
  virtual absl::StatusOr<std::vector<std::optional<UserIntel>>> GetIntels(
      absl::Span<const std::string> user_ids, absl::Time deadline) const = 0;

  // Applies each event to its user's record (ApplyLiveEvent), at most once
  // per event dedup_key and record (a record written by PutIntel starts
  // afresh: events up to its as_of are ignored anyway), and adds the user
  // to the live audience of every tag a live event gave the current record
  // (again on a batch sent again, so a retry after a failure completes it).
  // Users without a record and events without a category change nothing.
  // InvalidArgument for a bad id ("events[i].user_id"); backend errors as
  // GetIntel (part of the batch may then be applied: send it again).
  virtual absl::Status ApplyLiveEvents(absl::Span<const LiveEvent> events,
                                       absl::Time deadline) = 0;
  // The users a live event tagged `tag` whose current record still has it
  // (members of a record replaced since are left out and dropped from the
  // audience), unordered. InvalidArgument for a bad tag; backend errors as
  // GetIntel.
  virtual absl::StatusOr<std::vector<std::string>> LiveTagUsers(
      absl::string_view tag, absl::Time deadline) const = 0;
};

std::unique_ptr<IntelStore> NewInMemoryIntelStore();

struct RedisIntelStoreOptions {
  // Prefix of every key (the feature store's default).
  std::string key_prefix = "rs:";
  // Records per pipelined batch of PutIntel.
  int bulk_batch = 500;
};

// `client` is borrowed and must outlive the store. InvalidArgument for a
// null client or bulk_batch < 1.
absl::StatusOr<std::unique_ptr<IntelStore>> NewRedisIntelStore(
    redis::Client* client, const RedisIntelStoreOptions& options = {});

}  // namespace recsys::intelligence

#endif  // RECSYS_INTELLIGENCE_INTEL_STORE_H_
