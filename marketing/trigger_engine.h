// TriggerEngine: turns customer behaviour into offers in a Redis stream
// outbox that the messaging system consumes (docs/marketing.md,
// "Triggered offers"; keys in docs/redis_keys.md, "Trigger keys").
//
// Two inputs:
//   - ObserveEvents (the RecordEvents path): every stored item event counts
//     toward the user's usual active hour and latest event times, and an
//     event that starts a rule (TriggerRule::on_event) schedules a pending
//     check at event time + delay in a Redis sorted set. One pending check
//     per rule and user (per item for purchases): a later trigger moves it
//     later, a duplicate changes nothing. Each event counts toward the
//     hours at most once per dedup key (feature_store::EventDedupKey), by a
//     marker written in the same script.
//   - Run (periodically, and Admin.RunTriggers): first the signal pass over
//     the users named (win-back, replenishment: UserSignals, else the
//     segment record), which schedules checks due at once; then due checks
//     are claimed atomically (a claim is a lease: a replica that dies
//     mid-way leaves them to be claimed again after claim_lease), so any
//     number of replicas share the work and timers survive restarts.
//
// A claimed check becomes at most one offer. In order, it is dropped when
// the rule is gone ("unknown_rule"), a cancel_on event came at or after the
// trigger ("cancelled"), or the user is in a holdout variant of the rule's
// campaign ("holdout"); it waits (goes back to pending) until its send time
// (the usual active hour, outside the quiet hours: "deferred"); it is
// dropped when the contact caps are reached ("capped") or the rule's coupon
// cannot be issued (budget, per-user cap or window: "budget"). Otherwise a
// script in the user's slot checks the caps again and reserves the offer
// id ("duplicate" when written before), then the entry is added (XADD
// MAXLEN ~) and the id marked written (keys: Cluster-safe). The id is a hash of the
// rule, user, cause and trigger time: the same cause gives the same id on
// every replica and every retry. Every outcome is counted in
// recsys_triggered_offers_total{rule, outcome}.
//
// Delivery is at least once (a failure after XADD writes it again), and so
// toward the consumer (XREADGROUP / XACK): the offer id drops a repeat.
//
// Thread safety: all methods are safe to call concurrently, from any
// number of replicas.
#ifndef RECSYS_MARKETING_TRIGGER_ENGINE_H_
#define RECSYS_MARKETING_TRIGGER_ENGINE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "experiments/attribution.h"
#include "feature_store/feature_store.h"
#include "marketing/coupon_store.h"
#include "marketing/segment_store.h"
#include "marketing/triggers.h"
#include "metrics/metrics.h"
#include "redis/client.h"

namespace recsys::marketing {

// Per-user scores computed elsewhere (churn, intent, repurchase cycles).
// Negative / 0 fields are unknown.
struct UserSignals {
  // Probability the customer is lapsing, in [0, 1]; < 0: unknown.
  double churn_risk = -1;
  // Purchase intent in [0, 1]; < 0: unknown. Informational: the win-back
  // rule reads churn_risk, which already measures the fall of intent.
  double intent = -1;
  // When the customer is due to buy again (replenishment); 0: unknown.
  int64_t next_due_unix = 0;
  // The item due at next_due_unix; empty: the next order as a whole.
  std::string due_item_id;
  // Usual active hour (UTC, 0..23); < 0: unknown.
  int usual_active_hour = -1;
  // What the customer spent (win-back min_monetary); < 0: unknown.
  double monetary = -1;
  // Birthday (birthday rules); 0: unknown.
  int birthday_month = 0;
  int birthday_day = 0;
  // Interest tags (experiments targeted by tags decide holdouts by them).
  std::vector<std::string> tags;
};

// Where UserSignals come from. Implementations: safe for concurrent calls.
class UserSignalsSource {
 public:
  virtual ~UserSignalsSource() = default;
  // One entry per user, nullopt for a user without signals.
  virtual absl::StatusOr<std::vector<std::optional<UserSignals>>> Get(
      absl::Span<const std::string> user_ids, absl::Time deadline) const = 0;
};

struct TriggerEngineOptions {
  TriggersConfig config;
  // Prefix of every key (the feature store's; --redis_prefix).
  std::string key_prefix = "rs:";
  // How long an observed event's dedup key is remembered
  // (--event_dedup_window).
  absl::Duration event_dedup_window = absl::Hours(24);
  // Upper bound on each store call; the caller's deadline may shorten it.
  absl::Duration store_timeout = absl::Seconds(2);
  // recsys_triggered_offers_total{rule, outcome} (borrowed; null: none).
  metrics::Registry* metrics = nullptr;
};

// An offer as written to the outbox.
struct Offer {
  std::string offer_id;
  std::string stream_id;  // the XADD id
  std::string rule;
  std::string user_id;
  std::string campaign;
  std::string coupon_id;
  std::string template_id;
  std::string cause;
  absl::Time trigger_time;
  absl::Time send_time;
};

struct TriggerRunRequest {
  absl::Time now;
  // Users of the signal pass (win-back, replenishment); empty: none.
  std::vector<std::string> user_ids;
};

struct TriggerRunAnswer {
  int scheduled = 0;  // checks the signal pass scheduled
  int claimed = 0;
  int written = 0;
  int duplicates = 0;
  int cancelled = 0;
  int holdout = 0;
  int deferred = 0;
  int capped = 0;
  int budget = 0;
  int errors = 0;  // left claimed: tried again after the lease
  std::vector<Offer> offers;
};

class TriggerEngine {
 public:
  // Borrowed pointers must outlive the engine: `client` (required),
  // `coupons` (required when a rule names a coupon), `segments` (win-back
  // fallback; may be null), `plans` (holdouts; may be null), `signals` (may
  // be null: the fallback is used). InvalidArgument for a null client, or a
  // rule's coupon without a coupon store.
  static absl::StatusOr<std::unique_ptr<TriggerEngine>> Create(
      redis::Client* client, CouponStore* coupons, const SegmentStore* segments,
      const experiments::PlanHolder* plans, const UserSignalsSource* signals,
      const TriggerEngineOptions& options);

  // See the file comment. REQUIRES: events were stored (validated), their
  // times set. Unavailable / DeadlineExceeded when Redis did not confirm:
  // sending the same events again is safe.
  absl::Status ObserveEvents(absl::Span<const feature_store::Event> events,
                             absl::Time deadline) const;

  // The signal pass, then one claim of due checks (at most claim_batch).
  // Unavailable when Redis does not answer the claim.
  absl::StatusOr<TriggerRunAnswer> Run(const TriggerRunRequest& request,
                                       absl::Time deadline) const;

  // The signal pass alone over `user_ids` at `now` (the nightly job runs it
  // over every user with an intelligence record, in batches): checks are
  // scheduled, none is claimed; the replicas' claims send them when due.
  // Returns the checks newly scheduled (a rerun schedules none again).
  // Unavailable / DeadlineExceeded when Redis or a signal store does not
  // answer: running the same batch again is safe.
  absl::StatusOr<int> ScheduleSignals(absl::Span<const std::string> user_ids, absl::Time now,
                                      absl::Time deadline) const;

  const TriggersConfig& config() const { return options_.config; }

  // The deterministic offer id: 32 hex digits.
  static std::string OfferId(absl::string_view rule, absl::string_view user_id,
                             absl::string_view cause, absl::Time trigger_time);

 private:
  struct Check;
  TriggerEngine(redis::Client* client, CouponStore* coupons,
                const SegmentStore* segments,
                const experiments::PlanHolder* plans,
                const UserSignalsSource* signals,
                const TriggerEngineOptions& options);

  absl::Time StoreDeadline(absl::Time deadline) const;
  std::string Key(absl::string_view suffix) const;
  absl::Status SignalPass(const TriggerRunRequest& request, absl::Time deadline,
                          TriggerRunAnswer* answer) const;
  void Count(absl::string_view rule, absl::string_view outcome) const;

  // Immutable after construction.
  redis::Client* const client_;
  CouponStore* const coupons_;
  const SegmentStore* const segments_;
  const experiments::PlanHolder* const plans_;
  const UserSignalsSource* const signals_;
  const TriggerEngineOptions options_;
  metrics::Family<metrics::Counter>* outcomes_ = nullptr;
};

}  // namespace recsys::marketing

#endif  // RECSYS_MARKETING_TRIGGER_ENGINE_H_
