// Checks of request fields shared by every domain that takes ids and times
// from clients (recommender/, marketing/): one rule for what an id is, one
// window for client timestamps. Each check returns InvalidArgument whose
// message starts with the field name, e.g. "events[3].user_id: ...".
//
// Thread safety: free functions without state; safe to call concurrently.
#ifndef RECSYS_COMMON_VALIDATION_H_
#define RECSYS_COMMON_VALIDATION_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace recsys {

// Longest id accepted (user, item, coupon, campaign, category), in bytes.
inline constexpr size_t kMaxIdLength = 256;

// Earliest client timestamp accepted: 2000-01-01T00:00:00Z.
inline constexpr int64_t kEarliestUnixSeconds = 946684800;

// How far ahead of the server's clock a client timestamp may be.
inline constexpr absl::Duration kMaxClockAhead = absl::Hours(24);

// Whether `bytes` is well-formed UTF-8 (no overlongs, no surrogates, at
// most U+10FFFF).
bool IsValidUtf8(absl::string_view bytes);

// OK when `id` is a valid id: 1 to kMaxIdLength bytes of valid UTF-8
// without control characters (bytes < 0x20 and 0x7f). Otherwise
// InvalidArgument naming `field` and the reason.
absl::Status CheckId(absl::string_view field, absl::string_view id);

// OK when `time` lies in [2000-01-01, now + kMaxClockAhead]; otherwise
// InvalidArgument naming `field` with the time in Unix seconds. Callers
// map "0: now" before calling.
absl::Status CheckClientTime(absl::string_view field, absl::Time time, absl::Time now);

}  // namespace recsys

#endif  // RECSYS_COMMON_VALIDATION_H_
