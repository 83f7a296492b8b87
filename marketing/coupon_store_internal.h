// Shared by the CouponStore implementations (coupon_store.cc,
// redis_coupon_store.cc): the outcomes of Issue / Redeem and their statuses,
// so that every store reports the same codes and messages.
//
// Thread safety: free functions without shared state.
#ifndef RECSYS_MARKETING_COUPON_STORE_INTERNAL_H_
#define RECSYS_MARKETING_COUPON_STORE_INTERNAL_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace recsys::marketing::internal {

// Why an Issue or Redeem was refused. The numbers are also the codes the
// Redis store's Lua scripts return; keep them in sync.
enum class CouponOutcome {
  kOk = 0,
  kNotFound = 1,
  // a = valid_from_unix.
  kNotYetValid = 2,
  // a = valid_until_unix.
  kExpired = 3,
  // a = redeemed, b = budget_count.
  kCountExhausted = 4,
  // a = spent cents, b = budget cents.
  kMoneyExhausted = 5,
  // a = the user's issuances, b = per_user_cap.
  kUserCapReached = 6,
  // a = the user's issuances, b = the user's redemptions.
  kNotIssued = 7,
  // a = order cents, b = threshold cents.
  kBelowThreshold = 8,
  // a = remaining cents, b = discount cents.
  kMoneyShort = 9,
};

// OK for kOk; otherwise the status of the contract in coupon_store.h
// naming the user and coupon.
absl::Status OutcomeStatus(CouponOutcome outcome, absl::string_view user_id,
                           absl::string_view coupon_id, int64_t a, int64_t b);

// InvalidArgument naming coupons[index].id: `id` belongs to a deleted coupon
// and cannot be put again (its budget would restart from zero).
absl::Status DeletedIdStatus(size_t index, absl::string_view id);

// InvalidArgument naming `field` unless `id` passes common/validation.h
// CheckId and IsValidId (coupon ids are at most 128 bytes without
// whitespace). For coupon ids and campaigns; user ids take CheckId alone.
absl::Status CheckId(absl::string_view field, absl::string_view id);

// InvalidArgument naming op_id when it is longer than 512 bytes; empty is
// valid (no dedup). Op ids are feature_store::EventDedupKey values.
absl::Status CheckOpId(absl::string_view op_id);

}  // namespace recsys::marketing::internal

#endif  // RECSYS_MARKETING_COUPON_STORE_INTERNAL_H_
