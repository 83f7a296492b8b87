// CouponStore: coupon definitions, their budgets, per-user issuance and
// redemption counts, and per-campaign contact times.
//
// Implementations:
//   - NewInMemoryCouponStore: one process; for tests and an embedded server.
//   - NewRedisCouponStore: shared by every server replica; keys in
//     docs/redis_keys.md; Issue and Redeem are each one Lua script, so
//     budgets and caps hold under any concurrency.
//
// Semantics (docs/marketing.md):
//   - A coupon's state counts issuances, redemptions and the discount money
//     granted. Budgets limit redemptions: remaining_count = budget_count -
//     redeemed and remaining_money = budget_money - discount_spent, never
//     negative, -1 when unlimited. Changing a budget with PutCoupons
//     therefore adjusts what remains, and a budget below what was already
//     used leaves 0.
//   - Issue(user, coupon, t) succeeds when t is inside the validity window,
//     some budget remains (remaining_count >= 1, remaining_money > 0), and
//     the user holds fewer than per_user_cap issuances. It counts the
//     issuance for the coupon and the user and records t as the user's last
//     contact for the coupon's campaign (campaign, or the id when empty).
//     Segment / tier eligibility is the caller's business (coupon_ranking.h).
//   - Redeem(user, coupon, order_value, t) succeeds when t is inside the
//     window, the user has more issuances than redemptions of the coupon,
//     the coupon applies to the order (threshold coupons need order_value >=
//     threshold_spend), at least one redemption and the discount's worth of
//     money remain. It returns the discount (DiscountCents in coupons.h with
//     the store's free_shipping_value) and counts it.
//   - Money is kept in whole cents.
//   - IssueOnce / RedeemOnce carry an operation id (op_id; RecordEvents
//     passes the event's feature_store::EventDedupKey). A successful
//     operation remembers its id for op_dedup_window, atomically with the
//     counters it changes; the same id again within the window changes
//     nothing and succeeds with the first application's figures and
//     `duplicate` set. So an operation answered Unavailable (applied or
//     not) can be sent again: it spends the budget once, and its retry is
//     not refused. A refused operation remembers nothing.
//
//   - A deleted coupon's id is retired: PutCoupons refuses it for good, so
//     deleting a coupon and putting it again cannot reset its counters (5
//     redemptions would otherwise become 0 and its budget would restart).
//     Re-issue a coupon under a new id.
//
// Error contract shared by all implementations:
//   - InvalidArgument: malformed argument (empty or invalid id, a catalog
//     failing ValidateCatalog, an id of a deleted coupon, negative or
//     non-finite order value).
//   - NotFound: unknown coupon id.
//   - FailedPrecondition: outside the validity window; Redeem without an
//     unredeemed issuance; order below the threshold.
//   - ResourceExhausted: no budget left (count or money), per-user cap reached.
//   - Unavailable / DeadlineExceeded: the backend did not answer before the
//     deadline (Redis down). Callers degrade: no coupons rather than errors.
//     A write that failed this way may or may not have been applied.
//
// Thread safety: every implementation is safe for concurrent calls.
#ifndef RECSYS_MARKETING_COUPON_STORE_H_
#define RECSYS_MARKETING_COUPON_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "marketing/coupon.h"
#include "redis/client.h"

namespace recsys::marketing {

// One user's history with one coupon.
struct UserCouponCounts {
  int64_t issued = 0;
  int64_t redeemed = 0;
};

struct CouponStoreOptions {
  // Discount of a COUPON_FREE_SHIPPING redemption (the shipping cost the
  // shop absorbs); MarketingConfig.free_shipping_value. Must be >= 0.
  double free_shipping_value = 5;
  // How long IssueOnce / RedeemOnce remember an operation id (whole
  // seconds, at least 1 s). The server's --event_dedup_window.
  absl::Duration op_dedup_window = absl::Hours(24);
  // In-memory store only: the clock op_dedup_window is measured with;
  // null: absl::Now. (Redis expires the ids with its own clock.)
  std::function<absl::Time()> clock;
};

// An IssueOnce.
struct IssueResult {
  // The user's issued count after the issuance (for a duplicate: after the
  // first application).
  int64_t issued = 0;
  // The op id had been applied already: nothing changed now.
  bool duplicate = false;
};

// A RedeemOnce.
struct RedeemResult {
  // The discount granted, in money (for a duplicate: the first
  // application's).
  double discount = 0;
  bool duplicate = false;
};

class CouponStore {
 public:
  virtual ~CouponStore() = default;

  // E.g. "in-memory" or "redis 127.0.0.1:6379 db 0".
  virtual std::string Describe() const = 0;

  // Upserts every coupon of `catalog` (validated first, all or nothing):
  // definitions are replaced, states kept. Coupons not in the catalog stay.
  // InvalidArgument naming coupons[i].id ("... was deleted; use a new id")
  // when an id belongs to a deleted coupon; nothing is written then.
  virtual absl::Status PutCoupons(const CouponCatalog& catalog,
                                  absl::Time deadline) = 0;

  // Every coupon with its state, sorted by id.
  virtual absl::StatusOr<std::vector<CouponWithState>> ListCoupons(
      absl::Time deadline) const = 0;

  // Removes the definition and state (NotFound when unknown) and retires
  // the id: PutCoupons refuses it from then on. Per-user counts stay.
  virtual absl::Status DeleteCoupon(absl::string_view coupon_id,
                                    absl::Time deadline) = 0;

  // The user's counts for each of `coupon_ids`, in the same order (zeros for
  // coupons the user never got, or unknown ones). One round trip.
  virtual absl::StatusOr<std::vector<UserCouponCounts>> GetUserCounts(
      absl::string_view user_id, absl::Span<const std::string> coupon_ids,
      absl::Time deadline) const = 0;

  // Last contact (unix seconds; 0 = never) of each user for `campaign`, in
  // the order of `user_ids`. One pipelined round trip for the batch.
  virtual absl::StatusOr<std::vector<int64_t>> LastContacts(
      absl::string_view campaign, absl::Span<const std::string> user_ids,
      absl::Time deadline) const = 0;

  // See the file comment. `op_id` empty: not deduplicated (every call
  // applies); otherwise at most 512 bytes (InvalidArgument naming op_id).
  virtual absl::StatusOr<IssueResult> IssueOnce(absl::string_view user_id,
                                                absl::string_view coupon_id,
                                                absl::Time time,
                                                absl::string_view op_id,
                                                absl::Time deadline) = 0;
  virtual absl::StatusOr<RedeemResult> RedeemOnce(absl::string_view user_id,
                                                  absl::string_view coupon_id,
                                                  double order_value,
                                                  absl::Time time,
                                                  absl::string_view op_id,
                                                  absl::Time deadline) = 0;

  // IssueOnce without an op id. Returns the user's issued count after this
  // one.
  absl::StatusOr<int64_t> Issue(absl::string_view user_id,
                                absl::string_view coupon_id, absl::Time time,
                                absl::Time deadline) {
    absl::StatusOr<IssueResult> r = IssueOnce(user_id, coupon_id, time, "", deadline);
    if (!r.ok()) return r.status();
    return r->issued;
  }

  // RedeemOnce without an op id. Returns the discount granted, in money.
  absl::StatusOr<double> Redeem(absl::string_view user_id,
                                absl::string_view coupon_id, double order_value,
                                absl::Time time, absl::Time deadline) {
    absl::StatusOr<RedeemResult> r =
        RedeemOnce(user_id, coupon_id, order_value, time, "", deadline);
    if (!r.ok()) return r.status();
    return r->discount;
  }

  // OK when the backend answers before `deadline`.
  virtual absl::Status Ping(absl::Time deadline) const = 0;
};

// InvalidArgument for a negative or non-finite free_shipping_value, or an
// op_dedup_window below 1 s.
absl::StatusOr<std::unique_ptr<CouponStore>> NewInMemoryCouponStore(
    const CouponStoreOptions& options = {});

struct RedisCouponStoreOptions {
  // Prefix of every key (the same default as the feature store's, so one
  // --redis_prefix flag covers both).
  std::string key_prefix = "rs:";
  // Options every CouponStore takes.
  CouponStoreOptions coupons;
  // With a replicated Redis (a Sentinel-managed master, a Redis Cluster):
  // after an Issue or Redeem that changed the counters, WAIT until this
  // many replicas hold it, at most replica_ack_timeout. Redis replicates
  // asynchronously, so a master that dies right after answering may take
  // the redemption with it, and the promoted replica would grant the budget
  // again; with a replica's acknowledgement the redemption survives the
  // failover. Not confirmed in time: Unavailable "applied on the master,
  // not confirmed by a replica; retry with the same id" (the op id makes
  // the retry apply it at most once). 0 (default): no WAIT.
  int replica_acks = 0;
  absl::Duration replica_ack_timeout = absl::Milliseconds(500);
};

// A store over `client`, which is borrowed: it must outlive the store (and
// may be shared with other stores). Issue and Redeem run Lua scripts by SHA
// (redis::Script); an op id is remembered in `{prefix}{coupons}:op:<op_id>` by the
// same script, with a TTL of op_dedup_window. Reads, and IssueOnce /
// RedeemOnce with an op id (idempotent), survive a stale pooled
// connection; other writes are never re-sent. Does not connect: a Redis
// that is down makes calls fail with Unavailable until it is back.
// InvalidArgument for a null client or bad options.
absl::StatusOr<std::unique_ptr<CouponStore>> NewRedisCouponStore(
    redis::Client* client, const RedisCouponStoreOptions& options = {});

// The state a coupon has after `issued` issuances, `redeemed` redemptions
// and `spent_cents` of discounts, under its current budgets.
CouponState MakeCouponState(const Coupon& coupon, int64_t issued,
                            int64_t redeemed, int64_t spent_cents);

}  // namespace recsys::marketing

#endif  // RECSYS_MARKETING_COUPON_STORE_H_
