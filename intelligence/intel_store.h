// IntelStore: each user's customer-intelligence record (intel.h), written
// by recsys_train and the nightly job, read by GetUserProfile.
//
// Implementations:
//   - NewInMemoryIntelStore: one process (tests, an embedded server seeded
//     from the model directory's intel.tsv).
//   - NewRedisIntelStore: key {p}u:{user_id}:intel, a HASH with the fields
//     of IntelFieldNames() (docs/redis_keys.md).
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
