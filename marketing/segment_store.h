// SegmentStore: each user's marketing record (segments.h UserSegment), as
// written by the trainer and read on the request path (GetUserProfile,
// RecommendCoupons).
//
// Implementations:
//   - NewInMemorySegmentStore: one process; tests and an embedded server
//     (seeded from the model directory's segments.tsv).
//   - NewRedisSegmentStore: key {g}u:<user_id>:seg, a HASH, where {g} is
//     the live generation's key prefix (redis/generation.h,
//     docs/redis_keys.md): reads follow the generation pointer, checked at
//     most once per generation_refresh inside the read's own pipeline.
//
// Error contract:
//   - InvalidArgument: empty user id, or a user id with a tab or line break.
//   - NotFound: no record for the user (GetSegment).
//   - Unavailable / DeadlineExceeded: the backend did not answer in time.
//
// Thread safety: every implementation is safe for concurrent calls.
#ifndef RECSYS_MARKETING_SEGMENT_STORE_H_
#define RECSYS_MARKETING_SEGMENT_STORE_H_

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
#include "marketing/segments.h"
#include "redis/client.h"

namespace recsys::marketing {

class SegmentStore {
 public:
  virtual ~SegmentStore() = default;

  virtual std::string Describe() const = 0;

  // Replaces the record of every given user (others are untouched). Bulk:
  // Redis sends pipelines of about bulk_batch commands.
  virtual absl::Status PutSegments(absl::Span<const UserSegment> users) = 0;

  // The user's record; NotFound when there is none.
  virtual absl::StatusOr<UserSegment> GetSegment(absl::string_view user_id,
                                                 absl::Time deadline) const = 0;

  // Records of `user_ids` in the same order, nullopt for users without one.
  // One round trip.
  virtual absl::StatusOr<std::vector<std::optional<UserSegment>>> GetSegments(
      absl::Span<const std::string> user_ids, absl::Time deadline) const = 0;
};

std::unique_ptr<SegmentStore> NewInMemorySegmentStore();

struct RedisSegmentStoreOptions {
  // Prefix of every key (the same default as the feature store's).
  std::string key_prefix = "rs:";
  // Commands per pipelined batch of PutSegments.
  int bulk_batch = 1000;
  // Batches of PutSegments in flight at once (redis/bulk_writer.h); a
  // user's writes always take the lane of its id. Default 3.
  int bulk_threads = 3;
  // PutSegments writes this generation (> 0: a load in progress, see
  // training/redis_load.h; 0, the default: the layout before generations).
  int64_t load_generation = 0;
  // How long a resolved live generation is used before the pointer is
  // checked again. Default 1 s.
  absl::Duration generation_refresh = absl::Seconds(1);
};

// A store over `client`, which is borrowed: it must outlive the store (and
// may be shared with other stores). Reads are marked idempotent (they
// survive a stale pooled connection). Does not connect. InvalidArgument for
// a null client or bad options (bulk_batch < 1, bulk_threads < 1,
// load_generation < 0, generation_refresh < 0), naming the field.
absl::StatusOr<std::unique_ptr<SegmentStore>> NewRedisSegmentStore(
    redis::Client* client, const RedisSegmentStoreOptions& options = {});

}  // namespace recsys::marketing

#endif  // RECSYS_MARKETING_SEGMENT_STORE_H_
