// Argument checks and value conventions shared by the FeatureStore
// implementations, so that every store accepts and rejects exactly the same
// inputs. Internal to feature_store/: other folders use feature_store.h.
//
// Thread safety: the functions are pure and may be called concurrently.
#ifndef RECSYS_FEATURE_STORE_VALIDATION_H_
#define RECSYS_FEATURE_STORE_VALIDATION_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "feature_store/feature_store.h"

namespace recsys::feature_store::internal {

// Checks a whole RecordEvents batch before anything is written.
// Returns the first problem, in batch order:
//   - Unimplemented for coupon events (handled by the coupon budget store);
//   - InvalidArgument for an unknown event type, an empty user_id or item_id,
//     or an infinite time. The message names the field and the event index,
//     e.g. "events[3].item_id is empty".
absl::Status ValidateEvents(absl::Span<const Event> events);

// InvalidArgument for an empty user_id, an empty purchase item_id or a
// purchase count below 1, naming e.g. "users[2].purchases[0].count".
absl::Status ValidateUsers(absl::Span<const UserFeatures> users);

// InvalidArgument for an empty item_id or a listing time in the infinite
// future, naming e.g. "items[4].item_id".
absl::Status ValidateItems(absl::Span<const ItemFeatures> items);

// InvalidArgument for an empty id, naming e.g. "item_ids[1]".
absl::Status ValidateItemIds(absl::Span<const std::string> item_ids);

// InvalidArgument when `user_id` is empty.
absl::Status ValidateUserId(absl::string_view user_id);

// Stores keep times at one-second resolution (the Redis schema stores unix
// seconds). Returns `t` rounded down to a whole second; infinite times are
// returned unchanged.
absl::Time TruncateToSeconds(absl::Time t);

}  // namespace recsys::feature_store::internal

#endif  // RECSYS_FEATURE_STORE_VALIDATION_H_
